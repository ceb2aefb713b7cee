"""The basisschema's composite types (CDT_*) as frozen dataclasses, shared by every message.

Each class mirrors one iWmo 3.2 `CDT_` complexType; its fields are the type's child elements
in schema order, named in snake_case (`NaamGebruik` ↔ `naam_gebruik`, see `element_name`).
Optional elements default to None; codes stay strings ("01") because their leading zeros matter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


def element_name(field_name: str) -> str:
    """The iWmo element name of a model field: 'toewijzing_nummer' -> 'ToewijzingNummer'."""
    return "".join(part[:1].upper() + part[1:] for part in field_name.split("_"))


def repeated(item: str, *, retour: bool = False) -> dict[str, Any]:
    """Field metadata for a wrapper element whose children (`item`) become a tuple."""
    return {"item": item, "retour": retour}


#: Metadata of the `RetourCodes` field every class of a retour message (302/306/308) carries.
RETOUR_CODES = repeated("RetourCode", retour=True)


class Basis:
    """Marker: the children of this type live in the basisschema namespace (prefix `iwmo`)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BerichtIdentificatie(Basis):
    """CDT_BerichtIdentificatie: the sender's message id and its Dagtekening."""

    identificatie: str
    dagtekening: dt.date


@dataclass(frozen=True, slots=True, kw_only=True)
class XsdVersie(Basis):
    """CDT_XsdVersie: versions of the basisschema and message XSDs the sender used."""

    basisschema_xsd_versie: str = "1.0.0"
    bericht_xsd_versie: str = "1.0.0"


#: The XSD versions this model implements (iWmo 3.2: basisschema and messages 1.0.0).
XSD_VERSIE = XsdVersie()


@dataclass(frozen=True, slots=True, kw_only=True)
class Geboortedatum(Basis):
    """CDT_Geboortedatum: a date and how much of it is known (DatumGebruik, CS139)."""

    datum: dt.date
    datum_gebruik: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Achternaam(Basis):
    """CDT_Achternaam: a surname with its prefix; used for Geslachtsnaam and Partnernaam."""

    achternaam: str
    voorvoegsel: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VolledigeNaam(Basis):
    """CDT_VolledigeNaam: the full name used in 301/302 (with Partnernaam and NaamGebruik)."""

    geslachtsnaam: Achternaam
    partnernaam: Achternaam | None = None
    voornamen: str | None = None
    voorletters: str | None = None
    naam_gebruik: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VerkorteNaam(Basis):
    """CDT_VerkorteNaam: the short name used in 305-308."""

    geslachtsnaam: Achternaam
    voornamen: str | None = None
    voorletters: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Communicatie(Basis):
    """CDT_Communicatie: a special form of communication; Taal only with Vorm 1 (CD007)."""

    vorm: str
    taal: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Huis(Basis):
    """CDT_Huis: house number and its additions."""

    huisnummer: int
    huisletter: str | None = None
    huisnummer_toevoeging: str | None = None
    aanduiding_woonadres: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Adres(Basis):
    """CDT_Adres: an address; every part is optional in the schema."""

    huis: Huis | None = None
    postcode: str | None = None
    straatnaam: str | None = None
    plaatsnaam: str | None = None
    land_code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Telefoon(Basis):
    """CDT_Telefoon: a phone number with its country prefix."""

    telefoonnummer: str
    landnummer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Telefoonnummers(Basis):
    """CDT_Telefoonnummers: one or two phone numbers."""

    telefoon01: Telefoon
    telefoon02: Telefoon | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenPeriode(Basis):
    """CDT_OpenPeriode: a period whose ends are both optional."""

    begindatum: dt.date | None = None
    einddatum: dt.date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Product(Basis):
    """CDT_Product: a product category (WMO020) and optionally the gemeente's product code."""

    categorie: str
    code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Omvang(Basis):
    """CDT_Omvang: Volume units of Eenheid (WJ756) per Frequentie (WMO757)."""

    volume: int
    eenheid: str
    frequentie: str
