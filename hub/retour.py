"""The technical retour (302/306/308) on a submitted message: header-level RetourCodes only.

    technical_retour(content, message_id, received_at)            # 0200: accepted
    technical_retour(content, message_id, received_at, errors)    # the errors' retour codes

The retour repeats the heen message's header, adds its own identification and carries the
RetourCodes in its header: 0200 (WJ001: no remarks) for an accepted message, else the retour
code of every error (0001 for XSD and intra-message rule failures, 9056 for TR056, ...). Where
an error sits (its path and line) is in the HTTP status of the message, not in the retour: the
retour XSD has no place for it. Retours with RetourCodes on every class and the cross-message
9xxx codes as they stand at receipt are the projections' business; this one answers what the
intake alone knows. A retour is only returned when it validates against the project's retour
XSD, so a header too broken to repeat yields None.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lxml import etree

from hub.codec import to_element, to_xml
from hub.errors import InvalidMessage
from hub.events import RejectionError
from hub.factory.codes import XSLT_VERSIE
from hub.messagetypes import MessageType, basis
from hub.model import Header, RetourHeader, Wmo302, Wmo306, Wmo308
from hub.model.parts import BerichtIdentificatie, XsdVersie
from hub.validation import compiled_schema, detect_type
from hub.xmlsafe import parse_bytes

#: WJ001 0200: no remarks on this message class (accepted).
ACCEPTED_CODE: Final = "0200"
#: WJ001 0001: rejected for technical reasons (XSD or intra-message rule).
TECHNICAL_CODE: Final = "0001"

try:
    _DUTCH: dt.tzinfo = ZoneInfo("Europe/Amsterdam")
except ZoneInfoNotFoundError:  # pragma: no cover - a system without tz data
    _DUTCH = dt.UTC

_RETOURS: Final = {
    MessageType.WMO302: Wmo302,
    MessageType.WMO306: Wmo306,
    MessageType.WMO308: Wmo308,
}


def retour_identificatie(message_id: str) -> str:
    """IdentificatieRetour (max 12 characters): from the hub message id, so it is stable."""
    return message_id.replace("-", "")[:12].upper()


def retour_codes(errors: Iterable[RejectionError]) -> tuple[str, ...]:
    """Every distinct retour code of `errors` in order of first appearance (0200 if none)."""
    codes = tuple(dict.fromkeys(e.retour_code for e in errors if e.retour_code))
    return codes or (ACCEPTED_CODE,)


def technical_retour(
    content: bytes,
    message_id: str,
    received_at: dt.datetime,
    errors: Sequence[RejectionError] = (),
) -> bytes | None:
    """The retour XML on `content`, or None if its header cannot be repeated validly."""
    try:
        root = parse_bytes(content)
        message_type = detect_type(root)
    except InvalidMessage:
        return None
    if message_type.is_retour:
        return None
    header = _heen_header(root, message_type)
    if header is None:
        return None
    retour_type = message_type.retour
    day = received_at.astimezone(_DUTCH).date()  # the Dutch calendar day of receipt
    for codes in (retour_codes(errors), (TECHNICAL_CODE,)):
        retour_header = RetourHeader(
            bericht_code=retour_type.bericht_code,
            bericht_versie=header.bericht_versie,
            bericht_subversie=header.bericht_subversie,
            afzender=header.afzender,
            ontvanger=header.ontvanger,
            bericht_identificatie=header.bericht_identificatie,
            xsd_versie=header.xsd_versie,
            identificatie_retour=retour_identificatie(message_id),
            dagtekening_retour=max(day, header.bericht_identificatie.dagtekening),
            xslt_versie=XSLT_VERSIE,
            retour_codes=codes,
        )
        retour = _RETOURS[retour_type](header=retour_header)
        if compiled_schema(retour_type).validate(to_element(retour)):
            return to_xml(retour)
        if not errors:
            break  # 0200 on a valid header never fails; a broken header stays broken
    return None


def _heen_header(root: etree._Element, message_type: MessageType) -> Header | None:
    """The heen message's header as the model reads it; None if a field is unusable."""
    header = _child(root, message_type.tag("Header"))
    if header is None:
        return None
    ident = _child(header, message_type.tag("BerichtIdentificatie"))
    xsd = _child(header, message_type.tag("XsdVersie"))
    texts = {
        name: _text(header, message_type.tag(name))
        for name in ("BerichtVersie", "BerichtSubversie", "Afzender", "Ontvanger")
    }
    identificatie = _text(ident, basis("Identificatie"))
    dagtekening = _text(ident, basis("Dagtekening"))
    basisschema = _text(xsd, basis("BasisschemaXsdVersie"))
    bericht_xsd = _text(xsd, basis("BerichtXsdVersie"))
    try:
        return Header(
            bericht_code=message_type.bericht_code,
            bericht_versie=int(texts["BerichtVersie"] or ""),
            bericht_subversie=int(texts["BerichtSubversie"] or ""),
            afzender=_required(texts["Afzender"]),
            ontvanger=_required(texts["Ontvanger"]),
            bericht_identificatie=BerichtIdentificatie(
                identificatie=_required(identificatie),
                dagtekening=dt.date.fromisoformat(dagtekening or ""),
            ),
            xsd_versie=XsdVersie(
                basisschema_xsd_versie=_required(basisschema),
                bericht_xsd_versie=_required(bericht_xsd),
            ),
        )
    except ValueError:
        return None


def _required(value: str | None) -> str:
    if not value:
        raise ValueError("missing")
    return value


def _child(parent: etree._Element | None, tag: str) -> etree._Element | None:
    if parent is None:
        return None
    for child in parent:
        if child.tag == tag:
            return child
    return None


def _text(parent: etree._Element | None, tag: str) -> str | None:
    found = _child(parent, tag)
    return None if found is None or found.text is None else found.text.strip()
