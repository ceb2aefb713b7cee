"""Code lists and checks the factory draws from and satisfies (values as iWmo 3.2 defines them)."""

from __future__ import annotations

import datetime as dt

from hub.model import ToegewezenProduct

#: The factory's default "today": fixed so that output never depends on the clock.
DEFAULT_TODAY = dt.date(2025, 6, 30)
#: Version of the official rule XSLT, written as XsltVersie in retours.
XSLT_VERSIE = "2.10.5"
#: Existing CBS gemeente codes (TR378), all in use since well before 2021.
# fmt: off
GEMEENTE_CODES = (
    "0014", "0034", "0153", "0193", "0200", "0202", "0268", "0307", "0344",
    "0363", "0384", "0503", "0518", "0546", "0599", "0758", "0772", "0855",
)
# fmt: on
PRODUCT_CATEGORIEEN = tuple(f"{n:02d}" for n in range(1, 19))  # WMO020
HULPMIDDEL_CATEGORIEEN = frozenset({"11", "12", "13", "14"})  # exempt from TR302
EENHEDEN = ("01", "04", "14", "16", "82", "83", "84")  # WJ756
#: CS338: these units need Frequentie 2, 4 or 6 (not per day).
EENHEDEN_NIET_PER_DAG = frozenset({"14", "16", "83", "84"})
FREQUENTIES = ("1", "2", "4", "6")  # WMO757; 2 (per week) needs an Einddatum (CD076)
#: RedenWijziging without 01 (CS336) and 13 (CS335: only with Einddatum = Ingangsdatum).
REDENEN_WIJZIGING = ("02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "14")
REDENEN_BEEINDIGING = ("02", "19", "21", "22", "23", "31", "36", "37", "38", "39")  # WMO588
SOORTEN_RELATIE = tuple(f"{n:02d}" for n in range(3, 26))  # COD472
APPROVED = ("0200",)  # WJ001: geen opmerking over deze berichtklasse

# fmt: off
ACHTERNAMEN = (
    "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Dekker",
    "Vries", "Berg", "Dijk", "Özdemir", "Çelik", "Nguyen", "Brink", "Hoek",
)
VOORVOEGSELS = ("de", "van", "van der", "van den", "ten")
VOORNAMEN = (
    "Anna", "Jan", "Fatima", "Pieter", "Émile", "Sophie", "Mohamed",
    "Willemijn", "Kees", "Daan", "Noor", "Ruud", "Ingrid", "Aïcha",
)
# fmt: on
STRATEN = ("Dorpsstraat", "Kerkweg", "Molenlaan", "Stationsplein", "Schoolstraat", "Lindelaan")
PLAATSEN = ("Amsterdam", "Utrecht", "Zwolle", "Diemen", "Tilburg", "Groningen", "Weert")
TALEN = ("Arabisch", "Turks", "Pools", "Engels", "Gebarentaal", "Tigrinya")
COMMENTAAR = (
    "Zie toelichting in beschikking",
    "Spoed: start zo snel mogelijk",
    "Overleg met wijkteam",
)


def bsn_is_valid(bsn: str) -> bool:
    """CS002: nine digits, not all zero, passing the 11-proef (9*d1 + ... + 2*d8 - d9)."""
    if len(bsn) != 9 or not bsn.isascii() or not bsn.isdigit() or bsn == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(bsn[:8], range(9, 1, -1), strict=True)) - int(bsn[8])
    return total % 11 == 0


def tr302_conflict(a: ToegewezenProduct, b: ToegewezenProduct) -> bool:
    """Whether two lines break TR302 (same product, overlapping periods), as the XSLT decides."""

    def ignored(line: ToegewezenProduct) -> bool:
        return line.reden_wijziging in ("01", "13") and line.ingangsdatum == line.einddatum

    if ignored(a) or ignored(b):
        return False
    pa, pb = a.product, b.product
    if pa is not None and pb is not None:
        if pa.categorie in HULPMIDDEL_CATEGORIEEN or pb.categorie in HULPMIDDEL_CATEGORIEEN:
            return False
        same = pa.categorie == pb.categorie and (not pa.code or not pb.code or pa.code == pb.code)
        if not same:
            return False
    if a.einddatum and b.einddatum:
        return not (a.einddatum < b.ingangsdatum or b.einddatum < a.ingangsdatum)
    if a.einddatum:
        return a.einddatum >= b.ingangsdatum
    if b.einddatum:
        return b.einddatum >= a.ingangsdatum
    return True
