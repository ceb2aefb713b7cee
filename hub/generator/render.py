"""Planned messages as XML bytes, fast: the same bytes as `hub.codec.to_xml(build(m))`.

The generator writes a million messages; building each through lxml costs several times
more than writing the text. This writes the text directly, following the codec's rules
(elements in field order, `iwmo:` for the children of basisschema types, wrappers for
tuples, None and empty tuples left out, tab indentation), and keeps the unchanging part of
each client (everything before the product lines) per case. `tests/unit/test_generator.py`
holds it to the codec's output byte for byte.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from hub.generator.plan import Planned
from hub.messagetypes import BASIS_NS, MessageType
from hub.model import Basis, element_name

_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
#: Per message type: the wrapper of its product lines and the Client fields before it.
_LINES = {
    MessageType.WMO301: ("toegewezen_producten", "ToegewezenProducten", "ToegewezenProduct"),
    MessageType.WMO305: ("start_producten", "StartProducten", "StartProduct"),
    MessageType.WMO307: ("stop_producten", "StopProducten", "StopProduct"),
}


class _Tags:
    """One field's element, with its tags for this indentation built once."""

    __slots__ = ("block_close", "block_open", "close", "item", "name", "open")

    def __init__(self, name: str, tag: str, indent: str) -> None:
        self.name = name
        self.open = f"{indent}<{tag}>"  # followed by text and `close`
        self.close = f"</{tag}>\n"
        self.block_open = f"{indent}<{tag}>\n"  # followed by child elements
        self.block_close = f"{indent}</{tag}>\n"
        self.item: _Tags | None = None  # the repeated child of a wrapper element


_LAYOUTS: dict[tuple[type, str, int], tuple[_Tags, ...]] = {}


def _layout(cls: type, prefix: str, depth: int) -> tuple[_Tags, ...]:
    """The fields of a model class as elements at `depth`, built once per class and place."""
    key = (cls, prefix, depth)
    found = _LAYOUTS.get(key)
    if found is None:
        ns = "iwmo" if issubclass(cls, Basis) else prefix
        entries = []
        for f in dataclasses.fields(cls):
            tags = _Tags(f.name, f"{ns}:{element_name(f.name)}", "\t" * depth)
            item = f.metadata.get("item")
            if item:
                tags.item = _Tags(f.name, f"{prefix}:{item}", "\t" * (depth + 1))
            entries.append(tags)
        found = _LAYOUTS[key] = tuple(entries)
    return found


_SCALARS = frozenset({str, int, dt.date, dt.time})


def _text(value: Any) -> str:
    kind = type(value)
    if kind is str:
        if "&" in value or "<" in value or ">" in value or "\r" in value:
            value = (
                value.replace("&", "&amp;")
                .replace("<", "&lt;")
                .replace(">", "&gt;")
                .replace("\r", "&#13;")
            )
        return value  # type: ignore[no-any-return]
    if kind is int:
        return str(value)
    return value.isoformat()  # type: ignore[no-any-return]


def _children(out: list[str], obj: Any, prefix: str, depth: int, skip: str = "") -> None:
    """Append the child elements of `obj` (a model dataclass) at indentation `depth`."""
    append = out.append
    for tags in _layout(type(obj), prefix, depth):
        value = getattr(obj, tags.name)
        if value is None or value == () or tags.name == skip:
            continue
        item = tags.item
        if item is not None:
            append(tags.block_open)
            for entry in value:
                if type(entry) is str:
                    append(item.open + _text(entry) + item.close)
                else:
                    append(item.block_open)
                    _children(out, entry, prefix, depth + 2)
                    append(item.block_close)
            append(tags.block_close)
        elif type(value) in _SCALARS:
            append(tags.open + _text(value) + tags.close)
        else:
            append(tags.block_open)
            _children(out, value, prefix, depth + 1)
            append(tags.block_close)


def _head(planned: Planned) -> str:
    """The client's elements before its product lines, as this message type shows them."""
    mt = planned.message_type
    key = mt.short
    cached = planned.case.heads.get(key)
    if cached is not None:
        return cached
    identity = planned.case.identity
    client: Any = identity.client
    out: list[str] = []
    if mt is MessageType.WMO301:
        _children(out, client, key, 2, skip=_LINES[mt][0])
    else:
        for name, value in (
            ("Bsn", client.bsn),
            ("Geboortedatum", client.geboortedatum),
            ("Geslacht", client.geslacht),
            ("Naam", identity.naam),
        ):
            if type(value) not in _SCALARS:
                out.append(f"\t\t<{key}:{name}>\n")
                _children(out, value, key, 3)
                out.append(f"\t\t</{key}:{name}>\n")
            else:
                out.append(f"\t\t<{key}:{name}>{_text(value)}</{key}:{name}>\n")
    text = "".join(out)
    planned.case.heads[key] = text
    return text


def render(planned: Planned) -> bytes:
    """UTF-8 XML of a planned 301/305/307, identical to the codec's `to_xml`."""
    mt = planned.message_type
    p = mt.short
    _, wrapper, item = _LINES[mt]
    out = [
        _DECLARATION,
        f'<{p}:Bericht xmlns:iwmo="{BASIS_NS}" xmlns:{p}="{mt.namespace}">\n',
        f"\t<{p}:Header>\n",
        f"\t\t<{p}:BerichtCode>{mt.bericht_code}</{p}:BerichtCode>\n",
        f"\t\t<{p}:BerichtVersie>3</{p}:BerichtVersie>\n",
        f"\t\t<{p}:BerichtSubversie>2</{p}:BerichtSubversie>\n",
        f"\t\t<{p}:Afzender>{planned.sender}</{p}:Afzender>\n",
        f"\t\t<{p}:Ontvanger>{planned.receiver}</{p}:Ontvanger>\n",
        f"\t\t<{p}:BerichtIdentificatie>\n",
        f"\t\t\t<iwmo:Identificatie>{_text(planned.identificatie)}</iwmo:Identificatie>\n",
        f"\t\t\t<iwmo:Dagtekening>{planned.dagtekening.isoformat()}</iwmo:Dagtekening>\n",
        f"\t\t</{p}:BerichtIdentificatie>\n",
        f"\t\t<{p}:XsdVersie>\n",
        "\t\t\t<iwmo:BasisschemaXsdVersie>1.0.0</iwmo:BasisschemaXsdVersie>\n",
        "\t\t\t<iwmo:BerichtXsdVersie>1.0.0</iwmo:BerichtXsdVersie>\n",
        f"\t\t</{p}:XsdVersie>\n",
        f"\t</{p}:Header>\n",
        f"\t<{p}:Client>\n",
        _head(planned),
        f"\t\t<{p}:{wrapper}>\n",
    ]
    for line in planned.lines:
        out.append(f"\t\t\t<{p}:{item}>\n")
        _children(out, line, p, 4)
        out.append(f"\t\t\t</{p}:{item}>\n")
    out.append(f"\t\t</{p}:{wrapper}>\n\t</{p}:Client>\n</{p}:Bericht>")
    return "".join(out).encode()
