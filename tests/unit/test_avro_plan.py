"""The compiled Avro writers and readers (adapters.avro_plan) against fastavro itself: the same
bytes for every event the hub writes, the same values read back, and the same refusals."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.avro import HEADER_SIZE, MARKER, AvroCodec, load_schemas, parse_event_schema
from adapters.avro_plan import Unsupported, compile_schema
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
    to_avro,
)

AVRO = AvroCodec()
MAPPER = EventMapper(AVRO)
#: The schema's field names of each domain event.
MAPPER_NAMES = {
    name: [f["name"] for f in AVRO.schema(name, 1).parsed["fields"]]
    for name in ("AssignmentIssued", "CareStarted", "CareStopped")
}

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=90)
_some = st.none() | _text
_dates = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))
_long = st.integers(-(2**63), 2**63 - 1)
_int = st.integers(-(2**31), 2**31 - 1)
_moments = st.datetimes(
    min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
)
_products = st.none() | st.builds(Product, categorie=_text, code=_some)
_key = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)  # a record key
_common = {"hub_message_id": _text, "gemeente": _key, "aanbieder": _text, "bsn": _text}

events = st.one_of(
    st.builds(
        AssignmentIssued,
        **_common,
        toewijzing_nummer=_long,
        referentie_aanbieder=_some,
        product=_products,
        toewijzingsdatum=_dates,
        toewijzingstijd=st.times(),
        ingangsdatum=_dates,
        einddatum=st.none() | _dates,
        reden_wijziging=_some,
        omvang=st.none() | st.builds(Omvang, volume=_int, eenheid=_text, frequentie=_text),
        budget=st.none() | _int,
        commentaar=_some,
    ),
    st.builds(
        CareStarted,
        **_common,
        toewijzing_nummer=st.none() | _long,
        product=_products,
        toewijzing_ingangsdatum=st.none() | _dates,
        begindatum=_dates,
        status_aanlevering=_text,
    ),
    st.builds(
        CareStopped,
        **_common,
        toewijzing_nummer=st.none() | _long,
        product=_products,
        toewijzing_ingangsdatum=st.none() | _dates,
        begindatum=_dates,
        reden_beeindiging=_text,
        einddatum=_dates,
        status_aanlevering=_text,
    ),
    st.builds(
        MessageReceived,
        hub_message_id=_text,
        message_type=st.sampled_from(["WMO301", "WMO305", "WMO307"]),
        sender=_key,
        receiver=_key,
        identificatie=_text,
        dagtekening=_dates,
        received_at=_moments,
        content=st.binary(max_size=300),
    ),
    st.builds(
        MessageRejected,
        hub_message_id=_text,
        received_at=_moments,
        content=st.binary(max_size=300),
        errors=st.lists(
            st.builds(
                RejectionError,
                rule=_text,
                retour_code=_text,
                path=_text,
                line=st.none() | _int,
                message=_text,
            ),
            max_size=140,  # past 63 items the array's count takes two bytes
        ).map(tuple),
        message_type=_some,
        sender=_some,
        receiver=_some,
        identificatie=_some,
        dagtekening=st.none() | _dates,
    ),
)


def fastavro_bytes(event: object) -> bytes:
    schema = AVRO.schema(type(event).__name__, 1)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema.parsed, to_avro(event), strict=True)
    return MARKER + schema.fingerprint + out.getvalue()


def fastavro_read(payload: bytes, event_type: str) -> Any:
    parsed = AVRO.schema(event_type, 1).parsed
    return fastavro.schemaless_reader(io.BytesIO(payload[HEADER_SIZE:]), parsed, parsed)


def plan(event_type: str) -> Any:
    found = AVRO.schema(event_type, 1).plan
    assert found is not None, f"{event_type} is compiled"
    return found


@settings(max_examples=300)
@given(event=events)
def test_compiled_writers_write_fastavros_bytes(event: Any) -> None:
    expected = fastavro_bytes(event)
    compiled = plan(type(event).__name__)
    assert compiled.write(to_avro(event)) == expected
    assert compiled.write_object(event) == expected
    assert compiled.write_values(to_avro(event)) == expected
    assert compiled.write_values(sparse(to_avro(event), type(event).__name__)) == expected
    assert compiled.write_tuple is not None
    assert compiled.write_tuple(in_layout(to_avro(event), compiled.layout)) == expected
    assert MAPPER.to_record(event, timestamp_ms=0).payload == expected


def in_layout(data: dict[str, Any], layout: tuple[Any, ...]) -> tuple[Any, ...]:
    """A record's dict as the tuple writer takes it: values in `layout` order, records as
    tuples, arrays of records as lists of tuples."""
    found: list[Any] = []
    for item in layout:
        if isinstance(item, str):
            found.append(data[item])
            continue
        name, inner = item
        value = data[name]
        if value is None:
            found.append(None)
        elif isinstance(inner, list):
            found.append([in_layout(x, inner[0]) for x in value])
        else:
            found.append(in_layout(value, inner))
    return tuple(found)


def sparse(data: dict[str, Any], event_type: str) -> dict[str, Any]:
    """`data` without the None values of fields whose schema default is null, plus a key
    that is no field: what the values writer must read as the same record."""
    optional = {
        f["name"]
        for f in AVRO.schema(event_type, 1).parsed["fields"]
        if f.get("default", 0) is None
    }
    kept = {k: v for k, v in data.items() if not (v is None and k in optional)}
    return {**kept, "not_a_field": object()}


@settings(max_examples=300)
@given(event=events)
def test_the_compiled_reader_reads_what_fastavro_reads(event: Any) -> None:
    event_type = type(event).__name__
    payload = fastavro_bytes(event)
    assert plan(event_type).read(payload, HEADER_SIZE) == fastavro_read(payload, event_type)
    assert MAPPER.to_event(MAPPER.to_record(event, timestamp_ms=0)) == event


def test_varints_of_every_length_round_trip() -> None:
    # Dates and timestamps take 3 to 6 bytes; a cache of the longer varints must never hand
    # out another value's bytes, whichever order values come in.
    mapper = EventMapper(AvroCodec())
    base = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    for millis in [0, 1, 63, 64, 127, 128, 8191, 8192, 10**6, 2**31, 2**40, 10**13, 64, 2**31]:
        event = MessageReceived(
            hub_message_id="m",
            message_type="WMO301",
            sender="0599",
            receiver="12345678",
            identificatie="B",
            dagtekening=dt.date(1970, 1, 1) + dt.timedelta(days=millis % 2_900_000),
            received_at=base + dt.timedelta(milliseconds=millis),
            content=b"x" * (millis % 300),
        )
        assert fastavro_bytes(event) == mapper.to_record(event, timestamp_ms=0).payload
        assert mapper.to_event(mapper.to_record(event, timestamp_ms=0)) == event


def assignment() -> AssignmentIssued:
    return AssignmentIssued(
        hub_message_id="m-1",
        gemeente="0599",
        aanbieder="12345678",
        bsn="999993653",
        toewijzing_nummer=1,
        toewijzingsdatum=dt.date(2024, 1, 1),
        toewijzingstijd=dt.time(9, 0),
        ingangsdatum=dt.date(2024, 1, 1),
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("toewijzing_nummer", 2**63),  # past a long
        ("toewijzing_nummer", True),  # a bool is no Avro long
        ("toewijzing_nummer", "1"),
        ("gemeente", b"0599"),  # bytes for a string
        ("gemeente", None),
        ("toewijzingsdatum", "2024-01-01"),
        ("toewijzingstijd", 32400000),
        ("budget", 2**31),  # past an int
        ("product", {"categorie": "01"}),  # a nested record without its field `code`
        ("product", {"categorie": "01", "code": None, "extra": 1}),
    ],
)
def test_the_compiled_writer_refuses_what_does_not_fit(field: str, value: object) -> None:
    data = {**to_avro(assignment()), field: value}
    with pytest.raises(SerializationError, match="AssignmentIssued"):
        AVRO.encode("AssignmentIssued", 1, data)


def test_bytes_must_be_bytes_and_received_at_must_know_its_zone() -> None:
    received = to_avro(MAPPER.to_event(MAPPER.to_record(assignment(), timestamp_ms=0)))
    assert received["gemeente"] == "0599"
    message = {
        "hub_message_id": "m",
        "message_type": "WMO301",
        "sender": "0599",
        "receiver": "1",
        "identificatie": "B",
        "dagtekening": dt.date(2024, 1, 1),
        "received_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        "content": b"<Bericht/>",
    }
    AVRO.encode("MessageReceived", 1, message)
    with pytest.raises(SerializationError):
        AVRO.encode("MessageReceived", 1, {**message, "content": "<Bericht/>"})
    with pytest.raises(SerializationError):
        AVRO.encode("MessageReceived", 1, {**message, "received_at": dt.datetime(2024, 1, 1)})


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: p[:-1],  # cut inside the last value
        lambda p: p[: HEADER_SIZE + 3],
        lambda p: p + b"\x00",  # trailing bytes
        lambda p: p[:HEADER_SIZE] + b"\x7f" + p[HEADER_SIZE + 1 :],  # a string longer than all
        lambda p: p[:HEADER_SIZE] + b"\x01" + p[HEADER_SIZE + 1 :],  # a negative length
    ],
)
def test_the_compiled_reader_refuses_broken_payloads(mangle: Any) -> None:
    payload = MAPPER.to_record(assignment(), timestamp_ms=0).payload
    with pytest.raises(SerializationError):
        AVRO.decode(mangle(payload), "AssignmentIssued", 1)


def test_a_bad_union_branch_is_refused() -> None:
    event = CareStarted(
        hub_message_id="m",
        gemeente="0599",
        aanbieder="1",
        bsn="999993653",
        begindatum=dt.date(2024, 1, 1),
        status_aanlevering="1",
    )
    payload = bytearray(MAPPER.to_record(event, timestamp_ms=0).payload)
    # hub_message_id "m", gemeente, aanbieder, bsn: then the union index of toewijzing_nummer
    union_at = HEADER_SIZE + (1 + 1) + (1 + 4) + (1 + 1) + (1 + 9)
    assert payload[union_at] == 0
    payload[union_at] = 4  # branch 2 of a two-branch union
    with pytest.raises(SerializationError, match="union"):
        AVRO.decode(bytes(payload), "CareStarted", 1)


def test_a_memoryview_payload_reads_like_bytes() -> None:
    record = MAPPER.to_record(assignment(), timestamp_ms=0)
    assert AVRO.decode(memoryview(record.payload), "AssignmentIssued", 1) == AVRO.decode(
        record.payload, "AssignmentIssued", 1
    )


def test_schemas_outside_the_compiled_set_keep_fastavro() -> None:
    [raw] = [s for s in load_schemas() if s["name"] == "CareStarted"]
    with_enum = {
        **raw,
        "fields": [*raw["fields"], {"name": "soort", "type": "double", "default": 0.5}],
    }
    schema = parse_event_schema(with_enum)
    assert schema.plan is None
    with pytest.raises(Unsupported):
        compile_schema(schema.parsed, b"")
    codec = AvroCodec([with_enum])
    data = {
        "hub_message_id": "m",
        "gemeente": "0599",
        "aanbieder": "1",
        "bsn": "999993653",
        "toewijzing_nummer": None,
        "product": None,
        "toewijzing_ingangsdatum": None,
        "begindatum": dt.date(2024, 1, 1),
        "status_aanlevering": "1",
        "soort": 1.5,
    }
    assert codec.decode(codec.encode("CareStarted", 1, data), "CareStarted", 1) == data
    assert codec.object_encoder("CareStarted", 1, list(data)) is None


def test_the_object_encoder_needs_the_schemas_exact_fields() -> None:
    names = [f["name"] for f in AVRO.schema("CareStarted", 1).parsed["fields"]]
    assert AVRO.object_encoder("CareStarted", 1, names) is not None
    assert AVRO.object_encoder("CareStarted", 1, names[:-1]) is None
    assert AVRO.object_encoder("CareStarted", 1, [*names, "extra"]) is None


def test_the_tuple_encoder_needs_the_schemas_exact_order_nested_records_included() -> None:
    layout = AVRO.schema("CareStarted", 1).plan.layout  # type: ignore[union-attr]
    assert layout == (
        "hub_message_id",
        "gemeente",
        "aanbieder",
        "bsn",
        "toewijzing_nummer",
        ("product", ("categorie", "code")),
        "toewijzing_ingangsdatum",
        "begindatum",
        "status_aanlevering",
    )
    encode = AVRO.tuple_encoder("CareStarted", 1, layout)
    assert encode is not None
    values = ("m", "0599", "1", "999993653", 7, ("01", None), None, dt.date(2024, 1, 1), "1")
    assert encode(values) == AVRO.encode(
        "CareStarted",
        1,
        dict(
            zip(
                MAPPER_NAMES["CareStarted"],
                [*values[:5], {"categorie": "01", "code": None}, *values[6:]],
                strict=True,
            )
        ),
    )
    swapped = (*layout[:5], ("product", ("code", "categorie")), *layout[6:])
    assert AVRO.tuple_encoder("CareStarted", 1, swapped) is None
    assert AVRO.tuple_encoder("CareStarted", 1, layout[:-1]) is None
    assert AVRO.tuple_encoder("CareStarted", 1, (*layout[:5], "product", *layout[6:])) is None
    with pytest.raises(SerializationError, match="CareStarted"):
        encode((*values[:4], "7", *values[5:]))  # a number as text


def test_the_values_encoder_writes_absent_optional_fields_as_their_defaults() -> None:
    encode = AVRO.values_encoder("AssignmentIssued", 1, list(MAPPER_NAMES["AssignmentIssued"]))
    assert encode is not None
    full = {
        "hub_message_id": "m",
        "gemeente": "0599",
        "aanbieder": "12345678",
        "bsn": "999993653",
        "toewijzing_nummer": 7,
        "referentie_aanbieder": None,
        "product": {"categorie": "01", "code": None},
        "toewijzingsdatum": dt.date(2025, 1, 2),
        "toewijzingstijd": dt.time(9, 30, 1, 2500),
        "ingangsdatum": dt.date(2025, 2, 1),
        "einddatum": None,
        "reden_wijziging": None,
        "omvang": None,
        "budget": None,
        "commentaar": None,
    }
    expected = AVRO.encode("AssignmentIssued", 1, full)
    minimal = {k: v for k, v in full.items() if v is not None}
    assert encode({**minimal, "product": {"categorie": "01"}}) == expected
    missing = {k: v for k, v in minimal.items() if k != "toewijzingsdatum"}
    with pytest.raises(SerializationError, match="toewijzingsdatum"):
        encode(missing)
    with pytest.raises(SerializationError):
        encode({**minimal, "budget": "12"})


def test_the_values_writer_knows_null_and_empty_array_defaults_only() -> None:
    [raw] = [s for s in load_schemas() if s["name"] == "CareStarted"]
    note = {"type": "record", "name": "Note", "fields": [{"name": "text", "type": "string"}]}
    with_notes = {
        **raw,
        "fields": [
            *raw["fields"],
            {"name": "notes", "type": {"type": "array", "items": note}, "default": []},
        ],
    }
    data = {
        "hub_message_id": "m",
        "gemeente": "0599",
        "aanbieder": "1",
        "bsn": "999993653",
        "begindatum": dt.date(2024, 1, 1),
        "status_aanlevering": "1",
    }
    codec = AvroCodec([with_notes])
    names = [f["name"] for f in with_notes["fields"]]
    encode = codec.values_encoder("CareStarted", 1, names)
    assert encode is not None
    full = {**data, "toewijzing_nummer": None, "product": None, "toewijzing_ingangsdatum": None}
    assert encode(data) == codec.encode("CareStarted", 1, {**full, "notes": []})
    notes = [{"text": "a"}, {"text": "b"}]
    assert encode({**data, "notes": notes}) == codec.encode(
        "CareStarted", 1, {**full, "notes": notes}
    )

    with_text_default = {
        **raw,
        "fields": [*raw["fields"], {"name": "soort", "type": "string", "default": "x"}],
    }
    schema = parse_event_schema(with_text_default)
    assert schema.plan is not None and schema.plan.write_values is None
    codec = AvroCodec([with_text_default])
    names = [f["name"] for f in with_text_default["fields"]]
    assert codec.object_encoder("CareStarted", 1, names) is not None
    assert codec.values_encoder("CareStarted", 1, names) is None
    assert codec.values_encoder("CareStarted", 1, names[:-1]) is None
