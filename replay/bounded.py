"""An `EventLog` seen through a window: read up to a position, and only one gemeente's records.

The projector folds "everything up to the log's end"; wrapping the log here lets the same
projector stop at `--until` / `--until-position` (time travel) or skip other gemeenten'
records (`--gemeente`), without a second fold implementation. Writes are refused: a replay
never changes the log.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from hub.eventlog import EventLog
from hub.records import RecordPosition, StoredRecord, Stream, StreamPosition


def earliest(a: StreamPosition, b: StreamPosition) -> StreamPosition:
    """Per partition the smaller offset (a partition missing from either counts as 0 there)."""
    parts = set(a.partitions()) | set(b.partitions())
    return StreamPosition.of({p: min(a.next_offset(p), b.next_offset(p)) for p in parts})


class BoundedLog(EventLog):
    """Read-only view of `inner`: its end is at most `until`; records of other keys are
    skipped (their positions are still passed, so a checkpoint moves over them)."""

    def __init__(
        self, inner: EventLog, *, until: StreamPosition | None = None, key: str | None = None
    ) -> None:
        self.inner = inner
        self.until = until
        self.key = key

    def append(self, records: Sequence[StoredRecord]) -> list[RecordPosition]:
        raise PermissionError("a replay never writes to the event log")

    def read(
        self,
        stream: Stream,
        from_position: StreamPosition | None = None,
        *,
        until: StreamPosition | None = None,
        limit: int | None = None,
    ) -> Iterator[StoredRecord]:
        bound = until if until is not None else self.end_position(stream)
        records = self.inner.read(stream, from_position, until=bound, limit=limit)
        if self.key is None:
            return records
        return (r for r in records if r.key == self.key)

    def position_at(self, stream: Stream, timestamp_ms: int) -> StreamPosition:
        return self.inner.position_at(stream, timestamp_ms)

    def end_position(self, stream: Stream) -> StreamPosition:
        end = self.inner.end_position(stream)
        return end if self.until is None else earliest(end, self.until)

    def committed(self, stream: Stream, group: str) -> StreamPosition:
        return self.inner.committed(stream, group)

    def commit(self, stream: Stream, group: str, position: StreamPosition) -> None:
        raise PermissionError("a replay never writes to the event log")

    def close(self) -> None:
        """The wrapped log belongs to the caller; nothing to release here."""
