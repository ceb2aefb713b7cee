"""Product lines (ToegewezenProduct, StartProduct, StopProduct) that keep the rules."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from hub.factory.codes import COMMENTAAR, REDENEN_BEEINDIGING, REDENEN_WIJZIGING, tr302_conflict
from hub.factory.values import ValueFactory
from hub.model import StartProduct, StopProduct, ToegewezenProduct


def _only(fixed: Mapping[str, Any], cls: type, extra: Sequence[str] = ()) -> None:
    names = {f.name for f in dataclasses.fields(cls)} | set(extra)
    unknown = sorted(set(fixed) - names)
    if unknown:
        raise TypeError(f"unknown {cls.__name__} field(s) {unknown}; known: {sorted(names)}")


class LineFactory(ValueFactory):
    """Adds product lines whose dates, scope and keys fit together and with the message."""

    def toegewezen_product(
        self,
        *,
        dagtekening: dt.date,
        others: Sequence[ToegewezenProduct] = (),
        **fixed: Any,
    ) -> ToegewezenProduct:
        """A 301 product line; fields in `fixed` are kept, the rest is drawn to fit them.

        Draws again (a few times) when the line would share a product and period with one of
        `others` (TR302) so that a message with several lines stays valid.
        """
        _only(fixed, ToegewezenProduct)
        line = self._draw_toegewezen(dagtekening, others, fixed)
        for attempt in range(40):
            conflicts = [other for other in others if tr302_conflict(line, other)]
            if not conflicts:
                break
            if attempt >= 20:  # redrawing did not help, e.g. a line without Product
                moved = self._move_apart(line, conflicts, fixed)
                if moved is not None:
                    line = moved
                    continue
            line = self._draw_toegewezen(dagtekening, others, fixed)
        return line

    def _move_apart(
        self,
        line: ToegewezenProduct,
        conflicts: Sequence[ToegewezenProduct],
        fixed: Mapping[str, Any],
    ) -> ToegewezenProduct | None:
        """The line moved after (or else before) the lines it overlaps, if its dates are free."""
        span = line.einddatum - line.ingangsdatum if line.einddatum else None
        ends = [c.einddatum for c in conflicts]
        if "ingangsdatum" not in fixed and all(ends):
            begin = max(e for e in ends if e) + self._days(1, 30)
            end = line.einddatum if "einddatum" in fixed or span is None else begin + span
            return dataclasses.replace(line, ingangsdatum=begin, einddatum=end)
        if span is not None and "ingangsdatum" not in fixed and "einddatum" not in fixed:
            end = min(c.ingangsdatum for c in conflicts) - self._days(1, 30)
            return dataclasses.replace(line, ingangsdatum=end - span, einddatum=end)
        return None

    def _draw_toegewezen(
        self, dagtekening: dt.date, others: Sequence[ToegewezenProduct], fixed: Mapping[str, Any]
    ) -> ToegewezenProduct:
        rng = self.rng
        if fixed.get("budget") is not None:
            kind = "budget"
        elif fixed.get("omvang") is not None:
            kind = "omvang"
        elif self.varied:
            kind = rng.choices(("omvang", "budget", "categorie"), weights=(6, 2, 1))[0]
        else:
            kind = "omvang"
        if "product" in fixed:
            product = fixed["product"]
        elif kind == "omvang":
            product = self.product()
        else:
            product = None if kind == "budget" and rng.random() < 0.4 else self.product(code=False)
        if kind == "omvang" and "omvang" not in fixed and (product is None or not product.code):
            kind = "categorie"  # CD080: no Omvang without a product code
        toewijzingsdatum = fixed.get("toewijzingsdatum") or dagtekening - self._days(0, 14)
        einddatum_fixed = fixed.get("einddatum")
        ingangsdatum = fixed.get("ingangsdatum") or toewijzingsdatum + self._days(-30, 30)
        if "ingangsdatum" not in fixed and einddatum_fixed is not None:
            ingangsdatum = min(ingangsdatum, einddatum_fixed)
        if "einddatum" in fixed:
            has_end = einddatum_fixed is not None
        else:
            has_end = kind == "budget" or not self.varied or rng.random() < 0.7  # CD075
        omvang = fixed.get("omvang") if "omvang" in fixed else None
        if kind == "omvang" and "omvang" not in fixed:
            omvang = self.omvang(per_week=has_end)  # CD041; CD076: per week needs an end
        reden = fixed.get("reden_wijziging")
        einddatum = einddatum_fixed
        if "einddatum" not in fixed and has_end:
            einddatum = ingangsdatum + self._days(30, 730)
        if "reden_wijziging" not in fixed and has_end and self._maybe(0.3):
            if "einddatum" not in fixed and rng.random() < 0.15:
                reden, einddatum = "13", ingangsdatum  # CS335: verwijderd means Einddatum = begin
            else:
                reden = self._pick(REDENEN_WIJZIGING)
        budget = fixed.get("budget")
        if kind == "budget" and "budget" not in fixed:
            budget = rng.randint(5, 2500) * 100
        taken = [o.toewijzing_nummer for o in others]
        return ToegewezenProduct(
            toewijzing_nummer=fixed.get("toewijzing_nummer") or self.toewijzing_nummer(taken),
            referentie_aanbieder=fixed.get("referentie_aanbieder")
            or (f"VOT-{rng.randrange(10**6):06d}" if self._maybe(0.1) else None),
            product=product,
            toewijzingsdatum=toewijzingsdatum,
            toewijzingstijd=fixed.get("toewijzingstijd")
            or dt.time(rng.randint(7, 18), rng.randint(0, 59), rng.randint(0, 59)),
            ingangsdatum=ingangsdatum,
            einddatum=einddatum,
            reden_wijziging=reden,
            omvang=omvang,
            budget=budget,
            commentaar=fixed.get("commentaar")
            or (self._pick(COMMENTAAR) if self._maybe(0.2) else None),
        )

    def start_product(
        self, *, dagtekening: dt.date, others: Sequence[StartProduct] = (), **fixed: Any
    ) -> StartProduct:
        """A 305 line for a toewijzing that started on or before the Dagtekening (TR134)."""
        _only(fixed, StartProduct)
        ingang = fixed.get("toewijzing_ingangsdatum") or dagtekening - self._days(5, 120)
        begin = fixed.get("begindatum") or min(ingang + self._days(0, 14), dagtekening)
        values: dict[str, Any] = {
            "toewijzing_nummer": self.toewijzing_nummer([o.toewijzing_nummer or 0 for o in others]),
            "product": None if self._maybe(0.2) else self.product(),
            "toewijzing_ingangsdatum": ingang,
            "begindatum": begin,
            "status_aanlevering": "1",  # CS058 allows 1 and 3; 3 needs an earlier message
        }
        return StartProduct(**{**values, **fixed})

    def stop_product(
        self, *, dagtekening: dt.date, others: Sequence[StopProduct] = (), **fixed: Any
    ) -> StopProduct:
        """A 307 line ending on or before the Dagtekening (TR134), not before its begin (TR018)."""
        _only(fixed, StopProduct)
        eind = fixed.get("einddatum") or dagtekening - self._days(0, 30)
        begin = fixed.get("begindatum") or eind - self._days(0, 300)
        ingang = fixed.get("toewijzing_ingangsdatum") or begin - self._days(0, 14)
        values: dict[str, Any] = {
            "toewijzing_nummer": self.toewijzing_nummer([o.toewijzing_nummer or 0 for o in others]),
            "product": None if self._maybe(0.2) else self.product(),
            "toewijzing_ingangsdatum": ingang,
            "begindatum": begin,
            "reden_beeindiging": self._pick(REDENEN_BEEINDIGING),
            "einddatum": eind,
            "status_aanlevering": "1",
        }
        return StopProduct(**{**values, **fixed})


def can_start(line: ToegewezenProduct, today: dt.date) -> bool:
    """Whether delivery of a toewijzing line can have started by today (not a removed line)."""
    return line.ingangsdatum <= today and line.reden_wijziging != "13"
