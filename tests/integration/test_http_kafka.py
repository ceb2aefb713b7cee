"""The API on the real Kafka broker: accepted means in the topic exactly once; a stopped broker
is 503 with Retry-After (never 202), and the API takes messages again once it is back."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from lxml import etree

from adapters.bootstrap import event_mapper
from adapters.kafka_log import KafkaEventLog
from hub.events import MessageReceived
from hub.factory import sample_documents
from hub.messagetypes import MessageType
from hub.records import EVENTS
from tests.http_support import OPERATOR, Parties, live_server
from tests.integration import KafkaBroker
from tests.integration.test_eventlog_kafka import delete_topics

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def stored_ids(bootstrap: str, prefix: str) -> Counter[str]:
    mapper = event_mapper()
    with KafkaEventLog(bootstrap, prefix=prefix, timeout_ms=30_000) as log:
        return Counter(
            e.hub_message_id
            for e in map(mapper.to_event, log.read(EVENTS))
            if isinstance(e, MessageReceived)
        )


def until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_the_api_on_kafka_stores_exactly_once_and_answers_503_while_the_broker_is_down(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    documents = sample_documents(MessageType.WMO305, 12, seed=41)
    senders = [etree.fromstring(d).findtext(".//{*}Afzender") for d in documents]
    parties = Parties.make((OPERATOR, *sorted({f"aanbieder:{s}" for s in senders})))
    prefix = f"http-{uuid.uuid4().hex[:10]}"
    store = f"kafka://{kafka_broker.bootstrap}?prefix={prefix}&partitions=3"
    env = {"IWMO_HUB_KAFKA_TIMEOUT_MS": "3000"}

    def post(n: int, url: str) -> httpx.Response:
        headers = parties.xml(f"aanbieder:{senders[n]}")
        return httpx.post(url + "/v1/messages", content=documents[n], headers=headers, timeout=60)

    try:
        with live_server(tmp_path, parties, store=store, env=env) as url:

            def ready() -> bool:
                answer = httpx.get(url + "/readyz", headers=parties.auth(OPERATOR))
                return answer.status_code == 200

            until(ready, 60, "the API to open the Kafka store")
            first = [post(n, url) for n in range(6)]
            assert [a.status_code for a in first] == [202] * 6, [a.text for a in first]
            assert post(0, url).json()["status"] == "duplicate"

            kafka_broker.stop()
            try:
                down = post(6, url)
                assert down.status_code == 503, down.text
                assert int(down.headers["retry-after"]) > 0
                until(lambda: not ready(), 30, "/readyz to report the store down")
            finally:
                kafka_broker.start()

            until(lambda: post(6, url).status_code == 202, 120, "the API to take messages again")
            rest = [post(n, url) for n in range(7, 12)]
            assert [a.status_code for a in rest] == [202] * 5
            until(ready, 60, "the projector and index to catch up after the restart")
            status = httpx.get(
                url + f"/v1/messages/{rest[0].json()['message_id']}",
                headers=parties.auth(f"aanbieder:{senders[7]}"),
            )
            assert status.status_code == 200 and status.json()["status"] == "accepted"

        ids = stored_ids(kafka_broker.bootstrap, prefix)
        accepted = {a.json()["message_id"] for a in (*first, *rest)}
        assert accepted <= set(ids), "an accepted message is not in the topic"
        assert len(ids) == len(documents) and set(ids.values()) == {1}, ids
    finally:
        if kafka_broker.pid() is None:
            kafka_broker.start()
        delete_topics(kafka_broker.bootstrap, prefix)
