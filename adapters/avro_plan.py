"""Avro binary bodies compiled once per event schema into straight-line Python functions.

fastavro's generic `schemaless_writer`/`schemaless_reader` walk the schema for every record:
about 75 us to write and 45 us to read one AssignmentIssued here, most of an ingest's CPU
after validation. The event schemas are small and fixed, so each is turned into one function
that writes (or reads) exactly its fields in order: about 5 us either way. Each record is
written from a dict with exactly its fields, from an object's attributes, from a mapping of
field values in which fields with a null (or empty array) default may be absent, or from a
tuple of the values in the schema's order (`Plan.layout`): ingest writes product lines the
last way, straight from the values the XML codec's `part_reader` read. Only what the
event schemas use is compiled (null, string, bytes, int, long, date, time-millis,
timestamp-millis, records, arrays of records, ["null", X] unions); a schema with anything else
raises `Unsupported` and the codec keeps fastavro for it. Bytes are the same as fastavro's
(tests compare both on generated events), and so are the values read back.

The generated source names values by position (`v0`, `v1`) and fields only as string literals
(`repr`), so nothing from a schema file ends up as code.
"""

from __future__ import annotations

import datetime as dt
import keyword
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_ORDINAL: Final = dt.date(1970, 1, 1).toordinal()
_MS: Final = dt.timedelta(milliseconds=1)
_INT32: Final = (-(2**31), 2**31 - 1)
_INT64: Final = (-(2**63), 2**63 - 1)
#: The one-byte varints, by value (every string shorter than 64 bytes has its length here).
_SMALL: Final = tuple(bytes((n,)) for n in range(128))

Writer = Callable[[Mapping[str, Any]], bytes]
Reader = Callable[[bytes, int], dict[str, Any]]
ObjectWriter = Callable[[object], bytes]


class Unsupported(Exception):
    """The schema uses a type this compiler does not handle; use the generic path."""


_LARGER: dict[int, bytes] = {}  # varints of two or more bytes already made, by value
_LARGER_MAX: Final = 1 << 16


def _varint(n: int) -> bytes:
    """An unsigned (already zigzagged) varint of two or more bytes (dates, timestamps)."""
    found = _LARGER.get(n)
    if found is None:
        out = bytearray()
        rest = n
        while rest >= 0x80:
            out.append((rest & 0x7F) | 0x80)
            rest >>= 7
        out.append(rest)
        found = bytes(out)
        if len(_LARGER) < _LARGER_MAX:
            _LARGER[n] = found  # dates repeat a lot; the cap keeps memory bounded
    return found


def _read_varint(buf: bytes, p: int, first: int) -> tuple[int, int]:
    """The rest of a varint whose first byte `first` (at p - 1) had its high bit set."""
    n, shift = first & 0x7F, 7
    while True:
        b = buf[p]
        p += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, p
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _bad_int(value: object, bits: int) -> None:
    if type(value) is not int:
        raise TypeError(f"expected an int, got {type(value).__name__}")
    raise ValueError(f"{value} does not fit a {bits}-bit Avro integer")


def _bad_keys(data: Mapping[str, Any], expected: frozenset[str], record: str) -> None:
    extra, missing = sorted(set(data) - expected), sorted(expected - set(data))
    raise ValueError(f"{record}: unknown field(s) {extra}, missing field(s) {missing}")


def _bad_bytes(value: object) -> None:
    raise TypeError(f"expected bytes, got {type(value).__name__}")


def _bad_union(index: int) -> None:
    raise ValueError(f"union branch {index} does not exist (only null and one type)")


def _short() -> None:
    raise EOFError("payload ends inside a value")


def _time_of(millis: int) -> dt.time:
    return dt.time(
        millis // 3_600_000, millis // 60_000 % 60, millis // 1000 % 60, millis % 1000 * 1000
    )


_HELPERS: Final[dict[str, Any]] = {
    "_V": _SMALL,
    "_uv": _varint,
    "_L": _LARGER,
    "_rv": _read_varint,
    "_bad_int": _bad_int,
    "_bad_keys": _bad_keys,
    "_bad_bytes": _bad_bytes,
    "_bad_union": _bad_union,
    "_short": _short,
    "_time_of": _time_of,
    "_EPOCH": _EPOCH,
    "_EPOCH_ORDINAL": _EPOCH_ORDINAL,
    "_MS": _MS,
    "_date": dt.date.fromordinal,
    "_bytes_types": (bytes, bytearray),
}
_NO_DEFAULT: Final = object()
_LOGICAL: Final = {("int", "date"), ("int", "time-millis"), ("long", "timestamp-millis")}


class _Compiler:
    """Generates one writer and one reader function per record type of a schema."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.named: dict[str, Any] = dict(schema.get("__named_schemas") or {})
        self.functions: dict[str, int] = {}  # record full name -> function number
        self.source: list[str] = []
        self.constants: dict[str, Any] = {}
        self.counter = 0
        #: False when a field default other than null or [] rules out the `_f` writers.
        self.values_supported = True

    def resolve(self, schema: Any) -> Any:
        if isinstance(schema, str) and schema in self.named:
            return self.named[schema]
        return schema

    def kind(self, schema: Any) -> str:
        """The compiled kind of a (non-union) schema: a primitive, logical type or record."""
        schema = self.resolve(schema)
        if isinstance(schema, str):
            if schema in ("null", "string", "bytes", "int", "long"):
                return schema
            raise Unsupported(f"type {schema!r}")
        if isinstance(schema, dict):
            base, logical = schema.get("type"), schema.get("logicalType")
            if logical is not None:
                if (base, logical) in _LOGICAL:
                    return str(logical)
                raise Unsupported(f"logical type {logical!r} on {base!r}")
            if base == "record":
                return "record"
            if base == "array" and self.kind(schema["items"]) == "record":
                return "array"
            if base in ("string", "bytes", "int", "long"):
                return str(base)
        raise Unsupported(f"type {schema!r}")

    def record_function(self, schema: Mapping[str, Any]) -> int:
        name = schema["name"]
        if name not in self.functions:
            self.functions[name] = number = len(self.functions)
            self.write_record(number, schema)
            self.write_object(number, schema)
            self.write_values(number, schema)
            self.write_tuple(number, schema)
            self.read_record(number, schema)
        return self.functions[name]

    # -- writing --------------------------------------------------------------------------

    def write_function(
        self,
        name: str,
        schema: Mapping[str, Any],
        fetch: Callable[[int, Mapping[str, Any]], str],
        head: tuple[str, ...] = (),
    ) -> None:
        """`<name>(d, a)`: writes the record's fields in order, each field's value taken from
        `d` by the expression `fetch(index, field)` gives; nested records by the function of
        the same form (`name`'s prefix) for their own record."""
        prefix = name.rstrip("0123456789")
        lines = [f"def {name}(d, a):", *head]
        for index, f in enumerate(schema["fields"]):
            lines.append(f"    v = {fetch(index, f)}")
            lines += self.write_value(f["type"], "    ", prefix)
        self.source += [*lines, ""]

    def write_record(self, number: int, schema: Mapping[str, Any]) -> None:
        """`_w<n>`: from a dict with exactly the record's fields."""
        keys = f"_K{number}"
        self.constants[keys] = frozenset(f["name"] for f in schema["fields"])
        check = f"    if d.keys() != {keys}: _bad_keys(d, {keys}, {schema['name']!r})"
        self.write_function(f"_w{number}", schema, lambda _, f: f"d[{f['name']!r}]", (check,))

    def write_object(self, number: int, schema: Mapping[str, Any]) -> None:
        """`_o<n>`: the same bytes as `_w<n>`, reading fields as attributes of an object."""
        for f in schema["fields"]:
            name = f["name"]
            if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
                raise Unsupported(f"field name {name!r} is not a plain attribute name")
        self.write_function(f"_o{number}", schema, lambda _, f: f"d.{f['name']}")

    def write_values(self, number: int, schema: Mapping[str, Any]) -> None:
        """`_f<n>`: the same bytes as `_w<n>`, from a mapping where a field whose schema default
        is null or an empty array may be absent (it is written as that default) and keys that
        are not fields are ignored; a missing field without such a default is a KeyError."""

        def fetch(_: int, f: Mapping[str, Any]) -> str:
            name, default = f["name"], f.get("default", _NO_DEFAULT)
            if default is None:
                return f"d.get({name!r})"
            if default == [] and self.kind_of_field(f["type"]) == "array":
                return f"d.get({name!r}, ())"
            if default is not _NO_DEFAULT:
                self.values_supported = False  # another default: no `_f` form for this schema
            return f"d[{name!r}]"

        self.write_function(f"_f{number}", schema, fetch)

    def write_tuple(self, number: int, schema: Mapping[str, Any]) -> None:
        """`_t<n>`: the same bytes as `_w<n>`, from a tuple of the field values in the
        schema's order (nested records likewise as tuples, see `layout`)."""
        self.write_function(f"_t{number}", schema, lambda index, _: f"d[{index}]")

    def layout(self, schema: Mapping[str, Any]) -> tuple[Any, ...]:
        """The order `_t<n>` reads values in: field names, a record field as (name, its
        layout), an array of records as (name, [its items' layout])."""
        found: list[Any] = []
        for f in schema["fields"]:
            kind = self.kind_of_field(f["type"])
            inner = self.resolve(f["type"])
            if kind == "union":
                inner = self.resolve(inner[1])
                kind = self.kind(inner)
            if kind == "record":
                found.append((f["name"], self.layout(inner)))
            elif kind == "array":
                found.append((f["name"], [self.layout(self.resolve(inner["items"]))]))
            else:
                found.append(f["name"])
        return tuple(found)

    def kind_of_field(self, schema: Any) -> str:
        """The kind of a field's (non-union) type, or "union"."""
        schema = self.resolve(schema)
        return "union" if isinstance(schema, list) else self.kind(schema)

    def write_value(self, schema: Any, indent: str, prefix: str = "_w") -> list[str]:
        schema = self.resolve(schema)
        if isinstance(schema, list):
            branches = [self.resolve(s) for s in schema]
            if len(branches) != 2 or branches[0] != "null" or branches[1] == "null":
                raise Unsupported(f"union {schema!r} (only ['null', X] is compiled)")
            inner = self.write_value(branches[1], indent + "    ", prefix)
            return [
                f"{indent}if v is None: a(b'\\x00')",
                f"{indent}else:",
                f"{indent}    a(b'\\x02')",
                *inner,
            ]
        kind = self.kind(schema)
        if kind == "null":
            return [f"{indent}if v is not None: raise TypeError('expected None')"]
        if kind == "string":
            return [
                f"{indent}b = v.encode()",
                f"{indent}n = len(b) << 1",
                f"{indent}a(_V[n] if n < 128 else _uv(n)); a(b)",
            ]
        if kind == "bytes":
            return [
                f"{indent}if not isinstance(v, _bytes_types): _bad_bytes(v)",
                f"{indent}n = len(v) << 1",
                f"{indent}a(_V[n] if n < 128 else _uv(n)); a(bytes(v))",
            ]
        if kind in ("int", "long"):
            bits, (low, high) = (32, _INT32) if kind == "int" else (64, _INT64)
            return [
                f"{indent}if type(v) is not int or not {low} <= v <= {high}: _bad_int(v, {bits})",
                *self.write_long("v", bits, indent),
            ]
        if kind == "date":
            return [
                f"{indent}i = v.toordinal() - _EPOCH_ORDINAL",
                *self.write_long("i", 32, indent),
            ]
        if kind == "time-millis":
            return [
                f"{indent}i = v.hour * 3600000 + v.minute * 60000 + v.second * 1000"
                " + v.microsecond // 1000",
                *self.write_long("i", 32, indent),
            ]
        if kind == "timestamp-millis":
            return [f"{indent}i = (v - _EPOCH) // _MS", *self.write_long("i", 64, indent)]
        if kind == "record":
            return [f"{indent}{prefix}{self.record_function(schema)}(v, a)"]
        # array of records: one block with every item, then the empty block that ends it
        item = self.record_function(self.resolve(schema["items"]))
        return [
            f"{indent}if v:",
            f"{indent}    n = len(v) << 1",
            f"{indent}    a(_V[n] if n < 128 else _uv(n))",
            f"{indent}    for x in v: {prefix}{item}(x, a)",
            f"{indent}a(b'\\x00')",
        ]

    @staticmethod
    def write_long(name: str, bits: int, indent: str) -> list[str]:
        return [
            f"{indent}n = ({name} << 1) ^ ({name} >> {bits - 1})",
            # Numbers (dates above all) repeat: look the longer ones up before encoding them.
            f"{indent}a(_V[n] if n < 128 else _L.get(n) or _uv(n))",
        ]

    # -- reading --------------------------------------------------------------------------

    def read_record(self, number: int, schema: Mapping[str, Any]) -> None:
        lines = [f"def _r{number}(buf, p, end):"]
        names = []
        for index, f in enumerate(schema["fields"]):
            lines += self.read_value(f["type"], f"v{index}", "    ")
            names.append(f"{f['name']!r}: v{index}")
        lines.append(f"    return {{{', '.join(names)}}}, p")
        self.source += [*lines, ""]

    @staticmethod
    def read_long(target: str, indent: str) -> list[str]:
        return [
            f"{indent}n = buf[p]; p += 1",
            f"{indent}if n > 127: n, p = _rv(buf, p, n)",
            f"{indent}{target} = (n >> 1) ^ -(n & 1)",
        ]

    def read_value(self, schema: Any, target: str, indent: str) -> list[str]:
        schema = self.resolve(schema)
        if isinstance(schema, list):
            branches = [self.resolve(s) for s in schema]
            if len(branches) != 2 or branches[0] != "null" or branches[1] == "null":
                raise Unsupported(f"union {schema!r} (only ['null', X] is compiled)")
            return [
                f"{indent}n = buf[p]; p += 1",
                f"{indent}if n == 0: {target} = None",
                f"{indent}elif n == 2:",
                *self.read_value(branches[1], target, indent + "    "),
                f"{indent}else: _bad_union(n)",
            ]
        kind = self.kind(schema)
        if kind == "null":
            return [f"{indent}{target} = None"]
        if kind in ("string", "bytes"):
            take = "buf[p:e].decode()" if kind == "string" else "bytes(buf[p:e])"
            return [
                *self.read_long("n", indent),
                f"{indent}e = p + n",
                f"{indent}if n < 0 or e > end: _short()",
                f"{indent}{target} = {take}; p = e",
            ]
        if kind in ("int", "long"):
            return self.read_long(target, indent)
        if kind == "date":
            return [*self.read_long("i", indent), f"{indent}{target} = _date(i + _EPOCH_ORDINAL)"]
        if kind == "time-millis":
            return [*self.read_long("i", indent), f"{indent}{target} = _time_of(i)"]
        if kind == "timestamp-millis":
            return [*self.read_long("i", indent), f"{indent}{target} = _EPOCH + i * _MS"]
        if kind == "record":
            return [f"{indent}{target}, p = _r{self.record_function(schema)}(buf, p, end)"]
        item = self.record_function(self.resolve(schema["items"]))
        return [
            f"{indent}{target} = []",
            f"{indent}while True:",
            *self.read_long("c", indent + "    "),
            f"{indent}    if c == 0: break",
            f"{indent}    if c < 0:",  # a negative count is followed by the block's size
            f"{indent}        c = -c",
            *self.read_long("_", indent + "        "),
            f"{indent}    for _ in range(c):",
            f"{indent}        x, p = _r{item}(buf, p, end)",
            f"{indent}        {target}.append(x)",
        ]


@dataclass(frozen=True)
class Plan:
    """The compiled functions of one record schema."""

    #: dict (nested records as dicts) -> header + Avro body; exactly the schema's fields.
    write: Writer
    #: an object whose attributes are the fields (nested records likewise) -> the same bytes
    write_object: ObjectWriter
    #: (payload, offset of the body) -> dict, nested records as dicts
    read: Reader
    #: a mapping of field values (nested records likewise) where fields whose default is
    #: null or [] may be absent and other keys are ignored -> the same bytes; None when a
    #: field has another default
    write_values: Writer | None = None
    #: a tuple of the field values in `layout` order (nested records likewise) -> the same
    #: bytes
    write_tuple: Callable[[tuple[Any, ...]], bytes] | None = None
    #: the field names in the schema's order, a record as (name, its layout), an array of
    #: records as (name, [its items' layout])
    layout: tuple[Any, ...] = ()


def compile_schema(schema: Mapping[str, Any], header: bytes) -> Plan:
    """The compiled writers and reader of a record schema as `fastavro.parse_schema` returns
    it; `Unsupported` if the schema uses a type outside the compiled set."""
    compiler = _Compiler(schema)
    if schema.get("type") != "record":
        raise Unsupported("only records are compiled")
    top = compiler.record_function(schema)
    source = "\n".join(
        [
            *compiler.source,
            "def encode(d):",
            "    parts = [HEADER]",
            f"    _w{top}(d, parts.append)",
            "    return b''.join(parts)",
            "",
            "def encode_object(o):",
            "    parts = [HEADER]",
            f"    _o{top}(o, parts.append)",
            "    return b''.join(parts)",
            "",
            "def encode_values(d):",
            "    parts = [HEADER]",
            f"    _f{top}(d, parts.append)",
            "    return b''.join(parts)",
            "",
            "def encode_tuple(d):",
            "    parts = [HEADER]",
            f"    _t{top}(d, parts.append)",
            "    return b''.join(parts)",
            "",
            "def decode(buf, p):",
            "    end = len(buf)",
            f"    d, p = _r{top}(buf, p, end)",
            "    if p != end: raise ValueError('trailing bytes after the record')",
            "    return d",
        ]
    )
    namespace: dict[str, Any] = {**_HELPERS, **compiler.constants, "HEADER": bytes(header)}
    exec(compile(source, f"<avro plan {schema['name']}>", "exec"), namespace)
    return Plan(
        namespace["encode"],
        namespace["encode_object"],
        namespace["decode"],
        namespace["encode_values"] if compiler.values_supported else None,
        namespace["encode_tuple"],
        compiler.layout(schema),
    )
