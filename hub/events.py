"""The hub's events and the one mapper between them and `StoredRecord`s.

Every accepted message yields one `MessageReceived` plus one domain event per product line
(`AssignmentIssued` per ToegewezenProduct of a WMO301, `CareStarted` per StartProduct of a
WMO305, `CareStopped` per StopProduct of a WMO307); every rejected submission yields one
`MessageRejected` on the dead-letter stream. Field names are the iWmo element names in
snake_case (`ToewijzingNummer` -> `toewijzing_nummer`), as in `hub.model`; codes stay strings
because their leading zeros matter. The Avro schemas in `schemas/events/` use the same names,
so `to_avro`/`from_avro` are plain conversions; `EventMapper` adds the payload codec (a port,
implemented by `adapters.avro`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Protocol

from hub.errors import InvalidMessage, SerializationError
from hub.event_plans import build_event as build_event  # re-exported: the hub's event API
from hub.event_plans import from_avro as from_avro
from hub.event_plans import plan_of
from hub.event_plans import to_avro as to_avro
from hub.masking import mask_bsn
from hub.messagetypes import MessageType
from hub.records import EVENTS, REJECTED, UNKNOWN_KEY, StoredRecord, Stream, restore_record

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# The message types a gemeente sends (Afzender is LDT_Gemeente); the others come from an
# aanbieder and name the gemeente as Ontvanger. Used to key every record by gemeente code.
_SENT_BY_GEMEENTE = frozenset({MessageType.WMO301, MessageType.WMO306, MessageType.WMO308})
# The same by name, and every type's name: the usual spelling needs no MessageType lookup.
_SENT_BY_GEMEENTE_NAMES = frozenset(mt.name for mt in _SENT_BY_GEMEENTE)
_TYPE_NAMES = frozenset(mt.name for mt in MessageType)
_MS = dt.timedelta(milliseconds=1)


def _nested(cls: type) -> dict[str, type]:
    """Field metadata: the value is a nested record of type `cls` (or None)."""
    return {"nested": cls}


def _items(cls: type) -> dict[str, type]:
    """Field metadata: the value is a tuple of records of type `cls` (an Avro array)."""
    return {"items": cls}


def epoch_ms(moment: dt.datetime) -> int:
    """Milliseconds since the epoch for an aware datetime (the log's timestamp unit)."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return (moment - _EPOCH) // _MS


def _utc_ms(moment: dt.datetime) -> dt.datetime:
    """`moment` in UTC at millisecond precision, which is what Avro timestamp-millis keeps."""
    if moment.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    utc = moment.astimezone(dt.UTC)
    return utc.replace(microsecond=utc.microsecond - utc.microsecond % 1000)


def _masked_repr(event: object) -> str:
    """A dataclass repr that shows the BSN masked and leaves out raw bytes."""
    shown = [f"bsn={mask_bsn(event.bsn)!r}"] if hasattr(event, "bsn") else []
    shown += [f"{f.name}={getattr(event, f.name)!r}" for f in fields(event) if f.repr]  # type: ignore[arg-type]
    return f"{type(event).__name__}({', '.join(shown)})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Product:
    """CDT_Product as an event carries it: Categorie (WMO020) and optional Code."""

    categorie: str
    code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Omvang:
    """CDT_Omvang: Volume units of Eenheid (WJ756) per Frequentie (WMO757)."""

    volume: int
    eenheid: str
    frequentie: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectionError:
    """One reason a submission was rejected: the rule, its retour code, where and why."""

    rule: str
    retour_code: str
    path: str
    line: int | None = None
    message: str

    @classmethod
    def from_error(cls, error: InvalidMessage) -> RejectionError:
        return cls(
            rule=error.rule,
            retour_code=error.retour_code,
            path=error.path,
            line=error.line,
            message=error.message,
        )


class Event:
    """Base of every event: its stream, schema version and partition key."""

    __slots__ = ()
    stream: ClassVar[Stream] = EVENTS
    #: The version of the event's Avro schema this class reads and writes.
    schema_version: ClassVar[int] = 1

    @classmethod
    def event_type(cls) -> str:
        """The event's type name, which is also its Avro record name."""
        return cls.__name__

    @property
    def key(self) -> str:
        """The partition key: the gemeente code, so each gemeente's history is ordered."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived(Event):
    """An accepted message, byte for byte, with what identifies it (TR056 uses sender and
    BerichtIdentificatie to recognise a resubmission)."""

    hub_message_id: str
    message_type: str
    sender: str
    receiver: str
    identificatie: str
    dagtekening: dt.date
    received_at: dt.datetime
    content: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if self.message_type not in _TYPE_NAMES:
            MessageType.from_name(self.message_type)  # 'wmo301' and '301' are allowed too
        object.__setattr__(self, "received_at", _utc_ms(self.received_at))

    @property
    def key(self) -> str:
        return _gemeente_of(self.message_type, self.sender, self.receiver)


def _gemeente_of(message_type: str, sender: str, receiver: str) -> str:
    """The gemeente among a message's sender and receiver: the key of its MessageReceived."""
    if message_type in _TYPE_NAMES:
        sent_by_gemeente = message_type in _SENT_BY_GEMEENTE_NAMES
    else:
        sent_by_gemeente = MessageType.from_name(message_type) in _SENT_BY_GEMEENTE
    return sender if sent_by_gemeente else receiver


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRejected(Event):
    """A rejected submission, byte for byte, with every error found; on the dead-letter stream."""

    stream: ClassVar[Stream] = REJECTED

    hub_message_id: str
    received_at: dt.datetime
    content: bytes = field(repr=False)
    errors: tuple[RejectionError, ...] = field(metadata=_items(RejectionError))
    message_type: str | None = None
    sender: str | None = None
    receiver: str | None = None
    identificatie: str | None = None
    dagtekening: dt.date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "received_at", _utc_ms(self.received_at))
        object.__setattr__(self, "errors", tuple(self.errors))

    @property
    def key(self) -> str:
        return self.sender or UNKNOWN_KEY


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignmentIssued(Event):
    """One ToegewezenProduct of a WMO301: a new, changed, withdrawn or deleted toewijzing
    (RedenWijziging, WMO002, says which)."""

    hub_message_id: str
    gemeente: str
    aanbieder: str
    bsn: str = field(repr=False)
    toewijzing_nummer: int
    referentie_aanbieder: str | None = None
    product: Product | None = field(default=None, metadata=_nested(Product))
    toewijzingsdatum: dt.date
    toewijzingstijd: dt.time
    ingangsdatum: dt.date
    einddatum: dt.date | None = None
    reden_wijziging: str | None = None
    omvang: Omvang | None = field(default=None, metadata=_nested(Omvang))
    budget: int | None = None
    commentaar: str | None = None

    def __post_init__(self) -> None:
        # Avro time-millis keeps milliseconds; truncate now so a read equals what was written.
        t = self.toewijzingstijd
        object.__setattr__(
            self, "toewijzingstijd", t.replace(microsecond=t.microsecond // 1000 * 1000)
        )

    @property
    def key(self) -> str:
        return self.gemeente

    __repr__ = _masked_repr


@dataclass(frozen=True, slots=True, kw_only=True)
class CareStarted(Event):
    """One StartProduct of a WMO305; StatusAanlevering (COD467) 1 is new, 3 deletes it."""

    hub_message_id: str
    gemeente: str
    aanbieder: str
    bsn: str = field(repr=False)
    toewijzing_nummer: int | None = None
    product: Product | None = field(default=None, metadata=_nested(Product))
    toewijzing_ingangsdatum: dt.date | None = None
    begindatum: dt.date
    status_aanlevering: str

    @property
    def key(self) -> str:
        return self.gemeente

    __repr__ = _masked_repr


@dataclass(frozen=True, slots=True, kw_only=True)
class CareStopped(Event):
    """One StopProduct of a WMO307, with RedenBeeindiging (WMO588) and Einddatum."""

    hub_message_id: str
    gemeente: str
    aanbieder: str
    bsn: str = field(repr=False)
    toewijzing_nummer: int | None = None
    product: Product | None = field(default=None, metadata=_nested(Product))
    toewijzing_ingangsdatum: dt.date | None = None
    begindatum: dt.date
    reden_beeindiging: str
    einddatum: dt.date
    status_aanlevering: str

    @property
    def key(self) -> str:
        return self.gemeente

    __repr__ = _masked_repr


DomainEvent = AssignmentIssued | CareStarted | CareStopped
AnyEvent = MessageReceived | MessageRejected | AssignmentIssued | CareStarted | CareStopped

#: Every event class by its type name (the Avro record name).
EVENT_TYPES: dict[str, type[AnyEvent]] = {
    cls.event_type(): cls
    for cls in (MessageReceived, MessageRejected, AssignmentIssued, CareStarted, CareStopped)
}


class PayloadCodec(Protocol):
    """Turns an event's dict into self-describing bytes and back (`adapters.avro.AvroCodec`)."""

    def encode(self, event_type: str, version: int, data: Mapping[str, Any]) -> bytes:
        """Bytes written with schema `event_type` version `version`."""
        ...

    def decode(self, payload: bytes, event_type: str, version: int) -> dict[str, Any]:
        """`payload`, whatever schema version wrote it, as version `version` of `event_type`."""
        ...

    def object_encoder(
        self, event_type: str, version: int, fields: Sequence[str]
    ) -> Callable[[object], bytes] | None:
        """A faster `encode` that reads an event's fields (named `fields`, in order) straight
        from its attributes, or None if the codec cannot do that for this schema."""
        ...

    def values_encoder(
        self, event_type: str, version: int, fields: Sequence[str]
    ) -> Callable[[Mapping[str, Any]], bytes] | None:
        """A faster `encode` of the field values by name in which optional fields may be
        absent (written as their defaults) and other keys are ignored, or None if the codec
        cannot do that for this schema."""
        ...

    def tuple_encoder(
        self, event_type: str, version: int, layout: Sequence[Any]
    ) -> Callable[[tuple[Any, ...]], bytes] | None:
        """A faster `encode` of the field values as a tuple in `layout` order (field names, a
        nested record as (name, its layout)), or None if the schema's fields are not in
        exactly that order or the codec cannot do it."""
        ...


class EventMapper:
    """Turns events into stored records and back; the only place that knows both."""

    def __init__(self, codec: PayloadCodec) -> None:
        self._codec = codec
        # Per event type: its class, plan and (if the codec has one) the encoder that reads
        # the event's attributes directly; looked up once per record on both paths.
        self._by_type = {
            name: (cls, plan, codec.object_encoder(name, cls.schema_version, plan.names))
            for name, cls in EVENT_TYPES.items()
            for plan in (plan_of(cls),)
        }
        # Per domain event class: its type name and (if the codec has one) the encoder of
        # field values by name, for `domain_record`.
        self._values = {
            cls: (
                cls.event_type(),
                codec.values_encoder(cls.event_type(), cls.schema_version, plan_of(cls).names),
            )
            for cls in (AssignmentIssued, CareStarted, CareStopped)
        }
        self._received = codec.values_encoder(
            MessageReceived.event_type(),
            MessageReceived.schema_version,
            plan_of(MessageReceived).names,
        )

    def to_record(self, event: AnyEvent, *, timestamp_ms: int) -> StoredRecord:
        """The record for `event`, stamped `timestamp_ms` (when the hub received the message)."""
        cls = type(event)
        event_type = cls.__name__
        found = self._by_type.get(event_type)
        if found is None or found[0] is not cls:
            raise SerializationError(f"not an event the hub stores: {cls.__name__}")
        version = cls.schema_version
        encode = found[2]
        payload = (
            encode(event)
            if encode is not None
            else self._codec.encode(event_type, version, found[1].dump(event))
        )
        return _record(cls, event_type, event.key, payload, timestamp_ms)

    def domain_record(
        self, cls: type[DomainEvent], values: Mapping[str, Any], *, timestamp_ms: int
    ) -> StoredRecord:
        """The record `to_record(build_event(cls, values))` makes, without building the event:
        the ingest hot path, once per product line. `values` are the event's fields by name
        (nested parts as dicts, absent optional fields take their defaults, other keys are
        ignored). Domain events only: their constructors check nothing the encoder does not,
        and their one normalisation (AssignmentIssued's time to milliseconds) is what the
        Avro time-millis encoding does anyway. A SerializationError if it cannot be stored."""
        found = self._values.get(cls)
        if found is None:
            raise SerializationError(f"not a domain event: {cls.__name__}")
        event_type, encode = found
        if encode is None:  # a codec without the fast path: through the event
            return self.to_record(build_event(cls, values), timestamp_ms=timestamp_ms)
        payload = encode(values)
        # Every domain event is keyed by its gemeente (their `key`); the encoder required it.
        return _record(cls, event_type, values["gemeente"], payload, timestamp_ms)

    def tuple_record(
        self, cls: type[DomainEvent], layout: Sequence[Any]
    ) -> Callable[[tuple[Any, ...], int], StoredRecord] | None:
        """A faster `domain_record` for the field values as a tuple in `layout` order (field
        names, a nested record as (name, its layout)): `write(values, timestamp_ms)`. None
        when the codec cannot encode that order (the schema's fields are in another)."""
        found = self._values.get(cls)
        if found is None:
            raise SerializationError(f"not a domain event: {cls.__name__}")
        names = [item if isinstance(item, str) else item[0] for item in layout]
        encode = self._codec.tuple_encoder(found[0], cls.schema_version, layout)
        if encode is None or "gemeente" not in names:
            return None
        event_type, key_at = found[0], names.index("gemeente")

        def write(values: tuple[Any, ...], timestamp_ms: int) -> StoredRecord:
            # Keyed by the gemeente, as every domain event is (their `key`).
            return _record(cls, event_type, values[key_at], encode(values), timestamp_ms)

        return write

    def received_record(self, values: Mapping[str, Any], *, timestamp_ms: int) -> StoredRecord:
        """The record `to_record(MessageReceived(**values))` makes, without building the event:
        the ingest hot path, once per accepted message. `values` are exactly the event's
        fields; a `message_type` other than a type's name (WMO301) and a naive `received_at`
        go through the event, which normalises or refuses them."""
        encode = self._received
        message_type = values["message_type"]
        if (
            encode is None
            or message_type not in _TYPE_NAMES
            or values["received_at"].tzinfo is None
        ):
            return self.to_record(MessageReceived(**values), timestamp_ms=timestamp_ms)
        # timestamp-millis floors `received_at` to the millisecond, as the event's _utc_ms does.
        key = _gemeente_of(message_type, values["sender"], values["receiver"])
        return _record(MessageReceived, "MessageReceived", key, encode(values), timestamp_ms)

    def to_data(self, record: StoredRecord) -> dict[str, Any]:
        """The event in `record` as its fields by name (nested parts as dicts), upgraded to
        the version this code knows, without building the event: for readers that only need
        its values (the projector's reader process)."""
        found = self._by_type.get(record.event_type)
        if found is None:
            raise SerializationError(f"unknown event type {record.event_type!r}")
        return self._codec.decode(record.payload, record.event_type, found[0].schema_version)

    def to_event(self, record: StoredRecord) -> AnyEvent:
        """The event in `record`, upgraded to the version this code knows."""
        found = self._by_type.get(record.event_type)
        if found is None:
            raise SerializationError(f"unknown event type {record.event_type!r}")
        cls, plan, _ = found
        data = self._codec.decode(record.payload, record.event_type, cls.schema_version)
        event: AnyEvent = plan.load(data)
        return event


def _record(
    cls: type[AnyEvent], event_type: str, key: str, payload: bytes, timestamp_ms: int
) -> StoredRecord:
    """A new event's record, after the checks StoredRecord makes that could fail here."""
    if not key or timestamp_ms < 0:
        raise SerializationError(f"{event_type}: empty key or timestamp before 1970")
    return restore_record(cls.stream, key, event_type, cls.schema_version, payload, timestamp_ms)
