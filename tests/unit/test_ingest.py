"""The ingest service on the embedded store (the contract), and how it behaves when the store
fails, through a fake log that wraps a real SQLite one."""

from __future__ import annotations

import datetime as dt
import gc
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pydantic
import pytest

from adapters import store_url
from adapters.avro import AvroCodec
from adapters.bootstrap import ParallelPreparer, open_hub, received_identity_reader
from adapters.sqlite_log import SqliteEventLog
from hub.codec import to_xml
from hub.collector import BULK_YOUNG, bulk_collection
from hub.errors import InvalidMessage, SerializationError, StoreUnavailable
from hub.eventlog import EventLog
from hub.events import MessageRejected
from hub.factory import MessageFactory, sample_documents
from hub.ingest import (
    ACCEPTED,
    DUPLICATE,
    FAILED,
    REJECTED,
    IngestService,
    received_reader,
)
from hub.ingest_events import MESSAGE_ID_NAMESPACE, Identity, uuid5
from hub.messagetypes import MessageType
from hub.records import RecordPosition, StoredRecord, Stream, StreamPosition
from hub.settings import HubSettings
from hub.xmlsafe import MAX_MESSAGE_BYTES
from tests.contract.ingest_contract import NOW, IngestContract, read_events, received


class TestSqliteIngest(IngestContract):
    @pytest.fixture(autouse=True)
    def _database(self, tmp_path: Path) -> None:
        self.path = tmp_path / "store" / "events.db"

    def create_log(self) -> EventLog:
        return SqliteEventLog(self.path)


class FlakyLog(EventLog):
    """A real in-memory SQLite log whose appends fail on demand.

    `down`: append raises StoreUnavailable and stores nothing. `lose_acks`: append stores the
    batch but raises anyway, like a broker whose acknowledgement never arrives.
    """

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.inner = SqliteEventLog(path)
        self.down = False
        self.lose_acks = False
        self.failing_appends: set[int] = set()
        self.appends = 0
        self.reads = 0
        self.refused_reads = 0

    def append(self, records: Sequence[StoredRecord]) -> list[RecordPosition]:
        self.appends += 1
        if self.down or self.appends in self.failing_appends:
            raise StoreUnavailable("Kafka at k1:9092 did not acknowledge within 5 ms")
        positions = self.inner.append(records)
        if self.lose_acks:
            raise StoreUnavailable("Kafka at k1:9092: acknowledgement lost")
        return positions

    def read(
        self,
        stream: Stream,
        from_position: StreamPosition | None = None,
        *,
        until: StreamPosition | None = None,
        limit: int | None = None,
    ) -> Iterator[StoredRecord]:
        if self.down:
            self.refused_reads += 1
            raise StoreUnavailable("Kafka at k1:9092 did not answer")
        self.reads += 1
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


def documents(count: int, seed: int = 3) -> list[bytes]:
    return sample_documents(MessageType.WMO305, count, seed=seed)


def test_nothing_is_accepted_when_the_store_fails_and_a_retry_stores_it() -> None:
    log = FlakyLog()
    with open_hub(log=log, clock=lambda: NOW) as hub:
        data = documents(1)[0]
        log.down = True
        failed = hub.ingest.ingest(data)
        log.down = False
        retried = hub.ingest.ingest(data)

    assert failed.status == FAILED
    assert "k1:9092" in (failed.detail or "")
    assert retried.status == ACCEPTED
    assert retried.message_id == failed.message_id


def test_a_message_stored_although_append_failed_is_a_duplicate_when_resubmitted() -> None:
    log = FlakyLog()
    with open_hub(log=log, clock=lambda: NOW) as hub:
        data = documents(1)[0]
        hub.ingest.open()
        log.lose_acks = True
        first = hub.ingest.ingest(data)
        log.lose_acks = False
        again = hub.ingest.ingest(data)  # the index re-reads the log before deciding

        assert first.status == FAILED
        assert again.status == DUPLICATE
        assert again.message_id == first.message_id
        assert len(received(log)) == 1


def test_a_rejection_that_could_not_be_stored_is_failed_with_its_errors() -> None:
    log = FlakyLog()
    with open_hub(log=log, clock=lambda: NOW) as hub:
        hub.ingest.open()
        log.down = True
        result = hub.ingest.ingest(b"<not-closed")
    assert result.status == FAILED
    assert result.errors and result.errors[0].rule == "XML"


def test_a_duplicate_of_a_message_in_a_failed_batch_fails_too() -> None:
    log = FlakyLog()
    data = documents(1)[0]
    with open_hub(log=log, clock=lambda: NOW) as hub:
        hub.ingest.open()
        log.down = True
        results = [r for _, r in hub.ingest.ingest_many([("a", data), ("b", data)])]
    assert [r.status for r in results] == [FAILED, FAILED]


def test_after_max_failed_batches_in_a_row_the_rest_is_not_attempted() -> None:
    log = FlakyLog()
    settings = HubSettings(batch_size=2, max_failed_batches=2)
    with open_hub(settings, log=log, clock=lambda: NOW) as hub:
        hub.ingest.open()
        log.down = True
        results = list(hub.ingest.ingest_many(enumerate(documents(9))))

    assert [tag for tag, _ in results] == list(range(9))
    assert {r.status for _, r in results} == {FAILED}
    # The first batch fails on append; the second already on re-reading the log for TR056.
    assert (log.appends, log.refused_reads) == (1, 1), "gave up after two failed batches"
    assert "not attempted" in (results[-1][1].detail or "")


def test_a_batch_that_succeeds_resets_the_failure_count() -> None:
    log = FlakyLog()
    log.failing_appends = {1, 3}  # batches 1 and 3 fail, 2 and 4 are stored
    settings = HubSettings(batch_size=2, max_failed_batches=2)
    with open_hub(settings, log=log, clock=lambda: NOW) as hub:
        statuses = [r.status for _, r in hub.ingest.ingest_many(enumerate(documents(8)))]
    assert statuses == [FAILED, FAILED, ACCEPTED, ACCEPTED] * 2


def test_large_messages_are_appended_in_smaller_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = documents(6)
    monkeypatch.setattr("hub.ingest.MAX_BATCH_BYTES", min(map(len, docs)))
    log = FlakyLog()
    with open_hub(HubSettings(batch_size=100), log=log, clock=lambda: NOW) as hub:
        statuses = {r.status for _, r in hub.ingest.ingest_many(enumerate(docs))}
    assert statuses == {ACCEPTED}
    assert log.appends == 6, "one message per append: each one alone reaches the limit"


def test_a_message_is_reported_only_after_its_batch_was_appended() -> None:
    class SlowLog(FlakyLog):
        finished = 0

        def append(self, records: Sequence[StoredRecord]) -> list[RecordPosition]:
            time.sleep(0.05)  # the next batch is prepared meanwhile
            positions = super().append(records)
            self.finished += 1
            return positions

    log = SlowLog()
    with open_hub(HubSettings(batch_size=3), log=log, clock=lambda: NOW) as hub:
        for n, result in hub.ingest.ingest_many(enumerate(documents(10))):
            assert result.status == ACCEPTED
            assert log.finished >= n // 3 + 1, f"message {n} reported before its append"


def test_stopping_early_leaves_no_append_running() -> None:
    log = FlakyLog()
    with open_hub(HubSettings(batch_size=2), log=log, clock=lambda: NOW) as hub:
        results = hub.ingest.ingest_many(enumerate(documents(10)))
        first = next(results)
        results.close()  # the caller stops reading
        appends = log.appends
        time.sleep(0.1)
        assert log.appends == appends, "an append started after the caller stopped"
    assert first[1].status == ACCEPTED
    assert appends <= 2


def test_a_bulk_ingest_runs_with_a_larger_young_generation_and_restores_it() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with open_hub(log=SqliteEventLog(":memory:"), clock=lambda: NOW) as hub:
            results = hub.ingest.ingest_many(enumerate(documents(3)))
            assert next(results)[1].status == ACCEPTED
            assert gc.get_threshold() == (BULK_YOUNG, 10, 10)
            assert [r.status for _, r in results] == [ACCEPTED, ACCEPTED]
            assert gc.get_threshold() == (700, 10, 10)
            results = hub.ingest.ingest_many(enumerate(documents(3)))
            next(results)
            results.close()  # stopped early: restored as well
            assert gc.get_threshold() == (700, 10, 10)
            gc.set_threshold(0)  # a collector switched off stays off
            assert len([*hub.ingest.ingest_many(enumerate(documents(1)))]) == 1
            assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)


def test_bulk_collection_raises_the_threshold_until_the_last_user_leaves() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with bulk_collection():
            with bulk_collection():
                assert gc.get_threshold()[0] == BULK_YOUNG
            assert gc.get_threshold()[0] == BULK_YOUNG
        assert gc.get_threshold() == (700, 10, 10)
        gc.set_threshold(50_000, 10, 10)  # never lowered
        with bulk_collection():
            assert gc.get_threshold()[0] == 50_000
        assert gc.get_threshold()[0] == 50_000
    finally:
        gc.set_threshold(*before)


def test_the_index_is_rebuilt_from_the_log_once_and_then_kept_current(tmp_path: Path) -> None:
    log = FlakyLog(tmp_path / "events.db")
    docs = documents(5)
    with open_hub(log=log, clock=lambda: NOW) as hub:
        for data in docs:
            hub.ingest.ingest(data)
    assert log.reads == 1, "later ingests use the index, not the log"
    with open_hub(log=FlakyLog(tmp_path / "events.db"), clock=lambda: NOW) as restarted:
        assert restarted.ingest.open() == 5
        assert {restarted.ingest.ingest(d).status for d in docs} == {DUPLICATE}


def test_a_message_over_the_size_limit_is_rejected_and_kept_truncated() -> None:
    with open_hub(log=SqliteEventLog(":memory:"), clock=lambda: NOW) as hub:
        huge = b"<a>" + b" " * MAX_MESSAGE_BYTES + b"</a>"
        result = hub.ingest.ingest(huge)
        (rejection,) = read_events(hub.log, "rejected")
    assert result.status == REJECTED
    assert result.errors[0].rule == "OP179"
    assert isinstance(rejection, MessageRejected)
    assert rejection.content == huge[:MAX_MESSAGE_BYTES]


@pytest.mark.parametrize("name", ["WMO301|0363|ID-1|2025-03-01", "", "é|ß|\u20ac"])
def test_the_fast_uuid5_is_the_standard_one(name: str) -> None:
    assert uuid5(name) == str(uuid.uuid5(MESSAGE_ID_NAMESPACE, name))


def test_the_index_reads_the_same_identity_as_a_full_decode() -> None:
    with open_hub(log=SqliteEventLog(":memory:"), clock=lambda: NOW) as hub:
        prepared = [hub.ingest.preparer.prepare(d, NOW) for d in documents(5)]
        fast = received_identity_reader(AvroCodec())
        full = received_reader(hub.mapper)
        for item in prepared:
            record = item.records[-1]
            assert fast(record) == full(record)
            assert item.identity is not None
            assert fast(record) == (
                item.identity.tr056_key,
                item.message_id,
                item.identity.dagtekening,
            )


@pytest.mark.parametrize(
    "raised",
    [
        InvalidMessage("ToegewezenProduct: unexpected element"),
        SerializationError("cannot encode AssignmentIssued v1: 999900006 out of range"),
    ],
)
def test_a_valid_message_that_cannot_become_events_is_rejected_not_fatal(
    monkeypatch: pytest.MonkeyPatch, raised: Exception
) -> None:
    def refuse(*args: object) -> list[object]:
        raise raised

    monkeypatch.setattr("hub.ingest_events.domain_records", refuse)
    with open_hub(log=SqliteEventLog(":memory:"), clock=lambda: NOW) as hub:
        results = [r for _, r in hub.ingest.ingest_many(enumerate(documents(2)))]
        assert [r.status for r in results] == [REJECTED, REJECTED]
        assert "999900006" not in json.dumps(results[0].as_dict())
        assert len(read_events(hub.log, "rejected")) == 2


def test_message_ids_are_deterministic_per_bericht_identificatie() -> None:
    day = dt.date(2025, 3, 1)
    base = Identity("WMO301", "0363", "ID-1", day)
    assert base.message_id == Identity("WMO301", "0363", "ID-1", day).message_id
    # The name hashed is part of the stored history: ids must never change between versions.
    assert base.message_id == str(uuid.uuid5(MESSAGE_ID_NAMESPACE, "WMO301|0363|ID-1|2025-03-01"))
    others = {
        Identity("WMO305", "0363", "ID-1", day).message_id,
        Identity("WMO301", "0599", "ID-1", day).message_id,
        Identity("WMO301", "0363", "ID-2", day).message_id,
        Identity("WMO301", "0363", "ID-1", day + dt.timedelta(days=1)).message_id,
    }
    assert base.message_id not in others
    assert len(others) == 4


def test_the_json_result_has_the_documented_shape_and_no_bsn() -> None:
    bad = to_xml(MessageFactory(4).wmo301(bsn="123456789"))
    with open_hub(log=SqliteEventLog(":memory:"), clock=lambda: NOW) as hub:
        result = hub.ingest.ingest(bad).as_dict()
    assert set(result) == {"status", "message_id", "message_type", "errors", "detail"}
    assert result["status"] == REJECTED
    assert "123456789" not in json.dumps(result)


@pytest.mark.slow
def test_worker_processes_give_the_same_results_as_the_caller() -> None:
    docs = [*documents(40, seed=8), b"<x/>", *documents(3, seed=8)]
    outcomes = []
    for workers in (0, 1):
        settings = HubSettings(workers=workers, batch_size=16)
        with open_hub(settings, log=SqliteEventLog(":memory:"), clock=lambda: NOW) as hub:
            results = list(hub.ingest.ingest_many(enumerate(docs)))
            outcomes.append([(tag, r.status, r.message_type) for tag, r in results])
            ids = [r.message_id for _, r in results if r.status == ACCEPTED]
            assert ids == [m.hub_message_id for m in received(hub.log)]
    assert outcomes[0] == outcomes[1]
    assert Counter(status for _, status, _ in outcomes[1]) == {
        ACCEPTED: 40,
        REJECTED: 1,
        DUPLICATE: 3,
    }


def test_parallel_preparer_refuses_zero_workers() -> None:
    with pytest.raises(ValueError):
        ParallelPreparer(0)


# --- settings -----------------------------------------------------------------------------


def test_settings_read_the_environment_and_explicit_values_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IWMO_HUB_STORE", "kafka://k1:9092")
    monkeypatch.setenv("IWMO_HUB_BATCH_SIZE", "50")
    assert HubSettings().store == "kafka://k1:9092"
    assert HubSettings().batch_size == 50
    assert HubSettings(store="sqlite:/tmp/x.db").store == "sqlite:/tmp/x.db"


def test_settings_default_to_the_embedded_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IWMO_HUB_STORE", raising=False)
    assert HubSettings().store == store_url.DEFAULT_STORE
    monkeypatch.setenv("IWMO_HUB_STORE", "  ")
    assert HubSettings().store == store_url.DEFAULT_STORE


@pytest.mark.parametrize(
    ("name", "value"),
    [("batch_size", 0), ("workers", -1), ("kafka_timeout_ms", 5), ("kafka_prefix", "a b")],
)
def test_settings_refuse_nonsense(name: str, value: object) -> None:
    with pytest.raises(pydantic.ValidationError):
        HubSettings(**{name: value})  # type: ignore[arg-type]


def test_the_service_refuses_a_zero_batch_size() -> None:
    with (
        open_hub(log=SqliteEventLog(":memory:")) as hub,
        pytest.raises(ValueError, match="batch_size"),
    ):
        IngestService(hub.log, hub.ingest.preparer, batch_size=0)


def test_a_store_error_while_rebuilding_fails_the_batch_not_the_process() -> None:
    log = FlakyLog()
    log.down = True
    with open_hub(log=log, clock=lambda: NOW) as hub:
        result = hub.ingest.ingest(documents(1)[0])
        assert result.status == FAILED
        assert "store not readable" in (result.detail or "")
        log.down = False
        assert hub.ingest.ingest(documents(1)[0]).status == ACCEPTED
