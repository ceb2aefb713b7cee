"""Injected anomalies between care and the toewijzing it is for: dates, product, deletion,
and a toewijzing nobody starts (the hub's own checks of issue 5, without retour codes).

These records are accepted (no 9xxx retour), so they count for the toewijzing's status.
As in `hub.generator.anomalies`, a script adds no message when its dates do not fit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from hub.generator.anomalies import Script, fits, new_line, opened
from hub.generator.lifecycle import STOP_REDEN, Planner, days

AFTER_END = "CARE_AFTER_ASSIGNMENT_END"


def _start_on(p: Planner, sent: dt.date, ingang: dt.date) -> dt.date:
    """A Begindatum from the Ingangsdatum up to the day the start is sent."""
    return sent - p.lag(0, (sent - ingang).days)


def start_before(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    """A start whose Begindatum lies before the Ingangsdatum of the toewijzing."""
    line = new_line(p, d0, taken, ingang=d0 + p.lag(2, 6))
    begin = line.ingangsdatum - p.lag(1, 3)
    sent = max(begin, d0 + days(1)) + p.lag(0, 2)
    if not fits(p, sent):
        return False
    p.b.decide(d0, [line])
    start = p.b.start_of(line.toewijzing_nummer, begin)
    delivery = p.b.deliver(sent, start, own=True)
    p.b.expect("START_BEFORE_ASSIGNMENT", line.toewijzing_nummer, delivery,
               anomaly="START_BEFORE_ASSIGNMENT")  # fmt: skip
    return True


def start_after_end(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    """A start after the Einddatum of a short toewijzing; care stays open."""
    eind = d0 + p.lag(-3, 2)
    # Short, so that the start still comes within the not-started threshold.
    line = new_line(p, d0, taken, ingang=eind - p.lag(10, 15), eind=eind)
    begin = eind + p.lag(1, 2)
    sent = max(begin, d0 + days(1)) + p.lag(0, 1)
    if not fits(p, sent):
        return False
    p.b.decide(d0, [line])
    start = p.b.start_of(line.toewijzing_nummer, begin)
    delivery = p.b.deliver(sent, start, own=True)
    p.b.expect(AFTER_END, line.toewijzing_nummer, delivery, anomaly="CARE_AFTER_START")
    return True


def _withdrawn(p: Planner, d0: dt.date, taken: set[str], *, stopped: bool) -> bool:
    """A withdrawal (Einddatum brought forward to before the end of the run) after which care
    stays open, or is stopped on a later day than the new Einddatum."""
    o = opened(p, d0, taken, 10)
    if o is None:
        return False
    reden = p.rng.choice(sorted(STOP_REDEN))
    day = o.sent + p.lag(1, 4)
    until = max(day - p.lag(0, 2), o.start.begindatum)
    shorter = dataclasses.replace(o.line, einddatum=until, reden_wijziging=reden)
    decision = p.b.decide(day, [shorter])
    stop = None
    if stopped:
        late = day + p.lag(1, 5)
        eind = until + days(max(1, (late - until).days - p.rng.randint(0, 1)))
        stop = p.b.deliver(late, p.b.stop_of(o.start, STOP_REDEN[reden], eind), own=True)
    kind = "CARE_AFTER_STOPPED" if stopped else "CARE_AFTER_OPEN"
    p.b.expect(AFTER_END, o.nummer, decision, stop, anomaly=kind)
    return True


def withdrawn_open(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    return _withdrawn(p, d0, taken, stopped=False)


def withdrawn_stopped(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    return _withdrawn(p, d0, taken, stopped=True)


def ingangsdatum_mismatch(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    """A start whose ToewijzingIngangsdatum is not the toewijzing's Ingangsdatum."""
    line = new_line(p, d0, taken)
    sent = d0 + p.lag(1, 3)
    if not fits(p, sent):
        return False
    p.b.decide(d0, [line])
    wrong = line.ingangsdatum + days(p.rng.choice((-30, -14, -7, -1, 1, 2, 5)))
    begin = _start_on(p, sent, line.ingangsdatum)
    start = p.b.start_of(line.toewijzing_nummer, begin, toewijzing_ingangsdatum=wrong)
    delivery = p.b.deliver(sent, start, own=True)
    p.b.expect("INGANGSDATUM_MISMATCH", line.toewijzing_nummer, delivery,
               anomaly="INGANGSDATUM_MISMATCH")  # fmt: skip
    return True


def product_mismatch(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    """A start for another product code (same category) than the one assigned."""
    line = new_line(p, d0, taken)
    sent = d0 + p.lag(1, 3)
    if not fits(p, sent):
        return False
    assert line.product is not None
    p.b.decide(d0, [line])
    catalogue = p.world.catalogue[p.gemeente][line.product.categorie]
    other = p.rng.choice([x for x in catalogue if x != line.product])
    begin = _start_on(p, sent, line.ingangsdatum)
    start = p.b.start_of(line.toewijzing_nummer, begin, product=other)
    delivery = p.b.deliver(sent, start, own=True)
    p.b.expect("PRODUCT_MISMATCH", line.toewijzing_nummer, delivery, anomaly="PRODUCT_MISMATCH")
    return True


def _deleted(p: Planner, d0: dt.date, taken: set[str], *, started_first: bool) -> bool:
    """Care on a toewijzing the gemeente deleted (RedenWijziging 13, Einddatum = Ingangsdatum,
    CS335). The start begins on the Ingangsdatum, so no date check applies but this one."""
    line = new_line(p, d0, taken)
    first, second = d0 + p.lag(1, 3), d0 + p.lag(4, 6)
    if not fits(p, second):
        return False
    p.b.decide(d0, [line])
    gone = dataclasses.replace(line, einddatum=line.ingangsdatum, reden_wijziging="13")
    start = p.b.start_of(line.toewijzing_nummer, line.ingangsdatum)
    if started_first:
        delivery, decision = p.b.deliver(first, start, own=True), p.b.decide(second, [gone])
    else:
        decision, delivery = p.b.decide(first, [gone]), p.b.deliver(second, start, own=True)
    kind = "CARE_ON_DELETED_STARTED" if started_first else "CARE_ON_DELETED_ASSIGNMENT"
    p.b.expect("CARE_ON_DELETED_ASSIGNMENT", line.toewijzing_nummer, decision, delivery,
               anomaly=kind)  # fmt: skip
    return True


def care_on_deleted(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    return _deleted(p, d0, taken, started_first=False)


def deleted_after_start(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    return _deleted(p, d0, taken, started_first=True)


def not_started(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    """A toewijzing nobody starts, its Ingangsdatum well past the threshold at `as_of`
    (retroactive when the run is short)."""
    threshold = p.world.config.not_started_days
    ingang = min(d0 + p.lag(0, 5), p.as_of - days(threshold + 3) - p.lag(0, 10))
    line = new_line(p, d0, taken, ingang=ingang)
    decision = p.b.decide(d0, [line])
    p.b.expect("ASSIGNMENT_NOT_STARTED", line.toewijzing_nummer, decision,
               anomaly="ASSIGNMENT_NOT_STARTED")  # fmt: skip
    return True


#: Anomalies against the toewijzing, in the order a run cycles through them.
ASSIGNMENT_SCRIPTS: dict[str, Script] = {
    "START_BEFORE_ASSIGNMENT": start_before,
    "CARE_AFTER_START": start_after_end,
    "CARE_AFTER_OPEN": withdrawn_open,
    "CARE_AFTER_STOPPED": withdrawn_stopped,
    "INGANGSDATUM_MISMATCH": ingangsdatum_mismatch,
    "PRODUCT_MISMATCH": product_mismatch,
    "CARE_ON_DELETED_ASSIGNMENT": care_on_deleted,
    "CARE_ON_DELETED_STARTED": deleted_after_start,
    "ASSIGNMENT_NOT_STARTED": not_started,
}
