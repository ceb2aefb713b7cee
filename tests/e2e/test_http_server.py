"""`iwmo-hub serve` over a real socket: every status and every role on every endpoint.

The server is the installed console script in a subprocess on a free 127.0.0.1 port, with a
tokens file of hashes; the client is httpx. The store is the embedded SQLite file, or a Kafka
address where nothing listens for the 503s.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.http_support import (
    AANBIEDER,
    GEMEENTE,
    INVALID_301,
    OPERATOR,
    ROLES,
    TRUNCATED_305,
    WMO301,
    WMO305,
    Parties,
    free_port,
    live_server,
    sample,
    server_log,
)

PARTIES = Parties.make()
BSN = re.compile(rb"<[\w]+:Bsn>(\d{9})</")
MAX_BYTES = 25 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("serve")
    with live_server(tmp, PARTIES) as url:
        yield url, tmp


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(url + "/readyz", headers=PARTIES.auth(OPERATOR)).status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError("the server did not become ready")


def post(
    url: str, data: bytes, role: str | None, content_type: str = "application/xml"
) -> httpx.Response:
    headers = {"Content-Type": content_type, **(PARTIES.auth(role) if role else {})}
    return httpx.post(url + "/v1/messages", content=data, headers=headers, timeout=60)


def test_every_intake_status_over_the_socket(server: tuple[str, Path]) -> None:
    url, _ = server
    accepted = post(url, sample(WMO305), AANBIEDER)
    duplicate = post(url, sample(WMO305), AANBIEDER)
    invalid = post(url, sample(INVALID_301), GEMEENTE)
    not_xml = post(url, sample(TRUNCATED_305), AANBIEDER)
    json_body = post(url, b'{"a": 1}', AANBIEDER, content_type="application/json")

    assert accepted.status_code == 202 and accepted.json()["status"] == "accepted"
    assert duplicate.status_code == 202 and duplicate.json()["status"] == "duplicate"
    assert duplicate.json()["message_id"] == accepted.json()["message_id"]
    assert invalid.status_code == 422 and invalid.json()["errors"]
    assert {"rule", "retour_code", "path", "line", "message"} == set(invalid.json()["errors"][0])
    assert not_xml.status_code == 400 and not_xml.json()["errors"][0]["rule"] == "XML"
    assert json_body.status_code == 415

    retour = httpx.get(url + accepted.json()["retour_url"], headers=PARTIES.auth(AANBIEDER))
    assert retour.status_code == 200 and b"<wmo306:RetourCode>0200<" in retour.content
    status = httpx.get(
        f"{url}/v1/messages/{invalid.json()['message_id']}", headers=PARTIES.auth(GEMEENTE)
    )
    assert status.json()["status"] == "rejected" and status.json()["errors"]


def test_over_25_mb_is_413_declared_or_streamed(server: tuple[str, Path]) -> None:
    url, _ = server
    big = b"<x>" + b" " * MAX_BYTES + b"</x>"
    declared = post(url, big, AANBIEDER)
    assert declared.status_code == 413 and "OP179" in declared.json()["reason"]

    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BYTES // (1 << 20) + 2):
            yield b" " * (1 << 20)

    streamed = httpx.post(
        url + "/v1/messages", content=chunks(), headers=PARTIES.xml(AANBIEDER), timeout=60
    )
    assert streamed.status_code == 413
    # The server is still there and takes the next message.
    assert post(url, sample(WMO301), GEMEENTE).status_code in (202,)


def test_every_role_on_every_endpoint(server: tuple[str, Path]) -> None:
    url, _ = server
    mid = post(url, sample(WMO301), GEMEENTE).json()["message_id"]
    wait_ready(url)
    expected: dict[str, dict[str, int]] = {
        f"GET /v1/messages/{mid}": {GEMEENTE: 200, OPERATOR: 200},
        f"GET /v1/messages/{mid}/retour": {GEMEENTE: 200},
        "GET /v1/gemeenten/0153/arrangements": {GEMEENTE: 200},
        "GET /v1/gemeenten/0153/mismatches": {GEMEENTE: 200},
        "GET /v1/aanbieders/96683836/arrangements": {AANBIEDER: 200},
        "GET /v1/aanbieders/96683836/mismatches": {AANBIEDER: 200},
        "GET /readyz": {OPERATOR: 200},
        "GET /metrics": {OPERATOR: 200},
        "POST /v1/messages": {GEMEENTE: 202},
    }
    seen = []
    for call, allowed in expected.items():
        method, path = call.split(" ")
        for role in (*ROLES, None):
            headers = {"Content-Type": "application/xml", **(PARTIES.auth(role) if role else {})}
            answer = httpx.request(
                method,
                url + path,
                headers=headers,
                content=sample(WMO301) if method == "POST" else None,
            )
            want = 401 if role is None else allowed.get(role, 403)
            seen.append((call, role, answer.status_code))
            assert answer.status_code == want, (call, role, answer.text)
            if want in (401, 403):
                body = answer.json()
                assert body["error"] in ("unauthorized", "forbidden") and body["reason"]
    # The anonymous /healthz answers everyone.
    assert httpx.get(url + "/healthz").json() == {"status": "ok"}
    assert len(seen) == len(expected) * (len(ROLES) + 1)


def test_the_read_side_answers_after_the_in_process_projector(server: tuple[str, Path]) -> None:
    url, _ = server
    assert post(url, sample(WMO301), GEMEENTE).status_code == 202
    wait_ready(url)
    # Ready means a lag under the threshold, not a finished fold: wait for the fold itself.
    deadline = time.monotonic() + 30
    while True:
        page = httpx.get(
            url + "/v1/gemeenten/0153/arrangements",
            headers=PARTIES.auth(GEMEENTE),
            params={"limit": 1},
        ).json()
        if page["items"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert page["items"] and page["items"][0]["gemeente"] == "0153"
    assert page["next_cursor"] is not None, "the 301 sample holds two toewijzingen"
    rest = httpx.get(
        url + "/v1/gemeenten/0153/arrangements",
        headers=PARTIES.auth(GEMEENTE),
        params={"limit": 1, "cursor": page["next_cursor"]},
    ).json()
    assert rest["items"] and rest["items"][0] != page["items"][0]


def test_logs_are_json_lines_without_a_bsn(server: tuple[str, Path]) -> None:
    url, tmp = server
    for name, role in ((WMO301, GEMEENTE), (INVALID_301, GEMEENTE), (WMO305, AANBIEDER)):
        post(url, sample(name), role)
    time.sleep(0.3)
    text = server_log(tmp)
    bsns = {m.decode() for name in (WMO301, INVALID_301, WMO305) for m in BSN.findall(sample(name))}
    assert bsns and not [b for b in bsns if b in text]
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(r.get("outcome") == "accepted" and r.get("message_id") for r in records)
    assert any(r.get("route") == "/v1/messages" and r.get("status") == 202 for r in records)


def test_an_unavailable_store_is_503_with_retry_after_and_never_202(tmp_path: Path) -> None:
    store = f"kafka://127.0.0.1:{free_port()}?timeout_ms=500"
    with live_server(tmp_path, PARTIES, "--no-projector", store=store) as url:
        answers = [post(url, sample(WMO301), GEMEENTE) for _ in range(3)]
        ready = httpx.get(url + "/readyz", headers=PARTIES.auth(OPERATOR))
        health = httpx.get(url + "/healthz")
    for answer in answers:
        assert answer.status_code == 503
        assert int(answer.headers["retry-after"]) > 0
        assert answer.json()["error"] == "store_unavailable"
    assert ready.status_code == 503 and ready.json()["store"]["reachable"] is False
    assert ready.json()["projector"]["in_process"] is False
    assert health.status_code == 200


def test_serve_refuses_to_start_without_a_tokens_file(tmp_path: Path) -> None:
    import subprocess

    from tests.http_support import BIN

    done = subprocess.run(
        [
            str(BIN / "iwmo-hub"),
            "serve",
            "--port",
            str(free_port()),
            "--tokens",
            str(tmp_path / "no.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "tokens" in done.stderr and "--make-token" in done.stderr
