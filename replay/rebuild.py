"""Rebuild the projections from the event log into a fresh projection store.

    result = rebuild(log, ProjectionStore(path), decode, source=source_of(settings))

The projector (`projections.projector`) does the folding, so a rebuild gives exactly what
`iwmo-hub project` gives; this module only chooses the window: from the first event (or
`start`), up to the log's end (or `until`: time travel), all gemeenten (or one). A rebuild is
resumable like any projection: killed, it continues from the store's checkpoint.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from hub.eventlog import EventLog
from hub.records import EVENTS, StreamPosition
from projections.projector import DEFAULT_BATCH, PARALLEL_FROM, Progress, Projector
from projections.reader import Decoder, Source
from projections.state import Changes
from projections.store import ProjectionStore
from replay.bounded import BoundedLog, earliest
from replay.digest import digest


@dataclass(frozen=True, slots=True)
class RebuildResult:
    """What a rebuild did and what it produced."""

    records: int
    folded: int
    seconds: float
    position: StreamPosition
    target: StreamPosition
    digest: str

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "records": self.records,
            "events_folded": self.folded,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.rate, 1),
            "position": str(self.position),
            "target": str(self.target),
            "digest": self.digest,
        }


def until_timestamp(log: EventLog, moment: dt.datetime) -> StreamPosition:
    """The position of the first record the hub received at or after `moment`."""
    if moment.tzinfo is None:
        raise ValueError("a time-travel moment needs a time zone (e.g. 2025-06-30T00:00Z)")
    return log.position_at(EVENTS, int(moment.timestamp() * 1000))


def is_fresh(store: ProjectionStore) -> bool:
    """True if the store has folded nothing yet (no checkpoint, no rows)."""
    if store.position().offsets:
        return False
    rows = store.db.execute(
        "SELECT (SELECT COUNT(*) FROM facts) + (SELECT COUNT(*) FROM mismatches)"
    ).fetchone()
    return int(rows[0]) == 0


def backlog(log: EventLog, store: ProjectionStore) -> int:
    """Records between the store's checkpoint and the log's end."""
    position = store.position()
    end = log.end_position(EVENTS)
    return sum(max(0, o - position.next_offset(p)) for p, o in end.offsets)


def window_size(log: EventLog, start: StreamPosition | None, until: StreamPosition | None) -> int:
    """Records between `start` (default: the beginning) and `until` (default: the end)."""
    end = log.end_position(EVENTS)
    target = end if until is None else earliest(end, until)
    begin = start or StreamPosition()
    return sum(max(0, o - begin.next_offset(p)) for p, o in target.offsets)


def rebuild(
    log: EventLog,
    store: ProjectionStore,
    decode: Decoder,
    *,
    source: str,
    start: StreamPosition | None = None,
    until: StreamPosition | None = None,
    gemeente: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    reader: Source | None = None,
    parallel_from: int = PARALLEL_FROM,
    on_batch: Callable[[Progress], None] | None = None,
) -> RebuildResult:
    """Fold `log` (within the window) into `store`; `start` only seeds a fresh store."""
    window = BoundedLog(log, until=until, key=gemeente)
    if start is not None and start.offsets:
        if not is_fresh(store):
            raise ValueError("--from needs a fresh projection store (this one already folds)")
        with store.transaction():
            store.save(Changes(), start, {})
    projector = Projector(
        window,
        store,
        decode,
        source=source,
        batch_size=batch_size,
        # One gemeente's records are filtered in this process; the reader process reads all.
        reader=None if gemeente else reader,
        parallel_from=parallel_from,
    )
    target = window.end_position(EVENTS)
    # The new file is derived data that nobody reads yet: no fsync per save; it is made
    # durable once, at the end (before a swap can point readers at it).
    with store.unsynced():
        done = projector.catch_up(on_batch=on_batch)
    return RebuildResult(
        records=done.records,
        folded=done.folded,
        seconds=done.seconds,
        position=store.position(),
        target=target,
        digest=digest(store),
    )
