"""Date rules: periods in order, dates not after the Dagtekening or today, plausible and
consistent dates of birth (CS003, TR018, TR134, TR135, TR002, CS139).

Dates compare as YYYYMMDD numbers, as the rule XSLT compares them. Dates of birth are personal
data and are never echoed in a message.
"""

from __future__ import annotations

from hub.errors import ValidationError
from hub.messagetypes import MessageType
from hub.rules.base import RuleContext, registry
from hub.rules.view import Element, Geboortedatum, bericht, date_key, text

_ALL = (MessageType.WMO301, MessageType.WMO305, MessageType.WMO307)
#: TR002: 120 years as a difference of YYYYMMDD numbers.
_120_YEARS = 120 * 10000


def _before(rule: str, ctx: RuleContext, end: Element, start: Element) -> ValidationError:
    start_name = _local(start)
    return ctx.error(
        end,
        f"{rule}: Einddatum {text(end)} is before {start_name} {text(start)}; Einddatum must be "
        f"on or after {start_name}.",
    )


@registry.rule(
    "CS003",
    MessageType.WMO301,
    description="An Einddatum is on or after the Ingangsdatum/Begindatum of its period.",
)
def cs003_einddatum(ctx: RuleContext) -> list[ValidationError]:
    view = bericht(ctx)
    errors = []
    for product in view.producten:
        eind = product.eind
        if eind is not None and product.ingang is not None and eind < product.ingang:
            assert product.einddatum is not None
            errors.append(_before("CS003", ctx, product.einddatum, product.ingangsdatum))
    for relatie in view.relaties:
        if relatie.contact.periode is not None:
            errors += _periode(
                ctx, relatie.contact.periode.begindatum, relatie.contact.periode.einddatum
            )
    for contact in view.contacten:
        if contact.periode is not None:
            errors += _periode(ctx, contact.periode.begindatum, contact.periode.einddatum)
    return errors


def _periode(ctx: RuleContext, begin: Element | None, end: Element | None) -> list[ValidationError]:
    if end is None:
        return []
    if begin is None:
        # The rule XSLT needs the Begindatum to compare against and rejects its absence.
        return [
            ctx.error(
                end,
                "CS003: Periode has an Einddatum but no Begindatum; an Einddatum needs the "
                "Begindatum of the period it closes.",
            )
        ]
    end_key, begin_key = date_key(end), date_key(begin)
    if end_key is not None and begin_key is not None and end_key < begin_key:
        return [_before("CS003", ctx, end, begin)]
    return []


@registry.rule(
    "TR018",
    MessageType.WMO307,
    description="StopProduct/Einddatum is on or after its Begindatum.",
)
def tr018_stop_einddatum(ctx: RuleContext) -> list[ValidationError]:
    errors = []
    for levering in bericht(ctx).leveringen:
        end, begin = date_key(levering.einddatum), date_key(levering.begindatum)
        if end is not None and begin is not None and end < begin:
            assert levering.einddatum is not None
            errors.append(_before("TR018", ctx, levering.einddatum, levering.begindatum))
    return errors


@registry.rule("TR134", *_ALL, description="Dates are not later than the Dagtekening.")
def tr134_niet_na_dagtekening(ctx: RuleContext) -> list[ValidationError]:
    view = bericht(ctx)
    dag = view.dag
    if dag is None:
        return []
    errors = []
    for geboortedatum in view.geboortedata:
        if geboortedatum.key is not None and geboortedatum.key > dag:
            errors.append(
                ctx.error(
                    geboortedatum.datum,
                    "TR134: Geboortedatum is after the Dagtekening of the message; a date of "
                    "birth cannot be later than the day the message was made.",
                )
            )
    # WMO301: Toewijzingsdatum; WMO305: Begindatum of a start; WMO307: Einddatum of a stop.
    dated = [product.toewijzingsdatum for product in view.producten]
    for levering in view.leveringen:
        dated.append(levering.begindatum if levering.einddatum is None else levering.einddatum)
    for el in dated:
        key = date_key(el)
        if key is not None and key > dag:
            errors.append(
                ctx.error(
                    el,
                    f"TR134: {_local(el)} {text(el)} is after the Dagtekening "
                    f"{text(view.dagtekening)}; it may not be later than the Dagtekening.",
                )
            )
    return errors


@registry.rule(
    "TR135",
    *_ALL,
    description="The Dagtekening is not in the future.",
    retour_code="8848",
)
def tr135_dagtekening_niet_in_toekomst(ctx: RuleContext) -> list[ValidationError]:
    view = bericht(ctx)
    today = ctx.today
    if view.dag is None or view.dag <= today.year * 10000 + today.month * 100 + today.day:
        return []
    return [
        ctx.error(
            view.dagtekening,
            f"TR135: Dagtekening {text(view.dagtekening)} is in the future (today is "
            f"{today.isoformat()}); a message cannot be dated later than the day it is sent.",
        )
    ]


@registry.rule(
    "TR002",
    *_ALL,
    description="Geboortedatum is at most 120 years before the Dagtekening, unless unknown.",
)
def tr002_geboortedatum_120_jaar(ctx: RuleContext) -> list[ValidationError]:
    view = bericht(ctx)
    dag = view.dag
    if dag is None:
        return []
    errors = []
    for geboortedatum in view.geboortedata:
        key = geboortedatum.key
        if key is not None and key + _120_YEARS < dag and not _onbekend(geboortedatum):
            errors.append(
                ctx.error(
                    geboortedatum.datum,
                    "TR002: Geboortedatum lies more than 120 years before the Dagtekening; "
                    "when the date of birth is unknown, send Datum 1900-01-01 with "
                    "DatumGebruik 3.",
                )
            )
    return errors


@registry.rule(
    "CS139",
    *_ALL,
    description="Geboortedatum/Datum agrees with DatumGebruik (unknown parts are 01).",
)
def cs139_datumgebruik(ctx: RuleContext) -> list[ValidationError]:
    errors = []
    for geboortedatum in bericht(ctx).geboortedata:
        gebruik = geboortedatum.datum_gebruik
        if gebruik is None:
            continue
        datum = text(geboortedatum.datum)
        code = gebruik.text
        if code == "1" and not datum.endswith("-01"):
            reason = "DatumGebruik 1 (day unknown) requires the day of Datum to be 01"
        elif code == "2" and not datum.endswith("-01-01"):
            reason = "DatumGebruik 2 (day and month unknown) requires Datum to be 1 January"
        elif code == "3" and datum != "1900-01-01":
            reason = "DatumGebruik 3 (date unknown) requires Datum 1900-01-01"
        else:
            continue
        errors.append(ctx.error(gebruik, f"CS139: {reason}."))
    return errors


def _onbekend(geboortedatum: Geboortedatum) -> bool:
    """TR002's exception: an unknown date of birth is sent as 1900-01-01 with DatumGebruik 3."""
    gebruik = geboortedatum.datum_gebruik
    return gebruik is not None and gebruik.text == "3" and text(geboortedatum.datum) == "1900-01-01"


def _local(el: Element) -> str:
    tag = el.tag
    return tag[tag.rfind("}") + 1 :] if isinstance(tag, str) else "date"
