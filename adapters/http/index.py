"""Where each submitted message sits in the log, for `GET /v1/messages/{id}` and its retour.

Fed from two sides: the intake records every result of this process at once (so a client can
ask for its message right after the 202), and a follower reads both streams of the log from
where it left off (so messages stored by another API process, or by `iwmo-hub ingest`, are
found too). The index keeps ids, parties and log positions, not contents: the message itself
is read back from its position when asked for. Memory grows with the number of messages
(roughly 300 bytes each); the log is read from its start when the process starts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Final

from hub.eventlog import EventLog
from hub.events import AnyEvent, EventMapper, MessageReceived, MessageRejected
from hub.records import STREAMS, RecordPosition, Stream, StreamPosition

ACCEPTED: Final = "accepted"
REJECTED_STATUS: Final = "rejected"


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored submission: its outcome, parties and where its record is."""

    status: str
    stream: Stream
    position: RecordPosition | None
    message_type: str | None
    sender: str | None
    receiver: str | None
    received_ms: int
    #: The party that posted it through this process ('gemeente:0363'), if it did.
    submitted_by: str | None = None


class MessageIndex:
    """Message id -> `Entry`; the first stored copy of an id wins, as for every reader."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._positions: dict[Stream, StreamPosition] = {s: StreamPosition() for s in STREAMS}
        self._lock = threading.Lock()
        self.loaded = False

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, message_id: str) -> Entry | None:
        return self._entries.get(message_id)

    def record(self, message_id: str, entry: Entry) -> None:
        """Add what this process stored; keeps an earlier entry but learns who submitted it."""
        with self._lock:
            known = self._entries.get(message_id)
            if known is None:
                self._entries[message_id] = entry
            elif known.submitted_by is None and entry.submitted_by is not None:
                self._entries[message_id] = replace(known, submitted_by=entry.submitted_by)

    def catch_up(self, log: EventLog, mapper: EventMapper) -> int:
        """Read what is new on both streams; returns how many records were read."""
        count = 0
        for stream in STREAMS:
            position = self._positions[stream]
            for record in log.read(stream, position):
                count += 1
                if record.position is not None:
                    position = position.after(record.position)
                if record.event_type not in ("MessageReceived", "MessageRejected"):
                    continue
                event = mapper.to_event(record)
                entry = entry_of(event, stream, record.position)
                if entry is not None:
                    self.record(event.hub_message_id, entry)
            self._positions[stream] = position
        self.loaded = True
        return count

    def lag(self, log: EventLog) -> int:
        """Records on the log the index has not read yet."""
        return sum(
            max(0, offset - self._positions[stream].next_offset(partition))
            for stream in STREAMS
            for partition, offset in log.end_position(stream).offsets
        )


def entry_of(event: AnyEvent, stream: Stream, position: RecordPosition | None) -> Entry | None:
    """The index entry of a MessageReceived or MessageRejected (None for other events)."""
    if isinstance(event, MessageReceived):
        status = ACCEPTED
    elif isinstance(event, MessageRejected):
        status = REJECTED_STATUS
    else:
        return None
    return Entry(
        status=status,
        stream=stream,
        position=position,
        message_type=event.message_type,
        sender=event.sender,
        receiver=event.receiver,
        received_ms=int(event.received_at.timestamp() * 1000),
    )


def read_record(
    log: EventLog, mapper: EventMapper, entry: Entry
) -> MessageReceived | MessageRejected | None:
    """The stored event of an entry, read back from its position (None if not there)."""
    if entry.position is None:
        return None
    where = entry.position
    start = StreamPosition.of({where.partition: where.offset})
    until = StreamPosition.of({where.partition: where.offset + 1})
    for record in log.read(entry.stream, start, until=until, limit=1):
        event = mapper.to_event(record)
        if isinstance(event, MessageReceived | MessageRejected):
            return event
    return None
