"""What the event log stores: records, the position of one record, and a reader's position.

A `StoredRecord` is the unit the log keeps, independent of how an event is encoded (the payload
is opaque bytes; `hub.events` maps domain events to and from it). Positions follow Kafka's
model so both adapters speak the same language: a stream has partitions, every record sits at
an offset in one partition, and all records with the same key share a partition, which makes
each key's history (one gemeente's) totally ordered. The embedded store has one partition.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

#: The stream of accepted messages and the domain events derived from them.
EVENTS: Final = "events"
#: The dead-letter stream: every rejected submission, so nothing a sender sent is lost.
REJECTED: Final = "rejected"

Stream = Literal["events", "rejected"]
STREAMS: Final[tuple[Stream, ...]] = (EVENTS, REJECTED)

#: The key of a rejection whose sender could not be read from the bytes.
UNKNOWN_KEY: Final = "unknown"


def check_stream(stream: str) -> Stream:
    """The stream name if the hub knows it; a ValueError otherwise (a programming error)."""
    if stream == EVENTS:
        return EVENTS
    if stream == REJECTED:
        return REJECTED
    raise ValueError(f"unknown stream {stream!r}; expected one of {', '.join(STREAMS)}")


@dataclass(frozen=True, order=True, slots=True)
class RecordPosition:
    """Where one record sits: its partition and its offset within that partition."""

    partition: int
    offset: int

    def __post_init__(self) -> None:
        if self.partition < 0 or self.offset < 0:
            raise ValueError(f"negative partition or offset in {self!r}")

    def __str__(self) -> str:
        return f"{self.partition}:{self.offset}"


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """A reader's place in a stream: per partition, the offset of the next record to read.

    A partition that is not mentioned starts at offset 0, so `StreamPosition()` is the
    beginning of every stream. Positions form a partial order (one per partition); within a
    partition, and so within a key, the order is total.
    """

    offsets: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        merged: dict[int, int] = {}
        for partition, offset in self.offsets:
            if partition < 0 or offset < 0:
                raise ValueError(f"negative partition or offset: {partition}:{offset}")
            if partition in merged:
                raise ValueError(f"partition {partition} given twice")
            merged[partition] = offset
        # Normal form (sorted, zeros dropped) so that equal positions compare equal.
        normal = tuple(sorted((p, o) for p, o in merged.items() if o > 0))
        object.__setattr__(self, "offsets", normal)

    @classmethod
    def of(cls, offsets: Mapping[int, int]) -> StreamPosition:
        """A position from a mapping partition -> next offset."""
        return cls(tuple(offsets.items()))

    @classmethod
    def parse(cls, text: str) -> StreamPosition:
        """Read the `str()` form back: '0:12,3:7' (partition:next offset); '' is the beginning."""
        pairs: list[tuple[int, int]] = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            partition, sep, offset = part.partition(":")
            if not sep or not partition.isdigit() or not offset.isdigit():
                raise ValueError(f"not a stream position: {text!r} (expected e.g. '0:12,1:7')")
            pairs.append((int(partition), int(offset)))
        return cls(tuple(pairs))

    def next_offset(self, partition: int) -> int:
        """The offset of the next record to read in `partition` (0 if never read)."""
        for p, offset in self.offsets:
            if p == partition:
                return offset
        return 0

    def as_dict(self) -> dict[int, int]:
        return dict(self.offsets)

    def partitions(self) -> Iterator[int]:
        return (p for p, _ in self.offsets)

    def after(self, position: RecordPosition) -> StreamPosition:
        """This position moved past `position`; never moves a partition backwards."""
        offsets = self.as_dict()
        offsets[position.partition] = max(offsets.get(position.partition, 0), position.offset + 1)
        return StreamPosition.of(offsets)

    def includes(self, position: RecordPosition) -> bool:
        """True if a reader at this position has already passed the record at `position`."""
        return position.offset < self.next_offset(position.partition)

    def reached(self, other: StreamPosition) -> bool:
        """True if this position is at or beyond `other` in every partition."""
        return all(self.next_offset(p) >= offset for p, offset in other.offsets)

    def __str__(self) -> str:
        return ",".join(f"{p}:{o}" for p, o in self.offsets)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record in the log: routing data the log needs plus the encoded event.

    `payload` holds the event in Avro single-object encoding, so it names its own schema;
    `event_type` and `schema_version` repeat that for readers that only route. `timestamp_ms`
    is milliseconds since the epoch (UTC), the time the hub received the message; reading
    "since" a moment uses it. `position` is None until the log has stored the record.
    """

    stream: Stream
    key: str
    event_type: str
    schema_version: int
    payload: bytes = field(repr=False)
    timestamp_ms: int
    position: RecordPosition | None = None

    def __post_init__(self) -> None:
        check_stream(self.stream)
        if not self.key:
            raise ValueError("a stored record needs a non-empty key")
        if not self.event_type:
            raise ValueError("a stored record needs an event type")
        if self.schema_version < 1:
            raise ValueError(f"schema version must be >= 1, got {self.schema_version}")
        if self.timestamp_ms < 0:
            raise ValueError(f"timestamp before 1970: {self.timestamp_ms}")

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Worker processes send prepared records to the ingesting one: rebuild them without
        # re-running the checks (they passed when the record was made) or the generic
        # slots-dataclass state protocol, which cost several times more per record.
        return restore_record, (
            self.stream,
            self.key,
            self.event_type,
            self.schema_version,
            self.payload,
            self.timestamp_ms,
            self.position,
        )

    def at(self, position: RecordPosition) -> StoredRecord:
        """The same record as read back from `position`."""
        return dataclasses.replace(self, position=position)

    def without_position(self) -> StoredRecord:
        """The record as it was appended (for comparing what was written with what was read)."""
        return dataclasses.replace(self, position=None)


_new = object.__new__
_SET_PARTITION, _SET_OFFSET = (
    getattr(RecordPosition, f.name).__set__ for f in dataclasses.fields(RecordPosition)
)


def positions_in(partition: int, offsets: Iterable[int]) -> list[RecordPosition]:
    """RecordPositions of one partition, as a store reports them (partition and offsets that
    are never negative): one append gets thousands, so they skip the checks a caller's
    RecordPosition gets."""
    if partition < 0:
        raise ValueError(f"negative partition {partition}")
    found = []
    for offset in offsets:
        if offset < 0:
            raise ValueError(f"negative offset {offset}")
        position: RecordPosition = _new(RecordPosition)
        _SET_PARTITION(position, partition)
        _SET_OFFSET(position, offset)
        found.append(position)
    return found


_SET_STREAM, _SET_KEY, _SET_TYPE, _SET_VERSION, _SET_PAYLOAD, _SET_TIME, _SET_POSITION = (
    getattr(StoredRecord, f.name).__set__ for f in dataclasses.fields(StoredRecord)
)


def restore_record(
    stream: Stream,
    key: str,
    event_type: str,
    schema_version: int,
    payload: bytes,
    timestamp_ms: int,
    position: RecordPosition | None = None,
) -> StoredRecord:
    """A StoredRecord from fields known to be valid, without checking them again: records
    that were checked when made and crossed a process boundary (see `__reduce__`), or that
    the event mapper makes from an event (a known stream, type and version)."""
    record: StoredRecord = _new(StoredRecord)
    _SET_STREAM(record, stream)
    _SET_KEY(record, key)
    _SET_TYPE(record, event_type)
    _SET_VERSION(record, schema_version)
    _SET_PAYLOAD(record, payload)
    _SET_TIME(record, timestamp_ms)
    _SET_POSITION(record, position)
    return record
