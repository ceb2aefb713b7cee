"""Parse untrusted XML safely: no DTDs, no entities, no network, bounded size (OP179)."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from hub.errors import HostileXml, MalformedXml, MessageTooLarge

#: OP179: a sent file may not exceed 25 MB.
MAX_MESSAGE_BYTES = 25 * 1024 * 1024

_PROLOG_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_UTF8_NAMES = {"utf-8", "utf8"}
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF32_BOMS = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")
# DOCTYPE and ENTITY declarations can only appear in the prolog, before the root element.
_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_ROOT_START = re.compile(rb"<[^?!]")
_PROLOG_SCAN = 65536

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    # Whitespace between elements is insignificant in iWmo (element-only content); dropping it
    # halves parse and XSD time. Whitespace that is an element's only content is kept.
    remove_blank_text=True,
    # Comments and processing instructions carry nothing a rule or the XSD may depend on.
    remove_comments=True,
    remove_pis=True,
    collect_ids=False,
)


def parse_bytes(data: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> etree._Element:
    """Parse an untrusted iWmo document and return its root element.

    Raises `MessageTooLarge`, `HostileXml` or `MalformedXml`; never touches the network and
    never expands an entity.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse_bytes expects bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise too_large(len(data), max_bytes)
    if not data or data.isspace():
        raise MalformedXml("document is empty")
    _check_prolog(data)
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as e:
        raise MalformedXml(_syntax_reason(e), line=e.lineno or None) from e
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise HostileXml("DOCTYPE declarations are not allowed in iWmo messages", line=1)
    return root


def too_large(size: int, max_bytes: int = MAX_MESSAGE_BYTES) -> MessageTooLarge:
    """The OP179 error for a document of `size` bytes."""
    return MessageTooLarge(
        f"document is {size:,} bytes, over the limit of {max_bytes:,} bytes (OP179: 25 MB)"
    )


def _check_prolog(data: bytes) -> None:
    """Refuse UTF-16/32, non-UTF-8 declarations and DOCTYPE/ENTITY before the root element."""
    if data[:2] in _UTF16_BOMS or data[:4] in _UTF32_BOMS:
        raise MalformedXml("document is UTF-16/UTF-32 encoded; iWmo messages are UTF-8")
    match = _PROLOG_ENCODING.match(data, 0, 4096)
    if match and match.group(1).decode("ascii").lower() not in _UTF8_NAMES:
        declared = match.group(1).decode("ascii")
        raise MalformedXml(
            f"encoding declaration {declared!r} is not allowed; iWmo messages are UTF-8", line=1
        )
    root = _ROOT_START.search(data, 0, _PROLOG_SCAN)
    end = root.start() if root else _PROLOG_SCAN
    # Only "<!" can start a declaration; most messages have none, so look for that first.
    if data.find(b"<!", 0, end) >= 0 and _DECLARATION.search(data, 0, end):
        raise HostileXml(
            "DOCTYPE or ENTITY declarations are not allowed in iWmo messages "
            "(external entities and entity expansion are refused)",
            line=1,
        )


def _syntax_reason(error: etree.XMLSyntaxError) -> str:
    text = str(error.msg or error).strip()
    text = re.sub(r",\s*line \d+, column \d+$", "", text)
    return f"not well-formed XML: {text}"
