"""Whole messages: 301/305/307 (optionally chained) and their retours 302/306/308."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from hub.factory.codes import APPROVED, REDENEN_BEEINDIGING, XSLT_VERSIE
from hub.factory.lines import LineFactory, can_start
from hub.messagetypes import MessageType
from hub.model import (
    XSD_VERSIE,
    Client,
    Message,
    RetourHeader,
    StartClient,
    StartProduct,
    StopClient,
    StopProduct,
    ToegewezenProduct,
    VerkorteNaam,
    Wmo301,
    Wmo302,
    Wmo305,
    Wmo306,
    Wmo307,
    Wmo308,
)


class MessageFactory(LineFactory):
    """Builds valid messages from a seed; `varied=True` also fills optional parts at random."""

    def _dagtekening(self) -> dt.date:
        """A Dagtekening 60-400 days before today, so that follow-up messages fit before today."""
        return self.today - self._days(60, 400)

    def _line_specs(self, producten: int | Sequence[Any] | None) -> list[Any]:
        if producten is None:
            count = self.rng.randint(1, 4) if self.varied else 1
            return [{} for _ in range(count)]
        if isinstance(producten, int):
            return [{} for _ in range(producten)]
        return list(producten)

    def wmo301(self, *, producten: int | Sequence[Any] | None = None, **overrides: Any) -> Wmo301:
        """A toewijzing. `producten`: a line count, or per line a ToegewezenProduct or a dict
        of fields to fix; other keyword arguments set Header, BerichtIdentificatie or Client
        fields (afzender, ontvanger, identificatie, dagtekening, bsn, naam, ...)."""
        header_kw, client_kw = _split_overrides(overrides, Client, ("toegewezen_producten",))
        dagtekening = header_kw.pop("dagtekening", None) or self._dagtekening()
        header = self.header(
            MessageType.WMO301,
            afzender=header_kw.pop("afzender", None) or self.gemeente(),
            ontvanger=header_kw.pop("ontvanger", None) or self.agb_code(),
            dagtekening=dagtekening,
            **header_kw,
        )
        lines: list[ToegewezenProduct] = []
        for spec in self._line_specs(producten):
            if isinstance(spec, ToegewezenProduct):
                lines.append(spec)
            else:
                lines.append(self.toegewezen_product(dagtekening=dagtekening, others=lines, **spec))
        client = dataclasses.replace(self.client(dagtekening, lines), **client_kw)
        return Wmo301(header=header, client=client)

    def wmo305(
        self,
        toewijzing: Wmo301 | None = None,
        *,
        producten: int | Sequence[Any] | None = None,
        **overrides: Any,
    ) -> Wmo305:
        """A start-zorg message; given a toewijzing, it starts that toewijzing's lines that can
        have started by today, for the same client, from its Ontvanger to its Afzender."""
        header_kw, client_kw = _split_overrides(overrides, StartClient, ("start_producten",))
        if toewijzing is not None:
            client_base, lines, dagtekening = self._starts_of(toewijzing, producten)
            afzender, ontvanger = toewijzing.header.ontvanger, toewijzing.header.afzender
            dagtekening = header_kw.pop("dagtekening", None) or dagtekening
        else:
            dagtekening = header_kw.pop("dagtekening", None) or self._dagtekening()
            client_base, lines = self._short_client(dagtekening), []
            for spec in self._line_specs(producten):
                if isinstance(spec, StartProduct):
                    lines.append(spec)
                else:
                    lines.append(self.start_product(dagtekening=dagtekening, others=lines, **spec))
            afzender, ontvanger = self.agb_code(), self.gemeente()
        header = self.header(
            MessageType.WMO305,
            afzender=header_kw.pop("afzender", None) or afzender,
            ontvanger=header_kw.pop("ontvanger", None) or ontvanger,
            dagtekening=dagtekening,
            **header_kw,
        )
        client = StartClient(**client_base, start_producten=tuple(lines))
        return Wmo305(header=header, client=dataclasses.replace(client, **client_kw))

    def wmo307(
        self,
        start: Wmo305 | None = None,
        *,
        toewijzing: Wmo301 | None = None,
        producten: int | Sequence[Any] | None = None,
        **overrides: Any,
    ) -> Wmo307:
        """A stop-zorg message; given a start message, it stops those lines (ending no later
        than the toewijzing's Einddatum when the toewijzing is given too)."""
        header_kw, client_kw = _split_overrides(overrides, StopClient, ("stop_producten",))
        if start is not None:
            client_base, lines, dagtekening = self._stops_of(start, toewijzing, producten)
            afzender, ontvanger = start.header.afzender, start.header.ontvanger
            dagtekening = header_kw.pop("dagtekening", None) or dagtekening
        else:
            dagtekening = header_kw.pop("dagtekening", None) or self._dagtekening()
            client_base, lines = self._short_client(dagtekening), []
            for spec in self._line_specs(producten):
                if isinstance(spec, StopProduct):
                    lines.append(spec)
                else:
                    lines.append(self.stop_product(dagtekening=dagtekening, others=lines, **spec))
            afzender, ontvanger = self.agb_code(), self.gemeente()
        header = self.header(
            MessageType.WMO307,
            afzender=header_kw.pop("afzender", None) or afzender,
            ontvanger=header_kw.pop("ontvanger", None) or ontvanger,
            dagtekening=dagtekening,
            **header_kw,
        )
        client = StopClient(**client_base, stop_producten=tuple(lines))
        return Wmo307(header=header, client=dataclasses.replace(client, **client_kw))

    def _short_client(self, dagtekening: dt.date) -> dict[str, Any]:
        return {
            "bsn": self.bsn(),
            "geboortedatum": self.geboortedatum(dagtekening),
            "geslacht": self._pick("012"),
            "naam": self.verkorte_naam(),
        }

    def _starts_of(
        self, toewijzing: Wmo301, producten: int | Sequence[Any] | None
    ) -> tuple[dict[str, Any], list[StartProduct], dt.date]:
        client = toewijzing.client
        startable = [line for line in client.toegewezen_producten if can_start(line, self.today)]
        if not startable:
            raise ValueError("the toewijzing has no product line that can have started by today")
        specs = self._line_specs(len(startable) if producten is None else producten)
        lines: list[StartProduct] = []
        for line, spec in zip(startable, specs, strict=False):
            if isinstance(spec, StartProduct):
                lines.append(spec)
                continue
            latest = min(self.today, line.einddatum or self.today)
            begin = min(line.ingangsdatum + self._days(0, 14), latest)
            fields = {
                "toewijzing_nummer": line.toewijzing_nummer,
                "product": line.product,
                "toewijzing_ingangsdatum": line.ingangsdatum,
                "begindatum": begin,
                "status_aanlevering": "1",
            }
            lines.append(StartProduct(**{**fields, **spec}))
        dagtekening = max(
            [toewijzing.header.bericht_identificatie.dagtekening] + [s.begindatum for s in lines]
        )
        dagtekening = min(dagtekening + self._days(0, 7), max(self.today, dagtekening))
        return _short_of(client), lines, dagtekening

    def _stops_of(
        self, start: Wmo305, toewijzing: Wmo301 | None, producten: int | Sequence[Any] | None
    ) -> tuple[dict[str, Any], list[StopProduct], dt.date]:
        ends: dict[int | None, dt.date | None] = {}
        if toewijzing is not None:
            ends = {
                t.toewijzing_nummer: t.einddatum for t in toewijzing.client.toegewezen_producten
            }
        starts = start.client.start_producten
        specs = self._line_specs(len(starts) if producten is None else producten)
        lines: list[StopProduct] = []
        for line, spec in zip(starts, specs, strict=False):
            if isinstance(spec, StopProduct):
                lines.append(spec)
                continue
            latest = min(self.today, ends.get(line.toewijzing_nummer) or self.today)
            eind = min(line.begindatum + self._days(0, 180), max(latest, line.begindatum))
            fields = {
                "toewijzing_nummer": line.toewijzing_nummer,
                "product": line.product,
                "toewijzing_ingangsdatum": line.toewijzing_ingangsdatum,
                "begindatum": line.begindatum,
                "reden_beeindiging": self._pick(REDENEN_BEEINDIGING),
                "einddatum": eind,
                "status_aanlevering": "1",
            }
            lines.append(StopProduct(**{**fields, **spec}))
        dagtekening = max(
            [start.header.bericht_identificatie.dagtekening] + [s.einddatum for s in lines]
        )
        dagtekening = min(dagtekening + self._days(0, 7), max(self.today, dagtekening))
        c = start.client
        base = {
            "bsn": c.bsn,
            "geboortedatum": c.geboortedatum,
            "geslacht": c.geslacht,
            "naam": c.naam,
        }
        return base, lines, dagtekening

    # --- retours ---------------------------------------------------------------------------

    def wmo302(self, message: Wmo301, **options: Any) -> Wmo302:
        """The retour on a 301; see `_retour` for the options."""
        header, client = self._retour(message, MessageType.WMO302, **options)
        return Wmo302(header=header, client=client)

    def wmo306(self, message: Wmo305, **options: Any) -> Wmo306:
        header, client = self._retour(message, MessageType.WMO306, **options)
        return Wmo306(header=header, client=client)

    def wmo308(self, message: Wmo307, **options: Any) -> Wmo308:
        header, client = self._retour(message, MessageType.WMO308, **options)
        return Wmo308(header=header, client=client)

    def _retour(
        self,
        message: Wmo301 | Wmo305 | Wmo307,
        retour_type: MessageType,
        *,
        line_codes: Mapping[int, Sequence[str]] | None = None,
        client_codes: Sequence[str] | None = None,
        header_codes: Sequence[str] | None = None,
        identificatie_retour: str | None = None,
        dagtekening_retour: dt.date | None = None,
    ) -> tuple[RetourHeader, Any]:
        """Header-only approval (RetourCode 0200) unless line or client codes are given; then
        the whole client comes back with 0200 on every class except the coded ones."""
        if retour_type is not message.message_type.retour:
            raise ValueError(f"a {retour_type.name} does not answer a {message.message_type.name}")
        heen = message.header
        sent = heen.bericht_identificatie.dagtekening
        with_client = line_codes is not None or client_codes is not None
        if header_codes is None:
            header_codes = () if with_client else APPROVED
        header = RetourHeader(
            **{f.name: getattr(heen, f.name) for f in dataclasses.fields(heen)},
            identificatie_retour=identificatie_retour or self.identificatie(),
            dagtekening_retour=dagtekening_retour
            or max(sent, min(sent + self._days(0, 2), self.today)),
            xslt_versie=XSLT_VERSIE,
            xsd_versie_retour=XSD_VERSIE,
            retour_codes=tuple(header_codes),
        )
        header = dataclasses.replace(header, bericht_code=retour_type.bericht_code)
        if not with_client:
            return header, None
        return header, _with_codes(
            message.client, tuple(client_codes or APPROVED), line_codes or {}
        )

    # --- any type ------------------------------------------------------------------------

    def _chained_start(self, toewijzing: Wmo301 | None = None) -> Wmo305:
        """A 305 that starts a fresh (or the given) toewijzing, standalone if nothing can start."""
        toewijzing = toewijzing or self.wmo301()
        if not any(can_start(line, self.today) for line in toewijzing.client.toegewezen_producten):
            return self.wmo305()
        return self.wmo305(toewijzing)

    def build(self, message_type: MessageType) -> Message:
        """A message of any of the six types (retours answer a freshly built heen message)."""
        if message_type is MessageType.WMO301:
            return self.wmo301()
        if message_type is MessageType.WMO305:
            return self._chained_start() if self._maybe(0.5) else self.wmo305()
        if message_type is MessageType.WMO307:
            if self._maybe(0.5):
                toewijzing = self.wmo301()
                return self.wmo307(self._chained_start(toewijzing), toewijzing=toewijzing)
            return self.wmo307()
        heen = self.build(_HEEN_OF[message_type])
        options: dict[str, Any] = {}
        if self._maybe(0.5):
            lines = _lines_of(heen)
            rejected = self.rng.randrange(len(lines))
            options["line_codes"] = {rejected: ("0001",)}
        if isinstance(heen, Wmo301):
            return self.wmo302(heen, **options)
        if isinstance(heen, Wmo305):
            return self.wmo306(heen, **options)
        assert isinstance(heen, Wmo307)
        return self.wmo308(heen, **options)


_HEEN_OF = {mt.retour: mt for mt in (MessageType.WMO301, MessageType.WMO305, MessageType.WMO307)}


def _short_of(client: Client) -> dict[str, Any]:
    naam = client.naam
    return {
        "bsn": client.bsn,
        "geboortedatum": client.geboortedatum,
        "geslacht": client.geslacht,
        "naam": VerkorteNaam(
            geslachtsnaam=naam.geslachtsnaam, voornamen=naam.voornamen, voorletters=naam.voorletters
        ),
    }


def _lines_of(message: Message) -> tuple[Any, ...]:
    client = message.client
    if isinstance(client, Client):
        return client.toegewezen_producten
    if isinstance(client, StartClient):
        return client.start_producten
    if isinstance(client, StopClient):
        return client.stop_producten
    return ()


def _with_codes(
    client: Any, client_codes: tuple[str, ...], line_codes: Mapping[int, Sequence[str]]
) -> Any:
    """A copy of a heen client with RetourCodes on every class, as a retour carries them."""

    def coded(obj: Any, codes: tuple[str, ...] = APPROVED) -> Any:
        return dataclasses.replace(obj, retour_codes=codes)

    lines = tuple(
        coded(line, tuple(line_codes.get(i, APPROVED)))
        for i, line in enumerate(_lines_of_client(client))
    )
    if isinstance(client, Client):
        return dataclasses.replace(
            client,
            relaties=tuple(
                dataclasses.replace(coded(r), contact=coded(r.contact)) for r in client.relaties
            ),
            contactgegevens=tuple(coded(c) for c in client.contactgegevens),
            toegewezen_producten=lines,
            retour_codes=client_codes,
        )
    name = "start_producten" if isinstance(client, StartClient) else "stop_producten"
    return dataclasses.replace(client, **{name: lines}, retour_codes=client_codes)


def _lines_of_client(client: Any) -> tuple[Any, ...]:
    for name in ("toegewezen_producten", "start_producten", "stop_producten"):
        if hasattr(client, name):
            return tuple(getattr(client, name))
    return ()


def _split_overrides(
    overrides: Mapping[str, Any], client_cls: type, reserved: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Route keyword overrides to the header (incl. identificatie, dagtekening) or the client."""
    header_names = {"afzender", "ontvanger", "identificatie", "dagtekening", "xsd_versie"}
    client_names = {f.name for f in dataclasses.fields(client_cls)} - set(reserved)
    unknown = sorted(set(overrides) - header_names - client_names)
    if unknown:
        known = sorted(header_names | client_names)
        raise TypeError(f"unknown override(s) {unknown}; known: {known}")
    header = {k: v for k, v in overrides.items() if k in header_names}
    client = {k: v for k, v in overrides.items() if k in client_names}
    return header, client
