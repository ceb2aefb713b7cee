"""Replay against a real Apache Kafka broker (3 partitions): rebuild, time travel, swap under
intake, re-validation, dead letters and status give what they give on the embedded store."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.bootstrap import event_mapper, open_hub, payload_codec
from adapters.kafka_log import KafkaEventLog
from adapters.sqlite_log import SqliteEventLog
from hub.eventlog import EventLog
from hub.records import EVENTS
from hub.settings import HubSettings
from projections.projector import Projector
from projections.store import ProjectionStore
from replay.deadletters import redrive, rejections
from replay.digest import digest
from replay.rebuild import rebuild, until_timestamp
from replay.revalidate import revalidate, validators
from replay.status import intake_counts, lag
from replay.swap import catch_up_and_swap
from tests.integration import KafkaBroker
from tests.integration.test_eventlog_kafka import delete_topics
from tests.unit.test_replay import SOURCE, T0, ingest, minute_clock, traffic
from tests.unit.test_replay_revalidate import stricter

PARTITIONS = {"events": 3, "rejected": 2}
DOCS = traffic(clients=60, seed=31, gemeenten=3)


def kafka_log(broker: KafkaBroker, prefix: str) -> KafkaEventLog:
    return KafkaEventLog(broker.bootstrap, prefix=prefix, partitions=PARTITIONS, timeout_ms=15_000)


@pytest.fixture
def prefix(kafka_broker: KafkaBroker) -> Iterator[str]:
    name = f"replay-{uuid.uuid4().hex[:12]}"
    yield name
    delete_topics(kafka_broker.bootstrap, name)


@pytest.fixture
def kafka(kafka_broker: KafkaBroker, prefix: str) -> Iterator[EventLog]:
    with kafka_log(kafka_broker, prefix) as log:
        ingest(log, DOCS)
        yield log


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventLog]:
    with SqliteEventLog(tmp_path_factory.mktemp("sqlite") / "events.db") as log:
        ingest(log, DOCS)
        yield log


def rebuilt(log: EventLog, path: Path, **window: object) -> str:
    with ProjectionStore(path) as store:
        return rebuild(log, store, event_mapper().to_event, source=SOURCE, **window).digest  # type: ignore[arg-type]


@pytest.mark.kafka
def test_rebuild_is_identical_and_equal_to_the_embedded_store(
    kafka: EventLog, embedded: EventLog, tmp_path: Path
) -> None:
    assert len(kafka.end_position(EVENTS).offsets) >= 2  # spread over partitions
    first = rebuilt(kafka, tmp_path / "a.db")
    assert first == rebuilt(kafka, tmp_path / "b.db", batch_size=11)
    assert first == rebuilt(embedded, tmp_path / "sqlite.db")


@pytest.mark.kafka
def test_until_a_moment_on_both_stores(kafka: EventLog, embedded: EventLog, tmp_path: Path) -> None:
    moment = T0 + dt.timedelta(minutes=len(DOCS) // 2)
    on_kafka = rebuilt(kafka, tmp_path / "k.db", until=until_timestamp(kafka, moment))
    on_sqlite = rebuilt(embedded, tmp_path / "s.db", until=until_timestamp(embedded, moment))
    assert on_kafka == on_sqlite != rebuilt(kafka, tmp_path / "all.db")


@pytest.mark.kafka
def test_swap_under_intake(kafka_broker: KafkaBroker, kafka: EventLog, prefix: str,
                           tmp_path: Path) -> None:  # fmt: skip
    live = tmp_path / "projections.db"
    with ProjectionStore(live) as store:
        Projector(kafka, store, event_mapper().to_event, source=SOURCE).catch_up()
    more = traffic(clients=200, seed=32, gemeenten=3)
    stop, sent, errors = threading.Event(), [0], []

    def intake() -> None:
        ticks = minute_clock(dt.datetime(2025, 7, 1, tzinfo=dt.UTC))
        try:
            with kafka_log(kafka_broker, prefix) as own:
                hub = open_hub(HubSettings(), log=own, clock=lambda: next(ticks))
                for doc in more:
                    if stop.is_set():
                        return
                    hub.ingest.ingest(doc)
                    sent[0] += 1
        except BaseException as e:
            errors.append(e)

    worker = threading.Thread(target=intake, daemon=True)
    worker.start()
    while sent[0] < 5 and worker.is_alive():
        time.sleep(0.05)
    with ProjectionStore(tmp_path / "rebuilt.db") as store:
        rebuild(kafka, store, event_mapper().to_event, source=SOURCE, batch_size=40)
        projector = Projector(kafka, store, event_mapper().to_event, source=SOURCE)
        catch_up_and_swap(projector, kafka, live)
        at_swap = store.position()
    running = worker.is_alive()
    time.sleep(0.5)
    stop.set()
    worker.join(120)
    assert not errors and running and sent[0] > 5
    end = kafka.end_position(EVENTS)
    assert not at_swap.reached(end)  # intake went on after the switch
    with ProjectionStore(live) as reader:
        assert reader.position() == at_swap
        assert lag(kafka, str(live), reader.position()).events > 0
        Projector(kafka, reader, event_mapper().to_event, source=SOURCE).catch_up()
        assert reader.position() == end
        assert digest(reader) == rebuilt(kafka, tmp_path / "scratch.db")


@pytest.mark.kafka
def test_revalidate_rejected_and_status(kafka: EventLog, embedded: EventLog) -> None:
    strict = validators(stricter("2025-06-01"))
    on_kafka = revalidate(kafka, event_mapper(), strict)
    on_sqlite = revalidate(embedded, event_mapper(), strict)
    assert on_kafka.findings and on_kafka.checked == on_sqlite.checked
    assert {f.hub_message_id for f in on_kafka.findings} == {
        f.hub_message_id for f in on_sqlite.findings
    }
    assert intake_counts(kafka, event_mapper()) == intake_counts(embedded, event_mapper())

    hub = open_hub(HubSettings(), log=kafka)
    bad = hub.ingest.ingest(DOCS[0].replace(b"Bsn>", b"Bsnn>", 2))
    assert bad.status == "rejected"
    [found] = rejections(kafka, payload_codec())
    [(_, result)] = list(redrive(kafka, [found], hub.ingest.ingest, avro=payload_codec()))
    assert result.status == "rejected"
    after = {r.id: r for r in rejections(kafka, payload_codec())}
    assert [r.status for r in after[found.id].redrives] == ["rejected"]
