"""The knobs of a generated run (`iwmo-hub generate`) and the dates they imply."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

from hub.factory.codes import GEMEENTE_CODES

#: Runs end on this day unless a start is given: fixed (not the clock) so that the same
#: arguments always give the same bytes, and in the past so that TR135 (no Dagtekening in
#: the future) holds for a validator that judges against the real today.
DEFAULT_END = dt.date(2025, 6, 30)
#: ASSIGNMENT_NOT_STARTED: a toewijzing without a start this many days after its Ingangsdatum.
DEFAULT_NOT_STARTED_DAYS = 28
#: BSNs come from a block of about 900,000 valid numbers (see `world.BsnAllocator`).
MAX_CLIENTS = 800_000
MAX_AANBIEDERS = 5_000
MAX_MONTHS = 240


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (or earlier), clipped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def default_start(months: int) -> dt.date:
    """The first day of the run that covers `months` whole months ending on DEFAULT_END."""
    return add_months(DEFAULT_END + dt.timedelta(days=1), -months)


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratorConfig:
    """Size, period, anomaly rate and seed of a run; `as_of` is its last day."""

    gemeenten: int = 3
    aanbieders: int = 10
    clients: int = 1_000
    months: int = 1
    anomaly_rate: float = 0.05
    seed: int = 0
    start: dt.date | None = None
    not_started_days: int = DEFAULT_NOT_STARTED_DAYS
    #: The first and the last day of the run (derived in __post_init__). The last day is
    #: `as_of`: no message is sent later, and the ground truth judges time-dependent
    #: mismatches (ASSIGNMENT_NOT_STARTED, care open after the Einddatum) at its end.
    first_day: dt.date = field(init=False)
    as_of: dt.date = field(init=False)
    days: int = field(init=False)

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.gemeenten <= len(GEMEENTE_CODES):
            problems.append(f"--gemeenten must be between 1 and {len(GEMEENTE_CODES)}")
        if not 1 <= self.aanbieders <= MAX_AANBIEDERS:
            problems.append(f"--aanbieders must be between 1 and {MAX_AANBIEDERS}")
        if not 1 <= self.clients <= MAX_CLIENTS:
            problems.append(f"--clients must be between 1 and {MAX_CLIENTS:,}")
        if not 1 <= self.months <= MAX_MONTHS:
            problems.append(f"--months must be between 1 and {MAX_MONTHS}")
        if not 0.0 <= self.anomaly_rate <= 1.0:
            problems.append("--anomaly-rate must be between 0 and 1")
        if self.seed < 0:
            problems.append("--seed must not be negative")
        if not 7 <= self.not_started_days <= 365:
            problems.append("the not-started threshold must be between 7 and 365 days")
        if problems:
            raise ValueError("; ".join(problems))
        first = self.start if self.start is not None else default_start(self.months)
        last = add_months(first, self.months) - dt.timedelta(days=1)
        object.__setattr__(self, "first_day", first)
        object.__setattr__(self, "as_of", last)
        object.__setattr__(self, "days", (last - first).days + 1)

    def as_dict(self) -> dict[str, object]:
        return {
            "gemeenten": self.gemeenten,
            "aanbieders": self.aanbieders,
            "clients": self.clients,
            "months": self.months,
            "anomaly_rate": self.anomaly_rate,
            "seed": self.seed,
            "start": self.first_day.isoformat(),
            "as_of": self.as_of.isoformat(),
            "not_started_days": self.not_started_days,
        }
