"""Avro single-object encoding for the hub's events (the `hub.events.PayloadCodec` port).

Each payload is the Avro spec's single-object encoding: the marker C3 01, the 8-byte
little-endian CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form, then the
Avro binary body. So every stored record names the exact schema that wrote it; a reader looks
that schema up by fingerprint and lets Avro schema resolution turn the data into the version
it knows (added fields with defaults, dropped fields). Schemas live in `schemas/events/*.avsc`,
each with an `iwmohub.version` attribute; every fastavro or decoding failure leaves this module
as `hub.errors.SerializationError`.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro
from fastavro.read import SchemaResolutionError
from fastavro.schema import SchemaParseException, fingerprint, to_parsing_canonical_form

from adapters.avro_plan import Plan, Unsupported, compile_schema
from hub.errors import SerializationError
from schemas import EVENTS as EVENT_SCHEMA_DIR

#: Single-object encoding marker (Avro spec, "Single-object encoding").
MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8
#: The custom schema attribute that carries the hub's version number of an event schema.
VERSION_ATTRIBUTE = "iwmohub.version"

# What fastavro raises on data that does not fit a schema, or bytes that are not Avro.
_FASTAVRO_ERRORS = (
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    IndexError,
    OverflowError,
    EOFError,
    UnicodeDecodeError,
    SchemaResolutionError,
)


def schema_fingerprint(parsed_schema: Any) -> bytes:
    """The 8-byte little-endian CRC-64-AVRO fingerprint of a schema's Parsing Canonical Form."""
    # fastavro returns the fingerprint as hex of its little-endian bytes, the order the spec
    # puts on the wire (tests check this against the Avro project's own test vector).
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed_schema), "CRC-64-AVRO"))


@dataclass(frozen=True)
class EventSchema:
    """One parsed event schema: which event type and version, its fingerprint, and (when the
    schema uses only what `adapters.avro_plan` compiles) its compiled writer and reader."""

    event_type: str
    version: int
    fingerprint: bytes
    parsed: Any = field(repr=False, compare=False)
    plan: Plan | None = field(default=None, repr=False, compare=False)


def load_schemas(directory: Path = EVENT_SCHEMA_DIR) -> list[dict[str, Any]]:
    """Every `*.avsc` in `directory` as JSON, sorted by file name."""
    found = sorted(directory.glob("*.avsc"))
    if not found:
        raise SerializationError(f"no Avro schemas (*.avsc) in {directory}")
    schemas = []
    for path in found:
        try:
            schemas.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as e:
            raise SerializationError(f"cannot read Avro schema {path.name}: {e}") from e
    return schemas


def parse_event_schema(raw: Mapping[str, Any]) -> EventSchema:
    """Parse one event schema (a record with an `iwmohub.version`)."""
    name = raw.get("name")
    version = raw.get(VERSION_ATTRIBUTE)
    if raw.get("type") != "record" or not isinstance(name, str):
        raise SerializationError(f"an event schema must be a named record, got {raw.get('type')!r}")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SerializationError(f"schema {name} needs an integer {VERSION_ATTRIBUTE} >= 1")
    try:
        parsed = fastavro.parse_schema(copy.deepcopy(dict(raw)))
    except (SchemaParseException, *_FASTAVRO_ERRORS) as e:
        raise SerializationError(f"invalid Avro schema {name} v{version}: {e}") from e
    fingerprint = schema_fingerprint(parsed)
    try:
        record = parsed if isinstance(parsed, dict) else {}  # a named record, checked above
        plan: Plan | None = compile_schema(record, MARKER + fingerprint)
    except Unsupported:
        plan = None  # fastavro's generic writer and reader handle it
    return EventSchema(name.rsplit(".", 1)[-1], version, fingerprint, parsed, plan)


class AvroCodec:
    """Encodes event dicts with a known schema version; decodes any known version into another.

    The registry holds every schema version the hub has ever written, so old records stay
    readable: pass them all (the default is everything in `schemas/events/`).
    """

    def __init__(self, schemas: Iterable[Mapping[str, Any]] | None = None) -> None:
        self._by_fingerprint: dict[bytes, EventSchema] = {}
        self._by_version: dict[tuple[str, int], EventSchema] = {}
        for raw in load_schemas() if schemas is None else schemas:
            self.register(parse_event_schema(raw))

    def register(self, schema: EventSchema) -> None:
        key = (schema.event_type, schema.version)
        known = self._by_version.get(key)
        if known is not None and known.fingerprint != schema.fingerprint:
            raise SerializationError(f"two different schemas for {key[0]} v{key[1]}")
        self._by_version[key] = schema
        self._by_fingerprint[schema.fingerprint] = schema

    def schema(self, event_type: str, version: int) -> EventSchema:
        try:
            return self._by_version[(event_type, version)]
        except KeyError:
            raise SerializationError(f"no Avro schema for {event_type} v{version}") from None

    def versions(self, event_type: str) -> list[int]:
        return sorted(v for t, v in self._by_version if t == event_type)

    def writer_schema(self, payload: bytes) -> EventSchema:
        """The schema that wrote `payload`, from the fingerprint in its header."""
        if len(payload) < HEADER_SIZE or payload[:2] != MARKER:
            raise SerializationError("not Avro single-object encoded (no C3 01 marker)")
        try:
            return self._by_fingerprint[payload[2:HEADER_SIZE]]
        except KeyError:
            fingerprint = payload[2:HEADER_SIZE].hex()
            raise SerializationError(
                f"payload written with an unknown schema (fingerprint {fingerprint})"
            ) from None

    def encode(self, event_type: str, version: int, data: Mapping[str, Any]) -> bytes:
        schema = self._by_version.get((event_type, version)) or self.schema(event_type, version)
        if schema.plan is not None:
            try:
                return schema.plan.write(data)
            except _FASTAVRO_ERRORS as e:
                raise SerializationError(f"cannot encode {event_type} v{version}: {e}") from e
        out = io.BytesIO()
        out.write(MARKER + schema.fingerprint)
        try:
            # strict: an unknown or missing field is a bug in the mapping, not data to drop.
            fastavro.schemaless_writer(out, schema.parsed, dict(data), strict=True)
        except _FASTAVRO_ERRORS as e:
            raise SerializationError(f"cannot encode {event_type} v{version}: {e}") from e
        return out.getvalue()

    def object_encoder(
        self, event_type: str, version: int, fields: Sequence[str]
    ) -> Callable[[object], bytes] | None:
        """Encodes objects whose attributes `fields` are exactly the schema's fields (nested
        records likewise) without building a dict first; None when the schema has other
        fields or no compiled plan (then `encode` with a dict is the way)."""
        plan = self._plan_for(event_type, version, fields)
        return None if plan is None else self._guarded(plan.write_object, event_type, version)

    def values_encoder(
        self, event_type: str, version: int, fields: Sequence[str]
    ) -> Callable[[Mapping[str, Any]], bytes] | None:
        """Encodes a mapping of field values in which optional fields (schema default null or
        []) may be absent and other keys are ignored, as the schema's record with those
        defaults; a missing required field is a SerializationError. None under the same
        conditions as `object_encoder`, or when a field has another default."""
        plan = self._plan_for(event_type, version, fields)
        if plan is None or plan.write_values is None:
            return None
        return self._guarded(plan.write_values, event_type, version)

    def tuple_encoder(
        self, event_type: str, version: int, layout: Sequence[Any]
    ) -> Callable[[tuple[Any, ...]], bytes] | None:
        """Encodes a tuple of the field values in `layout` order (field names, a record as
        (name, its layout), as `avro_plan.Plan.layout` gives them); None when the schema's
        fields are not in exactly that order, nested records included, or it has no plan."""
        plan = self.schema(event_type, version).plan
        if plan is None or plan.write_tuple is None or plan.layout != tuple(layout):
            return None
        return self._guarded(plan.write_tuple, event_type, version)

    def _plan_for(self, event_type: str, version: int, fields: Sequence[str]) -> Plan | None:
        schema = self.schema(event_type, version)
        plan = schema.plan
        if plan is None or [f["name"] for f in schema.parsed["fields"]] != list(fields):
            return None
        return plan

    @staticmethod
    def _guarded(
        write: Callable[[Any], bytes], event_type: str, version: int
    ) -> Callable[[Any], bytes]:
        def encode(value: Any) -> bytes:
            try:
                return write(value)
            except _FASTAVRO_ERRORS as e:
                raise SerializationError(f"cannot encode {event_type} v{version}: {e}") from e

        return encode

    def decode(self, payload: bytes, event_type: str, version: int) -> dict[str, Any]:
        if type(payload) is not bytes:
            payload = bytes(payload)  # a bytearray or memoryview from a store
        writer = self.writer_schema(payload)
        if writer.event_type != event_type:
            raise SerializationError(
                f"payload holds {writer.event_type} v{writer.version}, expected {event_type}"
            )
        reader = self.schema(event_type, version)
        if reader is writer and reader.plan is not None:
            # Written with the very schema this code reads: no resolution, the compiled reader.
            try:
                found = reader.plan.read(payload, HEADER_SIZE)
            except _FASTAVRO_ERRORS as e:
                raise SerializationError(f"cannot decode {event_type} v{version}: {e}") from e
            return found
        body = io.BytesIO(payload[HEADER_SIZE:])
        try:
            data = fastavro.schemaless_reader(body, writer.parsed, reader.parsed)
        except _FASTAVRO_ERRORS as e:
            raise SerializationError(
                f"cannot decode {event_type} v{writer.version} as v{version}: {e}"
            ) from e
        if body.tell() != len(payload) - HEADER_SIZE:
            raise SerializationError(f"{event_type} payload has trailing bytes")
        if not isinstance(data, dict):
            raise SerializationError(f"{event_type} payload is not a record")
        return data
