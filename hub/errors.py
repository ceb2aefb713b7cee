"""The hub's exception tree; every error a caller can catch starts at `HubError`.

    HubError
    ├── InvalidMessage (ValueError)          the submitted bytes are not an acceptable iWmo message
    │   ├── MalformedXml                     not well-formed XML, truncated, bad encoding
    │   ├── HostileXml                       DOCTYPE or entity declarations (XXE, bombs)
    │   ├── MessageTooLarge                  over the OP179 size limit (25 MB)
    │   ├── UnknownMessageType               a namespace or root the hub does not handle
    │   └── ValidationError                  one schema or rule failure, with rule, path and line
    ├── SerializationError (ValueError)      an event did not encode, or stored bytes did not decode
    └── StoreError (RuntimeError)            the event store could not do what was asked
        └── StoreUnavailable                 the store did not acknowledge in time

Subclasses also inherit the matching builtin so callers that only know Python's own
exceptions still catch them sensibly.
"""

from __future__ import annotations


class HubError(Exception):
    """Root of every error the hub raises on purpose."""


class InvalidMessage(HubError, ValueError):
    """The submitted bytes are not an acceptable iWmo 3.2 message."""

    rule: str = "XML"
    retour_code: str = "0001"
    path: str = "/"

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def as_dict(self) -> dict[str, str | int | None]:
        """The error as the CLI and HTTP API report it."""
        return {
            "rule": self.rule,
            "retour_code": self.retour_code,
            "path": self.path,
            "line": self.line,
            "message": self.message,
        }


class MalformedXml(InvalidMessage):
    """Not well-formed XML: truncated, wrong encoding, garbage."""

    rule = "XML"


class HostileXml(InvalidMessage):
    """A construct the hub refuses on untrusted input: DOCTYPE, entity declarations, XInclude."""

    rule = "XML-SECURITY"


class MessageTooLarge(InvalidMessage):
    """The document exceeds the maximum message size (OP179: 25 MB)."""

    rule = "OP179"


class UnknownMessageType(InvalidMessage):
    """Well-formed XML, but not one of the iWmo 3.2 messages this hub handles."""

    rule = "MESSAGE-TYPE"


class ValidationError(InvalidMessage):
    """One failed check: an XSD violation or an iWmo rule (TR/CD/CS), located in the document."""

    def __init__(
        self,
        rule: str,
        message: str,
        *,
        path: str,
        line: int | None,
        retour_code: str = "0001",
    ) -> None:
        super().__init__(message, line=line)
        self.rule = rule
        self.retour_code = retour_code
        self.path = path

    def __repr__(self) -> str:
        return (
            f"ValidationError({self.rule!r}, {self.message!r}, "
            f"path={self.path!r}, line={self.line})"
        )

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.rule} at {self.path}{where}: {self.message}"


class StoreError(HubError, RuntimeError):
    """The event store failed to do what was asked."""


class StoreUnavailable(StoreError):
    """The event store could not be reached or did not acknowledge in time."""


class SerializationError(HubError, ValueError):
    """An event could not be encoded to, or a stored payload decoded from, its Avro schema."""
