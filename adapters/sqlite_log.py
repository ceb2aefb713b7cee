"""The embedded event log: one SQLite file, the hub's default store.

One table per stream whose integer primary key is the record's offset in the stream's single
partition (partition 0), so the file is a gap-free, totally ordered log. An index on
(timestamp_ms, offset) answers "from this moment on"; `group_offsets` holds committed group
positions. Durability: WAL journal with `synchronous=FULL`, so every committed append is
fsynced to the WAL before `append` returns; NORMAL would be faster but can lose the last
transactions on power loss, and the hub reports a message accepted only once it is stored.
WAL lets any number of readers (other processes too) work while one process writes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from hub.errors import StoreError, StoreUnavailable
from hub.eventlog import EventLog, check_group, check_limit
from hub.records import (
    STREAMS,
    RecordPosition,
    StoredRecord,
    Stream,
    StreamPosition,
    check_stream,
)

log = logging.getLogger(__name__)

PARTITION: Final = 0
SCHEMA_VERSION: Final = 1
#: Rows fetched per query while reading; a read never holds a transaction across a yield.
PAGE_SIZE: Final = 500
MEMORY: Final = ":memory:"

_SCHEMA = [
    *(
        f"""CREATE TABLE IF NOT EXISTS records_{stream} (
            seq INTEGER PRIMARY KEY,  -- the record's offset
            key TEXT NOT NULL,
            event_type TEXT NOT NULL,
            schema_version INTEGER NOT NULL,
            timestamp_ms INTEGER NOT NULL,
            payload BLOB NOT NULL
        )"""
        for stream in STREAMS
    ),
    *(
        f"CREATE INDEX IF NOT EXISTS records_{stream}_time ON records_{stream} (timestamp_ms, seq)"
        for stream in STREAMS
    ),
    """CREATE TABLE IF NOT EXISTS group_offsets (
        stream TEXT NOT NULL,
        group_name TEXT NOT NULL,
        partition_id INTEGER NOT NULL,
        next_offset INTEGER NOT NULL,
        PRIMARY KEY (stream, group_name, partition_id)
    )""",
]


def _table(stream: str) -> str:
    # Only the two known stream names ever reach SQL text.
    return f"records_{check_stream(stream)}"


class SqliteEventLog(EventLog):
    """The `EventLog` port on a SQLite file (or `:memory:` for tests and demos)."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_ms: int = 5000,
        synchronous: str = "FULL",
    ) -> None:
        if synchronous.upper() not in {"FULL", "EXTRA", "NORMAL"}:
            raise ValueError(f"synchronous must be FULL, EXTRA or NORMAL, got {synchronous!r}")
        self.path = str(path)
        self._lock = threading.RLock()
        self._closed = False
        try:
            if self.path != MEMORY:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE.
            self._db = sqlite3.connect(
                self.path,
                timeout=busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the event log at {self.path}: {e}") from e
        try:
            self._setup(synchronous.upper())
        except BaseException:
            self._db.close()
            raise

    def _setup(self, synchronous: str) -> None:
        with self._translate("open"):
            if self.path != MEMORY:
                mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{self.path}: SQLite refused WAL mode (got {mode})")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer iwmo-hub"
                    f" (schema {version} > {SCHEMA_VERSION})"
                )
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA:
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _translate(self, action: str) -> _Translate:
        return _Translate(self, action)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the event log at {self.path} is closed")

    def append(self, records: Sequence[StoredRecord]) -> list[RecordPosition]:
        positions: list[RecordPosition] = []
        if not records:
            return positions
        with self._lock, self._translate("append to"):
            self._check_open()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                ends = {stream: self._end_offset(stream) for stream in STREAMS}
                for record in records:
                    offset = ends[record.stream]
                    self._db.execute(
                        f"INSERT INTO {_table(record.stream)} (seq, key, event_type,"
                        " schema_version, timestamp_ms, payload) VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            offset,
                            record.key,
                            record.event_type,
                            record.schema_version,
                            record.timestamp_ms,
                            record.payload,
                        ),
                    )
                    ends[record.stream] = offset + 1
                    positions.append(RecordPosition(PARTITION, offset))
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        return positions

    def _end_offset(self, stream: Stream) -> int:
        row = self._db.execute(f"SELECT MAX(seq) FROM {_table(stream)}").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def read(
        self,
        stream: Stream,
        from_position: StreamPosition | None = None,
        *,
        until: StreamPosition | None = None,
        limit: int | None = None,
    ) -> Iterator[StoredRecord]:
        check_stream(stream)
        check_limit(limit)
        return self._read(stream, from_position or StreamPosition(), until, limit)

    def _read(
        self,
        stream: Stream,
        start: StreamPosition,
        until: StreamPosition | None,
        limit: int | None,
    ) -> Iterator[StoredRecord]:
        end = (until or self.end_position(stream)).next_offset(PARTITION)
        offset = start.next_offset(PARTITION)
        remaining = limit
        while offset < end and remaining != 0:
            page = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            with self._lock, self._translate("read from"):
                self._check_open()
                rows = self._db.execute(
                    "SELECT seq, key, event_type, schema_version, timestamp_ms, payload"
                    f" FROM {_table(stream)} WHERE seq >= ? AND seq < ?"
                    " ORDER BY seq LIMIT ?",
                    (offset, end, page),
                ).fetchall()
            if not rows:
                return
            for row_offset, key, event_type, version, timestamp_ms, payload in rows:
                yield StoredRecord(
                    stream=stream,
                    key=key,
                    event_type=event_type,
                    schema_version=version,
                    payload=bytes(payload),
                    timestamp_ms=timestamp_ms,
                    position=RecordPosition(PARTITION, row_offset),
                )
            offset = rows[-1][0] + 1
            if remaining is not None:
                remaining -= len(rows)

    def position_at(self, stream: Stream, timestamp_ms: int) -> StreamPosition:
        with self._lock, self._translate("search"):
            self._check_open()
            row = self._db.execute(
                f"SELECT MIN(seq) FROM {_table(stream)} WHERE timestamp_ms >= ?",
                (timestamp_ms,),
            ).fetchone()
            if row[0] is None:
                return self._end_position(stream)
        return StreamPosition.of({PARTITION: int(row[0])})

    def end_position(self, stream: Stream) -> StreamPosition:
        with self._lock, self._translate("read from"):
            self._check_open()
            return self._end_position(stream)

    def _end_position(self, stream: Stream) -> StreamPosition:
        return StreamPosition.of({PARTITION: self._end_offset(check_stream(stream))})

    def committed(self, stream: Stream, group: str) -> StreamPosition:
        check_stream(stream)
        check_group(group)
        with self._lock, self._translate("read group offsets from"):
            self._check_open()
            rows = self._db.execute(
                "SELECT partition_id, next_offset FROM group_offsets"
                " WHERE stream = ? AND group_name = ?",
                (stream, group),
            ).fetchall()
        return StreamPosition.of(dict(rows))

    def commit(self, stream: Stream, group: str, position: StreamPosition) -> None:
        check_stream(stream)
        check_group(group)
        unknown = set(position.partitions()) - {PARTITION}
        if unknown:
            raise StoreError(
                f"stream {stream} has only partition {PARTITION}, not {sorted(unknown)}"
            )
        with self._lock, self._translate("commit to"):
            self._check_open()
            self._db.execute(
                "INSERT INTO group_offsets (stream, group_name, partition_id, next_offset)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (stream, group_name, partition_id)"
                " DO UPDATE SET next_offset = excluded.next_offset",
                (stream, group, PARTITION, position.next_offset(PARTITION)),
            )

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._db.close()
            except sqlite3.Error as e:
                raise StoreError(f"closing the event log at {self.path} failed: {e}") from e

    def __repr__(self) -> str:
        return f"SqliteEventLog({self.path!r})"


class _Translate:
    """Context manager: sqlite3 errors become StoreUnavailable (locked/busy) or StoreError."""

    def __init__(self, owner: SqliteEventLog, action: str) -> None:
        self._owner = owner
        self._action = action

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is None or not isinstance(exc, sqlite3.Error):
            return
        where = f"{self._action} the event log at {self._owner.path}"
        # The primary result code is the low byte of the extended one (SQLITE_BUSY_SNAPSHOT...).
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code in _BUSY_CODES:
            raise StoreUnavailable(
                f"could not {where}: the database stayed locked ({exc})"
            ) from exc
        raise StoreError(f"could not {where}: {exc}") from exc


_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
