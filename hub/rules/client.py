"""Rules on the Client itself: its Bsn, its name and its communication needs (CS002, CS050,
CS318, CD007).

Rules return a list (usually empty) rather than yield: on the hot path that is cheaper.
"""

from __future__ import annotations

from hub.errors import ValidationError
from hub.messagetypes import MessageType
from hub.rules.base import RuleContext, registry
from hub.rules.view import Naam, bericht

_ALL = (MessageType.WMO301, MessageType.WMO305, MessageType.WMO307)
#: CS050: NaamGebruik with a Partnernaam (COD700 1-4), and without one: 1 (eigen naam) or
#: 6 (niet-natuurlijk persoon), as iWmo 3.2 words the rule (the 2.10.5 XSLT still allows only 1).
_WITH_PARTNER = frozenset({"1", "2", "3", "4"})
_WITHOUT_PARTNER = frozenset({"1", "6"})
#: The 11-proef weighs the ASCII codes of the digits; this undoes the weighted '0' offsets.
_ASCII_ZEROS = ord("0") * (9 + 8 + 7 + 6 + 5 + 4 + 3 + 2 - 1)


def elfproef(digits: str) -> bool:
    """The 11-proef for a BSN: 9×d1 + 8×d2 + … + 2×d8 − 1×d9 is a multiple of 11."""
    if len(digits) != 9 or not digits.isascii() or not digits.isdigit():
        return False
    d = digits.encode("ascii")
    total = 9 * d[0] + 8 * d[1] + 7 * d[2] + 6 * d[3] + 5 * d[4] + 4 * d[5] + 3 * d[6]
    return (total + 2 * d[7] - d[8] - _ASCII_ZEROS) % 11 == 0


@registry.rule("CS002", *_ALL, description="Bsn must pass the 11-proef.")
def cs002_bsn_elfproef(ctx: RuleContext) -> list[ValidationError]:
    bsn = bericht(ctx).bsn
    if elfproef((bsn.text or "").strip()):
        return []
    # The number itself stays out of the message: a BSN is never echoed (privacy).
    return [
        ctx.error(
            bsn,
            "CS002: Bsn does not pass the 11-proef (9×d1 + 8×d2 + … + 2×d8 − 1×d9 must be a "
            "multiple of 11); check the citizen service number for a typing error.",
        )
    ]


@registry.rule(
    "CS050",
    MessageType.WMO301,
    description="NaamGebruik is 1-4 when Partnernaam is filled, otherwise 1 or 6.",
)
def cs050_naamgebruik(ctx: RuleContext) -> list[ValidationError]:
    view = bericht(ctx)
    errors = _naamgebruik(ctx, view.naam)
    for relatie in view.relaties:
        errors += _naamgebruik(ctx, relatie.naam)
    return errors


def _naamgebruik(ctx: RuleContext, naam: Naam) -> list[ValidationError]:
    element = naam.naam_gebruik
    if element is None:
        return []
    value = element.text
    if naam.partnernaam is not None:
        if value in _WITH_PARTNER:
            return []
        reason = (
            f"CS050: NaamGebruik is {value!r} but Partnernaam is filled; with a Partnernaam "
            "NaamGebruik must be 1, 2, 3 or 4."
        )
    elif value in _WITHOUT_PARTNER:
        return []
    else:
        reason = (
            f"CS050: NaamGebruik is {value!r} but there is no Partnernaam; without one "
            "NaamGebruik must be 1 (eigen naam) or 6 (niet-natuurlijk persoon)."
        )
    return [ctx.error(element, reason)]


@registry.rule(
    "CS318",
    MessageType.WMO301,
    description="NaamGebruik of the Client may not be 6 (niet-natuurlijk persoon).",
)
def cs318_client_natuurlijk_persoon(ctx: RuleContext) -> list[ValidationError]:
    element = bericht(ctx).naam.naam_gebruik
    if element is None or element.text != "6":
        return []
    return [
        ctx.error(
            element,
            "CS318: NaamGebruik of the Client is 6 (niet-natuurlijk persoon); a Client is a "
            "natural person, so use 1, 2, 3 or 4.",
        )
    ]


@registry.rule(
    "CD007",
    MessageType.WMO301,
    description="Communicatie/Taal is filled exactly when Vorm is 1 (tolk taal).",
)
def cd007_taal(ctx: RuleContext) -> list[ValidationError]:
    communicatie = bericht(ctx).communicatie
    if communicatie is None:
        return []
    vorm = communicatie.vorm.text
    if vorm == "1" and communicatie.taal is None:
        return [
            ctx.error(
                communicatie.vorm,
                "CD007: Communicatie/Vorm is 1 (tolk taal) but Taal is missing; fill in the "
                "language the interpreter is needed for.",
            )
        ]
    if vorm != "1" and communicatie.taal is not None:
        return [
            ctx.error(
                communicatie.taal,
                f"CD007: Communicatie/Taal is filled but Vorm is {vorm!r}; Taal is only "
                "allowed when Vorm is 1 (tolk taal).",
            )
        ]
    return []
