"""Test support for the projection tests: factory messages as domain events, and scenarios.

`events_of` maps a 301/305/307 to the domain events its lines yield with the ingest service's
own mapping (`hub.ingest_events.domain_events`), so projection tests can build histories with
`hub.factory.MessageFactory` without running the ingest service.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from hub.codec import to_element
from hub.events import AssignmentIssued, CareStarted, CareStopped, DomainEvent, Omvang, Product
from hub.ingest_events import domain_events
from hub.model import Wmo301, Wmo305, Wmo307

T0_MS = 1_750_000_000_000  # a fixed receipt time (June 2025), so tests never read the clock


def _product(p: Any) -> Product | None:
    return None if p is None else Product(categorie=p.categorie, code=p.code)


def events_of(message: Wmo301 | Wmo305 | Wmo307, message_id: str) -> list[DomainEvent]:
    """The domain events of one accepted message, through the ingest service's own mapping."""
    h = message.header
    return domain_events(
        to_element(message), message.message_type, h.afzender, h.ontvanger, message_id
    )


def messages_as_events(
    messages: Sequence[Wmo301 | Wmo305 | Wmo307], *, prefix: str = "m"
) -> list[list[DomainEvent]]:
    """Each message's events, with message ids m000, m001, ... in the given order."""
    return [events_of(m, f"{prefix}{i:03d}") for i, m in enumerate(messages)]


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# --- hand-built events: one line per message, defaults that fit together ------------------

GEMEENTE = "0363"
AANBIEDER = "12345678"
BSN = "999900006"
PRODUCT = Product(categorie="04", code="04A01")
OTHER_PRODUCT = Product(categorie="04", code="04A02")


def assign(
    mid: str,
    nummer: int = 1,
    ingang: str = "2025-01-01",
    eind: str | None = "2025-12-31",
    *,
    datum: str = "2024-12-20",
    tijd: str = "10:00",
    reden: str | None = None,
    product: Product | None = PRODUCT,
    gemeente: str = GEMEENTE,
    aanbieder: str = AANBIEDER,
    bsn: str = BSN,
) -> AssignmentIssued:
    """An AssignmentIssued (one ToegewezenProduct of a 301)."""
    return AssignmentIssued(
        hub_message_id=mid,
        gemeente=gemeente,
        aanbieder=aanbieder,
        bsn=bsn,
        toewijzing_nummer=nummer,
        product=product,
        toewijzingsdatum=day(datum),
        toewijzingstijd=dt.time.fromisoformat(tijd),
        ingangsdatum=day(ingang),
        einddatum=None if eind is None else day(eind),
        reden_wijziging=reden,
        omvang=Omvang(volume=4, eenheid="04", frequentie="2") if product else None,
    )


def start(
    mid: str,
    nummer: int | None = 1,
    begin: str = "2025-01-06",
    *,
    status: str = "1",
    product: Product | None = PRODUCT,
    ingang: str | None = "2025-01-01",
    gemeente: str = GEMEENTE,
    aanbieder: str = AANBIEDER,
    bsn: str = BSN,
) -> CareStarted:
    """A CareStarted (one StartProduct of a 305); status 3 deletes an earlier one."""
    return CareStarted(
        hub_message_id=mid,
        gemeente=gemeente,
        aanbieder=aanbieder,
        bsn=bsn,
        toewijzing_nummer=nummer,
        product=product,
        toewijzing_ingangsdatum=None if ingang is None else day(ingang),
        begindatum=day(begin),
        status_aanlevering=status,
    )


def stop(
    mid: str,
    nummer: int | None = 1,
    begin: str = "2025-01-06",
    eind: str = "2025-03-31",
    *,
    reden: str = "19",
    status: str = "1",
    product: Product | None = PRODUCT,
    ingang: str | None = "2025-01-01",
    gemeente: str = GEMEENTE,
    aanbieder: str = AANBIEDER,
    bsn: str = BSN,
) -> CareStopped:
    """A CareStopped (one StopProduct of a 307); reden 20 is a temporary stop."""
    return CareStopped(
        hub_message_id=mid,
        gemeente=gemeente,
        aanbieder=aanbieder,
        bsn=bsn,
        toewijzing_nummer=nummer,
        product=product,
        toewijzing_ingangsdatum=None if ingang is None else day(ingang),
        begindatum=day(begin),
        reden_beeindiging=reden,
        einddatum=day(eind),
        status_aanlevering=status,
    )
