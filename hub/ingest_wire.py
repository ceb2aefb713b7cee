"""Prepared messages as worker processes send them to the ingesting process.

`adapters.bootstrap.ParallelPreparer` validates and encodes in other processes; everything a
worker returns is pickled there and unpickled in the ingesting process, once per message.
Plain tuples pickle about four times faster than the `Prepared`, `HeaderFacts`, `Identity`
and `StoredRecord` objects, and the document itself need not travel back: the ingesting
process sent it and still has it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import fields
from typing import Any, Final

from hub.events import RejectionError
from hub.ingest_events import HeaderFacts, Identity, Prepared
from hub.records import restore_record

#: A Prepared as worker processes send it: plain tuples, which pickle several times faster
#: than the objects, and without the bytes the receiving process already has.
Wire = tuple[
    str,
    tuple[object, ...],
    tuple[RejectionError, ...],
    tuple[object, ...] | None,
    tuple[tuple[Any, ...], ...],
    bytes | None,
]


def to_wire(prepared: Prepared, content: bytes) -> Wire:
    """`prepared` (made from `content`) as plain tuples; see `from_wire`."""
    header, identity = prepared.header, prepared.identity
    return (
        prepared.message_id,
        (
            header.message_type,
            header.sender,
            header.receiver,
            header.identificatie,
            header.dagtekening,
        ),
        prepared.errors,
        None
        if identity is None
        else (
            identity.message_type,
            identity.sender,
            identity.identificatie,
            identity.dagtekening,
            identity.message_id,
        ),
        tuple(
            (r.stream, r.key, r.event_type, r.schema_version, r.payload, r.timestamp_ms)
            for r in prepared.records
        ),
        None if prepared.content is content else prepared.content,  # e.g. cut to OP179's limit
    )


def from_wire(wire: Wire, content: bytes, received_at: dt.datetime) -> Prepared:
    """The Prepared that `to_wire` sent, for the `content` received at `received_at`.

    Rebuilt through the slots (the values were checked when the worker made them): the
    ingesting process does this for every message, and the dataclasses' own constructors
    cost several times more.
    """
    message_id, header, errors, identity, records, own_content = wire
    facts: HeaderFacts = _new(HeaderFacts)
    for setter, value in zip(_HEADER_SLOTS, header, strict=True):
        setter(facts, value)
    who: Identity | None = None
    if identity is not None:
        who = _new(Identity)
        for setter, value in zip(_IDENTITY_SLOTS, identity, strict=True):
            setter(who, value)
    prepared: Prepared = _new(Prepared)
    _set_id, _set_header, _set_received, _set_content, _set_records, _set_errors, _set_who = (
        _PREPARED_SLOTS
    )
    _set_id(prepared, message_id)
    _set_header(prepared, facts)
    _set_received(prepared, received_at)
    _set_content(prepared, content if own_content is None else own_content)
    _set_records(prepared, tuple([restore_record(*r) for r in records]))
    _set_errors(prepared, errors)
    _set_who(prepared, who)
    return prepared


def _slots(cls: type) -> tuple[Callable[[object, object], None], ...]:
    """The setters of a slots dataclass's fields, in field order."""
    return tuple(getattr(cls, f.name).__set__ for f in fields(cls))


_new = object.__new__
_HEADER_SLOTS: Final = _slots(HeaderFacts)
_IDENTITY_SLOTS: Final = _slots(Identity)
_PREPARED_SLOTS: Final = _slots(Prepared)
