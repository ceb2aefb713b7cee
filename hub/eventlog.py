"""The event log port: the hub's system of record, implemented by `adapters.sqlite_log`
(embedded default) and `adapters.kafka_log` (Apache Kafka).

Guarantees every adapter gives (checked by `tests/contract/eventlog_contract.py`):

- `append` returns only once the batch is durable (SQLite: committed with fsync; Kafka:
  acknowledged by all in-sync replicas). Records with the same key land in the same partition,
  in the order given, so one gemeente's history is totally ordered.
- A read returns each partition's records in offset order; how partitions interleave is up to
  the adapter. Reading never waits for new records: it stops at the end position it saw when
  it started (or at `until`).
- A named group has a committed `StreamPosition` per stream that survives restarts; `consume`
  reads from it to the current end, and the caller commits once it has processed records.

Failures surface as `hub.errors.StoreUnavailable` (cannot reach or hear back from the store in
the configured time) or `StoreError` (anything else the store refused). A failed append on
SQLite stored nothing; on Kafka part of the batch may be stored (with the idempotent producer,
in practice a prefix of each partition's share), so a caller that needs all-or-nothing per
message orders that message's records so that the last one marks it complete.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from types import TracebackType

from hub.records import RecordPosition, StoredRecord, Stream, StreamPosition


class EventLog(ABC):
    """Append-only, partitioned log of `StoredRecord`s with committed group positions."""

    @abstractmethod
    def append(self, records: Sequence[StoredRecord]) -> list[RecordPosition]:
        """Store a batch durably; the positions come back in the order of `records`."""

    @abstractmethod
    def read(
        self,
        stream: Stream,
        from_position: StreamPosition | None = None,
        *,
        until: StreamPosition | None = None,
        limit: int | None = None,
    ) -> Iterator[StoredRecord]:
        """Records from `from_position` (default: the beginning) up to, not including, `until`
        (default: the end position when reading starts); at most `limit` records."""

    @abstractmethod
    def position_at(self, stream: Stream, timestamp_ms: int) -> StreamPosition:
        """Per partition, the first record stamped at or after `timestamp_ms` (else the end)."""

    @abstractmethod
    def end_position(self, stream: Stream) -> StreamPosition:
        """The position just past the last stored record of every partition."""

    @abstractmethod
    def committed(self, stream: Stream, group: str) -> StreamPosition:
        """The position `group` last committed on `stream` (the beginning if it never did)."""

    @abstractmethod
    def commit(self, stream: Stream, group: str, position: StreamPosition) -> None:
        """Durably record that `group` has processed everything before `position`."""

    @abstractmethod
    def close(self) -> None:
        """Release connections and files; the log cannot be used afterwards."""

    def read_since(
        self,
        stream: Stream,
        timestamp_ms: int,
        *,
        until: StreamPosition | None = None,
        limit: int | None = None,
    ) -> Iterator[StoredRecord]:
        """Records from the first one stamped at or after `timestamp_ms` (ms since the epoch)."""
        return self.read(stream, self.position_at(stream, timestamp_ms), until=until, limit=limit)

    def consume(
        self, stream: Stream, group: str, *, limit: int | None = None
    ) -> Iterator[StoredRecord]:
        """What `group` has not processed yet: from its committed position to the current end.

        Nothing is committed here; a projector commits after it has stored its view::

            position = log.committed(EVENTS, "toewijzingen")
            for record in log.consume(EVENTS, "toewijzingen"):
                view.apply(mapper.to_event(record))
                position = position.after(record.position)
            log.commit(EVENTS, "toewijzingen", position)
        """
        start = self.committed(stream, group)
        return self.read(stream, start, until=self.end_position(stream), limit=limit)

    def __enter__(self) -> EventLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def check_group(group: str) -> str:
    """A consumer group name: non-empty, printable ASCII letters, digits, '.', '_' and '-'."""
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    if not group or len(group) > 200 or not set(group) <= allowed:
        raise ValueError(
            f"invalid consumer group name {group!r}: use letters, digits, '.', '_', '-'"
        )
    return group


def check_limit(limit: int | None) -> int | None:
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    return limit
