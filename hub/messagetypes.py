"""The iWmo 3.2 message types the hub handles, with their namespaces and BerichtCodes."""

from __future__ import annotations

import enum

BASIS_NS = "http://www.istandaarden.nl/iwmo/3_2/basisschema/schema"
_MESSAGE_NS = "http://www.istandaarden.nl/iwmo/3_2/{name}/schema"


class MessageType(enum.Enum):
    """A message type: its name, its BerichtCode (COD002) and whether it is a retour."""

    WMO301 = ("wmo301", "414")
    WMO302 = ("wmo302", "415")
    WMO305 = ("wmo305", "418")
    WMO306 = ("wmo306", "419")
    WMO307 = ("wmo307", "420")
    WMO308 = ("wmo308", "421")

    def __init__(self, short: str, bericht_code: str) -> None:
        self.short = short
        self.bericht_code = bericht_code

    @property
    def namespace(self) -> str:
        return _MESSAGE_NS.format(name=self.short)

    @property
    def is_retour(self) -> bool:
        return self in _RETOUR_OF.values()

    @property
    def retour(self) -> MessageType:
        """The technical retour that answers this message (302 for 301, ...)."""
        try:
            return _RETOUR_OF[self]
        except KeyError:
            raise ValueError(f"{self.name} is itself a retour") from None

    def tag(self, local: str) -> str:
        """Clark notation for an element in this message's own namespace."""
        return f"{{{self.namespace}}}{local}"

    @classmethod
    def from_namespace(cls, namespace: str | None) -> MessageType | None:
        return _BY_NAMESPACE.get(namespace or "")

    @classmethod
    def from_name(cls, name: str) -> MessageType:
        """Accept 'WMO301', 'wmo301' or '301'."""
        key = name.strip().upper()
        if key.isdigit():
            key = "WMO" + key
        try:
            return cls[key]
        except KeyError:
            raise ValueError(f"unknown message type {name!r}") from None


def basis(local: str) -> str:
    """Clark notation for an element in the iWmo 3.2 basisschema namespace."""
    return f"{{{BASIS_NS}}}{local}"


_BY_NAMESPACE = {mt.namespace: mt for mt in MessageType}
_RETOUR_OF = {
    MessageType.WMO301: MessageType.WMO302,
    MessageType.WMO305: MessageType.WMO306,
    MessageType.WMO307: MessageType.WMO308,
}
