"""The embedded SQLite event log: the contract suite, plus how SQLite failures surface."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from pathlib import Path

import pytest

from adapters.sqlite_log import SqliteEventLog
from hub.errors import StoreError, StoreUnavailable
from hub.eventlog import EventLog
from hub.records import EVENTS, RecordPosition, StreamPosition
from tests.contract.eventlog_contract import EventLogContract, make_records, past_ms, random_keys


class TestSqliteEventLog(EventLogContract):
    @pytest.fixture(autouse=True)
    def _database(self, tmp_path: Path) -> None:
        self.path = tmp_path / "store" / "events.db"

    def create_log(self) -> EventLog:
        return SqliteEventLog(self.path)


def test_the_file_is_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with SqliteEventLog(path) as log:
        log.append(make_records(EVENTS, random_keys(1), 1, timestamp_ms=past_ms()))
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_one_partition_with_gap_free_offsets(tmp_path: Path) -> None:
    with SqliteEventLog(tmp_path / "events.db") as log:
        first = log.append(make_records(EVENTS, random_keys(3), 2, timestamp_ms=past_ms()))
        second = log.append(make_records(EVENTS, random_keys(2), 1, timestamp_ms=past_ms()))
    assert first + second == [RecordPosition(0, n) for n in range(8)]


def test_a_failed_batch_stores_nothing(tmp_path: Path) -> None:
    with SqliteEventLog(tmp_path / "events.db") as log:
        good = make_records(EVENTS, random_keys(2), 2, timestamp_ms=past_ms())
        # A payload SQLite cannot bind makes the third insert of the batch fail.
        broken = dataclasses.replace(good[2], payload=object())  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="append") as caught:
            log.append([*good[:2], broken, good[3]])
        assert isinstance(caught.value.__cause__, sqlite3.Error)
        assert list(log.read(EVENTS)) == []
        assert log.append(good) == [RecordPosition(0, n) for n in range(4)]


def test_a_memory_log_works_for_tests_and_demos() -> None:
    with SqliteEventLog(":memory:") as log:
        log.append(make_records(EVENTS, random_keys(1), 2, timestamp_ms=past_ms()))
        assert log.end_position(EVENTS) == StreamPosition.of({0: 2})


def test_a_locked_database_is_unavailable_within_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with SqliteEventLog(path, busy_timeout_ms=200) as log:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="locked") as caught:
                log.append(make_records(EVENTS, random_keys(1), 1, timestamp_ms=past_ms()))
            assert time.monotonic() - started < 5
            assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
            assert str(path) in str(caught.value)
        finally:
            other.execute("ROLLBACK")
            other.close()
        # Once the other writer is gone the log works again.
        assert log.append(make_records(EVENTS, random_keys(1), 1, timestamp_ms=past_ms()))


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    path.write_bytes(b"this is not a SQLite database, just some text " * 100)
    with pytest.raises(StoreError, match=r"events\.db") as caught:
        SqliteEventLog(path)
    assert not isinstance(caught.value, StoreUnavailable)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_a_path_that_cannot_be_a_file_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "occupied"
    blocker.write_text("a file where the store's directory should be")
    with pytest.raises(StoreError, match="occupied") as caught:
        SqliteEventLog(blocker / "events.db")
    assert isinstance(caught.value.__cause__, OSError)


def test_a_file_from_a_newer_hub_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    SqliteEventLog(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer"):
        SqliteEventLog(path)


def test_commit_names_only_partition_zero(tmp_path: Path) -> None:
    with (
        SqliteEventLog(tmp_path / "events.db") as log,
        pytest.raises(StoreError, match="partition"),
    ):
        log.commit(EVENTS, "g", StreamPosition.of({3: 1}))


def test_a_second_process_reads_what_the_writer_stored(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with SqliteEventLog(path) as writer, SqliteEventLog(path) as reader:
        records = make_records(EVENTS, random_keys(2), 2, timestamp_ms=past_ms())
        writer.append(records)
        assert [r.without_position() for r in reader.read(EVENTS)] == records
