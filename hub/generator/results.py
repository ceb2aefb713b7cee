"""What the ground truth says, as records: toewijzing statuses, mismatches, cases."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

TOEGEWEZEN, GESTART, TIJDELIJK_GESTOPT = "toegewezen", "gestart", "tijdelijk_gestopt"
GESTOPT, INGETROKKEN, VERWIJDERD = "gestopt", "ingetrokken", "verwijderd"
STATUSES = (TOEGEWEZEN, GESTART, TIJDELIJK_GESTOPT, GESTOPT, INGETROKKEN, VERWIJDERD)


@dataclass(frozen=True, slots=True)
class ToewijzingTruth:
    """Where one toewijzing must stand at the end of the run."""

    gemeente: str
    aanbieder: str
    toewijzingnummer: int
    bsn: str  # masked
    status: str
    ingangsdatum: dt.date
    einddatum: dt.date | None
    categorie: str | None
    code: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "gemeente": self.gemeente,
            "aanbieder": self.aanbieder,
            "toewijzingnummer": self.toewijzingnummer,
            "bsn": self.bsn,
            "status": self.status,
            "ingangsdatum": self.ingangsdatum.isoformat(),
            "einddatum": self.einddatum.isoformat() if self.einddatum else None,
            "product": {"categorie": self.categorie, "code": self.code},
        }


@dataclass(frozen=True, slots=True)
class MismatchTruth:
    """A mismatch the hub must report: open at the end, or resolved by a later message."""

    code: str
    status: str
    gemeente: str
    aanbieder: str
    toewijzingnummer: int
    bsn: str  # masked
    anomaly: str
    #: The messages involved: (sequence number, type as 'wmo305', BerichtIdentificatie).
    messages: tuple[tuple[int, str, str], ...]

    def key(self) -> tuple[str, str, str, int]:
        return (self.code, self.gemeente, self.aanbieder, self.toewijzingnummer)


@dataclass(frozen=True, slots=True)
class CaseTruth:
    """Everything the ground truth says about one finished case."""

    toewijzingen: tuple[ToewijzingTruth, ...]
    mismatches: tuple[MismatchTruth, ...]
    #: Exact resends: ((seq, type), (seq, type)) of the duplicate and of the original.
    duplicates: tuple[tuple[tuple[int, str], tuple[int, str]], ...]
    anomalies: tuple[str, ...]
