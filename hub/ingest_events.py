"""Turn one submitted document into the records the ingest service appends (the pure half).

`Preparer.prepare(content, received_at)` parses and validates the bytes and returns a
`Prepared`: for an acceptable message its domain events (one per product line) followed by its
`MessageReceived`, all keyed by gemeente code; for anything else one `MessageRejected` with
every error. It touches no store and no clock, so it can run in worker processes.

The hub message id is a UUIDv5 of (message type, sender, Identificatie, Dagtekening): the same
BerichtIdentificatie gets the same id in every process and after every restart, which is what
makes duplicate detection (TR056) work across processes and lets readers drop a second copy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from lxml import etree

from hub.codec import NotPlain, PartReader, parse_part, part_layout, part_reader
from hub.errors import InvalidMessage, MessageTooLarge, SerializationError, ValidationError
from hub.events import (
    AssignmentIssued,
    CareStarted,
    CareStopped,
    DomainEvent,
    EventMapper,
    MessageRejected,
    RejectionError,
    build_event,
    epoch_ms,
)
from hub.masking import mask_text
from hub.messagetypes import MessageType, basis
from hub.model import StartProduct, StopProduct, ToegewezenProduct
from hub.records import StoredRecord
from hub.validation import Validator, detect_type
from hub.xmlsafe import parse_bytes

#: The namespace of hub message ids (a fixed UUID: ids must never change between versions).
MESSAGE_ID_NAMESPACE: Final = uuid.UUID("5c1d2a52-4f7e-5b8e-9a43-2f6c0e8d7b19")

_NAMESPACE_BYTES: Final = MESSAGE_ID_NAMESPACE.bytes


def uuid5(name: str) -> str:
    """`str(uuid.uuid5(MESSAGE_ID_NAMESPACE, name))`, without building UUID objects (hot path)."""
    h = hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).hexdigest()
    # The first 16 bytes, with version 5 in the high nibble of byte 6 and the RFC 4122
    # variant (binary 10) in the top bits of byte 8.
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


_VARIANT: Final = {f"{n:x}": f"{n & 0x3 | 0x8:x}" for n in range(16)}


@dataclass(frozen=True, slots=True)
class _Lines:
    """Where a heen message keeps its product lines, and what each line becomes."""

    client: str  # the tags of Client, Client/Bsn and the lines' wrapper
    bsn: str
    wrapper: str
    model: type  # the model class of one line (hub.codec reads it)
    event: type[DomainEvent]


def _lines(message_type: MessageType, wrapper: str, model: type, event: type) -> _Lines:
    tag = message_type.tag
    return _Lines(tag("Client"), tag("Bsn"), tag(wrapper), model, event)


_LINES: Final[dict[MessageType, _Lines]] = {
    MessageType.WMO301: _lines(
        MessageType.WMO301, "ToegewezenProducten", ToegewezenProduct, AssignmentIssued
    ),
    MessageType.WMO305: _lines(MessageType.WMO305, "StartProducten", StartProduct, CareStarted),
    MessageType.WMO307: _lines(MessageType.WMO307, "StopProducten", StopProduct, CareStopped),
}


@dataclass(frozen=True, slots=True)
class Identity:
    """What identifies a message for TR056: type, sender and BerichtIdentificatie."""

    message_type: str
    sender: str
    identificatie: str
    dagtekening: dt.date
    #: The hub message id: deterministic, so every process derives the same one.
    message_id: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        day = self.dagtekening.isoformat()  # what str() gives, without format()'s detour
        name = f"{self.message_type}|{self.sender}|{self.identificatie}|{day}"
        object.__setattr__(self, "message_id", uuid5(name))

    @property
    def tr056_key(self) -> tuple[str, str, str]:
        """TR056: Identificatie is unique per message type for the sending party."""
        return (self.message_type, self.sender, self.identificatie)


@dataclass(frozen=True, slots=True)
class HeaderFacts:
    """Header data read on a best-effort basis, also from a message that is rejected."""

    message_type: str | None = None
    sender: str | None = None
    receiver: str | None = None
    identificatie: str | None = None
    dagtekening: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    """One document, ready to store: the records to append, or why it is rejected."""

    message_id: str
    header: HeaderFacts
    received_at: dt.datetime
    content: bytes = field(repr=False)
    records: tuple[StoredRecord, ...] = field(repr=False)
    errors: tuple[RejectionError, ...] = ()
    identity: Identity | None = None

    @property
    def rejected(self) -> bool:
        return bool(self.errors)


def _unstorable(error: SerializationError) -> InvalidMessage:
    found = InvalidMessage(mask_text(f"the message cannot be stored as events: {error}"))
    found.rule = "EVENT-SCHEMA"
    return found


def retour_error(message_type: MessageType) -> ValidationError:
    """Retours (302/306/308) are answers the hub sends; it does not take them in."""
    return ValidationError(
        "MESSAGE-TYPE",
        f"{message_type.name} is a retour message: the hub produces retours and does not "
        "ingest them; submit the WMO301, WMO305 or WMO307 message instead",
        path="/Bericht",
        line=1,
    )


def tr056_error(identity: Identity, stored: dt.date) -> ValidationError:
    """TR056 (retour code 9056): the sender used this Identificatie before, on another day."""
    return ValidationError(
        "TR056",
        mask_text(
            f"Identificatie {identity.identificatie!r} of sender {identity.sender} was already "
            f"used for a {identity.message_type} with Dagtekening {stored.isoformat()}; "
            "Identificatie must be unique per message type for the sender"
        ),
        path="/Bericht/Header/BerichtIdentificatie/Identificatie",
        line=None,
        retour_code="9056",
    )


class Preparer:
    """Validates a document and maps it to events (no store, no clock: safe in any process)."""

    def __init__(self, validator: Validator, mapper: EventMapper) -> None:
        self.validator = validator
        self.mapper = mapper
        self._lines = line_writers(mapper)

    def prepare(self, content: bytes, received_at: dt.datetime) -> Prepared:
        """The records for `content`, received at `received_at` (aware datetime)."""
        max_bytes = self.validator.max_bytes
        if len(content) > max_bytes:
            # Not parsed; the rejection keeps the OP179 maximum, which Kafka can still store.
            too_large = MessageTooLarge(
                f"document is over the limit of {max_bytes:,} bytes (OP179: 25 MB); "
                f"only its first {max_bytes:,} bytes are kept"
            )
            return self.rejection(content[:max_bytes], received_at, (too_large,), HeaderFacts())
        try:
            root = parse_bytes(content, max_bytes=max_bytes)
            message_type = detect_type(root)
        except InvalidMessage as e:
            return self.rejection(content, received_at, (e,), HeaderFacts())
        if message_type.is_retour:
            facts = read_header(root, message_type)
            return self.rejection(content, received_at, (retour_error(message_type),), facts)
        result = self.validator.check_tree(root, clean=True)
        if result.errors:
            facts = read_header(root, message_type)
            return self.rejection(content, received_at, result.errors, facts)
        try:
            return self._accepted(root, message_type, content, received_at)
        except (InvalidMessage, SerializationError) as e:
            # Valid by XSD and rules, yet the model or an event schema cannot hold it: keep it
            # on the dead-letter stream rather than stop a whole batch.
            error = e if isinstance(e, InvalidMessage) else _unstorable(e)
            return self.rejection(content, received_at, (error,), read_header(root, message_type))

    def rejection(
        self,
        content: bytes,
        received_at: dt.datetime,
        errors: tuple[InvalidMessage, ...],
        facts: HeaderFacts,
    ) -> Prepared:
        """A `MessageRejected` for the dead-letter stream, with every error."""
        message_id = str(uuid.uuid4())  # every submission of bad bytes is kept, each its own
        rejection_errors = tuple(RejectionError.from_error(e) for e in errors)
        event = MessageRejected(
            hub_message_id=message_id,
            received_at=received_at,
            content=content,
            errors=rejection_errors,
            message_type=facts.message_type,
            sender=facts.sender,
            receiver=facts.receiver,
            identificatie=facts.identificatie,
            dagtekening=facts.dagtekening,
        )
        record = self.mapper.to_record(event, timestamp_ms=epoch_ms(received_at))
        return Prepared(message_id, facts, received_at, content, (record,), rejection_errors)

    def _accepted(
        self,
        root: etree._Element,
        message_type: MessageType,
        content: bytes,
        received_at: dt.datetime,
    ) -> Prepared:
        facts = read_header(root, message_type)
        sender, receiver = facts.sender, facts.receiver
        identificatie, dagtekening = facts.identificatie, facts.dagtekening
        if sender is None or receiver is None or identificatie is None or dagtekening is None:
            # The XSD requires all four; only a schema that changed under us gets here.
            raise InvalidMessage("Afzender, Ontvanger or BerichtIdentificatie missing")
        identity = Identity(message_type.name, sender, identificatie, dagtekening)
        message_id = identity.message_id
        timestamp_ms = epoch_ms(received_at)
        records = domain_records(
            root,
            message_type,
            sender,
            receiver,
            message_id,
            self.mapper,
            timestamp_ms,
            self._lines.get(message_type),
        )
        received = {
            "hub_message_id": message_id,
            "message_type": message_type.name,
            "sender": sender,
            "receiver": receiver,
            "identificatie": identificatie,
            "dagtekening": dagtekening,
            "received_at": received_at,
            "content": content,
        }
        # Last: a stored MessageReceived means every record of the message before it is stored.
        records.append(self.mapper.received_record(received, timestamp_ms=timestamp_ms))
        return Prepared(message_id, facts, received_at, content, tuple(records), identity=identity)


def domain_events(
    root: etree._Element, message_type: MessageType, sender: str, receiver: str, message_id: str
) -> list[DomainEvent]:
    """One event per product line of a valid heen message, in document order."""
    return [
        build_event(cls, values)
        for cls, values in _line_values(root, message_type, sender, receiver, message_id)
    ]


#: A heen message type's plain-form line reader and the writer of its values' records.
LineWriter = tuple[PartReader, Callable[[tuple[Any, ...], int], StoredRecord]]
#: The fields every product line's event takes from its message, first in every event.
_COMMON: Final = ("hub_message_id", "gemeente", "aanbieder", "bsn")


def line_writers(mapper: EventMapper) -> dict[MessageType, LineWriter]:
    """Per heen message type, the fastest way from a product line to its record: the XML
    codec's `part_reader` and the mapper's `tuple_record`, where both exist for the line's
    fields in the same order (the event's own: the common fields, then the line's)."""
    found: dict[MessageType, LineWriter] = {}
    for message_type, line in _LINES.items():
        read = part_reader(line.model, message_type)
        layout = (*_COMMON, *part_layout(line.model, message_type))
        write = mapper.tuple_record(line.event, layout) if read is not None else None
        if read is not None and write is not None:
            found[message_type] = (read, write)
    return found


def domain_records(
    root: etree._Element,
    message_type: MessageType,
    sender: str,
    receiver: str,
    message_id: str,
    mapper: EventMapper,
    timestamp_ms: int,
    lines: LineWriter | None = None,
) -> list[StoredRecord]:
    """The records of `domain_events`, byte for byte, without building the events (the
    ingest hot path). With `lines` (`line_writers`) each line in its plain form goes from
    the XML straight to its record; otherwise, or when a line is in another form, every
    line goes through its values by name (`EventMapper.domain_record`)."""
    if lines is not None:
        read, write = lines
        wrapper, common = _lines_of(root, message_type, sender, receiver, message_id)
        try:
            return [
                write(common + read(el), timestamp_ms)
                for el in wrapper
                if isinstance(el.tag, str)  # skip comments
            ]
        except NotPlain:
            pass  # parse_part reads the other forms the XSD allows, and reports the rest
    record = mapper.domain_record
    return [
        record(cls, values, timestamp_ms=timestamp_ms)
        for cls, values in _line_values(root, message_type, sender, receiver, message_id)
    ]


def _lines_of(
    root: etree._Element, message_type: MessageType, sender: str, receiver: str, message_id: str
) -> tuple[etree._Element, tuple[str, str, str, str]]:
    """The element that holds the product lines, and the values of `_COMMON` for them."""
    line = _LINES[message_type]
    client = _child(root, line.client)
    bsn = _child(client, line.bsn).text or ""
    if message_type is MessageType.WMO301:
        gemeente, aanbieder = sender, receiver  # a gemeente sends the WMO301
    else:
        gemeente, aanbieder = receiver, sender  # an aanbieder sends WMO305 and WMO307
    return _child(client, line.wrapper), (message_id, gemeente, aanbieder, bsn)


def _line_values(
    root: etree._Element, message_type: MessageType, sender: str, receiver: str, message_id: str
) -> list[tuple[type[DomainEvent], dict[str, Any]]]:
    """Each product line's event class and field values by name, in document order.

    Reads only the product lines of the tree validation already parsed (`hub.codec.parse_part`:
    the codec's own mapping, without building model objects the events would copy).
    """
    line = _LINES[message_type]
    wrapper, values_of_all = _lines_of(root, message_type, sender, receiver, message_id)
    common = dict(zip(_COMMON, values_of_all, strict=True))
    model, event_cls = line.model, line.event
    found = []
    # The event classes use the model's field names (AssignmentIssued = ToegewezenProduct plus
    # the fields every event of the message shares), so a line's fields map over unchanged.
    for el in wrapper:
        if isinstance(el.tag, str):  # skip comments
            values = parse_part(el, model, message_type)  # a new dict: filled in place
            values.update(common)
            found.append((event_cls, values))
    return found


def _child(parent: etree._Element, tag: str) -> etree._Element:
    """The first child with `tag` (a loop over children: several times faster than find)."""
    for child in parent:
        if child.tag == tag:
            return child
    # The XSD requires it; a schema-valid document always has it.
    raise InvalidMessage(f"{etree.QName(tag).localname} missing from a validated message")


def _first(parent: etree._Element, tag: str) -> etree._Element | None:
    for child in parent:
        if child.tag == tag:
            return child
    return None


def read_header(root: etree._Element, message_type: MessageType) -> HeaderFacts:
    """Afzender, Ontvanger and BerichtIdentificatie as far as they can be read (any message).

    Raw texts of the first occurrence of each, as hub.codec reads them; runs once per
    message on the ingest hot path, so it walks the Header's children just once.
    """
    header_tag, afzender_tag, ontvanger_tag, ident_tag = _HEADER_TAGS[message_type]
    afzender = ontvanger = identificatie = day = None
    header = _first(root, header_tag)
    ident: etree._Element | None = None
    if header is not None:
        for child in header:
            tag = child.tag
            if tag == afzender_tag and afzender is None:
                afzender = child.text or ""
            elif tag == ontvanger_tag and ontvanger is None:
                ontvanger = child.text or ""
            elif tag == ident_tag and ident is None:
                ident = child
    if ident is not None:
        for child in ident:
            tag = child.tag
            if tag == _IDENTIFICATIE_TAG and identificatie is None:
                identificatie = child.text or ""
            elif tag == _DAGTEKENING_TAG and day is None:
                day = child.text or ""
    day = (day or "").strip()
    try:
        dagtekening = dt.date.fromisoformat(day) if len(day) == 10 else None
    except ValueError:
        dagtekening = None
    return HeaderFacts(
        message_type.name,
        afzender or None,
        ontvanger or None,
        identificatie or None,
        dagtekening,
    )


_HEADER_TAGS: Final = {
    mt: (mt.tag("Header"), mt.tag("Afzender"), mt.tag("Ontvanger"), mt.tag("BerichtIdentificatie"))
    for mt in MessageType
}
_IDENTIFICATIE_TAG: Final = basis("Identificatie")
_DAGTEKENING_TAG: Final = basis("Dagtekening")
