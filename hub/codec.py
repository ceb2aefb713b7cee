"""XML <-> model for the iWmo 3.2 messages: `parse_message`, `from_bytes` and `to_xml`.

The mapping is derived once from the model's dataclasses: a field's element is
`element_name(field)`, its namespace is the basisschema's for `Basis` types (CDT_*) and the
message's own otherwise, and a tuple field is a wrapper element with repeated children. Parsing
walks direct children with a dict lookup per element (no XPath) because it is on the ingest hot
path; it trusts XSD validity for order but never crashes on a surprise: anything the model
cannot hold raises `InvalidMessage`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import types
import typing
from collections.abc import Callable
from typing import Any

from lxml import etree

from hub.errors import InvalidMessage, UnknownMessageType
from hub.locate import element_path
from hub.masking import mask_text
from hub.messagetypes import BASIS_NS, MessageType
from hub.model import MESSAGE_CLASSES, Basis, Message, element_name
from hub.xmlsafe import parse_bytes

__all__ = [
    "NotPlain",
    "from_bytes",
    "parse_message",
    "parse_part",
    "part_layout",
    "part_reader",
    "to_element",
    "to_xml",
]

_TEXT, _INT, _DATE, _TIME, _NESTED, _LIST, _CODES = range(7)
_SCALARS: dict[Any, int] = {str: _TEXT, int: _INT, dt.date: _DATE, dt.time: _TIME}
# ASCII digits only: Python's \d and int() also accept other scripts' digits, XSD does not.
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_RE = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?")
_INT_RE = re.compile(r"[+-]?[0-9]+")
_TIME8_RE = re.compile(r"[0-9]{2}:[0-5][0-9]:[0-5][0-9]")
_REQUIRED = object()  # marks a field without a default in `_TypeCodec.setters`
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    """One child element of a type: where it goes in the model and how to read it."""

    name: str
    tag: str
    kind: int
    codec: _TypeCodec | None
    item_tag: str | None
    retour: bool


class _TypeCodec:
    """How one model class maps to the children of its element, for one message type."""

    __slots__ = (
        "cls",
        "fields",
        "local",
        "lookup",
        "required",
        "required_set",
        "setters",
        "skipped_retour",
    )

    def __init__(self, cls: type, message_type: MessageType) -> None:
        self.cls = cls
        self.local = cls.__name__
        self.fields: tuple[_Field, ...] = ()
        # tag -> (field name, kind, nested codec, item tag): a plain tuple is fastest to unpack.
        self.lookup: dict[object, tuple[str, int, Any, str]] = {}
        self.required: tuple[str, ...] = ()
        self.required_set: frozenset[str] = frozenset()  # the same, for one subset test
        # (slot setter, field name, default or _REQUIRED) for every field, in order.
        self.setters: tuple[tuple[Callable[[Any, Any], None], str, Any], ...] = ()
        # Retour-only fields (RetourCodes) that this heen message type cannot carry.
        self.skipped_retour: tuple[str, ...] = ()


_CODECS: dict[tuple[type, MessageType], _TypeCodec] = {}
_new = object.__new__


def _codec(cls: type, message_type: MessageType) -> _TypeCodec:
    """The (cached) codec of a model class within one message type."""
    key = (cls, message_type)
    found = _CODECS.get(key)
    if found is not None:
        return found
    codec = _TypeCodec(cls, message_type)
    _CODECS[key] = codec  # registered first: the model has no cycles, but be safe anyway
    # Only ever called at import time (below), so no thread sees a codec half built.
    namespace = BASIS_NS if issubclass(cls, Basis) else message_type.namespace
    hints = typing.get_type_hints(cls)
    built: list[_Field] = []
    required: list[str] = []
    skipped: list[str] = []
    for f in dataclasses.fields(cls):
        retour = bool(f.metadata.get("retour"))
        if retour and not message_type.is_retour:
            skipped.append(f.name)
            continue
        kind, target = _kind_of(hints[f.name])
        sub = _codec(target, message_type) if kind in (_NESTED, _LIST) else None
        item = f.metadata.get("item")
        tag = f"{{{namespace}}}{element_name(f.name)}"
        item_tag = f"{{{message_type.namespace}}}{item}" if item else None
        built.append(_Field(f.name, tag, kind, sub, item_tag, retour))
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    codec.fields = tuple(built)
    codec.lookup = {f.tag: (f.name, f.kind, f.codec, f.item_tag or "") for f in built}
    codec.required = tuple(required)
    codec.required_set = frozenset(required)
    codec.setters = tuple(
        (
            getattr(cls, f.name).__set__,  # the slot's own descriptor: no frozen __setattr__
            f.name,
            _REQUIRED if f.name in required else _default(f),
        )
        for f in dataclasses.fields(cls)
    )
    codec.skipped_retour = tuple(skipped)
    return codec


def _default(f: dataclasses.Field[Any]) -> Any:
    """The default value of a field (the model has no mutable defaults, so one is shared)."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _kind_of(hint: Any) -> tuple[int, Any]:
    """Classify a field's type hint: scalar, nested class, wrapper of classes or of codes."""
    if isinstance(hint, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union in the model: {hint}")
        hint = args[0]
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        return (_CODES, None) if item is str else (_LIST, item)
    if hint in _SCALARS:
        return _SCALARS[hint], None
    if dataclasses.is_dataclass(hint):
        return _NESTED, hint
    raise TypeError(f"unsupported type in the model: {hint}")


# Every model class is reachable from a message class: build all codecs now, once.
for _message_type, _cls in MESSAGE_CLASSES.items():
    _codec(_cls, _message_type)


# --- parsing -------------------------------------------------------------------------------


def from_bytes(data: bytes) -> Message:
    """Parse untrusted bytes safely (hub.xmlsafe) into a message object."""
    return parse_message(parse_bytes(data))


def parse_message(root: etree._Element) -> Message:
    """The message object of an XSD-valid document root; `InvalidMessage` on any surprise."""
    tag = root.tag
    if isinstance(tag, str) and tag[:1] == "{":
        namespace, _, local = tag[1:].partition("}")
    else:
        namespace, local = "", str(tag)
    message_type = MessageType.from_namespace(namespace) if namespace else None
    if message_type is None or local != "Bericht":
        raise UnknownMessageType(
            f"root element {local or tag!r} in {namespace or 'no namespace'} is not an iWmo 3.2 "
            f"message this hub handles ({', '.join(mt.name for mt in MessageType)})",
            line=_line(root),
        )
    message: Message = _parse(root, _CODECS[MESSAGE_CLASSES[message_type], message_type])
    return message


def parse_part(element: etree._Element, cls: type, message_type: MessageType) -> dict[str, Any]:
    """One part of a message (e.g. a ToegewezenProduct element) as a dict of its model fields
    (`cls` within `message_type`; nested parts as dicts, absent optional fields left out), for
    callers that hold the parsed tree and need only some parts of it, such as ingest after
    validation. `InvalidMessage` on anything the model cannot hold, as for whole messages."""
    try:
        codec = _CODECS[(cls, message_type)]
    except KeyError:
        raise TypeError(f"{cls.__name__} is not part of a {message_type.name} message") from None
    return _as_dict(element, codec)


def _parse(element: etree._Element, codec: _TypeCodec) -> Any:
    values = _fields(element, codec, _parse)
    # Build the frozen object through its slot descriptors: the same result as calling the
    # dataclass (every field set, defaults filled), in about half the time.
    obj: Any = _new(codec.cls)
    get = values.get
    for setter, name, default in codec.setters:
        value = get(name, default)
        if value is _REQUIRED:
            raise _missing(element, codec, values)
        setter(obj, value)
    return obj


def _as_dict(element: etree._Element, codec: _TypeCodec) -> dict[str, Any]:
    values = _fields(element, codec, _as_dict)
    if not codec.required_set <= values.keys():
        raise _missing(element, codec, values)
    return values


def _missing(element: etree._Element, codec: _TypeCodec, values: dict[str, Any]) -> InvalidMessage:
    missing = ", ".join(element_name(n) for n in codec.required if n not in values)
    return _error(element, f"{codec.local} lacks required element(s) {missing}")


def _fields(
    element: etree._Element, codec: _TypeCodec, nested: Callable[[etree._Element, Any], Any]
) -> dict[str, Any]:
    """The values of `element`'s children by field name; `nested` reads a nested part."""
    # Written for speed (ingest hot path): tuple lookups, kinds tested by frequency, no XPath.
    # Each converter reads the form a valid document has first, and anything else (spaces,
    # comments, 24:00:00, signs) the careful way.
    lookup = codec.lookup
    values: dict[str, Any] = {}
    seen = 0
    for child in element:
        try:
            name, kind, sub, item_tag = lookup[child.tag]
        except KeyError:
            if type(child.tag) is not str:  # comments and processing instructions carry no data
                continue
            raise _error(child, f"unexpected element in {codec.local}") from None
        seen += 1
        if kind == _TEXT:
            text = child.text
            values[name] = (text or "") if not len(child) else _joined_text(child)
        elif kind == _NESTED:
            values[name] = nested(child, sub)
        elif kind == _DATE:
            text = child.text
            # YYYY-MM-DD: fromisoformat refuses anything else of that shape (other digits
            # than ASCII ones too); its other ten-character form has a W where a dash is.
            if text is None or len(text) != 10 or text[4] != "-" or text[7] != "-" or len(child):
                values[name] = _date(child)
            else:
                try:
                    values[name] = dt.date.fromisoformat(text)
                except ValueError:
                    values[name] = _date(child)
        elif kind == _INT:
            values[name] = _int(child)
        elif kind == _LIST:
            values[name] = tuple([nested(item, sub) for item in _items(child, item_tag, name)])
        elif kind == _TIME:
            values[name] = _time(child)
        else:
            values[name] = tuple(
                [
                    (item.text or "") if not len(item) else _joined_text(item)
                    for item in _items(child, item_tag, name)
                ]
            )
    if seen != len(values):
        raise _duplicate(element, codec)
    return values


def _duplicate(element: etree._Element, codec: _TypeCodec) -> InvalidMessage:
    seen: set[str] = set()
    for child in element:
        entry = codec.lookup.get(child.tag)
        if entry is not None:
            if entry[0] in seen:
                return _error(child, f"element occurs more than once in {codec.local}")
            seen.add(entry[0])
    return _error(element, f"an element occurs more than once in {codec.local}")


def _items(wrapper: etree._Element, item_tag: str, name: str) -> list[etree._Element]:
    items = [c for c in wrapper if type(c.tag) is str]
    for item in items:
        if item.tag != item_tag:
            raise _error(item, f"unexpected element in {element_name(name)}")
    if not items:
        raise _error(wrapper, f"{element_name(name)} has no {item_tag.rpartition('}')[2]}")
    return items


def _joined_text(element: etree._Element) -> str:
    """Text of a simple-content element split by comments or processing instructions."""
    return (element.text or "") + "".join(c.tail or "" for c in element)


def _stripped(element: etree._Element) -> str:
    text = element.text if not len(element) else _joined_text(element)
    return (text or "").strip()  # numbers and dates collapse whitespace in XSD


def _int(element: etree._Element) -> int:
    text = element.text
    if text is not None and text.isascii() and text.isdigit() and not len(element):
        return int(text)
    text = _stripped(element)
    if not _INT_RE.fullmatch(text):
        raise _error(element, f"{text!r} is not an integer")
    return int(text)


def _date(element: etree._Element) -> dt.date:
    text = _stripped(element)
    if len(text) == 10 and _DATE_RE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise _error(element, f"{text!r} is not a date (YYYY-MM-DD, no time zone)")


def _time(element: etree._Element) -> dt.time:
    text = element.text
    if text and len(text) == 8 and text < "24" and not len(element) and _TIME8_RE.fullmatch(text):
        return dt.time(int(text[:2]), int(text[3:5]), int(text[6:]))
    text = _stripped(element)
    match = _TIME_RE.fullmatch(text)
    if match:
        hour, minute, second = int(match[1]), int(match[2]), int(match[3])
        micro = int((match[4] or "0")[:6].ljust(6, "0"))
        if hour == 24 and minute == second == micro == 0:
            return dt.time(0, 0, 0)  # xs:time allows 24:00:00, the same instant as 00:00:00
        try:
            return dt.time(hour, minute, second, micro)
        except ValueError:
            pass
    raise _error(element, f"{text!r} is not a time (hh:mm:ss, no time zone)")


def _line(element: etree._Element) -> int | None:
    line = element.sourceline
    return line if isinstance(line, int) else None


def _error(element: etree._Element, message: str) -> InvalidMessage:
    local = etree.QName(element).localname if isinstance(element.tag, str) else "?"
    error = InvalidMessage(mask_text(f"{local}: {message}"), line=_line(element))
    error.path = element_path(element)
    return error


# --- plain parts as tuples (the ingest hot path) ------------------------------------------


class NotPlain(Exception):
    """`part_reader` met something other than a part's plain form; `parse_part` decides."""


#: A part's fields by name in model order, a nested part as (name, its layout).
Layout = tuple[Any, ...]
PartReader = Callable[[etree._Element], tuple[Any, ...]]
_READERS: dict[tuple[type, MessageType], PartReader | None] = {}


def part_layout(cls: type, message_type: MessageType) -> Layout:
    """The order of the values `part_reader(cls, message_type)` returns."""
    codec = _CODECS.get((cls, message_type))
    if codec is None:
        raise TypeError(f"{cls.__name__} is not part of a {message_type.name} message")
    return _layout(codec)


def _layout(codec: _TypeCodec) -> Layout:
    return tuple(
        (f.name, _layout(f.codec)) if f.kind == _NESTED and f.codec else f.name
        for f in codec.fields
    )


def part_reader(cls: type, message_type: MessageType) -> PartReader | None:
    """A faster `parse_part` for parts in their plain form, or None if `cls` has lists.

    The reader returns the part's values as a tuple in `part_layout` order (nested parts as
    tuples, absent optional fields None), reading the children by position in model order,
    which is the XSD's sequence. The plain form is what a valid document parsed by
    hub.xmlsafe has: every child in that order, no comments, no unknown or repeated element,
    numbers as ASCII digits, dates as YYYY-MM-DD, times as hh:mm:ss. On anything else it
    raises `NotPlain`, and `parse_part`, which reads every form the XSD allows and reports
    the rest, reads the part. Where it returns, its values are `parse_part`'s.
    """
    key = (cls, message_type)
    if key not in _READERS:
        codec = _CODECS.get(key)
        if codec is None:
            raise TypeError(f"{cls.__name__} is not part of a {message_type.name} message")
        _READERS[key] = _compile_reader(codec)
    return _READERS[key]


class _ReaderSource:
    """Generates one straight-line function per part type (names by position, tags as
    constants: nothing from the model becomes code)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.functions: dict[int, str] = {}

    def function(self, codec: _TypeCodec) -> str | None:
        if id(codec) in self.functions:
            return self.functions[id(codec)]
        name = f"_p{len(self.functions)}"
        self.functions[id(codec)] = name
        body: list[str] = ["    c = next(it, None)", "    t = None if c is None else c.tag"]
        names = []
        defaults = {field_name: default for _, field_name, default in codec.setters}
        for index, f in enumerate(codec.fields):
            required = f.name in codec.required
            if not required and defaults[f.name] is not None:
                return None  # an absent field would not read as None
            tag = f"_T{len(self.constants)}"
            self.constants[tag] = f.tag
            value = f"v{index}"
            names.append(value)
            read = self.read(f, value)
            if read is None:
                return None
            body.append(f"    if t == {tag}:")
            body += ["        " + line for line in read]
            body += ["        c = next(it, None)", "        t = None if c is None else c.tag"]
            body.append("    else:" if not required else "    else: raise _Miss")
            if not required:
                body.append(f"        {value} = None")
        body.append("    if c is not None: raise _Miss")
        body.append(f"    return ({', '.join(names)}{',' if len(names) == 1 else ''})")
        self.lines += [f"def {name}(e):", "    it = iter(e)", *body, ""]
        return name

    def read(self, f: _Field, value: str) -> list[str] | None:
        """Lines that read child `c` into `value` or raise _Miss; None if not compiled. Each
        kind reads only the form `_fields` (`_int`, `_time`) reads on its quick path, so that
        both give the same value (tests/unit/test_codec.py holds them to it)."""
        if f.kind == _NESTED and f.codec is not None:
            nested = self.function(f.codec)
            return None if nested is None else [f"{value} = {nested}(c)"]
        simple = {
            _TEXT: [f"{value} = x or ''"],
            _INT: [
                "if x is None or not x.isascii() or not x.isdigit(): raise _Miss",
                f"{value} = int(x)",
            ],
            _DATE: [
                "if x is None or len(x) != 10 or x[4] != '-' or x[7] != '-': raise _Miss",
                f"try: {value} = _date(x)",
                "except ValueError: raise _Miss from None",
            ],
            _TIME: [
                "if not x or len(x) != 8 or x >= '24' or not _time8(x): raise _Miss",
                f"{value} = _time(int(x[:2]), int(x[3:5]), int(x[6:]))",
            ],
        }.get(f.kind)
        if simple is None:
            return None  # lists of parts or codes: parse_part reads those
        return ["x = c.text", "if len(c): raise _Miss", *simple]


def _compile_reader(codec: _TypeCodec) -> PartReader | None:
    source = _ReaderSource()
    top = source.function(codec)
    if top is None:
        return None
    namespace: dict[str, Any] = {
        **source.constants,
        "_Miss": NotPlain,
        "_date": dt.date.fromisoformat,
        "_time": dt.time,
        "_time8": _TIME8_RE.fullmatch,
    }
    exec(compile("\n".join(source.lines), f"<part reader {codec.local}>", "exec"), namespace)
    reader: PartReader = namespace[top]
    return reader


# --- serialising ---------------------------------------------------------------------------


def to_xml(message: Message) -> bytes:
    """UTF-8 bytes with an XML declaration, prefixes as the official examples use them."""
    root = to_element(message)
    etree.indent(root, space="\t")
    return _DECLARATION + etree.tostring(root, encoding="UTF-8")


def to_element(message: Message) -> etree._Element:
    """The message as an lxml element tree (elements in schema order, None left out)."""
    message_type = getattr(message, "message_type", None)
    codec = _CODECS.get((type(message), message_type))  # type: ignore[arg-type]
    if codec is None or message_type is None:
        raise TypeError(f"not an iWmo message object: {type(message).__name__}")
    root = etree.Element(
        message_type.tag("Bericht"),
        nsmap={"iwmo": BASIS_NS, message_type.short: message_type.namespace},
    )
    _build(root, message, codec)
    return root


_FORMAT: dict[int, Callable[[Any], str]] = {
    _TEXT: str,
    _INT: str,
    _DATE: dt.date.isoformat,
    _TIME: dt.time.isoformat,
}


def _build(parent: etree._Element, obj: Any, codec: _TypeCodec) -> None:
    if type(obj) is not codec.cls:
        raise TypeError(f"expected {codec.cls.__name__}, got {type(obj).__name__}")
    for name in codec.skipped_retour:
        if getattr(obj, name):
            raise ValueError(f"{codec.local} has RetourCodes, but only a retour message has them")
    sub_element = etree.SubElement
    for f in codec.fields:
        value = getattr(obj, f.name)
        if value is None or value == ():
            continue
        kind = f.kind
        if kind == _NESTED:
            _build(sub_element(parent, f.tag), value, f.codec)  # type: ignore[arg-type]
        elif kind == _LIST:
            wrapper = sub_element(parent, f.tag)
            for item in value:
                _build(sub_element(wrapper, f.item_tag), item, f.codec)  # type: ignore[arg-type]
        elif kind == _CODES:
            wrapper = sub_element(parent, f.tag)
            for code in value:
                sub_element(wrapper, f.item_tag).text = code  # type: ignore[arg-type]
        else:
            sub_element(parent, f.tag).text = _FORMAT[kind](value)
