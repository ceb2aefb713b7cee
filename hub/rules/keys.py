"""TR101: no duplicate records in one message, by the logical key of each record class.

The keys are those of the rule XSLT: Relatie by Nummer, Contact by Soort, ToegewezenProduct by
ToewijzingNummer, StartProduct by (Begindatum, Product, ToewijzingNummer) and StopProduct by
(Begindatum, Einddatum, Product, RedenBeeindiging, ToewijzingNummer). An absent optional field
is part of the key as "absent". Values are compared by their XSD value, so '0101' and '101' are
the same ToewijzingNummer (xs:integer) and surrounding spaces in a date do not count.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from hub.errors import ValidationError
from hub.messagetypes import MessageType
from hub.rules.base import RuleContext, registry
from hub.rules.view import Element, Levering, bericht, date_key


@registry.rule(
    "TR101",
    MessageType.WMO301,
    MessageType.WMO305,
    MessageType.WMO307,
    description="A message holds no duplicate records (same logical key).",
)
def tr101_geen_dubbele_regels(ctx: RuleContext) -> list[ValidationError]:
    view = bericht(ctx)
    keys: list[tuple[Element, Hashable]]
    if ctx.message_type is MessageType.WMO301:
        errors = []
        if len(view.relaties) > 1:
            keys = [(r.element, r.nummer.text) for r in view.relaties]
            errors += _duplicates(ctx, keys, "Relatie", "Nummer")
        if len(view.contacten) > 1:
            keys = [(c.element, c.soort.text) for c in view.contacten]
            errors += _duplicates(ctx, keys, "Contact", "Soort")
        if len(view.producten) > 1:
            keys = [(p.element, _integer(p.toewijzing_nummer)) for p in view.producten]
            errors += _duplicates(ctx, keys, "ToegewezenProduct", "ToewijzingNummer")
        return errors
    if len(view.leveringen) < 2:
        return []
    if ctx.message_type is MessageType.WMO305:
        keys = [(lev.element, _start_key(lev)) for lev in view.leveringen]
        return _duplicates(ctx, keys, "StartProduct", "Begindatum, Product and ToewijzingNummer")
    keys = [(lev.element, _stop_key(lev)) for lev in view.leveringen]
    return _duplicates(
        ctx,
        keys,
        "StopProduct",
        "Begindatum, Einddatum, Product, RedenBeeindiging and ToewijzingNummer",
    )


def _duplicates(
    ctx: RuleContext, records: Sequence[tuple[Element, Hashable]], name: str, key: str
) -> list[ValidationError]:
    """One error for every record whose key an earlier record of the same class already had."""
    if len({value for _, value in records}) == len(records):
        return []
    errors = []
    first: dict[Hashable, int] = {}
    for position, (element, value) in enumerate(records, start=1):
        earlier = first.setdefault(value, position)
        if earlier != position:
            # Key values are not echoed: a Nummer or ToewijzingNummer may look like a BSN.
            errors.append(
                ctx.error(
                    element,
                    f"TR101: {name} {position} has the same {key} as {name} {earlier}; a "
                    "message may not contain the same record twice.",
                )
            )
    return errors


def _start_key(levering: Levering) -> Hashable:
    return (
        date_key(levering.begindatum),
        _raw(levering.categorie),
        _raw(levering.code),
        _integer(levering.toewijzing_nummer),
    )


def _stop_key(levering: Levering) -> Hashable:
    return (
        date_key(levering.begindatum),
        date_key(levering.einddatum),
        _raw(levering.categorie),
        _raw(levering.code),
        _raw(levering.reden_beeindiging),
        _integer(levering.toewijzing_nummer),
    )


def _raw(el: Element | None) -> str | None:
    """A string value as sent (xs:string keeps its whitespace), None when absent."""
    return None if el is None else el.text


def _integer(el: Element | None) -> int | str | None:
    """An xs:integer value, so that '0101', '+101' and ' 101 ' are all 101."""
    if el is None or el.text is None:
        return None
    try:
        return int(el.text)
    except ValueError:
        return el.text
