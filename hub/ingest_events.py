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
from dataclasses import dataclass, field
from typing import Any, Final

from lxml import etree

from hub.codec import _CODECS, _parse  # see _parse_part
from hub.errors import InvalidMessage, MessageTooLarge, SerializationError, ValidationError
from hub.events import (
    AssignmentIssued,
    CareStarted,
    CareStopped,
    DomainEvent,
    EventMapper,
    MessageReceived,
    MessageRejected,
    Omvang,
    Product,
    RejectionError,
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
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# Per heen message type: the Client's product wrapper, the model class of one line.
_LINES: Final[dict[MessageType, tuple[str, type]]] = {
    MessageType.WMO301: ("ToegewezenProducten", ToegewezenProduct),
    MessageType.WMO305: ("StartProducten", StartProduct),
    MessageType.WMO307: ("StopProducten", StopProduct),
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
        name = f"{self.message_type}|{self.sender}|{self.identificatie}|{self.dagtekening}"
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
        to_record = self.mapper.to_record
        records = [
            to_record(event, timestamp_ms=timestamp_ms)
            for event in domain_events(root, message_type, sender, receiver, message_id)
        ]
        received = MessageReceived(
            hub_message_id=message_id,
            message_type=message_type.name,
            sender=sender,
            receiver=receiver,
            identificatie=identificatie,
            dagtekening=dagtekening,
            received_at=received_at,
            content=content,
        )
        # Last: a stored MessageReceived means every record of the message before it is stored.
        records.append(to_record(received, timestamp_ms=timestamp_ms))
        return Prepared(message_id, facts, received_at, content, tuple(records), identity=identity)


def domain_events(
    root: etree._Element, message_type: MessageType, sender: str, receiver: str, message_id: str
) -> list[DomainEvent]:
    """One event per product line of a valid heen message, in document order."""
    wrapper, line_cls = _LINES[message_type]
    client = _child(root, message_type.tag("Client"))
    bsn = _child(client, message_type.tag("Bsn")).text or ""
    lines = [
        _parse_part(el, line_cls, message_type)
        for el in _child(client, message_type.tag(wrapper))
        if isinstance(el.tag, str)  # skip comments
    ]
    if message_type is MessageType.WMO301:
        gemeente, aanbieder = sender, receiver  # a gemeente sends the WMO301
        return [_assignment(line, message_id, gemeente, aanbieder, bsn) for line in lines]
    gemeente, aanbieder = receiver, sender  # an aanbieder sends WMO305 and WMO307
    common: dict[str, Any] = {
        "hub_message_id": message_id,
        "gemeente": gemeente,
        "aanbieder": aanbieder,
        "bsn": bsn,
    }
    if message_type is MessageType.WMO305:
        return [CareStarted(**common, **_care_fields(line)) for line in lines]
    return [
        CareStopped(
            **common,
            **_care_fields(line),
            reden_beeindiging=line.reden_beeindiging,
            einddatum=line.einddatum,
        )
        for line in lines
    ]


def _assignment(
    line: ToegewezenProduct, message_id: str, gemeente: str, aanbieder: str, bsn: str
) -> AssignmentIssued:
    omvang = line.omvang
    return AssignmentIssued(
        hub_message_id=message_id,
        gemeente=gemeente,
        aanbieder=aanbieder,
        bsn=bsn,
        toewijzing_nummer=line.toewijzing_nummer,
        referentie_aanbieder=line.referentie_aanbieder,
        product=_product(line.product),
        toewijzingsdatum=line.toewijzingsdatum,
        toewijzingstijd=line.toewijzingstijd,
        ingangsdatum=line.ingangsdatum,
        einddatum=line.einddatum,
        reden_wijziging=line.reden_wijziging,
        omvang=None
        if omvang is None
        else Omvang(volume=omvang.volume, eenheid=omvang.eenheid, frequentie=omvang.frequentie),
        budget=line.budget,
        commentaar=line.commentaar,
    )


def _care_fields(line: StartProduct | StopProduct) -> dict[str, Any]:
    """The fields StartProduct and StopProduct share, as event keyword arguments."""
    return {
        "toewijzing_nummer": line.toewijzing_nummer,
        "product": _product(line.product),
        "toewijzing_ingangsdatum": line.toewijzing_ingangsdatum,
        "begindatum": line.begindatum,
        "status_aanlevering": line.status_aanlevering,
    }


def _product(product: Any) -> Product | None:
    return None if product is None else Product(categorie=product.categorie, code=product.code)


def _parse_part(element: etree._Element, cls: type, message_type: MessageType) -> Any:
    """One part of a message (a product line) through hub.codec's own mapping.

    `hub.codec` only offers whole messages; a full parse of a WMO301 costs about as much as
    half its validation (names, addresses, relations the events never use), so ingest reads
    just the parts it needs with the codec's per-class parser. A public `parse_part` in
    hub.codec would remove the private import.
    """
    return _parse(element, _CODECS[(cls, message_type)])


def _child(parent: etree._Element, tag: str) -> etree._Element:
    """The first child with `tag` (a loop over children: several times faster than find)."""
    for child in parent:
        if child.tag == tag:
            return child
    # The XSD requires it; a schema-valid document always has it.
    raise InvalidMessage(f"{etree.QName(tag).localname} missing from a validated message")


def _texts(parent: etree._Element | None, names: dict[str, str]) -> dict[str, str]:
    """Text of the children whose tag is in `names`, by name (raw, as hub.codec reads it)."""
    found: dict[str, str] = {}
    if parent is not None:
        for child in parent:
            name = names.get(child.tag) if isinstance(child.tag, str) else None
            if name is not None and name not in found:
                found[name] = child.text or ""
    return found


def _first(parent: etree._Element | None, tag: str) -> etree._Element | None:
    if parent is not None:
        for child in parent:
            if child.tag == tag:
                return child
    return None


def read_header(root: etree._Element, message_type: MessageType) -> HeaderFacts:
    """Afzender, Ontvanger and BerichtIdentificatie as far as they can be read (any message)."""
    header = _first(root, message_type.tag("Header"))
    values = _texts(header, _HEADER_NAMES[message_type])
    ident = _first(header, message_type.tag("BerichtIdentificatie"))
    values.update(_texts(ident, _IDENT_NAMES))
    day = values.get("dagtekening", "").strip()
    try:
        dagtekening = dt.date.fromisoformat(day) if len(day) == 10 else None
    except ValueError:
        dagtekening = None
    return HeaderFacts(
        message_type.name,
        values.get("afzender") or None,
        values.get("ontvanger") or None,
        values.get("identificatie") or None,
        dagtekening,
    )


_HEADER_NAMES: Final = {
    mt: {mt.tag("Afzender"): "afzender", mt.tag("Ontvanger"): "ontvanger"} for mt in MessageType
}
_IDENT_NAMES: Final = {basis("Identificatie"): "identificatie", basis("Dagtekening"): "dagtekening"}
