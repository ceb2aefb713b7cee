"""The retour (302/306/308) on an accepted message, with RetourCodes on every class.

    retour_for(store, content, message_id, received_at)   # XML bytes, or None

The retour repeats the heen message and adds RetourCodes to the header, the client, every
relation and contact and every product line: 0200 (WJ001: no remarks) where nothing is wrong,
and on a start or stop line the cross-message codes as they stood when the hub received the
message (9019, 9326, 9069, 9074, 9063, 9071, 9413, 9414, 9415; `projections.receipt`), which
the projector records per message while it folds. A message the projection has not folded yet
has no retour here (`NotFolded`); a rejected message gets the intake's header-level retour
(`hub.retour.technical_retour`, 0001 and the like). A retour is returned only when it validates
against the project's retour XSD.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

from lxml import etree

from hub.codec import parse_message, to_element, to_xml
from hub.errors import InvalidMessage, StoreError
from hub.factory.codes import XSLT_VERSIE
from hub.ingest_events import domain_events
from hub.messagetypes import MessageType
from hub.model import (
    Client,
    Message,
    RetourHeader,
    Wmo301,
    Wmo302,
    Wmo305,
    Wmo306,
    Wmo307,
    Wmo308,
)
from hub.retour import ACCEPTED_CODE, retour_identificatie
from hub.validation import compiled_schema
from hub.xmlsafe import parse_bytes
from projections.facts import fact_of
from projections.receipt import line_key
from projections.store import ProjectionStore
from projections.timed import LOCAL

_ACCEPTED: Final = (ACCEPTED_CODE,)


class NotFolded(StoreError):
    """The projection has not folded this message yet (run `iwmo-hub project`)."""


def retour_for(
    store: ProjectionStore, content: bytes, message_id: str, received_at: dt.datetime
) -> bytes | None:
    """The retour on an accepted message the projection has folded."""
    codes = store.receipt(message_id)
    if codes is None:
        raise NotFolded(f"message {message_id} is not in the projection yet")
    return build_retour(content, message_id, received_at, codes)


def line_codes(
    root: etree._Element, message: Message, message_id: str, codes: Mapping[str, Sequence[str]]
) -> list[tuple[str, ...]]:
    """The RetourCodes of each product line of a message, in document order."""
    header = message.header
    events = domain_events(root, message.message_type, header.afzender, header.ontvanger,
                           message_id)  # fmt: skip
    out = []
    for event in events:
        found = fact_of(event)
        assert found is not None  # every domain event is a fact
        out.append(tuple(codes.get(line_key(*found), ())) or _ACCEPTED)
    return out


def build_retour(
    content: bytes, message_id: str, received_at: dt.datetime, codes: Mapping[str, Sequence[str]]
) -> bytes | None:
    """The retour on `content` with `codes` per line (0200 elsewhere); None if it does not
    validate against the retour XSD or `content` is no accepted heen message."""
    try:
        root = parse_bytes(content)
        message = parse_message(root)
        if not isinstance(message, Wmo301 | Wmo305 | Wmo307):
            return None
        per_line = line_codes(root, message, message_id, codes)
    except InvalidMessage:
        return None
    retour_type = message.message_type.retour
    heen = message.header
    day = received_at.astimezone(LOCAL).date()
    header = RetourHeader(
        **{f.name: getattr(heen, f.name) for f in dataclasses.fields(heen)},
        identificatie_retour=retour_identificatie(message_id),
        dagtekening_retour=max(day, heen.bericht_identificatie.dagtekening),
        xslt_versie=XSLT_VERSIE,
        retour_codes=_ACCEPTED,
    )
    header = dataclasses.replace(header, bericht_code=retour_type.bericht_code)
    client = _coded_client(message.client, per_line)
    retour = _RETOURS[retour_type](header=header, client=client)
    if not compiled_schema(retour_type).validate(to_element(retour)):
        return None
    return to_xml(retour)


def _coded(obj: Any, codes: tuple[str, ...] = _ACCEPTED) -> Any:
    return dataclasses.replace(obj, retour_codes=codes)


def _coded_client(client: Any, per_line: list[tuple[str, ...]]) -> Any:
    """The heen client with RetourCodes on every class (0200 but on the lines' own codes)."""
    if isinstance(client, Client):
        lines = tuple(_coded(line, c) for line, c in zip(client.toegewezen_producten, per_line,
                                                         strict=True))  # fmt: skip
        return dataclasses.replace(
            client,
            relaties=tuple(
                dataclasses.replace(_coded(r), contact=_coded(r.contact)) for r in client.relaties
            ),
            contactgegevens=tuple(_coded(c) for c in client.contactgegevens),
            toegewezen_producten=lines,
            retour_codes=_ACCEPTED,
        )
    name = "start_producten" if hasattr(client, "start_producten") else "stop_producten"
    lines = tuple(_coded(line, c) for line, c in zip(getattr(client, name), per_line,
                                                     strict=True))  # fmt: skip
    return dataclasses.replace(client, **{name: lines}, retour_codes=_ACCEPTED)


_RETOURS: Final[dict[MessageType, Any]] = {
    MessageType.WMO302: Wmo302,
    MessageType.WMO306: Wmo306,
    MessageType.WMO308: Wmo308,
}
