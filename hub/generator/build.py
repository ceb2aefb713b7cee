"""Planned messages as `hub.model` objects (Wmo301, Wmo305, Wmo307)."""

from __future__ import annotations

import dataclasses

from hub.generator.plan import Planned
from hub.messagetypes import MessageType
from hub.model import (
    BerichtIdentificatie,
    Header,
    StartClient,
    StopClient,
    Wmo301,
    Wmo305,
    Wmo307,
)

HeenMessage = Wmo301 | Wmo305 | Wmo307


def build(planned: Planned) -> HeenMessage:
    """The model object of a planned message: its case's client and its product lines."""
    header = Header(
        bericht_code=planned.message_type.bericht_code,
        afzender=planned.sender,
        ontvanger=planned.receiver,
        bericht_identificatie=BerichtIdentificatie(
            identificatie=planned.identificatie, dagtekening=planned.dagtekening
        ),
    )
    identity = planned.case.identity
    if planned.message_type is MessageType.WMO301:
        lines = planned.lines
        client = dataclasses.replace(identity.client, toegewezen_producten=lines)  # type: ignore[arg-type]
        return Wmo301(header=header, client=client)
    short = identity.client
    if planned.message_type is MessageType.WMO305:
        return Wmo305(
            header=header,
            client=StartClient(
                bsn=short.bsn,
                geboortedatum=short.geboortedatum,
                geslacht=short.geslacht,
                naam=identity.naam,
                start_producten=planned.lines,  # type: ignore[arg-type]
            ),
        )
    return Wmo307(
        header=header,
        client=StopClient(
            bsn=short.bsn,
            geboortedatum=short.geboortedatum,
            geslacht=short.geslacht,
            naam=identity.naam,
            stop_producten=planned.lines,  # type: ignore[arg-type]
        ),
    )
