"""Operations in process: health, readiness, metrics, OpenAPI docs and JSON logs without BSNs."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.http.logs import JsonFormatter
from tests.http_support import (
    AANBIEDER,
    GEMEENTE,
    INVALID_301,
    OPERATOR,
    ROLES,
    WMO301,
    WMO305,
    Api,
    Parties,
    config_for,
    running_app,
    sample,
)

PARTIES = Parties.make()
BSN = re.compile(rb"<[\w]+:Bsn>(\d{9})</")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with running_app(config_for(tmp_path, PARTIES)) as running:
        yield running


def test_healthz_answers_anyone(api: Api) -> None:
    answer = api.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


@pytest.mark.parametrize("role", ROLES)
def test_readyz_and_metrics_are_for_the_operator(api: Api, role: str) -> None:
    api.wait_projected()
    for url in ("/readyz", "/metrics"):
        answer = api.get(url, headers=PARTIES.auth(role))
        if role == OPERATOR:
            assert answer.status_code == 200, answer.text
        else:
            assert answer.status_code == 403
            assert answer.json()["error"] == "forbidden" and "operator" in answer.json()["reason"]
        assert api.get(url).status_code == 401


def test_readyz_reports_store_projector_and_index(api: Api) -> None:
    api.post("/v1/messages", content=sample(WMO301), headers=PARTIES.xml(GEMEENTE))
    api.wait_projected()
    body = api.get("/readyz", headers=PARTIES.auth(OPERATOR)).json()
    assert body["ready"] is True
    assert body["store"] == {"reachable": True, "error": None}
    assert body["projector"]["in_process"] is True and body["projector"]["lag"] == 0
    assert body["message_index"]["messages"] >= 1


def test_readyz_fails_when_the_projection_lags_too_far(tmp_path: Path) -> None:
    config = config_for(tmp_path, PARTIES, max_lag=0, poll_seconds=30)
    with running_app(config) as api:
        api.wait_projected()
        api.post("/v1/messages", content=sample(WMO301), headers=PARTIES.xml(GEMEENTE))
        # The projector sleeps 30 s between polls; it measured its lag before this post.
        api.runtime.projector_state = {**api.runtime.projector_state, "lag": 3}
        answer = api.get("/readyz", headers=PARTIES.auth(OPERATOR))
    assert answer.status_code == 503 and answer.json()["ready"] is False


def test_metrics_count_messages_by_type_and_outcome_and_show_lag(api: Api) -> None:
    api.post("/v1/messages", content=sample(WMO301), headers=PARTIES.xml(GEMEENTE))
    api.post("/v1/messages", content=sample(WMO301), headers=PARTIES.xml(GEMEENTE))
    api.post("/v1/messages", content=sample(INVALID_301), headers=PARTIES.xml(GEMEENTE))
    api.post("/v1/messages", content=sample(WMO301), headers=PARTIES.xml(AANBIEDER))
    api.wait_projected()
    text = api.get("/metrics", headers=PARTIES.auth(OPERATOR)).text

    def value(line: str) -> float:
        found = re.search(re.escape(line) + r" ([0-9.e+]+)", text)
        assert found, f"{line} not in metrics"
        return float(found.group(1))

    assert value('iwmo_hub_messages_total{message_type="WMO301",outcome="accepted"}') == 1
    assert value('iwmo_hub_messages_total{message_type="WMO301",outcome="duplicate"}') == 1
    assert value('iwmo_hub_messages_total{message_type="WMO301",outcome="rejected"}') == 1
    assert value('iwmo_hub_messages_total{message_type="WMO301",outcome="forbidden"}') == 1
    assert value('iwmo_hub_intake_seconds_count{outcome="accepted"}') == 1
    assert value("iwmo_hub_projection_lag_records") == 0
    assert value("iwmo_hub_store_up") == 1
    assert (
        value('iwmo_hub_http_requests_total{method="POST",route="/v1/messages",status="202"}') == 2
    )


def test_openapi_docs_describe_every_route(api: Api) -> None:
    assert api.get("/docs").status_code == 200
    spec = api.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {
        "/v1/messages",
        "/v1/messages/{message_id}",
        "/v1/messages/{message_id}/retour",
        "/v1/gemeenten/{code}/arrangements",
        "/v1/gemeenten/{code}/mismatches",
        "/v1/aanbieders/{agb}/arrangements",
        "/v1/aanbieders/{agb}/mismatches",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= paths
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_logs_are_json_with_message_ids_and_never_a_bsn(api: Api) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    documents = [sample(WMO301), sample(INVALID_301), sample(WMO305)]
    try:
        answers = [
            api.post("/v1/messages", content=documents[0], headers=PARTIES.xml(GEMEENTE)),
            api.post("/v1/messages", content=documents[1], headers=PARTIES.xml(GEMEENTE)),
            api.post("/v1/messages", content=documents[2], headers=PARTIES.xml(AANBIEDER)),
        ]
        for answer in answers:
            api.get(f"/v1/messages/{answer.json()['message_id']}", headers=PARTIES.auth(GEMEENTE))
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    bsns = {m.decode() for d in documents for m in BSN.findall(d)}
    assert bsns and lines
    assert not [b for b in bsns if b in text], "a BSN reached the logs"
    intake = [line for line in lines if line.get("outcome") in ("accepted", "rejected")]
    assert {line["message_id"] for line in intake} == {a.json()["message_id"] for a in answers}
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)


def test_the_formatter_masks_a_bsn_in_free_text() -> None:
    record = logging.LogRecord("x", logging.ERROR, "f", 1, "client %s failed", ("123456782",), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "client *****6782 failed"
