"""Ingest when Kafka fails: an unreachable broker, and a broker stopped in the middle of a
large ingest and started again. Nothing reported accepted may be missing or stored twice, and
nothing may be reported accepted that the broker did not confirm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.bootstrap import event_mapper, open_hub
from adapters.kafka_log import KafkaEventLog
from hub.errors import StoreUnavailable
from hub.events import MessageReceived
from hub.factory import sample_documents
from hub.ingest import ACCEPTED, DUPLICATE, FAILED, IngestResult
from hub.messagetypes import MessageType
from hub.records import EVENTS
from hub.settings import HubSettings
from tests.integration import KafkaBroker
from tests.integration.test_eventlog_kafka import delete_topics, free_port

BIN = Path(sys.executable).parent


def stored_message_ids(bootstrap: str, prefix: str) -> Counter[str]:
    """How often each hub message id occurs as a MessageReceived in the events topic."""
    mapper = event_mapper()
    with KafkaEventLog(bootstrap, prefix=prefix, timeout_ms=30_000) as log:
        return Counter(
            event.hub_message_id
            for event in map(mapper.to_event, log.read(EVENTS))
            if isinstance(event, MessageReceived)
        )


def test_an_unreachable_broker_fails_in_bounded_time_naming_it(tmp_path: Path) -> None:
    for n, data in enumerate(sample_documents(MessageType.WMO305, 3, seed=2)):
        (tmp_path / f"m{n}.xml").write_bytes(data)
    broker = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "iwmo-hub"), "ingest", "--format", "json", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "IWMO_HUB_STORE": f"kafka://{broker}",
            "IWMO_HUB_KAFKA_TIMEOUT_MS": "1500",
        },
    )
    elapsed = time.monotonic() - started

    assert done.returncode == 3, done.stderr
    assert elapsed < 30, f"took {elapsed:.1f} s with a 1.5 s broker timeout"
    assert broker in done.stderr
    results = json.loads(done.stdout)
    assert len(results) == 3
    assert {r["status"] for r in results} == {FAILED}


def test_opening_the_hub_on_an_unreachable_broker_is_store_unavailable() -> None:
    broker = f"127.0.0.1:{free_port()}"
    settings = HubSettings(store=f"kafka://{broker}", kafka_timeout_ms=1000)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=broker):
        open_hub(settings)
    assert time.monotonic() - started < 15


@pytest.mark.kafka
@pytest.mark.slow
def test_a_broker_stopped_mid_ingest_loses_nothing_and_stores_nothing_twice(
    kafka_broker: KafkaBroker,
) -> None:
    documents = [
        doc
        for mt in (MessageType.WMO301, MessageType.WMO305, MessageType.WMO307)
        for doc in sample_documents(mt, 1200, seed=31)
    ]
    prefix = f"faults-{uuid.uuid4().hex[:10]}"
    store = f"kafka://{kafka_broker.bootstrap}?prefix={prefix}&partitions=3"
    settings = HubSettings(
        store=store, batch_size=50, kafka_timeout_ms=3000, max_failed_batches=1000
    )
    results: list[IngestResult] = []
    crashed: list[BaseException] = []

    def ingest() -> None:
        try:
            with open_hub(settings) as hub:
                for _, result in hub.ingest.ingest_many(enumerate(documents)):
                    results.append(result)
        except BaseException as e:  # surfaced below; a thread must not swallow it
            crashed.append(e)

    worker = threading.Thread(target=ingest, name="ingest", daemon=True)
    try:
        worker.start()
        _wait_for(lambda: sum(r.status == ACCEPTED for r in results) >= 300, 120, crashed)
        kafka_broker.stop(kill=True)  # a crash, not a clean shutdown
        _wait_for(lambda: any(r.status == FAILED for r in results), 120, crashed)
    finally:
        if kafka_broker.pid() is None:
            kafka_broker.start()
    worker.join(timeout=600)
    assert not worker.is_alive(), "ingest did not finish after the broker came back"
    assert not crashed, crashed

    try:
        statuses = [r.status for r in results]
        assert len(results) == len(documents)
        assert set(statuses) == {ACCEPTED, FAILED}
        assert max(i for i, s in enumerate(statuses) if s == ACCEPTED) > statuses.index(FAILED), (
            "ingest resumed once the broker was back"
        )
        stored = stored_message_ids(kafka_broker.bootstrap, prefix)
        accepted = [r.message_id for r in results if r.status == ACCEPTED]
        assert all(stored[mid] == 1 for mid in accepted), "an accepted message is missing"
        assert max(stored.values()) == 1, "a message is stored twice"

        # Submitting the failed ones again stores each (or finds it stored): none is lost.
        failed = [n for n, r in enumerate(results) if r.status == FAILED]
        with open_hub(settings) as hub:
            again = [r for _, r in hub.ingest.ingest_many((n, documents[n]) for n in failed)]
        assert {r.status for r in again} <= {ACCEPTED, DUPLICATE}
        stored = stored_message_ids(kafka_broker.bootstrap, prefix)
        expected = {r.message_id for r in results}
        assert set(stored) == expected and set(stored.values()) == {1}
    finally:
        delete_topics(kafka_broker.bootstrap, prefix)


def _wait_for(condition: Callable[[], bool], seconds: float, crashed: list[BaseException]) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert not crashed, crashed
        assert time.monotonic() < deadline, "timed out waiting for the ingest"
        time.sleep(0.05)
