"""Mismatches that depend on the date they are judged at, from an arrangement's standing.

Two flags need a calendar as well as the facts: ASSIGNMENT_NOT_STARTED (no start N days after
the Ingangsdatum) and the part of CARE_AFTER_ASSIGNMENT_END that says care is still open after
the toewijzing's (possibly withdrawn) Einddatum. They are judged at an as-of date from a few
columns of the arrangements row, so the projection store keeps them as data, not as rows that
would go stale overnight. A flag whose cause a later message removed (a start received after the
deadline; a definitive stop received after the Einddatum) is reported `resolved` at that
message's receipt time. Days are counted on the Dutch calendar (Europe/Amsterdam).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.masking import mask_bsn
from projections.facts import GroupKey
from projections.rules import (
    ASSIGNMENT_NOT_STARTED,
    CARE_AFTER_ASSIGNMENT_END,
    Mismatch,
    mismatch_id,
)

#: Days after the Ingangsdatum by which a start is expected (ASSIGNMENT_NOT_STARTED).
DEFAULT_NOT_STARTED_DAYS: Final = 28
OPEN: Final = "open"
RESOLVED: Final = "resolved"

try:
    LOCAL: dt.tzinfo = ZoneInfo("Europe/Amsterdam")
except ZoneInfoNotFoundError:  # pragma: no cover - a system without tz data
    LOCAL = dt.UTC


def day_start_ms(day: dt.date) -> int:
    """Milliseconds since the epoch at 00:00 of `day` in the Netherlands."""
    moment = dt.datetime.combine(day, dt.time(), tzinfo=LOCAL)
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Standing:
    """What the date-judged checks need from an arrangements row."""

    key: GroupKey
    bsn: str
    status: str
    ingangsdatum: dt.date
    einddatum: dt.date | None
    care_open: bool
    #: When the hub first knew the toewijzing, and its current version.
    assigned_ms: int
    version_ms: int
    first_start_ms: int | None
    care_closed_ms: int | None
    message_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Judged:
    """A mismatch with its status at a date and when it opened and (maybe) was resolved."""

    mismatch: Mismatch
    status: str
    opened_ms: int
    resolved_ms: int | None


def judge(
    standing: Standing, as_of: dt.date, not_started_days: int = DEFAULT_NOT_STARTED_DAYS
) -> list[Judged]:
    """The date-judged mismatches of one arrangement as they stand at the end of `as_of`.

    A flag opens once the deadline has passed and the hub knew what it judges (a toewijzing
    the hub received only after its deadline is not late from the moment it arrived); it is
    resolved by a start (or definitive stop) received after that moment, until `as_of`.
    """
    known_until = day_start_ms(as_of + dt.timedelta(days=1))
    if standing.status == "verwijderd" or standing.assigned_ms >= known_until:
        return []
    out = []
    due = standing.ingangsdatum + dt.timedelta(days=not_started_days)
    since = max(day_start_ms(due), standing.assigned_ms)
    started = standing.first_start_ms
    if since < known_until and (started is None or started > since):
        reason = f"{ASSIGNMENT_NOT_STARTED}: no start received within {not_started_days} days"
        reason += f" of the Ingangsdatum {standing.ingangsdatum} (due {due})."
        out.append(_judged(ASSIGNMENT_NOT_STARTED, standing, reason, since, started, known_until))
    end = standing.einddatum
    if end is not None and started is not None:
        since = max(day_start_ms(end + dt.timedelta(days=1)), standing.version_ms, started)
        closed = standing.care_closed_ms
        if since < known_until and (standing.care_open or (closed is not None and closed > since)):
            reason = f"{CARE_AFTER_ASSIGNMENT_END}: care was still open after the toewijzing's"
            reason += f" Einddatum {end} (no definitive stop by then)."
            resolved = None if standing.care_open else closed
            out.append(
                _judged(CARE_AFTER_ASSIGNMENT_END, standing, reason, since, resolved, known_until)
            )
    return out


def _judged(
    code: str,
    standing: Standing,
    reason: str,
    since_ms: int,
    resolved_ms: int | None,
    known_until: int,
) -> Judged:
    mismatch = Mismatch(
        id=mismatch_id(code, standing.key, "as-of"),
        code=code,
        key=standing.key,
        bsn_masked=mask_bsn(standing.bsn),
        message_ids=standing.message_ids,
        reason=reason,
    )
    if resolved_ms is not None and resolved_ms < known_until:
        return Judged(mismatch, RESOLVED, since_ms, resolved_ms)
    return Judged(mismatch, OPEN, since_ms, None)
