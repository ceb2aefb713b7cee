"""One entry point for validating an iWmo 3.2 message: XSD first, then the intra-message rules.

    validator = Validator()
    validator.is_valid(data)        -> bool
    validator.iter_errors(data)     -> every error (parse, XSD, rules), in document order per layer
    validator.validate(data)        -> the message type, or raises the first error

Schemas are compiled once per process and shared by every `Validator`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

import hub.rules.catalogue  # noqa: F401  (registers the rules)
from hub.errors import InvalidMessage, UnknownMessageType, ValidationError
from hub.locate import line_of
from hub.masking import mask_quoted, mask_text
from hub.messagetypes import MessageType
from hub.rules.base import RuleContext, RuleRegistry, registry
from hub.xmlsafe import MAX_MESSAGE_BYTES, parse_bytes
from schemas import IWMO_32

_LOCK = threading.Lock()
_PREFIX = re.compile(r"\{[^}]*\}")
_PATH_PREFIX = re.compile(r"(?<=/)[A-Za-z_][\w.-]*:")


@dataclass(frozen=True)
class ValidationResult:
    """The verdict on one document."""

    message_type: MessageType | None
    errors: tuple[InvalidMessage, ...] = field(default=())
    root: etree._Element | None = field(default=None, repr=False, compare=False)

    @property
    def valid(self) -> bool:
        return not self.errors


def schema_path(message_type: MessageType, schema_dir: Path = IWMO_32) -> Path:
    return schema_dir / f"{message_type.name}.xsd"


@functools.cache
def compiled_schema(message_type: MessageType, schema_dir: Path = IWMO_32) -> etree.XMLSchema:
    """The lxml schema for a message type, compiled once per process."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    with _LOCK:
        doc = etree.parse(str(schema_path(message_type, schema_dir)), parser)
        return etree.XMLSchema(doc)


def detect_type(root: etree._Element) -> MessageType:
    """The iWmo message type of a parsed document, from its root's namespace."""
    message_type = _BY_ROOT_TAG.get(root.tag) if isinstance(root.tag, str) else None
    if message_type is not None:
        return message_type
    qname = etree.QName(root)
    namespace = qname.namespace or "no namespace"
    raise UnknownMessageType(
        f"root element {qname.localname!r} in {namespace} is not an iWmo 3.2 message "
        f"this hub handles ({', '.join(mt.name for mt in MessageType)})",
        line=line_of(root),
    )


_BY_ROOT_TAG = {mt.tag("Bericht"): mt for mt in MessageType}


class Validator:
    """Validates iWmo 3.2 documents against the project's XSDs and the rule registry."""

    def __init__(
        self,
        *,
        rules: RuleRegistry = registry,
        schema_dir: Path = IWMO_32,
        today: dt.date | None = None,
        max_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.rules = rules
        self.schema_dir = schema_dir
        self.today = today
        self.max_bytes = max_bytes

    def check(self, data: bytes) -> ValidationResult:
        """Parse and validate; never raises for bad input, returns every error instead."""
        try:
            root = parse_bytes(data, max_bytes=self.max_bytes)
            message_type = detect_type(root)
        except InvalidMessage as e:
            return ValidationResult(None, (e,))
        errors = self._errors_of(root, message_type, clean=True)
        return ValidationResult(message_type, errors, root)

    def check_tree(self, root: etree._Element, *, clean: bool = False) -> ValidationResult:
        """Validate an already parsed document; `clean` when `parse_bytes` parsed it."""
        try:
            message_type = detect_type(root)
        except InvalidMessage as e:
            return ValidationResult(None, (e,))
        errors = self._errors_of(root, message_type, clean=clean)
        return ValidationResult(message_type, errors, root)

    def iter_errors(self, data: bytes) -> Iterator[InvalidMessage]:
        yield from self.check(data).errors

    def is_valid(self, data: bytes) -> bool:
        return self.check(data).valid

    def validate(self, data: bytes) -> MessageType:
        """Return the message type of a valid document, or raise its first error."""
        result = self.check(data)
        if result.errors:
            raise result.errors[0]
        assert result.message_type is not None
        return result.message_type

    def xsd_errors(self, root: etree._Element, message_type: MessageType) -> list[ValidationError]:
        schema = compiled_schema(message_type, self.schema_dir)
        if schema.validate(root):
            return []
        log: Any = schema.error_log
        return [_xsd_error(entry) for entry in log]

    def rule_errors(
        self, root: etree._Element, message_type: MessageType, *, clean: bool = False
    ) -> list[ValidationError]:
        """Rule errors of a schema-valid document; `clean` if parsed by `parse_bytes`."""
        return self.rules.run(RuleContext(root, message_type, self.today, clean=clean))

    def _errors_of(
        self, root: etree._Element, message_type: MessageType, *, clean: bool = False
    ) -> tuple[ValidationError, ...]:
        schema = compiled_schema(message_type, self.schema_dir)
        if not schema.validate(root):
            # The rules are defined on schema-valid messages only, as in the standard's own chain.
            log: Any = schema.error_log
            return tuple(_xsd_error(entry) for entry in log)
        return tuple(self.rule_errors(root, message_type, clean=clean))


def _xsd_error(entry: etree._LogEntry) -> ValidationError:
    message = _PREFIX.sub("", entry.message or "schema violation")
    path = _PATH_PREFIX.sub("", entry.path or "/") if entry.path else "/"
    if path.rsplit("/", 1)[-1].startswith("Bsn") or "'Bsn'" in message:
        message = mask_quoted(message)
    return ValidationError(
        "XSD",
        mask_text(message),
        path=path,
        line=entry.line or None,
        retour_code="0001",
    )


_DEFAULT = Validator()


def check(data: bytes) -> ValidationResult:
    return _DEFAULT.check(data)


def iter_errors(data: bytes) -> Iterator[InvalidMessage]:
    return _DEFAULT.iter_errors(data)


def is_valid(data: bytes) -> bool:
    return _DEFAULT.is_valid(data)


def validate(data: bytes) -> MessageType:
    return _DEFAULT.validate(data)
