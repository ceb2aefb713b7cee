"""How far behind the projections are, and what intake accepted and rejected per gemeente."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hub.eventlog import EventLog
from hub.events import EventMapper, MessageReceived, MessageRejected
from hub.records import EVENTS, REJECTED, StreamPosition
from replay.deadletters import Rejection


@dataclass(frozen=True, slots=True)
class Lag:
    """One projection store: where it is, how many records and seconds behind the log."""

    path: str
    position: StreamPosition
    events: int
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "position": str(self.position),
            "lag_events": self.events,
            "lag_seconds": round(self.seconds, 3),
        }


@dataclass
class Status:
    """The log's end, each projection's lag, and intake counts per gemeente."""

    end: StreamPosition
    rejected_end: StreamPosition
    projections: list[Lag] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        gemeenten = sorted(set(self.accepted) | set(self.rejected))
        return {
            "log_end": str(self.end),
            "log_records": sum(o for _, o in self.end.offsets),
            "rejected_end": str(self.rejected_end),
            "projections": [p.as_dict() for p in self.projections],
            "gemeenten": [
                {"gemeente": g, "accepted": self.accepted[g], "rejected": self.rejected[g]}
                for g in gemeenten
            ],
        }


def lag(log: EventLog, path: str, position: StreamPosition, now_ms: int | None = None) -> Lag:
    """Records between `position` and the log's end, and how long the oldest of them waits."""
    end = log.end_position(EVENTS)
    behind = {p: o - position.next_offset(p) for p, o in end.offsets}
    oldest: int | None = None
    for partition, count in behind.items():
        if count <= 0:
            continue
        # Read this partition only: every other partition starts at its end.
        start = StreamPosition.of({**end.as_dict(), partition: position.next_offset(partition)})
        for record in log.read(EVENTS, start, until=end, limit=1):
            oldest = record.timestamp_ms if oldest is None else min(oldest, record.timestamp_ms)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    seconds = 0.0 if oldest is None else max(0, now - oldest) / 1000
    return Lag(
        str(Path(path).resolve()), position, sum(max(0, c) for c in behind.values()), seconds
    )


def intake_counts(log: EventLog, mapper: EventMapper) -> tuple[Counter[str], Counter[str]]:
    """Accepted messages per gemeente (MessageReceived, first per id) and rejected ones."""
    accepted: Counter[str] = Counter()
    received = MessageReceived.event_type()
    for record in log.read(EVENTS):
        if record.event_type == received:
            accepted[record.key] += 1
    rejected: Counter[str] = Counter()
    for record in log.read(REJECTED):
        if record.event_type == MessageRejected.event_type():
            event = mapper.to_event(record)
            assert isinstance(event, MessageRejected)
            rejected[Rejection(event, record).gemeente] += 1
    return accepted, rejected
