"""From a validated document to events and records: the product lines as the model reads them,
the events built from plain values, and prepared messages sent between processes intact."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
from typing import Any

import pytest
from lxml import etree

from adapters.avro import AvroCodec
from adapters.bootstrap import event_mapper
from hub.codec import parse_message, to_xml
from hub.errors import SerializationError
from hub.events import (
    AssignmentIssued,
    CareStarted,
    CareStopped,
    EventMapper,
    MessageReceived,
    MessageRejected,
    Omvang,
    Product,
    RejectionError,
    build_event,
    epoch_ms,
)
from hub.factory import MessageFactory, sample_documents
from hub.ingest_events import (
    Prepared,
    Preparer,
    domain_events,
    domain_records,
    line_writers,
    read_header,
)
from hub.ingest_wire import from_wire, to_wire
from hub.messagetypes import MessageType
from hub.validation import Validator
from hub.xmlsafe import MAX_MESSAGE_BYTES, parse_bytes

NOW = dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)
HEEN = (MessageType.WMO301, MessageType.WMO305, MessageType.WMO307)


def expected_events(data: bytes, message_id: str) -> list[Any]:
    """The events of a message, made from the full model through the event classes' own
    constructors: an oracle independent of the part reader and of build_event."""
    message: Any = parse_message(parse_bytes(data))
    header = message.header
    mt = message.message_type
    gemeente, aanbieder = (
        (header.afzender, header.ontvanger)
        if mt is MessageType.WMO301
        else (header.ontvanger, header.afzender)
    )
    common = {
        "hub_message_id": message_id,
        "gemeente": gemeente,
        "aanbieder": aanbieder,
        "bsn": message.client.bsn,
    }

    def fields(line: Any, cls: type) -> dict[str, Any]:
        names = {f.name for f in dataclasses.fields(cls)} - set(common)
        values = {name: getattr(line, name) for name in names}
        if values.get("product") is not None:
            values["product"] = Product(categorie=line.product.categorie, code=line.product.code)
        if values.get("omvang") is not None:
            o = line.omvang
            values["omvang"] = Omvang(volume=o.volume, eenheid=o.eenheid, frequentie=o.frequentie)
        return values

    if mt is MessageType.WMO301:
        return [
            AssignmentIssued(**common, **fields(line, AssignmentIssued))
            for line in message.client.toegewezen_producten
        ]
    if mt is MessageType.WMO305:
        return [
            CareStarted(**common, **fields(line, CareStarted))
            for line in message.client.start_producten
        ]
    return [
        CareStopped(**common, **fields(line, CareStopped)) for line in message.client.stop_producten
    ]


@pytest.mark.parametrize("message_type", HEEN, ids=lambda mt: mt.name)
def test_domain_events_are_the_model_lines_as_events(message_type: MessageType) -> None:
    for data in sample_documents(message_type, 25, seed=21):
        root = parse_bytes(data)
        header = read_header(root, message_type)
        assert header.sender is not None and header.receiver is not None
        events = domain_events(root, message_type, header.sender, header.receiver, "m-1")
        assert events == expected_events(data, "m-1")
        assert events, "every heen message has a product line"


class _CodecWithoutTuples(AvroCodec):
    """A codec without the tuple fast path: product lines go through their values by name."""

    def tuple_encoder(self, event_type: str, version: int, layout: Any) -> None:
        return None


class _CodecWithoutValues(_CodecWithoutTuples):
    """A codec without either fast path: domain records go through the event objects."""

    def values_encoder(self, event_type: str, version: int, fields: Any) -> None:
        return None


MAPPERS = {
    "tuple-encoder": event_mapper,
    "values-encoder": lambda: EventMapper(_CodecWithoutTuples()),
    "through-events": lambda: EventMapper(_CodecWithoutValues()),
}


def test_the_hubs_mapper_writes_every_heen_messages_lines_from_tuples() -> None:
    assert set(line_writers(event_mapper())) == set(HEEN)
    assert line_writers(MAPPERS["values-encoder"]()) == {}


@pytest.mark.parametrize("path", MAPPERS)
@pytest.mark.parametrize("message_type", HEEN, ids=lambda mt: mt.name)
def test_prepared_records_are_the_oracle_events_records(
    message_type: MessageType, path: str
) -> None:
    # The records ingest stores are made from the lines' values without building events;
    # they must be byte for byte the records of the events the model's oracle builds.
    mapper = MAPPERS[path]()
    preparer = Preparer(Validator(), mapper)
    for data in sample_documents(message_type, 25, seed=22):
        prepared = preparer.prepare(data, NOW)
        assert not prepared.errors
        stamp = epoch_ms(NOW)
        expected = [
            mapper.to_record(e, timestamp_ms=stamp)
            for e in expected_events(data, prepared.message_id)
        ]
        assert list(prepared.records[:-1]) == expected
        header: Any = parse_message(parse_bytes(data)).header
        received = MessageReceived(
            hub_message_id=prepared.message_id,
            message_type=message_type.name,
            sender=header.afzender,
            receiver=header.ontvanger,
            identificatie=header.bericht_identificatie.identificatie,
            dagtekening=header.bericht_identificatie.dagtekening,
            received_at=NOW,
            content=data,
        )
        assert prepared.records[-1] == mapper.to_record(received, timestamp_ms=stamp)


_AMSTERDAM = dt.timezone(dt.timedelta(hours=1))


def _received_values(**changes: Any) -> dict[str, Any]:
    """A MessageReceived's fields: a WMO301 from gemeente 0599, with `changes`."""
    return {
        "hub_message_id": "m-1",
        "message_type": "WMO301",
        "sender": "0599",
        "receiver": "12345678",
        "identificatie": "B-1",
        "dagtekening": dt.date(2025, 3, 1),
        "received_at": NOW,
        "content": b"<Bericht/>",
        **changes,
    }


@pytest.mark.parametrize("path", ["tuple-encoder", "through-events"])
@pytest.mark.parametrize(
    ("message_type", "received_at"),
    [
        ("WMO301", NOW),
        ("WMO305", dt.datetime(2025, 3, 1, 10, 30, 15, 123999, tzinfo=_AMSTERDAM)),
        ("WMO307", dt.datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=dt.UTC)),
        ("wmo305", NOW),  # other spellings of a type go through the event, which allows them
        ("301", NOW),
    ],
)
def test_a_received_record_is_the_message_received_events_record(
    message_type: str, received_at: dt.datetime, path: str
) -> None:
    mapper = MAPPERS[path]()
    values = _received_values(message_type=message_type, received_at=received_at)
    stamp = epoch_ms(NOW)
    made = mapper.received_record(values, timestamp_ms=stamp)
    assert made == mapper.to_record(MessageReceived(**values), timestamp_ms=stamp)
    expected_key = "0599" if message_type in ("WMO301", "301") else "12345678"
    assert made.key == expected_key


def test_a_received_record_refuses_what_the_event_refuses() -> None:
    mapper = event_mapper()
    values = _received_values(received_at=dt.datetime(2025, 3, 1, 9, 30))  # naive
    with pytest.raises(ValueError, match="timezone-aware"):
        mapper.received_record(values, timestamp_ms=0)
    values.update(received_at=NOW, message_type="WMO999")
    with pytest.raises(ValueError):
        mapper.received_record(values, timestamp_ms=0)


def test_only_domain_events_have_domain_records() -> None:
    with pytest.raises(SerializationError, match="not a domain event"):
        event_mapper().domain_record(MessageRejected, {}, timestamp_ms=0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"<wmo301:ToewijzingNummer>", b"<wmo301:ToewijzingNummer> "),  # a number with a space
        (b"<wmo301:Toewijzingstijd>", b"<wmo301:Toewijzingstijd><!-- x -->"),
        (b"<wmo301:ToegewezenProduct>", b"<!-- note --><wmo301:ToegewezenProduct>"),
    ],
    ids=["spaced-number", "comment-in-a-line", "comment-between-lines"],
)
def test_lines_in_another_form_than_the_plain_one_make_the_same_records(
    old: bytes, new: bytes
) -> None:
    # The tuple path steps aside (hub.codec.NotPlain) for what it does not read, and the
    # values path makes the records: the same bytes as the plain document's.
    data = to_xml(MessageFactory(9).wmo301())
    changed = data.replace(old, new)
    assert changed != data
    mapper = event_mapper()
    lines = line_writers(mapper)[MessageType.WMO301]
    made = [
        domain_records(
            etree.fromstring(d, etree.XMLParser(remove_blank_text=True)),
            MessageType.WMO301,
            "0599",
            "12345678",
            "m",
            mapper,
            0,
            lines,
        )
        for d in (data, changed)
    ]
    assert made[0] == made[1]
    assert made[0] == domain_records(
        parse_bytes(data), MessageType.WMO301, "0599", "12345678", "m", mapper, 0
    )


def test_a_message_with_comments_between_its_lines_has_the_same_events() -> None:
    data = to_xml(MessageFactory(9).wmo301())
    commented = data.replace(
        b"<wmo301:ToegewezenProduct>", b"<!-- note --><wmo301:ToegewezenProduct>"
    )
    assert commented != data
    events = [
        domain_events(parse_bytes(d), MessageType.WMO301, "0599", "12345678", "m")
        for d in (data, commented)
    ]
    assert events[0] == events[1]


def test_build_event_fills_defaults_nested_parts_and_normalises() -> None:
    values = {
        "hub_message_id": "m",
        "gemeente": "0599",
        "aanbieder": "12345678",
        "bsn": "999993653",
        "toewijzing_nummer": 7,
        "product": {"categorie": "02"},
        "toewijzingsdatum": dt.date(2025, 1, 1),
        "toewijzingstijd": dt.time(9, 0, 0, 123456),
        "ingangsdatum": dt.date(2025, 1, 1),
        "omvang": {"volume": 3, "eenheid": "04", "frequentie": "2"},
        "not_a_field": "ignored",
    }
    event = build_event(AssignmentIssued, values)
    assert event == AssignmentIssued(
        **{k: v for k, v in values.items() if k not in ("product", "omvang", "not_a_field")},
        product=Product(categorie="02"),
        omvang=Omvang(volume=3, eenheid="04", frequentie="2"),
    )
    assert event.toewijzingstijd == dt.time(9, 0, 0, 123000)  # __post_init__ ran
    rejection = build_event(
        MessageRejected,
        {
            "hub_message_id": "r",
            "received_at": dt.datetime(2025, 1, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "content": b"<x/>",
            "errors": [{"rule": "XML", "retour_code": "0001", "path": "/", "message": "kapot"}],
        },
    )
    assert rejection.errors == (
        RejectionError(rule="XML", retour_code="0001", path="/", message="kapot"),
    )
    assert rejection.received_at == dt.datetime(2025, 1, 1, 9, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "change",
    [
        {"drop": "gemeente"},
        {"toewijzingsdatum": "2025-01-01", "toewijzingstijd": "09:00"},  # no .replace on a str
        {"product": {"code": "A"}},  # Product without its categorie
    ],
)
def test_build_event_refuses_what_does_not_make_an_event(change: dict[str, Any]) -> None:
    values: dict[str, Any] = {
        "hub_message_id": "m",
        "gemeente": "0599",
        "aanbieder": "12345678",
        "bsn": "999993653",
        "toewijzing_nummer": 7,
        "toewijzingsdatum": dt.date(2025, 1, 1),
        "toewijzingstijd": dt.time(9),
        "ingangsdatum": dt.date(2025, 1, 1),
    }
    values.update({k: v for k, v in change.items() if k != "drop"})
    values.pop(change.get("drop", ""), None)
    with pytest.raises(SerializationError, match=r"AssignmentIssued|Product"):
        build_event(AssignmentIssued, values)


def prepared_examples() -> list[tuple[bytes, Prepared]]:
    preparer = Preparer(Validator(), event_mapper())
    docs = [
        *[d for mt in HEEN for d in sample_documents(mt, 3, seed=5)],
        b"<not xml",
        to_xml(MessageFactory(4).wmo301(bsn="123456789")),  # a rule error
        b"<a>" + b" " * MAX_MESSAGE_BYTES + b"</a>",  # over OP179's limit: kept cut short
    ]
    return [(d, preparer.prepare(d, NOW)) for d in docs]


def test_a_prepared_message_crosses_processes_intact() -> None:
    examples = prepared_examples()
    for content, prepared in examples:
        wire = pickle.loads(pickle.dumps(to_wire(prepared, content)))
        back = from_wire(wire, content, NOW)
        assert back == prepared
        assert back.content == prepared.content
        assert (back.identity is None) == (prepared.identity is None)
        if back.identity is not None and prepared.identity is not None:
            assert back.identity.message_id == prepared.identity.message_id
        assert pickle.loads(pickle.dumps(prepared)) == prepared
    truncated = examples[-1][1]
    assert len(truncated.content) == MAX_MESSAGE_BYTES
    assert to_wire(truncated, b"whatever")[-1] == truncated.content
