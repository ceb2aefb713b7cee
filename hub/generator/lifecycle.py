"""Normal life cycles of a toewijzing: start, then one of the ways care ends in practice.

Every path keeps two promises at the run's last day (`as_of`), so that normal traffic never
raises a mismatch: a toewijzing is started within 20 days of its Ingangsdatum (well inside the
ASSIGNMENT_NOT_STARTED threshold) and care on a toewijzing whose Einddatum has passed is
stopped by `as_of`. Dependent messages of one toewijzing are at least a day apart, so their
order is never in doubt. Reasons fit together as the code lists say: a withdrawal with
RedenWijziging w is followed by a stop with the RedenBeeindiging of `STOP_REDEN[w]`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

from hub.generator.plan import CaseBuilder, Delivery
from hub.generator.world import (
    CATEGORIEEN,
    World,
    can_be_open_ended,
    omvang_for,
)
from hub.model import StartProduct, ToegewezenProduct

#: WMO002 RedenWijziging of a withdrawal -> the WMO588 RedenBeeindiging of the stop it asks for.
STOP_REDEN = {
    "02": "02",
    "03": "36",
    "05": "36",
    "06": "39",
    "07": "31",
    "08": "36",
    "09": "38",
    "10": "36",
    "11": "36",
    "12": "37",
}
#: Stops on the aanbieder's initiative, and the RedenWijziging of the withdrawal the gemeente
#: sends afterwards (None: the toewijzing simply runs out).
EIGEN_STOP = {"21": None, "22": None, "23": None, "02": "02", "31": "07", "38": "09", "39": "06"}
GEPLAND = "19"  # levering volgens plan beeindigd
TIJDELIJK = "20"  # levering tijdelijk beeindigd


_DAYS = tuple(dt.timedelta(days=n) for n in range(-1000, 1000))


def days(n: int) -> dt.timedelta:
    """n days (from a table: the planner asks for millions of small timedeltas)."""
    return _DAYS[n + 1000] if -1000 <= n < 1000 else dt.timedelta(days=n)


class Planner:
    """Plans the toewijzingen of one case on a `CaseBuilder`."""

    def __init__(self, builder: CaseBuilder, world: World, rng: random.Random) -> None:
        self.b = builder
        self.world = world
        self.rng = rng
        self.as_of = builder.as_of
        self.gemeente = builder.plan.gemeente

    def lag(self, low: int, high: int) -> dt.timedelta:
        return days(self.rng.randint(low, high))

    # --- lines --------------------------------------------------------------------------

    def new_line(
        self,
        categorie: str,
        ingangsdatum: dt.date,
        einddatum: dt.date | None,
    ) -> ToegewezenProduct:
        """A first version of a new toewijzing (Toewijzingsdatum/-tijd set by `decide`)."""
        products = self.world.catalogue[self.gemeente][categorie]
        omvang, budget = omvang_for(self.rng, categorie, open_ended=einddatum is None)
        return ToegewezenProduct(
            toewijzing_nummer=self.world.toewijzing_nummer(self.gemeente),
            product=self.rng.choice(products),
            toewijzingsdatum=ingangsdatum,
            toewijzingstijd=dt.time(0, 0),
            ingangsdatum=ingangsdatum,
            einddatum=einddatum,
            omvang=omvang,
            budget=budget,
        )

    def draw_line(self, day: dt.date, taken: set[str]) -> ToegewezenProduct:
        """A new toewijzing decided on `day`, of a category the case does not have yet (no
        two lines of one product overlap, TR302)."""
        categorie = self.rng.choice([c for c in CATEGORIEEN if c not in taken] or CATEGORIEEN)
        taken.add(categorie)
        ingang = day + self.lag(-14, 21)
        open_ended = can_be_open_ended(categorie) and self.rng.random() < 0.15
        eind = None if open_ended else ingang + self.lag(90, 365)
        return self.new_line(categorie, ingang, eind)

    def successor(self, line: ToegewezenProduct, ingang: dt.date) -> ToegewezenProduct:
        """The toewijzing a herbeoordeling issues after `line`: a new ToewijzingNummer, the
        same category (perhaps another product code), a new period and Omvang."""
        assert line.product is not None
        return self.new_line(line.product.categorie, ingang, ingang + self.lag(90, 365))

    # --- the normal life of one toewijzing ------------------------------------------------

    def normal(self, nummer: int, decided: dt.date, *, depth: int = 0) -> None:
        """Start the toewijzing decided on `decided` and end it along a realistic path."""
        b, rng = self.b, self.rng
        line = b.current(nummer)
        if depth == 0 and rng.random() < 0.04:
            # Sent by mistake: deleted a few days later, before anyone started (RW 13, CS335).
            gone = dataclasses.replace(line, einddatum=line.ingangsdatum, reden_wijziging="13")
            b.decide(decided + self.lag(1, 5), [gone])
            return
        begin = line.ingangsdatum + self.lag(0, 10)
        if line.einddatum is not None:
            begin = min(begin, line.einddatum)
        sent = max(begin, decided + days(1)) + self.lag(0, 5)
        start = b.start_of(nummer, begin)
        if b.deliver(sent, start) is None:
            return
        start, last = self.maybe_correct_start(start, sent)
        eind = line.einddatum
        roll = rng.random()
        if eind is None:
            if roll < 0.25:
                self.own_stop(start, last, last + self.lag(30, 400), None)
            elif roll < 0.35:
                self.temporary(start, last, last + self.lag(60, 300), None)
            return
        if depth:
            roll = 0.27 + 0.73 * roll  # a successor is not reassessed again within the run
        if roll < 0.15:
            self.extend(start, last)
        elif roll < 0.27:
            self.herbeoordeling(start, last, depth)
        elif roll < 0.37:
            self.withdraw(start, last)
        elif roll < 0.47:
            self.own_stop(start, last, None, eind)
        elif roll < 0.60:
            self.temporary(start, last, None, eind)
        else:
            self.end(start, last, eind)

    def stop_day(self, einddatum: dt.date, after: dt.date) -> dt.date | None:
        """When a stop ending on `einddatum` is sent: a few days after it and after `after`,
        but by `as_of` when its Einddatum is not after `as_of`; None when that cannot be."""
        earliest = max(einddatum, after + days(1))
        day = earliest + self.lag(0, 7)
        if einddatum <= self.as_of:
            if earliest > self.as_of:
                return None
            day = min(day, self.as_of)
        return day

    def end(self, start: StartProduct, last: dt.date, eind: dt.date) -> None:
        """Care runs until the Einddatum and is stopped as planned (RedenBeeindiging 19)."""
        day = self.stop_day(eind, last)
        if day is None:
            return
        stop = self.b.stop_of(start, GEPLAND, eind)
        delivery = self.b.deliver(day, stop)
        if delivery is not None:
            self.maybe_correct_stop(delivery, start)

    def extend(self, start: StartProduct, last: dt.date) -> None:
        """Herbeoordeling: verlenging (RW 04): the Einddatum moves later, then care ends."""
        line = self.b.current(start.toewijzing_nummer or 0)
        assert line.einddatum is not None
        day = max(line.einddatum - self.lag(10, 30), last + days(1))
        longer = line.einddatum + self.lag(90, 365)
        if day < line.einddatum:
            extended = dataclasses.replace(line, einddatum=longer, reden_wijziging="04")
            if self.b.decide(day, [extended]) is not None:
                self.end(start, max(last, day), longer)
                return
        self.end(start, last, line.einddatum)

    def herbeoordeling(self, start: StartProduct, last: dt.date, depth: int) -> None:
        """The toewijzing is shortened (RW 05) and a successor with a new ToewijzingNummer
        takes over the next day, in the same 301 (OP087); the old one is stopped (36)."""
        line = self.b.current(start.toewijzing_nummer or 0)
        assert line.einddatum is not None
        latest = line.einddatum - days(20)
        day = last + self.lag(5, 60)
        if day > latest:
            self.end(start, last, line.einddatum)
            return
        until = min(day + self.lag(0, 14), line.einddatum - days(1))
        shorter = dataclasses.replace(line, einddatum=until, reden_wijziging="05")
        follow = self.successor(line, until + days(1))
        if self.b.decide(day, [shorter, follow]) is None:
            self.end(start, last, line.einddatum)
            return
        stop_day = self.stop_day(until, max(last, day))
        if stop_day is not None:
            self.b.deliver(stop_day, self.b.stop_of(start, STOP_REDEN["05"], until))
        self.normal(follow.toewijzing_nummer, day, depth=depth + 1)

    def withdraw(self, start: StartProduct, last: dt.date) -> None:
        """The gemeente brings the Einddatum forward (intrekking) for a reason; the aanbieder
        stops on that date with the reason that fits (STOP_REDEN)."""
        line = self.b.current(start.toewijzing_nummer or 0)
        assert line.einddatum is not None
        reden = self.rng.choice(sorted(STOP_REDEN))
        day = last + self.lag(3, 90)
        if day > line.einddatum - days(10):
            self.end(start, last, line.einddatum)
            return
        if reden == "02":  # death: the Einddatum is the day of death, often already past
            until = max(day - self.lag(0, 7), last, start.begindatum)
        else:
            until = day + self.lag(0, 14)
        stop_day = self.stop_day(until, day)
        if day <= self.as_of and stop_day is None:
            self.end(start, last, line.einddatum)  # the stop could not follow within the run
            return
        shorter = dataclasses.replace(line, einddatum=until, reden_wijziging=reden)
        if self.b.decide(day, [shorter]) is None or stop_day is None:
            return
        self.b.deliver(stop_day, self.b.stop_of(start, STOP_REDEN[reden], until))

    def own_stop(
        self, start: StartProduct, last: dt.date, when: dt.date | None, eind: dt.date | None
    ) -> None:
        """The aanbieder ends care early (client left, moved, died, ...); for some reasons the
        gemeente then withdraws the toewijzing to that day with the matching RW."""
        if when is None:
            assert eind is not None
            if (eind - last).days < 15:
                self.end(start, last, eind)
                return
            when = last + self.lag(7, (eind - last).days - 7)
        reden = self.rng.choice(sorted(EIGEN_STOP))
        day = self.stop_day(when, last)
        if day is None:
            return
        delivery = self.b.deliver(day, self.b.stop_of(start, reden, when))
        wijziging = EIGEN_STOP[reden]
        if delivery is None:
            return
        if wijziging is None:
            self.maybe_correct_stop(delivery, start)
            return
        line = self.b.current(start.toewijzing_nummer or 0)
        shorter = dataclasses.replace(line, einddatum=when, reden_wijziging=wijziging)
        self.b.decide(day + self.lag(1, 5), [shorter])

    def temporary(
        self, start: StartProduct, last: dt.date, when: dt.date | None, eind: dt.date | None
    ) -> None:
        """A temporary stop (20, e.g. a hospital stay), then either care resumes with a new
        start, or the same delivery is stopped for good with a later Einddatum (TR413/414)."""
        if when is None:
            assert eind is not None
            room = (eind - last).days - 70
            if room < 10:
                self.end(start, last, eind)
                return
            when = last + self.lag(10, room)
        day = self.stop_day(when, last)
        if day is None:
            return
        if self.b.deliver(day, self.b.stop_of(start, TIJDELIJK, when)) is None:
            return
        if self.rng.random() < 0.6:
            again = when + self.lag(7, 30)
            sent = max(again, day + days(1)) + self.lag(0, 5)
            restart = self.b.start_of(start.toewijzing_nummer or 0, again)
            if self.b.deliver(sent, restart) is not None and eind is not None:
                self.end(restart, sent, eind)
            return
        final = when + self.lag(0, 30)
        reden = self.rng.choice(("21", "23", "02"))
        final_day = self.stop_day(final, day)
        if final_day is not None:
            self.b.deliver(final_day, self.b.stop_of(start, reden, final))

    # --- corrections (StatusAanlevering 3 and a new delivery, OP033) -----------------------

    def maybe_correct_start(
        self, start: StartProduct, sent: dt.date
    ) -> tuple[StartProduct, dt.date]:
        """Sometimes the Begindatum was wrong: the start is deleted and sent again."""
        line = self.b.current(start.toewijzing_nummer or 0)
        removal = sent + self.lag(1, 3)
        again = removal + days(1)
        if self.rng.random() >= 0.08 or again > self.as_of:
            return start, sent
        if line.einddatum is not None and again >= line.einddatum - days(40):
            return start, sent
        shift = self.rng.choice((-3, -2, -1, 1, 2, 3))
        begin = min(max(start.begindatum + days(shift), line.ingangsdatum), again)
        if begin == start.begindatum:
            return start, sent
        self.b.deliver(removal, dataclasses.replace(start, status_aanlevering="3"))
        corrected = dataclasses.replace(start, begindatum=begin)
        self.b.deliver(again, corrected)
        return corrected, again

    def maybe_correct_stop(self, delivery: Delivery, start: StartProduct) -> None:
        """Sometimes a stop was wrong: it is deleted and a corrected stop is sent."""
        removal = delivery.day + self.lag(1, 4)
        again = removal + days(1)
        if self.rng.random() >= 0.05 or again > self.as_of:
            return
        stop = delivery.record
        assert not isinstance(stop, StartProduct)
        eind = max(stop.einddatum - self.lag(0, 3), start.begindatum)
        reden = "23" if stop.reden_beeindiging == GEPLAND else stop.reden_beeindiging
        if eind == stop.einddatum and reden == stop.reden_beeindiging:
            reden = "21" if reden != "21" else "22"  # the new stop differs from the deleted one
        self.b.deliver(removal, dataclasses.replace(stop, status_aanlevering="3"))
        self.b.deliver(again, dataclasses.replace(stop, einddatum=eind, reden_beeindiging=reden))
