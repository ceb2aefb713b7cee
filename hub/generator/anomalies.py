"""Injected anomalies against the cross-message rules (TR019 ... TR415, retour codes 9xxx).

Each script writes one toewijzing's whole life (or a start with a made-up ToewijzingNummer)
and records the mismatch it must produce. Every message stays valid on its own (XSD and
intra-message rules): the fault is always between messages. Scripts leave nothing open that
could raise a second code: the toewijzing runs past the run's last day unless the script is
about its end, and nothing follows the faulty record, which is marked `rejected` (its retour
refuses it, so it does not change the toewijzing's status). A script returns False, and adds
no message, when its dates do not fit before the end of the run.

Checks against the toewijzing itself are in `hub.generator.assignment`; arrival anomalies
(late, out of order, duplicated) in `hub.generator.arrival`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from hub.generator.lifecycle import TIJDELIJK, Planner, days
from hub.generator.plan import Decision, Delivery
from hub.generator.world import BUDGET_CATEGORIE, CATEGORIEEN
from hub.model import StartProduct, ToegewezenProduct

Script = Callable[[Planner, dt.date, set[str]], bool]


def new_line(
    p: Planner,
    d0: dt.date,
    taken: set[str],
    *,
    ingang: dt.date | None = None,
    eind: dt.date | None = None,
) -> ToegewezenProduct:
    """A toewijzing with a product code that runs past the end of the run by default."""
    choices = [c for c in CATEGORIEEN if c not in taken and c != BUDGET_CATEGORIE]
    categorie = p.rng.choice(choices or [c for c in CATEGORIEEN if c != BUDGET_CATEGORIE])
    taken.add(categorie)
    ingang = ingang or d0 - p.lag(0, 7)
    eind = eind or max(p.as_of, ingang) + p.lag(30, 200)
    return p.new_line(categorie, ingang, eind)


def fits(p: Planner, *dates: dt.date) -> bool:
    return max(dates) <= p.as_of


@dataclass(frozen=True, slots=True)
class Opened:
    """A toewijzing decided on d0 and started a few days later: how most scripts begin."""

    line: ToegewezenProduct
    decision: Decision
    start: StartProduct
    delivery: Delivery
    sent: dt.date

    @property
    def nummer(self) -> int:
        return self.line.toewijzing_nummer


def opened(p: Planner, d0: dt.date, taken: set[str], extra: int) -> Opened | None:
    """Decide and start a toewijzing, leaving `extra` days before the end of the run for the
    rest of the script; None (nothing added) if that does not fit. The start arrives well
    within the ASSIGNMENT_NOT_STARTED threshold (Ingangsdatum at most 7 days before d0)."""
    line = new_line(p, d0, taken)
    sent = d0 + p.lag(1, 3)
    if not fits(p, sent + days(extra)):
        return None
    decision = p.b.decide(d0, [line])
    begin = sent - p.lag(0, (sent - line.ingangsdatum).days)
    start = p.b.start_of(line.toewijzing_nummer, begin)
    delivery = p.b.deliver(sent, start)
    assert decision is not None and delivery is not None
    return Opened(line, decision, start, delivery, sent)


def after_start(extra: int) -> Callable[[Callable[[Planner, Opened], None]], Script]:
    """Make a script from a body that continues after `opened`."""

    def wrap(body: Callable[[Planner, Opened], None]) -> Script:
        def script(p: Planner, d0: dt.date, taken: set[str]) -> bool:
            o = opened(p, d0, taken, extra)
            if o is not None:
                body(p, o)
            return o is not None

        script.__doc__ = body.__doc__
        return script

    return wrap


def tr019(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    """A start for a ToewijzingNummer no 301 of this gemeente and aanbieder ever held."""
    sent = d0 + p.lag(1, 3)
    if not fits(p, sent):
        return False
    product = p.rng.choice(p.world.catalogue[p.gemeente][p.rng.choice(CATEGORIEEN[:9])])
    nummer = p.world.toewijzing_nummer(p.gemeente)
    ingang = d0 - p.lag(0, 20)
    start = StartProduct(
        toewijzing_nummer=nummer,
        product=product,
        toewijzing_ingangsdatum=ingang,
        begindatum=min(ingang + p.lag(0, 5), sent),
        status_aanlevering="1",
    )
    p.b.expect("TR019", nummer, p.b.deliver(sent, start, rejected=True, own=True), anomaly="TR019")
    return True


def _refused(p: Planner, o: Opened, code: str, day: dt.date, record: object, kind: str) -> None:
    """Send the faulty record in a message of its own and expect `code` for it."""
    delivery = p.b.deliver(day, record, rejected=True, own=True)  # type: ignore[arg-type]
    p.b.expect(code, o.nummer, delivery, anomaly=kind)


@after_start(4)
def tr326(p: Planner, o: Opened) -> None:
    """A second start with another Begindatum while the first is still open."""
    again = o.sent + p.lag(1, 4)
    second = dataclasses.replace(o.start, begindatum=min(o.start.begindatum + p.lag(1, 5), again))
    _refused(p, o, "TR326", again, second, "TR326")


@after_start(5)
def tr382(p: Planner, o: Opened) -> None:
    """A stop whose Begindatum matches no start (the start began on another day)."""
    day = o.sent + p.lag(2, 5)
    begin = min(o.start.begindatum + p.lag(1, 3), day)
    wrong = dataclasses.replace(o.start, begindatum=begin)
    stop = p.b.stop_of(wrong, p.rng.choice(("21", "23")), min(begin + p.lag(0, 2), day))
    _refused(p, o, "TR382", day, stop, "TR382")


@after_start(4)
def tr074_start(p: Planner, o: Opened) -> None:
    """The same start (same key, StatusAanlevering 1) again in a new message."""
    o.delivery.own = True
    again = p.b.deliver(o.sent + p.lag(1, 4), o.start, rejected=True, own=True)
    p.b.expect("TR074", o.nummer, o.delivery, again, anomaly="TR074_START")


@after_start(9)
def tr074_stop(p: Planner, o: Opened) -> None:
    """The same stop (same key, StatusAanlevering 1) again in a new message."""
    day = o.sent + p.lag(1, 4)
    eind = max(day - p.lag(0, 3), o.start.begindatum)
    stop = p.b.stop_of(o.start, p.rng.choice(("21", "23")), eind)
    first = p.b.deliver(day, stop, own=True)
    again = p.b.deliver(day + p.lag(1, 4), stop, rejected=True, own=True)
    p.b.expect("TR074", o.nummer, first, again, anomaly="TR074_STOP")


@after_start(4)
def tr063_start(p: Planner, o: Opened) -> None:
    """The deletion (StatusAanlevering 3) of a start that was never sent."""
    day = o.sent + p.lag(1, 4)
    begin = min(o.start.begindatum + p.lag(1, 3), day)
    ghost = dataclasses.replace(o.start, begindatum=begin, status_aanlevering="3")
    _refused(p, o, "TR063", day, ghost, "TR063_START")


@after_start(4)
def tr063_stop(p: Planner, o: Opened) -> None:
    """The deletion of a stop that was never sent (care is still open)."""
    day = o.sent + p.lag(1, 4)
    ghost = p.b.stop_of(o.start, "23", day - p.lag(0, 1), status="3")
    _refused(p, o, "TR063", day, ghost, "TR063_STOP")


@after_start(9)
def tr071(p: Planner, o: Opened) -> None:
    """The deletion of a start after it was stopped."""
    day = o.sent + p.lag(1, 4)
    p.b.deliver(day, p.b.stop_of(o.start, p.rng.choice(("21", "23")), day - p.lag(0, 1)))
    removal = dataclasses.replace(o.start, status_aanlevering="3")
    _refused(p, o, "TR071", day + p.lag(1, 4), removal, "TR071")


@after_start(9)
def tr413(p: Planner, o: Opened) -> None:
    """A second temporary stop (RedenBeeindiging 20) after a temporary stop."""
    day = o.sent + p.lag(1, 4)
    eind = max(day - p.lag(0, 1), o.start.begindatum)
    p.b.deliver(day, p.b.stop_of(o.start, TIJDELIJK, eind))
    later = day + p.lag(1, 4)
    second = p.b.stop_of(o.start, TIJDELIJK, min(eind + p.lag(1, 3), later))
    _refused(p, o, "TR413", later, second, "TR413")


@after_start(10)
def tr414(p: Planner, o: Opened) -> None:
    """After a temporary stop, a definitive stop with an earlier Einddatum."""
    day = o.sent + p.lag(2, 5)  # the temporary stop ends on `day`, after the Begindatum
    p.b.deliver(day, p.b.stop_of(o.start, TIJDELIJK, day))
    earlier = o.start.begindatum + p.lag(0, (day - o.start.begindatum).days - 1)
    _refused(p, o, "TR414", day + p.lag(1, 4), p.b.stop_of(o.start, "23", earlier), "TR414")


@after_start(9)
def tr415(p: Planner, o: Opened) -> None:
    """A second definitive stop of one delivery."""
    day = o.sent + p.lag(1, 4)
    eind = max(day - p.lag(0, 1), o.start.begindatum)
    p.b.deliver(day, p.b.stop_of(o.start, "23", eind))
    later = day + p.lag(1, 4)
    second = p.b.stop_of(o.start, "21", min(eind + p.lag(0, 3), later))
    _refused(p, o, "TR415", later, second, "TR415")


#: Anomalies against the cross-message rules, in the order a run cycles through them.
RULE_SCRIPTS: dict[str, Script] = {
    "TR019": tr019,
    "TR326": tr326,
    "TR382": tr382,
    "TR074_START": tr074_start,
    "TR074_STOP": tr074_stop,
    "TR063_START": tr063_start,
    "TR063_STOP": tr063_stop,
    "TR071": tr071,
    "TR413": tr413,
    "TR414": tr414,
    "TR415": tr415,
}
