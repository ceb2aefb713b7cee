"""POST /v1/messages and reading a message back, in process (httpx ASGITransport), on SQLite."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from lxml import etree

from adapters.bootstrap import event_mapper
from adapters.sqlite_log import SqliteEventLog
from hub.errors import StoreUnavailable
from hub.eventlog import EventLog
from hub.events import MessageReceived, MessageRejected
from hub.factory import sample_documents
from hub.messagetypes import MessageType
from hub.records import EVENTS, REJECTED, RecordPosition, StoredRecord, Stream, StreamPosition
from hub.settings import HubSettings
from hub.validation import Validator
from tests.http_support import (
    AANBIEDER,
    GEMEENTE,
    INVALID_301,
    OPERATOR,
    OTHER_AANBIEDER,
    OTHER_GEMEENTE,
    TRUNCATED_305,
    WMO301,
    WMO305,
    WMO307,
    Api,
    Parties,
    config_for,
    running_app,
    sample,
)

PARTIES = Parties.make()


class FlakyLog(EventLog):
    """A SQLite log whose appends can be made to fail (or to take a while), counting them."""

    def __init__(self, path: Path) -> None:
        self.inner = SqliteEventLog(path)
        self.failing = False
        self.delay = 0.0
        self.appends: list[int] = []
        self._lock = threading.Lock()

    def append(self, records: Sequence[StoredRecord]) -> list[RecordPosition]:
        if self.failing:
            raise StoreUnavailable("the test broke the store")
        time.sleep(self.delay)
        with self._lock:
            self.appends.append(len(records))
        return self.inner.append(records)

    def read(
        self,
        stream: Stream,
        from_position: StreamPosition | None = None,
        *,
        until: StreamPosition | None = None,
        limit: int | None = None,
    ) -> Iterator[StoredRecord]:
        return self.inner.read(stream, from_position, until=until, limit=limit)

    def position_at(self, stream: Stream, timestamp_ms: int) -> StreamPosition:
        return self.inner.position_at(stream, timestamp_ms)

    def end_position(self, stream: Stream) -> StreamPosition:
        return self.inner.end_position(stream)

    def committed(self, stream: Stream, group: str) -> StreamPosition:
        return self.inner.committed(stream, group)

    def commit(self, stream: Stream, group: str, position: StreamPosition) -> None:
        self.inner.commit(stream, group, position)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def flaky(tmp_path: Path) -> Iterator[FlakyLog]:
    log = FlakyLog(tmp_path / "events.db")
    yield log
    log.close()


@pytest.fixture
def api(tmp_path: Path, flaky: FlakyLog) -> Iterator[Api]:
    with running_app(config_for(tmp_path, PARTIES, log=flaky, run_projector=False)) as running:
        yield running


def stored(log: EventLog, stream: Stream) -> list[MessageReceived | MessageRejected]:
    mapper = event_mapper()
    events = [mapper.to_event(r) for r in log.read(stream)]
    return [e for e in events if isinstance(e, MessageReceived | MessageRejected)]


def post(api: Api, data: bytes, role: str, **headers: str) -> httpx.Response:
    return api.post("/v1/messages", content=data, headers={**PARTIES.xml(role), **headers})


def test_an_accepted_message_is_202_stored_once_and_readable_with_its_retour(
    api: Api, flaky: FlakyLog
) -> None:
    answer = post(api, sample(WMO301), GEMEENTE)

    assert answer.status_code == 202, answer.text
    body = answer.json()
    mid = body["message_id"]
    assert body["status"] == "accepted" and body["message_type"] == "WMO301"
    assert body["retour_url"] == f"/v1/messages/{mid}/retour"
    assert answer.headers["location"] == f"/v1/messages/{mid}"
    received = [e for e in stored(flaky, EVENTS) if isinstance(e, MessageReceived)]
    assert [e.hub_message_id for e in received] == [mid]
    assert received[0].content == sample(WMO301)

    status = api.get(f"/v1/messages/{mid}", headers=PARTIES.auth(GEMEENTE))
    assert status.status_code == 200
    assert status.json()["status"] == "accepted" and status.json()["sender"] == "0153"

    retour = api.get(body["retour_url"], headers=PARTIES.auth(GEMEENTE))
    assert retour.status_code == 200
    assert retour.headers["content-type"].startswith("application/xml")
    assert Validator().check(retour.content).errors == ()
    root = etree.fromstring(retour.content)
    assert etree.QName(root).namespace == MessageType.WMO302.namespace
    codes = root.findall(".//" + MessageType.WMO302.tag("RetourCode"))
    assert [c.text for c in codes] == ["0200"]


def test_a_resubmission_is_202_duplicate_naming_the_stored_message(
    api: Api, flaky: FlakyLog
) -> None:
    first = post(api, sample(WMO305), AANBIEDER).json()
    again = post(api, sample(WMO305), AANBIEDER)

    assert again.status_code == 202
    assert again.json()["status"] == "duplicate"
    assert again.json()["message_id"] == first["message_id"]
    assert len([e for e in stored(flaky, EVENTS) if isinstance(e, MessageReceived)]) == 1


def test_an_invalid_message_is_422_with_every_error_and_kept_on_the_dead_letter_stream(
    api: Api, flaky: FlakyLog
) -> None:
    expected = Validator().check(sample(INVALID_301)).errors

    answer = post(api, sample(INVALID_301), GEMEENTE)

    assert answer.status_code == 422
    body = answer.json()
    assert body["status"] == "rejected"
    assert [(e["rule"], e["path"], e["line"]) for e in body["errors"]] == [
        (e.rule, e.path, e.line) for e in expected
    ]
    assert {"rule", "retour_code", "path", "line", "message"} <= set(body["errors"][0])
    dead = stored(flaky, REJECTED)
    assert [e.hub_message_id for e in dead] == [body["message_id"]]
    assert dead[0].content == sample(INVALID_301)
    assert not stored(flaky, EVENTS)

    status = api.get(f"/v1/messages/{body['message_id']}", headers=PARTIES.auth(GEMEENTE))
    assert status.json()["status"] == "rejected"
    assert status.json()["errors"] == body["errors"]
    retour = api.get(body["retour_url"], headers=PARTIES.auth(GEMEENTE))
    assert retour.status_code == 200
    codes = etree.fromstring(retour.content).findall(".//" + MessageType.WMO302.tag("RetourCode"))
    assert {c.text for c in codes} == {e.retour_code for e in expected}


def test_what_is_not_xml_is_400_and_still_kept(api: Api, flaky: FlakyLog) -> None:
    answer = post(api, sample(TRUNCATED_305), AANBIEDER)

    assert answer.status_code == 400
    assert answer.json()["errors"][0]["rule"] == "XML"
    assert [e.hub_message_id for e in stored(flaky, REJECTED)] == [answer.json()["message_id"]]
    no_retour = api.get(
        f"/v1/messages/{answer.json()['message_id']}/retour", headers=PARTIES.auth(AANBIEDER)
    )
    assert no_retour.status_code == 404 and no_retour.json()["error"] == "no_retour"


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/json", "application/xml; charset=iso-8859-1"],
)
def test_another_content_type_is_415(api: Api, flaky: FlakyLog, content_type: str | None) -> None:
    headers = PARTIES.auth(GEMEENTE)
    if content_type is not None:
        headers["Content-Type"] = content_type
    answer = api.post("/v1/messages", content=sample(WMO301), headers=headers)

    assert answer.status_code == 415
    assert answer.json()["error"] == "unsupported_media_type" and answer.json()["reason"]
    assert not stored(flaky, EVENTS) and not stored(flaky, REJECTED)


def test_text_xml_with_utf8_charset_is_accepted(api: Api) -> None:
    answer = post(api, sample(WMO307), AANBIEDER, **{"Content-Type": "text/xml; charset=UTF-8"})
    assert answer.status_code == 202


def test_a_body_over_the_limit_is_413_without_reading_it_all(tmp_path: Path) -> None:
    limit = len(sample(WMO301)) - 1
    config = config_for(tmp_path, PARTIES, validator=Validator(max_bytes=limit))
    with running_app(config) as api:
        declared = post(api, sample(WMO301), GEMEENTE)

        async def chunks() -> object:
            for _ in range(limit // 100 + 2):
                yield b" " * 100

        streamed = api.run(
            api.client.post("/v1/messages", content=chunks(), headers=PARTIES.xml(GEMEENTE))
        )
        fits = post(api, sample(WMO307), AANBIEDER)
    assert declared.status_code == 413 and "OP179" in declared.json()["reason"]
    assert streamed.status_code == 413
    assert fits.status_code == 202


def test_a_store_that_cannot_acknowledge_is_503_with_retry_after_and_nothing_accepted(
    api: Api, flaky: FlakyLog
) -> None:
    flaky.failing = True
    answer = post(api, sample(WMO301), GEMEENTE)

    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "7"
    assert answer.json()["error"] == "store_unavailable"
    assert not stored(flaky, EVENTS)

    flaky.failing = False
    again = post(api, sample(WMO301), GEMEENTE)
    assert again.status_code == 202 and again.json()["status"] == "accepted"


def test_a_store_that_never_opened_is_503_for_intake(tmp_path: Path) -> None:
    from tests.http_support import free_port

    store = f"kafka://127.0.0.1:{free_port()}?timeout_ms=300"
    config = config_for(tmp_path, PARTIES, settings=HubSettings(store=store))
    with running_app(config, wait_open=False) as api:
        answer = post(api, sample(WMO301), GEMEENTE)
        ready = api.get("/readyz", headers=PARTIES.auth(OPERATOR))
    assert answer.status_code == 503 and answer.headers["retry-after"] == "7"
    assert "not available" in answer.json()["reason"]
    assert ready.status_code == 503 and ready.json()["ready"] is False


@pytest.mark.parametrize(
    ("role", "document", "why"),
    [
        (OPERATOR, WMO301, "operator may not post"),
        (AANBIEDER, WMO301, "WMO301 is sent by a gemeente"),
        (GEMEENTE, WMO305, "WMO305 is sent by a aanbieder"),
        (OTHER_GEMEENTE, WMO301, "Afzender is 0153"),
        (OTHER_AANBIEDER, WMO307, "Afzender is 96683836"),
    ],
)
def test_a_party_posts_only_its_own_kind_of_message_as_itself(
    api: Api, flaky: FlakyLog, role: str, document: str, why: str
) -> None:
    answer = post(api, sample(document), role)

    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden" and why in answer.json()["reason"]
    assert not stored(flaky, EVENTS) and not stored(flaky, REJECTED)


@pytest.mark.parametrize(
    "authorization", [None, "Basic dXNlcjpwYXNz", "Bearer ", "Bearer iwmo_not-a-real-token"]
)
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "/v1/messages"),
        ("GET", "/v1/messages/00000000-0000-0000-0000-000000000000"),
        ("GET", "/v1/messages/00000000-0000-0000-0000-000000000000/retour"),
    ],
)
def test_no_valid_token_is_401_with_a_reason(
    api: Api, authorization: str | None, method: str, url: str
) -> None:
    headers = {"Content-Type": "application/xml"}
    if authorization is not None:
        headers["Authorization"] = authorization
    answer = api.request(method, url, content=sample(WMO301), headers=headers)

    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized" and answer.json()["reason"]
    assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("role", "status_code", "retour_code"),
    [
        (GEMEENTE, 200, 200),
        (OPERATOR, 200, 403),
        (AANBIEDER, 403, 403),
        (OTHER_GEMEENTE, 403, 403),
        (OTHER_AANBIEDER, 403, 403),
    ],
)
def test_only_the_sender_reads_a_message_and_the_operator_its_status(
    api: Api, role: str, status_code: int, retour_code: int
) -> None:
    mid = post(api, sample(WMO301), GEMEENTE).json()["message_id"]

    status = api.get(f"/v1/messages/{mid}", headers=PARTIES.auth(role))
    retour = api.get(f"/v1/messages/{mid}/retour", headers=PARTIES.auth(role))

    assert status.status_code == status_code
    assert retour.status_code == retour_code
    for answer in (status, retour):
        if answer.status_code == 403:
            assert answer.json()["error"] == "forbidden" and answer.json()["reason"]


def test_an_unknown_message_is_404(api: Api) -> None:
    answer = api.get("/v1/messages/no-such-id", headers=PARTIES.auth(GEMEENTE))
    assert answer.status_code == 404 and answer.json()["error"] == "not_found"


def test_messages_stored_by_another_process_are_found_by_following_the_log(
    tmp_path: Path, api: Api, flaky: FlakyLog
) -> None:
    from adapters.bootstrap import open_hub

    with open_hub(HubSettings(store=f"sqlite:{tmp_path / 'events.db'}")) as other:
        result = other.ingest.ingest(sample(WMO307))
    assert result.status == "accepted" and result.message_id

    deadline = time.monotonic() + 10
    answer = api.get(f"/v1/messages/{result.message_id}", headers=PARTIES.auth(AANBIEDER))
    while answer.status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.05)
        answer = api.get(f"/v1/messages/{result.message_id}", headers=PARTIES.auth(AANBIEDER))
    assert answer.status_code == 200 and answer.json()["message_type"] == "WMO307"


def test_fifty_concurrent_posts_share_appends_and_each_is_stored_once(
    api: Api, flaky: FlakyLog
) -> None:
    documents = sample_documents(MessageType.WMO305, 50, seed=11)
    senders = [etree.fromstring(d).findtext(".//{*}Afzender") for d in documents]
    parties = Parties.make(tuple(sorted({f"aanbieder:{s}" for s in senders})))
    api.app.state.tokens = parties.registry
    flaky.delay = 0.02  # an append takes a while, as a real fsync or broker round trip does

    async def post_all() -> list[httpx.Response]:
        return await asyncio.gather(
            *(
                api.client.post(
                    "/v1/messages", content=doc, headers=parties.xml(f"aanbieder:{sender}")
                )
                for doc, sender in zip(documents, senders, strict=True)
            )
        )

    answers = api.run(post_all())

    assert [a.status_code for a in answers] == [202] * 50, [a.text for a in answers]
    ids = Counter(e.hub_message_id for e in stored(flaky, EVENTS) if isinstance(e, MessageReceived))
    assert set(ids) == {a.json()["message_id"] for a in answers}
    assert set(ids.values()) == {1}
    assert len(flaky.appends) < 25, f"{len(flaky.appends)} appends for 50 posts"


def test_validation_in_a_worker_process_gives_the_same_answers(tmp_path: Path) -> None:
    config = config_for(tmp_path, PARTIES, workers=1, run_projector=False)
    with running_app(config) as api:
        accepted = post(api, sample(WMO301), GEMEENTE)
        rejected = post(api, sample(INVALID_301), GEMEENTE)
        forbidden = post(api, sample(WMO305), GEMEENTE)
    assert accepted.status_code == 202 and accepted.json()["status"] == "accepted"
    assert rejected.status_code == 422
    assert [e["rule"] for e in rejected.json()["errors"]] == [
        e.rule for e in Validator().check(sample(INVALID_301)).errors
    ]
    assert forbidden.status_code == 403


def _answers(api: Api) -> list[tuple[int, dict[str, str], object]]:
    """One post of each outcome, as (status, the headers that matter, body without ids)."""
    posts = [
        (sample(WMO301), PARTIES.xml(GEMEENTE)),  # accepted
        (sample(WMO301), PARTIES.xml(GEMEENTE)),  # duplicate
        (sample(INVALID_301), PARTIES.xml(GEMEENTE)),  # 422
        (sample(TRUNCATED_305), PARTIES.xml(AANBIEDER)),  # 400
        (sample(WMO301), {**PARTIES.xml(GEMEENTE), "Content-Type": "text/plain"}),  # 415
        (sample(WMO301), PARTIES.xml(AANBIEDER)),  # 403
        (sample(WMO301), {"Content-Type": "application/xml"}),  # 401
        (sample(WMO307), PARTIES.xml(AANBIEDER)),  # accepted
    ]
    out: list[tuple[int, dict[str, str], object]] = []
    for content, headers in posts:
        answer = api.post("/v1/messages", content=content, headers=headers)
        body = answer.json()
        for ids in ("message_id", "retour_url"):
            body.pop(ids, None)
        kept = {k: answer.headers.get(k, "") for k in ("content-type", "www-authenticate")}
        out.append((answer.status_code, kept, body))
    return out


def test_posts_taken_directly_are_answered_as_through_the_framework(tmp_path: Path) -> None:
    """`HubApp` hands POST /v1/messages straight to its handler; every outcome, and the
    access metrics, are the same as when FastAPI routes it."""
    results = []
    for direct in (True, False):
        folder = tmp_path / ("direct" if direct else "routed")
        folder.mkdir()
        with running_app(config_for(folder, PARTIES, run_projector=False)) as api:
            if not direct:
                api.app.direct_post = None
            answers = _answers(api)
            metrics = api.get("/metrics", headers=PARTIES.auth(OPERATOR)).text
        counted = sorted(
            line
            for line in metrics.splitlines()
            if line.startswith("iwmo_hub_http_requests_total{") and 'method="POST"' in line
        )
        results.append((answers, counted))

    (direct_answers, direct_counted), (routed_answers, routed_counted) = results
    assert [a[0] for a in direct_answers] == [202, 202, 422, 400, 415, 403, 401, 202]
    assert direct_answers == routed_answers
    assert direct_counted == routed_counted
    assert any('route="/v1/messages"' in line for line in direct_counted)
