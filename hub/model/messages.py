"""The six iWmo 3.2 messages (301, 302, 305, 306, 307, 308) as immutable typed objects.

Classes mirror the message XSDs' own complexTypes, fields in schema order. A wrapper element
with repeating children (Relaties/Relatie, ToegewezenProducten/ToegewezenProduct, ...) is one
tuple field named after the wrapper. The retours (302/306/308) reuse the heen message's classes:
every class that carries `RetourCodes` in a retour has a `retour_codes` tuple, empty in a heen
message. A BSN is never shown by `repr` (it is personal data that ends up in logs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import ClassVar

from hub.masking import mask_bsn
from hub.messagetypes import MessageType
from hub.model.parts import (
    RETOUR_CODES,
    XSD_VERSIE,
    Adres,
    BerichtIdentificatie,
    Communicatie,
    Geboortedatum,
    Omvang,
    OpenPeriode,
    Product,
    Telefoonnummers,
    VerkorteNaam,
    VolledigeNaam,
    XsdVersie,
    repeated,
)


def _masked_repr(obj: object) -> str:
    """A dataclass repr with the BSN masked ('*****0006') instead of left out or shown."""
    parts = [f"bsn={mask_bsn(obj.bsn)!r}"]  # type: ignore[attr-defined]
    parts += [f"{f.name}={getattr(obj, f.name)!r}" for f in fields(obj) if f.repr]  # type: ignore[arg-type]
    return f"{type(obj).__name__}({', '.join(parts)})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """The header of a heen message (301/305/307); Afzender/Ontvanger swap per direction."""

    bericht_code: str
    bericht_versie: int = 3
    bericht_subversie: int = 2
    afzender: str
    ontvanger: str
    bericht_identificatie: BerichtIdentificatie
    xsd_versie: XsdVersie = XSD_VERSIE


@dataclass(frozen=True, slots=True, kw_only=True)
class RetourHeader(Header):
    """The header of a retour: the heen header followed by the retour's own identification."""

    identificatie_retour: str
    dagtekening_retour: dt.date
    xslt_versie: str | None = None
    xsd_versie_retour: XsdVersie = XSD_VERSIE
    retour_codes: tuple[str, ...] = field(default=(), metadata=RETOUR_CODES)


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact:
    """An address or contact of the client or of a relation (Soort COD757)."""

    soort: str
    adres: Adres | None = None
    organisatie: str | None = None
    telefoon: Telefoonnummers | None = None
    emailadres: str | None = None
    periode: OpenPeriode | None = None
    retour_codes: tuple[str, ...] = field(default=(), metadata=RETOUR_CODES)


@dataclass(frozen=True, slots=True, kw_only=True)
class Relatie:
    """A relation of the client (Soort COD472) with one Contact."""

    nummer: str
    volgorde: int | None = None
    soort: str
    geboortedatum: Geboortedatum | None = None
    geslacht: str | None = None
    naam: VolledigeNaam
    contact: Contact
    retour_codes: tuple[str, ...] = field(default=(), metadata=RETOUR_CODES)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToegewezenProduct:
    """One product line of a toewijzing (301/302), keyed by ToewijzingNummer."""

    toewijzing_nummer: int
    referentie_aanbieder: str | None = None
    product: Product | None = None
    toewijzingsdatum: dt.date
    toewijzingstijd: dt.time
    ingangsdatum: dt.date
    einddatum: dt.date | None = None
    reden_wijziging: str | None = None
    omvang: Omvang | None = None
    budget: int | None = None
    commentaar: str | None = None
    retour_codes: tuple[str, ...] = field(default=(), metadata=RETOUR_CODES)


@dataclass(frozen=True, slots=True, kw_only=True)
class StartProduct:
    """One started delivery (305/306)."""

    toewijzing_nummer: int | None = None
    product: Product | None = None
    toewijzing_ingangsdatum: dt.date | None = None
    begindatum: dt.date
    status_aanlevering: str
    retour_codes: tuple[str, ...] = field(default=(), metadata=RETOUR_CODES)


@dataclass(frozen=True, slots=True, kw_only=True)
class StopProduct:
    """One stopped delivery (307/308), with RedenBeeindiging (WMO588)."""

    toewijzing_nummer: int | None = None
    product: Product | None = None
    toewijzing_ingangsdatum: dt.date | None = None
    begindatum: dt.date
    reden_beeindiging: str
    einddatum: dt.date
    status_aanlevering: str
    retour_codes: tuple[str, ...] = field(default=(), metadata=RETOUR_CODES)


@dataclass(frozen=True, slots=True, kw_only=True)
class Client:
    """The client of a toewijzing (301/302) with contacts, relations and product lines."""

    bsn: str = field(repr=False)
    geboortedatum: Geboortedatum
    geslacht: str
    naam: VolledigeNaam
    communicatie: Communicatie | None = None
    juridische_status: str | None = None
    wettelijke_vertegenwoordiging: str | None = None
    commentaar: str | None = None
    relaties: tuple[Relatie, ...] = field(default=(), metadata=repeated("Relatie"))
    contactgegevens: tuple[Contact, ...] = field(metadata=repeated("Contact"))
    toegewezen_producten: tuple[ToegewezenProduct, ...] = field(
        metadata=repeated("ToegewezenProduct")
    )
    retour_codes: tuple[str, ...] = field(default=(), metadata=RETOUR_CODES)

    __repr__ = _masked_repr


@dataclass(frozen=True, slots=True, kw_only=True)
class StartClient:
    """The client of a start-zorg message (305/306)."""

    bsn: str = field(repr=False)
    geboortedatum: Geboortedatum
    geslacht: str
    naam: VerkorteNaam
    start_producten: tuple[StartProduct, ...] = field(metadata=repeated("StartProduct"))
    retour_codes: tuple[str, ...] = field(default=(), metadata=RETOUR_CODES)

    __repr__ = _masked_repr


@dataclass(frozen=True, slots=True, kw_only=True)
class StopClient:
    """The client of a stop-zorg message (307/308)."""

    bsn: str = field(repr=False)
    geboortedatum: Geboortedatum
    geslacht: str
    naam: VerkorteNaam
    stop_producten: tuple[StopProduct, ...] = field(metadata=repeated("StopProduct"))
    retour_codes: tuple[str, ...] = field(default=(), metadata=RETOUR_CODES)

    __repr__ = _masked_repr


@dataclass(frozen=True, slots=True, kw_only=True)
class Wmo301:
    """WMO301 Toewijzing Wmo-ondersteuning (gemeente -> aanbieder)."""

    message_type: ClassVar[MessageType] = MessageType.WMO301
    header: Header
    client: Client


@dataclass(frozen=True, slots=True, kw_only=True)
class Wmo302:
    """WMO302 retour on a 301; without Client when the whole 301 was approved."""

    message_type: ClassVar[MessageType] = MessageType.WMO302
    header: RetourHeader
    client: Client | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Wmo305:
    """WMO305 Start Wmo-ondersteuning (aanbieder -> gemeente)."""

    message_type: ClassVar[MessageType] = MessageType.WMO305
    header: Header
    client: StartClient


@dataclass(frozen=True, slots=True, kw_only=True)
class Wmo306:
    """WMO306 retour on a 305."""

    message_type: ClassVar[MessageType] = MessageType.WMO306
    header: RetourHeader
    client: StartClient | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Wmo307:
    """WMO307 Stop Wmo-ondersteuning (aanbieder -> gemeente)."""

    message_type: ClassVar[MessageType] = MessageType.WMO307
    header: Header
    client: StopClient


@dataclass(frozen=True, slots=True, kw_only=True)
class Wmo308:
    """WMO308 retour on a 307."""

    message_type: ClassVar[MessageType] = MessageType.WMO308
    header: RetourHeader
    client: StopClient | None = None


Message = Wmo301 | Wmo302 | Wmo305 | Wmo306 | Wmo307 | Wmo308
HeenMessage = Wmo301 | Wmo305 | Wmo307
RetourMessage = Wmo302 | Wmo306 | Wmo308

#: The model class of each message type.
MESSAGE_CLASSES: dict[MessageType, type[Message]] = {
    cls.message_type: cls for cls in (Wmo301, Wmo302, Wmo305, Wmo306, Wmo307, Wmo308)
}
