"""Rules on the WMO301 Contact and its Adres (CD005, CD009, CD025, CD034, CS089, TR006, TR061).

A Contact occurs in the Client's Contactgegevens and once in every Relatie; the rule XSLT checks
both, and so do these rules.
"""

from __future__ import annotations

import re

from hub.errors import ValidationError
from hub.messagetypes import MessageType
from hub.rules.base import RuleContext, registry
from hub.rules.view import Element, bericht

#: CS089: a Dutch postcode, four digits not starting with 0 and two letters ('1234AB').
_POSTCODE_NL = re.compile(r"[1-9][0-9]{3}[A-Za-z]{2}")
#: TR061: BRP-adres, correspondentieadres, verblijfadres (COD757).
_WOONADRES = frozenset({"01", "02", "03"})


def _is_nl(landcode: Element | None) -> bool:
    return landcode is not None and landcode.text == "NL"


@registry.rule(
    "CD005",
    MessageType.WMO301,
    description="Adres/LandCode is filled exactly when Adres/Postcode is filled.",
)
def cd005_landcode(ctx: RuleContext) -> list[ValidationError]:
    errors = []
    for contact in bericht(ctx).alle_contacten:
        adres = contact.adres
        if adres is None or (adres.postcode is None) is (adres.landcode is None):
            continue
        if adres.postcode is not None:
            errors.append(
                ctx.error(
                    adres.postcode,
                    "CD005: Adres has a Postcode but no LandCode; LandCode is required when "
                    "Postcode is filled.",
                )
            )
        elif adres.landcode is not None:
            errors.append(
                ctx.error(
                    adres.landcode,
                    "CD005: Adres has a LandCode but no Postcode; leave LandCode empty when "
                    "Postcode is empty.",
                )
            )
    return errors


@registry.rule(
    "CD009",
    MessageType.WMO301,
    description="Contact/Periode is only allowed when Soort is 04 (tijdelijk adres).",
)
def cd009_periode(ctx: RuleContext) -> list[ValidationError]:
    errors = []
    for contact in bericht(ctx).alle_contacten:
        if contact.periode is not None and contact.soort.text != "04":
            errors.append(
                ctx.error(
                    contact.periode.element,
                    f"CD009: Contact has a Periode but Soort is {contact.soort.text!r}; a "
                    "Periode is only allowed for Soort 04 (tijdelijk adres).",
                )
            )
    return errors


@registry.rule(
    "CD025",
    MessageType.WMO301,
    description="Adres/Huis/Huisnummer is required when LandCode is NL.",
)
def cd025_huisnummer(ctx: RuleContext) -> list[ValidationError]:
    errors = []
    for contact in bericht(ctx).alle_contacten:
        adres = contact.adres
        # Huisnummer is required inside Huis, so an Adres without Huis has no Huisnummer.
        if adres is not None and adres.huis is None and _is_nl(adres.landcode):
            errors.append(
                ctx.error(
                    adres.landcode if adres.landcode is not None else adres.element,
                    "CD025: Adres has LandCode NL but no Huis/Huisnummer; a Dutch address "
                    "needs a Huisnummer.",
                )
            )
    return errors


@registry.rule(
    "CD034",
    MessageType.WMO301,
    description="Adres/Postcode is required when Soort is 01 (BRP-adres) or 03 (verblijfadres).",
)
def cd034_postcode(ctx: RuleContext) -> list[ValidationError]:
    errors = []
    for contact in bericht(ctx).alle_contacten:
        soort = contact.soort.text
        if soort in ("01", "03") and (contact.adres is None or contact.adres.postcode is None):
            errors.append(
                ctx.error(
                    contact.soort,
                    f"CD034: Contact has Soort {soort} but no Adres/Postcode; a BRP-adres (01) "
                    "or verblijfadres (03) needs a Postcode.",
                )
            )
    return errors


@registry.rule(
    "CS089",
    MessageType.WMO301,
    description="With LandCode NL the Postcode has the Dutch format (1234AB).",
)
def cs089_postcode_nl(ctx: RuleContext) -> list[ValidationError]:
    errors = []
    for contact in bericht(ctx).alle_contacten:
        adres = contact.adres
        if adres is None or not _is_nl(adres.landcode):
            continue
        postcode = adres.postcode
        # Checked as sent: Postcode is a string type, so surrounding spaces are part of it.
        if postcode is None or not _POSTCODE_NL.fullmatch(postcode.text or ""):
            errors.append(
                ctx.error(
                    postcode if postcode is not None else adres.element,
                    "CS089: Adres has LandCode NL but the Postcode is not a Dutch postcode; "
                    "use four digits (not starting with 0) and two letters without a space, "
                    "e.g. 1234AB.",
                )
            )
    return errors


@registry.rule(
    "TR006",
    MessageType.WMO301,
    description="A Contact has a Telefoon, or an Adres with both Huis and Postcode.",
)
def tr006_bereikbaar(ctx: RuleContext) -> list[ValidationError]:
    errors = []
    for contact in bericht(ctx).alle_contacten:
        if contact.telefoon is not None:
            continue
        adres = contact.adres
        if adres is None or adres.huis is None or adres.postcode is None:
            errors.append(
                ctx.error(
                    contact.element,
                    "TR006: Contact has no Telefoon and no Adres with both Huis and Postcode; "
                    "give a Telefoon, or a Huis and Postcode in the Adres.",
                )
            )
    return errors


@registry.rule(
    "TR061",
    MessageType.WMO301,
    description="Contactgegevens hold a Contact with Soort 01, 02 or 03.",
)
def tr061_woonadres(ctx: RuleContext) -> list[ValidationError]:
    view = bericht(ctx)
    for contact in view.contacten:
        if contact.soort.text in _WOONADRES:
            return []
    if view.contactgegevens is None:
        return []
    return [
        ctx.error(
            view.contactgegevens,
            "TR061: the Client's Contactgegevens have no Contact with Soort 01 (BRP-adres), "
            "02 (correspondentieadres) or 03 (verblijfadres); at least one is required.",
        )
    ]
