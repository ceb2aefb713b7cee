"""Rules on ToegewezenProduct (WMO301) and on StartProduct/StopProduct (WMO305/307):
Omvang or Budget, when an Einddatum is needed, RedenWijziging, overlapping assignments
(CD041, CD075-CD080, CS335, CS336, CS338, TR302, CS058).
"""

from __future__ import annotations

from hub.errors import ValidationError
from hub.messagetypes import MessageType
from hub.rules.base import RuleContext, registry
from hub.rules.view import ToegewezenProduct, bericht, text

_301 = MessageType.WMO301
#: CD080, CS338: these conditions hold for assignments running past 31-12-2020 or open ended.
_CUTOFF = 20201231
#: CS338: Eenheid 14 (etmaal), 16 (dagdeel), 83 (euro's) and 84 (stuks) need Frequentie
#: 2 (per week), 4 (per maand) or 6 (totaal binnen geldigheidsduur toewijzing).
_EENHEID_MET_FREQUENTIE = frozenset({"14", "16", "83", "84"})
_FREQUENTIE_VOOR_EENHEID = frozenset({"2", "4", "6"})
#: TR302: hulpmiddelen (ProductCategorie 11-14) may overlap.
_HULPMIDDELEN = frozenset({"11", "12", "13", "14"})


def _runs_past_2020(product: ToegewezenProduct) -> bool:
    return product.einddatum is None or (product.eind is not None and product.eind > _CUTOFF)


@registry.rule("CD041", _301, description="Omvang is required when Product/Code is filled.")
def cd041_omvang_bij_code(ctx: RuleContext) -> list[ValidationError]:
    return [
        ctx.error(
            product.code,
            "CD041: Product/Code is filled but the ToegewezenProduct has no Omvang; an "
            "assignment of a specific product needs an Omvang.",
        )
        for product in bericht(ctx).producten
        if product.code is not None and product.omvang is None
    ]


@registry.rule("CD075", _301, description="Einddatum is required when Budget is filled.")
def cd075_einddatum_bij_budget(ctx: RuleContext) -> list[ValidationError]:
    return [
        ctx.error(
            product.budget,
            "CD075: ToegewezenProduct has a Budget but no Einddatum; a budget needs the "
            "Einddatum of the period it covers.",
        )
        for product in bericht(ctx).producten
        if product.budget is not None and product.einddatum is None
    ]


@registry.rule("CD076", _301, description="Einddatum is required when Frequentie is 2 (per week).")
def cd076_einddatum_bij_per_week(ctx: RuleContext) -> list[ValidationError]:
    return [
        ctx.error(
            product.frequentie,
            "CD076: Omvang/Frequentie is 2 (per week) but the ToegewezenProduct has no "
            "Einddatum; a weekly volume needs an Einddatum.",
        )
        for product in bericht(ctx).producten
        if product.frequentie is not None
        and product.frequentie.text == "2"
        and product.einddatum is None
    ]


@registry.rule("CD077", _301, description="Omvang is empty when Budget is filled.")
def cd077_geen_omvang_bij_budget(ctx: RuleContext) -> list[ValidationError]:
    return [
        ctx.error(
            product.omvang,
            "CD077: ToegewezenProduct has both a Budget and an Omvang; leave Omvang empty when "
            "a Budget is given.",
        )
        for product in bericht(ctx).producten
        if product.budget is not None and product.omvang is not None
    ]


@registry.rule("CD078", _301, description="Budget is empty when Omvang is filled.")
def cd078_geen_budget_bij_omvang(ctx: RuleContext) -> list[ValidationError]:
    return [
        ctx.error(
            product.budget,
            "CD078: ToegewezenProduct has both an Omvang and a Budget; leave Budget empty when "
            "an Omvang is given.",
        )
        for product in bericht(ctx).producten
        if product.omvang is not None and product.budget is not None
    ]


@registry.rule("CD079", _301, description="Product is required when Budget is empty.")
def cd079_product_zonder_budget(ctx: RuleContext) -> list[ValidationError]:
    return [
        ctx.error(
            product.element,
            "CD079: ToegewezenProduct has neither a Product nor a Budget; without a Budget the "
            "Product is required.",
        )
        for product in bericht(ctx).producten
        if product.budget is None and product.product is None
    ]


@registry.rule(
    "CD080",
    _301,
    description="Omvang is empty when Product/Code is empty and Einddatum is after 2020 or empty.",
)
def cd080_geen_omvang_zonder_code(ctx: RuleContext) -> list[ValidationError]:
    return [
        ctx.error(
            product.omvang,
            "CD080: ToegewezenProduct has an Omvang but no Product/Code; an assignment at "
            "category level running after 31-12-2020 may not have an Omvang.",
        )
        for product in bericht(ctx).producten
        if product.omvang is not None and product.code is None and _runs_past_2020(product)
    ]


@registry.rule(
    "CS335",
    _301,
    description="RedenWijziging 13 (verwijderd) only when Einddatum equals Ingangsdatum.",
)
def cs335_verwijderd(ctx: RuleContext) -> list[ValidationError]:
    errors = []
    for product in bericht(ctx).producten:
        reden = product.reden_wijziging
        if reden is None or reden.text != "13":
            continue
        begin = text(product.ingangsdatum)
        if product.einddatum is None:
            # The rule XSLT compares only when an Einddatum is present; the rule asks for an
            # Einddatum equal to the Ingangsdatum, so a missing one breaks it as well.
            errors.append(
                ctx.error(
                    reden,
                    "CS335: RedenWijziging is 13 (verwijderd) but the ToegewezenProduct has no "
                    f"Einddatum; a deleted assignment ends on its Ingangsdatum {begin}.",
                )
            )
        elif product.eind != product.ingang:
            errors.append(
                ctx.error(
                    reden,
                    f"CS335: RedenWijziging is 13 (verwijderd) but Einddatum "
                    f"{text(product.einddatum)} differs from Ingangsdatum {begin}; a deleted "
                    "assignment has its Einddatum equal to its Ingangsdatum.",
                )
            )
    return errors


@registry.rule(
    "CS336", _301, description="RedenWijziging 01 (administratieve correctie) is not used."
)
def cs336_vervallen_reden(ctx: RuleContext) -> list[ValidationError]:
    return [
        ctx.error(
            product.reden_wijziging,
            "CS336: RedenWijziging 01 (administratieve correctie) is no longer used; choose "
            "another RedenWijziging.",
        )
        for product in bericht(ctx).producten
        if product.reden_wijziging is not None and product.reden_wijziging.text == "01"
    ]


@registry.rule(
    "CS338",
    _301,
    description="Eenheid 14, 16, 83 or 84 needs Frequentie 2, 4 or 6 (unless ended by 2020).",
)
def cs338_frequentie_bij_eenheid(ctx: RuleContext) -> list[ValidationError]:
    errors = []
    for product in bericht(ctx).producten:
        eenheid, frequentie = product.eenheid, product.frequentie
        if eenheid is None or frequentie is None or eenheid.text not in _EENHEID_MET_FREQUENTIE:
            continue
        if frequentie.text not in _FREQUENTIE_VOOR_EENHEID and _runs_past_2020(product):
            errors.append(
                ctx.error(
                    frequentie,
                    f"CS338: Omvang has Eenheid {eenheid.text} with Frequentie "
                    f"{frequentie.text!r}; for Eenheid 14, 16, 83 or 84 the Frequentie must be "
                    "2 (per week), 4 (per maand) or 6 (totaal binnen geldigheidsduur toewijzing).",
                )
            )
    return errors


@registry.rule(
    "TR302",
    _301,
    description="The same product is assigned at most once per period (hulpmiddelen excepted).",
)
def tr302_geen_overlap(ctx: RuleContext) -> list[ValidationError]:
    producten = bericht(ctx).producten
    if len(producten) < 2:
        return []
    errors = []
    active = [(i, p) for i, p in enumerate(producten, start=1) if not _verwijderd(p)]
    for n, (position, product) in enumerate(active):
        for earlier_position, earlier in active[:n]:
            if _same_product(product, earlier) and _overlap(product, earlier):
                errors.append(
                    ctx.error(
                        product.element,
                        f"TR302: ToegewezenProduct {position} assigns the same product as "
                        f"ToegewezenProduct {earlier_position} for an overlapping period; a "
                        "product may only occur again for a period that does not overlap.",
                    )
                )
    return errors


def _verwijderd(product: ToegewezenProduct) -> bool:
    """Withdrawn assignments do not count: RedenWijziging 01 or 13, Einddatum = Ingangsdatum."""
    reden = product.reden_wijziging
    return (
        reden is not None
        and reden.text in ("01", "13")
        and product.eind is not None
        and product.eind == product.ingang
    )


def _same_product(a: ToegewezenProduct, b: ToegewezenProduct) -> bool:
    """Same ProductCode, or same category when a code is missing; no Product matches any."""
    if a.categorie is None or b.categorie is None:
        return not _hulpmiddel(a) and not _hulpmiddel(b)
    if a.categorie.text != b.categorie.text or _hulpmiddel(a):
        return False
    if a.code is None or b.code is None:
        return True
    return a.code.text == b.code.text


def _hulpmiddel(product: ToegewezenProduct) -> bool:
    return product.categorie is not None and product.categorie.text in _HULPMIDDELEN


def _overlap(a: ToegewezenProduct, b: ToegewezenProduct) -> bool:
    """Whether two assignment periods share a day; an absent Einddatum is open ended."""
    a_start, b_start = a.ingang or 0, b.ingang or 0
    return (a.eind is None or a.eind >= b_start) and (b.eind is None or b.eind >= a_start)


@registry.rule(
    "CS058",
    MessageType.WMO305,
    MessageType.WMO307,
    description="StatusAanlevering is 1 (eerste aanlevering) or 3 (verwijderen aanlevering).",
)
def cs058_status_aanlevering(ctx: RuleContext) -> list[ValidationError]:
    return [
        ctx.error(
            levering.status_aanlevering,
            f"CS058: StatusAanlevering is {levering.status_aanlevering.text!r}; use 1 (eerste "
            "aanlevering) or 3 (verwijderen aanlevering).",
        )
        for levering in bericht(ctx).leveringen
        if levering.status_aanlevering.text not in ("1", "3")
    ]
