"""Avro single-object encoding of the hub's events: fingerprints checked against the Avro
spec, round trips through the mapper, schema evolution both ways, and every failure as one
error type."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
from dataclasses import fields
from typing import Any

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.avro import MARKER, AvroCodec, load_schemas, parse_event_schema, schema_fingerprint
from hub.errors import HubError, SerializationError, ValidationError
from hub.events import (
    EVENT_TYPES,
    AnyEvent,
    AssignmentIssued,
    CareStarted,
    CareStopped,
    EventMapper,
    MessageReceived,
    MessageRejected,
    Omvang,
    Product,
    RejectionError,
    epoch_ms,
    from_avro,
    to_avro,
)
from hub.records import EVENTS, REJECTED, UNKNOWN_KEY
from replay.deadletters import REDRIVE_TYPE

# -- an independent CRC-64-AVRO, written from the Avro specification ("Schema Fingerprints") --

_EMPTY = 0xC15D213AA4D7A795


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _crc_table()


def crc64_avro(data: bytes) -> int:
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


RECEIVED = dt.datetime(2024, 3, 1, 9, 30, 15, 123000, tzinfo=dt.UTC)
BSN = "999993653"


def assignment(**changes: Any) -> AssignmentIssued:
    values: dict[str, Any] = {
        "hub_message_id": "m-1",
        "gemeente": "0599",
        "aanbieder": "12345678",
        "bsn": BSN,
        "toewijzing_nummer": 123456,
        "product": Product(categorie="02", code="02A01"),
        "toewijzingsdatum": dt.date(2024, 2, 28),
        "toewijzingstijd": dt.time(14, 5, 9),
        "ingangsdatum": dt.date(2024, 3, 1),
        "omvang": Omvang(volume=4, eenheid="04", frequentie="2"),
    }
    values.update(changes)
    return AssignmentIssued(**values)


def examples() -> list[AnyEvent]:
    product = Product(categorie="04")
    return [
        MessageReceived(
            hub_message_id="m-1",
            message_type="WMO301",
            sender="0599",
            receiver="12345678",
            identificatie="B-0001",
            dagtekening=dt.date(2024, 3, 1),
            received_at=RECEIVED,
            content=b"<Bericht/>",
        ),
        MessageRejected(
            hub_message_id="m-2",
            received_at=RECEIVED,
            content=b"\xff\xfe not xml",
            errors=(RejectionError(rule="XML", retour_code="0001", path="/", message="broken"),),
        ),
        assignment(einddatum=dt.date(2024, 12, 31), reden_wijziging="05", budget=1200),
        CareStarted(
            hub_message_id="m-3",
            gemeente="0599",
            aanbieder="12345678",
            bsn=BSN,
            toewijzing_nummer=123456,
            product=product,
            begindatum=dt.date(2024, 3, 4),
            status_aanlevering="1",
        ),
        CareStopped(
            hub_message_id="m-4",
            gemeente="0599",
            aanbieder="12345678",
            bsn=BSN,
            begindatum=dt.date(2024, 3, 4),
            reden_beeindiging="02",
            einddatum=dt.date(2024, 6, 30),
            status_aanlevering="3",
        ),
    ]


AVRO = AvroCodec()


@pytest.fixture
def codec() -> AvroCodec:
    return AVRO


@pytest.fixture
def mapper(codec: AvroCodec) -> EventMapper:
    return EventMapper(codec)


# -- fingerprints and the single-object header ------------------------------------------------


def test_fingerprint_matches_the_avro_projects_test_vector() -> None:
    # Apache Avro's own tests (lang/ruby/test/test_fingerprints.rb): schema "int" has CRC-64-AVRO
    # 0x7275d51a3f395c8f and single-object header C3 01 8F 5C 39 3F 1A D5 75 72.
    int_schema = fastavro.parse_schema({"type": "int"})
    assert crc64_avro(b'"int"') == 0x7275D51A3F395C8F
    assert MARKER + schema_fingerprint(int_schema) == bytes.fromhex("c3018f5c393f1ad57572")


def test_parsing_canonical_form_strips_what_the_spec_says() -> None:
    # Spec, "Parsing Canonical Form": full names, no doc/logicalType/default/extra attributes,
    # keys in the order name, type, fields.
    raw = {
        "type": "record",
        "namespace": "a.b",
        "name": "X",
        "doc": "ignored",
        "iwmohub.version": 3,
        "fields": [{"name": "d", "doc": "x", "type": {"type": "int", "logicalType": "date"}}],
    }
    canonical = b'{"name":"a.b.X","type":"record","fields":[{"name":"d","type":"int"}]}'
    parsed = parse_event_schema(raw)
    assert parsed.fingerprint == crc64_avro(canonical).to_bytes(8, "little")


def test_every_payload_starts_with_the_marker_and_its_schemas_fingerprint(
    codec: AvroCodec, mapper: EventMapper
) -> None:
    for event in examples():
        payload = mapper.to_record(event, timestamp_ms=1).payload
        schema = codec.schema(event.event_type(), 1)
        canonical = fastavro.schema.to_parsing_canonical_form(schema.parsed).encode()
        assert payload[:2] == b"\xc3\x01"
        assert payload[2:10] == crc64_avro(canonical).to_bytes(8, "little")
        # The body is plain Avro binary: fastavro alone, given the schema, reads it back.
        body = fastavro.schemaless_reader(io.BytesIO(payload[10:]), schema.parsed, None)
        assert body == to_avro(event)


def test_schema_files_match_the_event_classes() -> None:
    raw = {s["name"]: s for s in load_schemas()}
    # Besides the event classes: the dead-letter stream's redrive outcomes (replay.deadletters).
    assert set(raw) == set(EVENT_TYPES) | {REDRIVE_TYPE}
    assert raw.pop(REDRIVE_TYPE)["namespace"] == "nl.iwmohub.events"
    for name, cls in EVENT_TYPES.items():
        assert raw[name]["namespace"] == "nl.iwmohub.events"
        assert raw[name]["iwmohub.version"] == cls.schema_version
        assert _field_names(raw[name]) == [f.name for f in fields(cls)]
    nested = {"Product": Product, "Omvang": Omvang, "RejectionError": RejectionError}
    for schema in raw.values():
        for record in _nested_records(schema):
            assert _field_names(record) == [f.name for f in fields(nested[record["name"]])]


def _field_names(record: dict[str, Any]) -> list[str]:
    return [f["name"] for f in record["fields"]]


def _nested_records(schema: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(schema, list):
        for s in schema:
            found += _nested_records(s)
    elif isinstance(schema, dict):
        for f in schema.get("fields", []):
            inner = f["type"]
            if isinstance(inner, dict) and inner.get("type") == "array":
                inner = inner["items"]
            for candidate in inner if isinstance(inner, list) else [inner]:
                if isinstance(candidate, dict) and candidate.get("type") == "record":
                    found += [candidate, *_nested_records(candidate)]
    return found


# -- round trips through the mapper -----------------------------------------------------------


@pytest.mark.parametrize("event", examples(), ids=lambda e: type(e).__name__)
def test_every_event_survives_the_round_trip(mapper: EventMapper, event: AnyEvent) -> None:
    record = mapper.to_record(event, timestamp_ms=1_709_285_415_123)
    assert record.event_type == type(event).__name__
    assert record.schema_version == 1
    assert record.stream == (REJECTED if isinstance(event, MessageRejected) else EVENTS)
    assert mapper.to_event(record) == event


_text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)
_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2199, 12, 31))


@given(
    nummer=st.integers(0, 999_999_999),
    product=st.none() | st.builds(Product, categorie=_text, code=st.none() | _text),
    tijd=st.times(),
    einddatum=st.none() | _dates,
    omvang=st.none()
    | st.builds(Omvang, volume=st.integers(0, 99_999_999), eenheid=_text, frequentie=_text),
    budget=st.none() | st.integers(0, 99_999_999),
    commentaar=st.none() | _text,
)
def test_any_assignment_survives_the_round_trip(
    nummer: int,
    product: Product | None,
    tijd: dt.time,
    einddatum: dt.date | None,
    omvang: Omvang | None,
    budget: int | None,
    commentaar: str | None,
) -> None:
    mapper = EventMapper(AVRO)
    event = assignment(
        toewijzing_nummer=nummer,
        product=product,
        toewijzingstijd=tijd,
        einddatum=einddatum,
        omvang=omvang,
        budget=budget,
        commentaar=commentaar,
    )
    assert mapper.to_event(mapper.to_record(event, timestamp_ms=0)) == event


def test_records_are_keyed_by_gemeente_whichever_way_the_message_went(mapper: EventMapper) -> None:
    received = examples()[0]
    assert isinstance(received, MessageReceived)
    from_gemeente = mapper.to_record(received, timestamp_ms=1)
    start = MessageReceived(
        **{**to_avro(received), "message_type": "WMO305", "sender": "12345678", "receiver": "0363"}
    )
    assert from_gemeente.key == "0599"
    assert mapper.to_record(start, timestamp_ms=1).key == "0363"
    for event in examples()[2:]:
        assert mapper.to_record(event, timestamp_ms=1).key == "0599"


def test_a_rejection_is_keyed_by_its_sender_or_unknown() -> None:
    rejected = examples()[1]
    assert isinstance(rejected, MessageRejected)
    assert rejected.key == UNKNOWN_KEY
    assert MessageRejected(**{**_fields(rejected), "sender": "12345678"}).key == "12345678"


def _fields(event: object) -> dict[str, Any]:
    return {f.name: getattr(event, f.name) for f in fields(event)}  # type: ignore[arg-type]


def test_times_are_kept_in_utc_to_the_millisecond() -> None:
    amsterdam = dt.timezone(dt.timedelta(hours=1))
    local = dt.datetime(2024, 3, 1, 10, 30, 15, 123456, tzinfo=amsterdam)
    received = MessageReceived(**{**_fields(examples()[0]), "received_at": local})
    assert received.received_at == RECEIVED
    assert received.received_at.tzinfo == dt.UTC
    with pytest.raises(ValueError, match="timezone"):
        MessageReceived(**{**_fields(examples()[0]), "received_at": local.replace(tzinfo=None)})


def test_epoch_ms_counts_whole_milliseconds_since_1970_utc() -> None:
    assert epoch_ms(dt.datetime(1970, 1, 1, 0, 0, 0, 1999, tzinfo=dt.UTC)) == 1
    assert epoch_ms(dt.datetime(1970, 1, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))) == 0
    assert epoch_ms(RECEIVED) == int(RECEIVED.timestamp()) * 1000 + 123
    with pytest.raises(ValueError, match="timezone"):
        epoch_ms(dt.datetime(2024, 1, 1))


def test_a_bsn_never_shows_in_a_repr_and_raw_bytes_stay_out() -> None:
    for event in examples():
        text = repr(event)
        assert BSN not in text
        if hasattr(event, "bsn"):
            assert "*****3653" in text
        if hasattr(event, "content"):
            assert repr(event.content) not in text


def test_a_rejection_carries_each_validation_error() -> None:
    error = ValidationError(
        "TR056", "already received", path="/Bericht/Header", line=7, retour_code="9001"
    )
    assert RejectionError.from_error(error) == RejectionError(
        rule="TR056", retour_code="9001", path="/Bericht/Header", line=7, message="already received"
    )


# -- schema evolution -----------------------------------------------------------------------


def _assignment_v2(extra_field: dict[str, Any]) -> dict[str, Any]:
    [v1] = [s for s in load_schemas() if s["name"] == "AssignmentIssued"]
    v2 = copy.deepcopy(v1)
    v2["iwmohub.version"] = 2
    v2["fields"].append(extra_field)
    return v2


BRON = {"name": "bron", "type": "string", "default": "iwmo-3.2", "doc": "Added in v2."}


def test_v1_data_read_as_v2_gets_the_new_fields_default() -> None:
    codec = AvroCodec([*load_schemas(), _assignment_v2(BRON)])
    event = assignment()
    payload = EventMapper(codec).to_record(event, timestamp_ms=1).payload
    assert codec.writer_schema(payload).version == 1

    as_v2 = codec.decode(payload, "AssignmentIssued", 2)
    assert as_v2 == {**to_avro(event), "bron": "iwmo-3.2"}


def test_v2_data_read_by_a_v1_reader_drops_the_new_field() -> None:
    codec = AvroCodec([*load_schemas(), _assignment_v2(BRON)])
    event = assignment()
    payload = codec.encode("AssignmentIssued", 2, {**to_avro(event), "bron": "iwmo-3.3"})
    assert codec.writer_schema(payload).version == 2
    assert payload[2:10] != codec.schema("AssignmentIssued", 1).fingerprint

    as_v1 = codec.decode(payload, "AssignmentIssued", 1)
    assert as_v1 == to_avro(event)
    assert from_avro(AssignmentIssued, as_v1) == event


def test_an_added_field_without_default_cannot_read_old_data() -> None:
    required = {"name": "bron", "type": "string"}
    codec = AvroCodec([*load_schemas(), _assignment_v2(required)])
    payload = codec.encode("AssignmentIssued", 1, to_avro(assignment()))
    with pytest.raises(SerializationError, match="v1 as v2") as caught:
        codec.decode(payload, "AssignmentIssued", 2)
    assert caught.value.__cause__ is not None


# -- every failure is a SerializationError ----------------------------------------------------


def test_serialization_error_is_a_value_error_and_a_hub_error() -> None:
    assert issubclass(SerializationError, ValueError)
    assert issubclass(SerializationError, HubError)


def test_unknown_schema_fingerprint(codec: AvroCodec, mapper: EventMapper) -> None:
    payload = bytearray(mapper.to_record(assignment(), timestamp_ms=1).payload)
    payload[5] ^= 0xFF
    with pytest.raises(SerializationError, match="unknown schema"):
        codec.decode(bytes(payload), "AssignmentIssued", 1)


@pytest.mark.parametrize("payload", [b"", b"\xc3", b"\xc3\x02" + bytes(20), b"{json: true}   "])
def test_bytes_without_the_single_object_marker(codec: AvroCodec, payload: bytes) -> None:
    with pytest.raises(SerializationError, match="marker"):
        codec.decode(payload, "AssignmentIssued", 1)


def test_truncated_and_padded_payloads(codec: AvroCodec, mapper: EventMapper) -> None:
    payload = mapper.to_record(assignment(), timestamp_ms=1).payload
    with pytest.raises(SerializationError) as caught:
        codec.decode(payload[:-5], "AssignmentIssued", 1)
    assert caught.value.__cause__ is not None
    with pytest.raises(SerializationError, match="trailing"):
        codec.decode(payload + b"\x00", "AssignmentIssued", 1)


def test_a_payload_of_another_event_type(codec: AvroCodec, mapper: EventMapper) -> None:
    record = mapper.to_record(examples()[3], timestamp_ms=1)
    with pytest.raises(SerializationError, match="CareStarted"):
        codec.decode(record.payload, "CareStopped", 1)


def test_data_that_does_not_fit_the_schema(codec: AvroCodec) -> None:
    data = to_avro(assignment())
    with pytest.raises(SerializationError, match="AssignmentIssued") as wrong_type:
        codec.encode("AssignmentIssued", 1, {**data, "toewijzing_nummer": "not a number"})
    assert wrong_type.value.__cause__ is not None
    with pytest.raises(SerializationError):
        codec.encode("AssignmentIssued", 1, {k: v for k, v in data.items() if k != "gemeente"})
    with pytest.raises(SerializationError):
        codec.encode("AssignmentIssued", 1, {**data, "unexpected": 1})
    with pytest.raises(SerializationError, match="no Avro schema"):
        codec.encode("AssignmentIssued", 9, data)


def test_a_record_of_an_unknown_event_type(mapper: EventMapper) -> None:
    record = mapper.to_record(assignment(), timestamp_ms=1)
    with pytest.raises(SerializationError, match="unknown event type"):
        mapper.to_event(
            record.__class__(**{**_fields(record), "event_type": "ToewijzingGeweigerd"})
        )


def test_bad_schemas_are_refused() -> None:
    [v1] = [s for s in load_schemas() if s["name"] == "CareStarted"]
    without_version = {k: v for k, v in v1.items() if k != "iwmohub.version"}
    with pytest.raises(SerializationError, match=r"iwmohub\.version"):
        AvroCodec([without_version])
    broken = json.loads(json.dumps(v1).replace('"string"', '"strung"', 1))
    with pytest.raises(SerializationError, match="invalid Avro schema") as caught:
        AvroCodec([broken])
    assert caught.value.__cause__ is not None
    changed = copy.deepcopy(v1)
    changed["fields"].pop()
    with pytest.raises(SerializationError, match="two different schemas"):
        AvroCodec([v1, changed])
