"""Small valid values for the factory: BSNs, codes, names, addresses, contacts, headers."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import TypeVar

from hub.factory.codes import (
    ACHTERNAMEN,
    COMMENTAAR,
    DEFAULT_TODAY,
    EENHEDEN,
    EENHEDEN_NIET_PER_DAG,
    FREQUENTIES,
    GEMEENTE_CODES,
    PLAATSEN,
    PRODUCT_CATEGORIEEN,
    SOORTEN_RELATIE,
    STRATEN,
    TALEN,
    VOORNAMEN,
    VOORVOEGSELS,
)
from hub.messagetypes import MessageType
from hub.model import (
    XSD_VERSIE,
    Achternaam,
    Adres,
    BerichtIdentificatie,
    Client,
    Communicatie,
    Contact,
    Geboortedatum,
    Header,
    Huis,
    Omvang,
    OpenPeriode,
    Product,
    Relatie,
    Telefoon,
    Telefoonnummers,
    ToegewezenProduct,
    VerkorteNaam,
    VolledigeNaam,
    XsdVersie,
)

_T = TypeVar("_T")


class ValueFactory:
    """Draws valid values from a seeded RNG; `varied=True` also fills optional parts."""

    def __init__(self, seed: int = 0, *, today: dt.date = DEFAULT_TODAY, varied: bool = False):
        self.rng = random.Random(seed)
        self.today = today
        self.varied = varied

    # --- small values ------------------------------------------------------------------

    def _maybe(self, probability: float) -> bool:
        """True with this probability, but only in varied mode (plain messages stay minimal)."""
        return self.varied and self.rng.random() < probability

    def _pick(self, options: Sequence[_T]) -> _T:
        return options[self.rng.randrange(len(options))]

    def _days(self, low: int, high: int) -> dt.timedelta:
        return dt.timedelta(days=self.rng.randint(low, high))

    def bsn(self) -> str:
        """A BSN passing the 11-proef, in the 9999xxxxx range reserved for testing."""
        while True:
            head = "9999" + f"{self.rng.randrange(10_000):04d}"
            check = sum(int(d) * w for d, w in zip(head, range(9, 1, -1), strict=True)) % 11
            if check < 10:
                return head + str(check)

    def gemeente(self) -> str:
        """A 4-digit CBS gemeente code that exists (TR378)."""
        return self._pick(GEMEENTE_CODES)

    def agb_code(self) -> str:
        """An 8-digit AGB code of an aanbieder."""
        return f"{self.rng.randrange(10_000_000, 100_000_000)}"

    def identificatie(self) -> str:
        """A BerichtIdentificatie/Identificatie (at most 12 characters)."""
        return f"{self.rng.randrange(10**11, 10**12)}"

    def toewijzing_nummer(self, taken: Sequence[int] = ()) -> int:
        """A ToewijzingNummer not in `taken` (TR101)."""
        while True:
            nummer = self.rng.randrange(1, 1_000_000_000)
            if nummer not in taken:
                return nummer

    def product(self, categorie: str | None = None, *, code: bool = True) -> Product:
        """A product category (WMO020) with, by default, a gemeente product code like '07A12'."""
        categorie = categorie or self._pick(PRODUCT_CATEGORIEEN)
        letter = self._pick("ABCDEFGH")
        return Product(
            categorie=categorie,
            code=f"{categorie}{letter}{self.rng.randint(1, 99):02d}" if code else None,
        )

    def omvang(self, *, per_week: bool = True) -> Omvang:
        """A scope whose Eenheid and Frequentie the standard allows together (CS338, CD076)."""
        if not self.varied:
            return Omvang(
                volume=self.rng.randint(1, 12), eenheid="04", frequentie="2" if per_week else "4"
            )
        eenheid = self._pick(EENHEDEN)
        frequenties = [f for f in FREQUENTIES if per_week or f != "2"]
        if eenheid in EENHEDEN_NIET_PER_DAG:
            frequenties = [f for f in frequenties if f != "1"]
        span = {"01": (15, 600), "04": (1, 40), "83": (50, 5000)}.get(eenheid, (1, 31))
        return Omvang(
            volume=self.rng.randint(*span), eenheid=eenheid, frequentie=self._pick(frequenties)
        )

    def geboortedatum(self, dagtekening: dt.date) -> Geboortedatum:
        """A birth date 18-100 years before the Dagtekening (TR002, TR134), CS139-consistent."""
        datum = dagtekening - self._days(18 * 365, 100 * 365)
        if self._maybe(0.15):
            gebruik = self._pick(("1", "2", "3"))
            datum = {
                "1": datum.replace(day=1),
                "2": datum.replace(month=1, day=1),
                "3": dt.date(1900, 1, 1),
            }[gebruik]
            return Geboortedatum(datum=datum, datum_gebruik=gebruik)
        return Geboortedatum(datum=datum)

    def achternaam(self) -> Achternaam:
        voorvoegsel = self._pick(VOORVOEGSELS) if self.rng.random() < 0.3 else None
        return Achternaam(achternaam=self._pick(ACHTERNAMEN), voorvoegsel=voorvoegsel)

    def volledige_naam(self) -> VolledigeNaam:
        """A full name; NaamGebruik follows CS050 (1 without Partnernaam) and CS318 (never 6)."""
        voornamen = self._voornamen()
        partner = self.achternaam() if self._maybe(0.3) else None
        return VolledigeNaam(
            geslachtsnaam=self.achternaam(),
            partnernaam=partner,
            voornamen=voornamen,
            voorletters=_voorletters(voornamen),
            naam_gebruik=self._pick("1234") if partner else "1",
        )

    def verkorte_naam(self) -> VerkorteNaam:
        voornamen = self._voornamen()
        return VerkorteNaam(
            geslachtsnaam=self.achternaam(),
            voornamen=voornamen,
            voorletters=_voorletters(voornamen),
        )

    def _voornamen(self) -> str | None:
        if self._maybe(0.2):
            return None
        return " ".join(self._pick(VOORNAMEN) for _ in range(self.rng.randint(1, 2)))

    def adres(self) -> Adres:
        """A Dutch address: Huis and Postcode with LandCode NL (CD005, CD025, CS089, TR006)."""
        huisletter = self._pick("ABC") if self._maybe(0.3) else None
        toevoeging = self._pick(("BIS", "1", "2HG")) if self._maybe(0.2) else None
        aanduiding = self._pick(("BY", "TO")) if self._maybe(0.1) else None
        letters = self._pick("ABCDEFGHJKLMNPRSTVWXZ") + self._pick("ABCDEGHJKLMNPRSTVWXZ")
        return Adres(
            huis=Huis(
                huisnummer=self.rng.randint(1, 300),
                huisletter=huisletter,
                huisnummer_toevoeging=toevoeging,
                aanduiding_woonadres=aanduiding,
            ),
            postcode=f"{self.rng.randint(1000, 9999)}{letters}",
            straatnaam=self._pick(STRATEN) if not self._maybe(0.2) else None,
            plaatsnaam=self._pick(PLAATSEN) if not self._maybe(0.2) else None,
            land_code="NL",
        )

    def telefoon(self) -> Telefoonnummers:
        def one() -> Telefoon:
            return Telefoon(telefoonnummer=f"06{self.rng.randrange(10**8):08d}", landnummer="0031")

        return Telefoonnummers(telefoon01=one(), telefoon02=one() if self._maybe(0.3) else None)

    def contact(self, soort: str = "01", *, dagtekening: dt.date | None = None) -> Contact:
        """A contact that satisfies TR006 and CD034; only Soort 04 gets a Periode (CD009)."""
        adres = self.adres() if soort in ("01", "03") or not self._maybe(0.4) else None
        telefoon = self.telefoon() if adres is None or self._maybe(0.4) else None
        periode = None
        if soort == "04" and dagtekening is not None and self._maybe(0.7):
            begin = dagtekening - self._days(0, 60)
            eind = begin + self._days(0, 90) if self.rng.random() < 0.5 else None
            periode = OpenPeriode(begindatum=begin, einddatum=eind)  # CS003 needs the begin
        return Contact(
            soort=soort,
            adres=adres,
            organisatie="Zorgcentrum De Linde" if self._maybe(0.15) else None,
            telefoon=telefoon,
            emailadres="client@example.nl" if self._maybe(0.3) else None,
            periode=periode,
        )

    def relatie(self, nummer: str, dagtekening: dt.date) -> Relatie:
        return Relatie(
            nummer=nummer,
            volgorde=int(nummer) if self._maybe(0.5) else None,
            soort=self._pick(SOORTEN_RELATIE),
            geboortedatum=self.geboortedatum(dagtekening) if self._maybe(0.5) else None,
            geslacht=self._pick("012") if self._maybe(0.5) else None,
            naam=self.volledige_naam(),
            contact=self.contact(self._pick(("01", "02"))),
        )

    def client(self, dagtekening: dt.date, producten: Sequence[ToegewezenProduct]) -> Client:
        """A 301 client; Contactgegevens has a Soort 01/02/03 (TR061) and no Soort twice (TR101)."""
        soorten = ["01"]
        if self._maybe(0.3):
            soorten.append(self._pick(("02", "03")))
        if self._maybe(0.2):
            soorten.append("04")
        vorm = self._pick("123") if self._maybe(0.2) else None
        return Client(
            bsn=self.bsn(),
            geboortedatum=self.geboortedatum(dagtekening),
            geslacht=self._pick("012"),
            naam=self.volledige_naam(),
            communicatie=Communicatie(vorm=vorm, taal=self._pick(TALEN) if vorm == "1" else None)
            if vorm
            else None,  # CD007: Taal only with Vorm 1
            juridische_status=self._pick(("01", "02", "03", "04", "05", "11", "12"))
            if self._maybe(0.15)
            else None,
            wettelijke_vertegenwoordiging=self._pick(("06", "07", "08", "09", "10"))
            if self._maybe(0.15)
            else None,
            commentaar=self._pick(COMMENTAAR) if self._maybe(0.2) else None,
            relaties=tuple(
                self.relatie(str(n), dagtekening)
                for n in range(1, (self.rng.randint(1, 2) if self._maybe(0.3) else 0) + 1)
            ),
            contactgegevens=tuple(self.contact(s, dagtekening=dagtekening) for s in soorten),
            toegewezen_producten=tuple(producten),
        )

    def header(
        self,
        message_type: MessageType,
        *,
        afzender: str,
        ontvanger: str,
        dagtekening: dt.date,
        identificatie: str | None = None,
        xsd_versie: XsdVersie = XSD_VERSIE,
    ) -> Header:
        return Header(
            bericht_code=message_type.bericht_code,
            afzender=afzender,
            ontvanger=ontvanger,
            bericht_identificatie=BerichtIdentificatie(
                identificatie=identificatie or self.identificatie(), dagtekening=dagtekening
            ),
            xsd_versie=xsd_versie,
        )


def _voorletters(voornamen: str | None) -> str | None:
    """Initials without dots or spaces (letters only, at most 6)."""
    return "".join(name[0] for name in voornamen.split())[:6] if voornamen else None
