"""The facts a projection keeps per toewijzing: every version, start and stop ever received.

A fact is one domain event reduced to what the projection judges, plus the id of the message it
came from and when the hub received it. Facts are grouped by `GroupKey`: the toewijzing key
(gemeente, aanbieder, ToewijzingNummer), or for a start or stop without ToewijzingNummer the
client (gemeente, aanbieder, Bsn). Equality ignores `received_ms`, so a fact stored twice (a
replayed or re-appended event) counts once: a group's facts are a set, and everything derived
from them is a function of that set (OP080), never of arrival order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from hub.events import AnyEvent, AssignmentIssued, CareStarted, CareStopped
from hub.masking import mask_bsn

#: StatusAanlevering (COD467) 3: the line deletes an earlier line with the same key (TR063).
DELETE: Final = "3"
#: RedenBeeindiging (WMO588) 20: delivery is stopped temporarily (TR413).
TEMPORARY_STOP: Final = "20"
#: RedenWijziging (WMO002) 13: the toewijzing was sent by mistake and counts as never sent.
DELETED: Final = "13"
#: RedenWijziging 01 (administratieve correctie, vervallen) with Einddatum = Ingangsdatum is,
#: like 13, not a current toewijzing (OP087).
VERVALLEN: Final = "01"

#: A product as (Categorie, Code); Code may be None.
ProductKey = tuple[str, str | None]


class GroupKey(NamedTuple):
    """Where a fact belongs: one toewijzing, or one client's unreferenced care lines.

    A NamedTuple (like the facts below): it is hashed for every event folded."""

    gemeente: str
    aanbieder: str
    toewijzing_nummer: int | None
    #: The Bsn, only for care lines without ToewijzingNummer (so they group per client).
    client: str | None = None

    def text(self) -> str:
        """A stable text form for storage: 'gemeente|aanbieder|nummer' (or '|-|bsn')."""
        if self.toewijzing_nummer is None:
            return f"{self.gemeente}|{self.aanbieder}|-|{self.client or ''}"
        return f"{self.gemeente}|{self.aanbieder}|{self.toewijzing_nummer}"

    @classmethod
    def parse(cls, text: str) -> GroupKey:
        parts = text.split("|")
        if len(parts) == 4 and parts[2] == "-":
            return cls(parts[0], parts[1], None, parts[3] or None)
        if len(parts) != 3:
            raise ValueError("not a group key")
        return cls(parts[0], parts[1], int(parts[2]))

    def sort_key(self) -> tuple[str, str, bool, int, str]:
        """Gemeente, aanbieder, number (groups without one last); None never compared."""
        nummer = self.toewijzing_nummer
        return (self.gemeente, self.aanbieder, nummer is None, nummer or 0, self.client or "")

    def __repr__(self) -> str:
        client = f", client={mask_bsn(self.client)!r}" if self.client else ""
        return (
            f"GroupKey({self.gemeente!r}, {self.aanbieder!r}, {self.toewijzing_nummer!r}{client})"
        )


# Facts are NamedTuples rather than frozen dataclasses: one is built for every event folded,
# and a tuple is several times cheaper to build, hash and compare. The receipt time is not
# part of a fact (the fold keeps it beside the fact), so equal content from one message is
# one fact however often it is stored.


class Version(NamedTuple):
    """One ToegewezenProduct as a 301 sent it (AssignmentIssued)."""

    message_id: str
    bsn: str
    referentie_aanbieder: str | None
    product: ProductKey | None
    toewijzingsdatum: dt.date
    toewijzingstijd: dt.time
    ingangsdatum: dt.date
    einddatum: dt.date | None
    reden_wijziging: str | None
    omvang: tuple[int, str, str] | None
    budget: int | None
    commentaar: str | None

    def __repr__(self) -> str:
        return (
            f"Version(message_id={self.message_id!r}, bsn={mask_bsn(self.bsn)!r},"
            f" toewijzingsdatum={self.toewijzingsdatum}, ingangsdatum={self.ingangsdatum},"
            f" einddatum={self.einddatum}, reden_wijziging={self.reden_wijziging!r})"
        )

    @property
    def content(self) -> tuple[Any, ...]:
        """Everything but the message id: equal content is one version, sent more than once."""
        return self[1:]

    @property
    def removed(self) -> bool:
        """RedenWijziging 13 (or 01 with Einddatum = Ingangsdatum): not a toewijzing (OP087)."""
        if self.reden_wijziging == DELETED:
            return True
        return self.reden_wijziging == VERVALLEN and self.einddatum == self.ingangsdatum


class Care(NamedTuple):
    """One StartProduct (`stop` False) or StopProduct (`stop` True) as a 305/307 sent it."""

    stop: bool
    message_id: str
    bsn: str
    product: ProductKey | None
    toewijzing_ingangsdatum: dt.date | None
    begindatum: dt.date
    status_aanlevering: str
    reden_beeindiging: str | None = None
    einddatum: dt.date | None = None

    def __repr__(self) -> str:
        return (
            f"Care(stop={self.stop}, message_id={self.message_id!r},"
            f" bsn={mask_bsn(self.bsn)!r}, product={self.product!r},"
            f" begindatum={self.begindatum}, status_aanlevering={self.status_aanlevering!r},"
            f" reden_beeindiging={self.reden_beeindiging!r}, einddatum={self.einddatum})"
        )

    @property
    def deletes(self) -> bool:
        return self.status_aanlevering == DELETE

    @property
    def start_key(self) -> tuple[str, ProductKey | None, dt.date]:
        """The start a line belongs to: Bsn, Product and Begindatum (within one toewijzing)."""
        return (self.bsn, self.product, self.begindatum)

    @property
    def key(self) -> tuple[Any, ...]:
        """The logical key that StatusAanlevering 3 refers to and TR074 keeps unique."""
        if self.stop:
            return (self.bsn, self.product, self.begindatum, self.reden_beeindiging, self.einddatum)
        return (self.bsn, self.product, self.begindatum)

    @property
    def temporary(self) -> bool:
        return self.reden_beeindiging == TEMPORARY_STOP


Fact = Version | Care


def _product(event: AssignmentIssued | CareStarted | CareStopped) -> ProductKey | None:
    p = event.product
    return None if p is None else (p.categorie, p.code)


def fact_of(event: AnyEvent) -> tuple[GroupKey, Fact] | None:
    """The group and fact of a domain event; None for events the projection does not fold."""
    if isinstance(event, AssignmentIssued):
        o = event.omvang
        version = Version(
            event.hub_message_id,
            event.bsn,
            event.referentie_aanbieder,
            _product(event),
            event.toewijzingsdatum,
            event.toewijzingstijd,
            event.ingangsdatum,
            event.einddatum,
            event.reden_wijziging,
            None if o is None else (o.volume, o.eenheid, o.frequentie),
            event.budget,
            event.commentaar,
        )
        return GroupKey(event.gemeente, event.aanbieder, event.toewijzing_nummer), version
    if isinstance(event, CareStarted | CareStopped):
        stopped = isinstance(event, CareStopped)
        care = Care(
            stopped,
            event.hub_message_id,
            event.bsn,
            _product(event),
            event.toewijzing_ingangsdatum,
            event.begindatum,
            event.status_aanlevering,
            event.reden_beeindiging if isinstance(event, CareStopped) else None,
            event.einddatum if isinstance(event, CareStopped) else None,
        )
        nummer = event.toewijzing_nummer
        client = event.bsn if nummer is None else None
        return GroupKey(event.gemeente, event.aanbieder, nummer, client), care
    return None


# --- storage form: one row of the `facts` table per fact ------------------------------------

#: The facts table's columns after group_key, gemeente, aanbieder and toewijzing_nummer.
FACT_COLUMNS: Final = (
    "kind",
    "message_id",
    "received_ms",
    "bsn",
    "product_categorie",
    "product_code",
    "toewijzingsdatum",
    "toewijzingstijd",
    "ingangsdatum",
    "einddatum",
    "reden_wijziging",
    "referentie_aanbieder",
    "omvang_volume",
    "omvang_eenheid",
    "omvang_frequentie",
    "budget",
    "commentaar",
    "toewijzing_ingangsdatum",
    "begindatum",
    "status_aanlevering",
    "reden_beeindiging",
)
VERSION_KIND: Final = "toewijzing"
START_KIND: Final = "start"
STOP_KIND: Final = "stop"


def _iso(value: dt.date | dt.time | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def fact_row(fact: Fact, received_ms: int) -> tuple[Any, ...]:
    """A fact and its receipt time as the values of `FACT_COLUMNS`."""
    product = fact.product or (None, None)
    if isinstance(fact, Version):
        omvang = fact.omvang or (None, None, None)
        return (
            VERSION_KIND, fact.message_id, received_ms, fact.bsn, product[0], product[1],
            fact.toewijzingsdatum.isoformat(), fact.toewijzingstijd.isoformat(),
            fact.ingangsdatum.isoformat(), _iso(fact.einddatum), fact.reden_wijziging,
            fact.referentie_aanbieder, omvang[0], omvang[1], omvang[2], fact.budget,
            fact.commentaar, None, None, None, None,
        )  # fmt: skip
    return (
        STOP_KIND if fact.stop else START_KIND, fact.message_id, received_ms, fact.bsn,
        product[0], product[1], None, None, None, _iso(fact.einddatum), None, None, None, None,
        None, None, None, _iso(fact.toewijzing_ingangsdatum), fact.begindatum.isoformat(),
        fact.status_aanlevering, fact.reden_beeindiging,
    )  # fmt: skip


def row_of_data(
    event_type: str, data: Mapping[str, Any], received_ms: int
) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """The group key (as a plain tuple) and `fact_row` of a domain event given as its decoded
    fields (`EventMapper.to_data`), without building the event or the fact: what the reader
    process sends. Equal to `fact_of` and `fact_row` of the event (tested); None for events
    the projection does not fold."""
    product = data["product"]
    cat, code = (None, None) if product is None else (product["categorie"], product["code"])
    if event_type == "AssignmentIssued":
        omvang = data["omvang"]
        volume, eenheid, frequentie = (
            (None, None, None)
            if omvang is None
            else (omvang["volume"], omvang["eenheid"], omvang["frequentie"])
        )
        key = (data["gemeente"], data["aanbieder"], data["toewijzing_nummer"], None)
        return key, (
            VERSION_KIND, data["hub_message_id"], received_ms, data["bsn"], cat, code,
            data["toewijzingsdatum"].isoformat(), data["toewijzingstijd"].isoformat(),
            data["ingangsdatum"].isoformat(), _iso(data["einddatum"]), data["reden_wijziging"],
            data["referentie_aanbieder"], volume, eenheid, frequentie, data["budget"],
            data["commentaar"], None, None, None, None,
        )  # fmt: skip
    if event_type == "CareStarted":
        kind, reden, einde = START_KIND, None, None
    elif event_type == "CareStopped":
        kind, reden, einde = STOP_KIND, data["reden_beeindiging"], data["einddatum"].isoformat()
    else:
        return None
    nummer = data["toewijzing_nummer"]
    key = (data["gemeente"], data["aanbieder"], nummer, data["bsn"] if nummer is None else None)
    return key, (
        kind, data["hub_message_id"], received_ms, data["bsn"], cat, code, None, None, None,
        einde, None, None, None, None, None, None, None, _iso(data["toewijzing_ingangsdatum"]),
        data["begindatum"].isoformat(), data["status_aanlevering"], reden,
    )  # fmt: skip


def fact_of_row(row: Any) -> tuple[Fact, int]:
    """The fact and receipt time `fact_row` stored (`row` in `FACT_COLUMNS` order)."""
    (kind, msg, ms, bsn, cat, code, tdatum, ttijd, ingang, eind, reden, ref, volume, eenheid,
     frequentie, budget, comm, tid, begin, status, reden_b) = row  # fmt: skip
    product = None if cat is None else (cat, code)
    if kind == VERSION_KIND:
        version = Version(
            msg, bsn, ref, product, dt.date.fromisoformat(tdatum),
            dt.time.fromisoformat(ttijd), dt.date.fromisoformat(ingang), _date(eind), reden,
            None if volume is None else (volume, eenheid, frequentie), budget, comm,
        )  # fmt: skip
        return version, ms
    care = Care(
        kind == STOP_KIND, msg, bsn, product, _date(tid), dt.date.fromisoformat(begin), status,
        reden_b, _date(eind),
    )  # fmt: skip
    return care, ms
