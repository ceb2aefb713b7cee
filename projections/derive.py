"""Where a toewijzing stands, as a pure function of its set of facts (OP080: order-free).

`index` sorts a group's facts into distinct versions and logical care lines; `arrangement`
turns that into the arrangements row. Every choice is made on the facts' contents with a
deterministic tie-break (message id last), never on the order they arrived in:

- current version: the latest Toewijzingsdatum + Toewijzingstijd, then the highest message id;
  a toewijzing missing from a later 301 keeps its version (OP087: absence deletes nothing);
- a start or stop line (same logical key) is live when it was sent with StatusAanlevering 1
  more often than deleted with StatusAanlevering 3; each deletion cancels one submission;
- a line a cross-message rule refuses is void for the status, judged on the whole set so that
  it does not matter which line came first: a definitive stop that ends before a live
  temporary stop of the same start (TR414) counts for nothing, and the deletion of a start
  that a live stop refers to (TR071) is void, so the start stays; `rules` still flags both;
- the latest start is the live start with the latest Begindatum (then Product, Bsn).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from projections.facts import Care, Fact, GroupKey, ProductKey, Version

TOEGEWEZEN: Final = "toegewezen"
GESTART: Final = "gestart"
TIJDELIJK_GESTOPT: Final = "tijdelijk_gestopt"
GESTOPT: Final = "gestopt"
INGETROKKEN: Final = "ingetrokken"
VERWIJDERD: Final = "verwijderd"
STATUSES: Final = (TOEGEWEZEN, GESTART, TIJDELIJK_GESTOPT, GESTOPT, INGETROKKEN, VERWIJDERD)
#: `CareLine.refused`: the start's deletions are refused (TR071), so the start stays.
DELETION_REFUSED: Final = "TR071"
#: `CareLine.refused`: the definitive stop ends before a temporary stop of its start (TR414).
STOP_REFUSED: Final = "TR414"


def _ids(items: Iterable[Fact]) -> tuple[str, ...]:
    return tuple(sorted({f.message_id for f in items}))


def _product_sort(product: ProductKey | None) -> tuple[str, str]:
    return ("", "") if product is None else (product[0], product[1] or "")


@dataclass(frozen=True, slots=True)
class VersionEntry:
    """One distinct version of a toewijzing and every message that carried it."""

    version: Version
    message_ids: tuple[str, ...]
    received_ms: int


@dataclass(frozen=True, slots=True)
class CareLine:
    """One logical start or stop (same key): its submissions and deletions."""

    stop: bool
    adds: tuple[Care, ...]
    deletes: tuple[Care, ...]
    #: When the hub first received a submission of this line (a deletion if none).
    received_ms: int = field(default=0, compare=False)
    #: The rule that voids part of this line in the set of facts: DELETION_REFUSED (a start
    #: whose deletions do not count) or STOP_REFUSED (a stop that does not count); None if none.
    refused: str | None = None

    @property
    def count(self) -> int:
        """Submissions minus deletions: 1 is one live line, 2+ a duplicate, <0 a bad delete."""
        return len(self.adds) - len(self.deletes)

    @property
    def live(self) -> bool:
        """The line counts for the status: sent more often than deleted, unless refused."""
        if self.refused is not None:
            return self.refused == DELETION_REFUSED
        return len(self.adds) > len(self.deletes)

    @property
    def line(self) -> Care:
        """The line's data: the submission with the highest message id (or a deletion)."""
        return self.adds[-1] if self.adds else self.deletes[-1]

    @property
    def message_ids(self) -> tuple[str, ...]:
        return _ids((*self.adds, *self.deletes))

    def sort_key(self) -> tuple[Any, ...]:
        c = self.line
        return (c.begindatum, _product_sort(c.product), c.bsn, c.einddatum or dt.date.min,
                c.reden_beeindiging or "")  # fmt: skip


@dataclass(frozen=True, slots=True)
class GroupIndex:
    """A group's facts sorted for judging: versions oldest first, care lines by Begindatum."""

    key: GroupKey
    versions: tuple[VersionEntry, ...]
    starts: tuple[CareLine, ...]
    stops: tuple[CareLine, ...]
    live_starts: tuple[CareLine, ...]
    live_stops: tuple[CareLine, ...]

    @property
    def current(self) -> VersionEntry | None:
        return self.versions[-1] if self.versions else None

    def stops_of(self, start: CareLine) -> list[CareLine]:
        """The live stops that carry `start`'s key (Bsn, Product, Begindatum; TR382)."""
        key = start.line.start_key
        return [s for s in self.live_stops if s.line.start_key == key]

    @property
    def refused_stops(self) -> tuple[CareLine, ...]:
        """The stops sent (and not deleted) that TR414 voids."""
        return tuple(s for s in self.stops if s.refused == STOP_REFUSED)

    @property
    def refused_deletions(self) -> tuple[CareLine, ...]:
        """The starts whose deletions TR071 voids."""
        return tuple(s for s in self.starts if s.refused == DELETION_REFUSED)


def _version_order(entry: VersionEntry) -> tuple[Any, ...]:
    # The current version: latest Toewijzingsdatum + Toewijzingstijd, then highest message id.
    return (entry.version.toewijzingsdatum, entry.version.toewijzingstijd, entry.message_ids[-1])


def _care_order(care: Care) -> tuple[str, dt.date]:
    return (care.message_id, care.toewijzing_ingangsdatum or dt.date.min)


def index(key: GroupKey, facts: Mapping[Fact, int]) -> GroupIndex:
    """Sort a group's facts (each with its receipt time); everything but the receipt times in
    the result depends on the set of facts only."""
    if len(facts) == 1:  # a group's first fact, the most common group: nothing to sort
        return _index_of_one(key, facts)
    return _index_sorted(key, facts)


def _index_sorted(key: GroupKey, facts: Mapping[Fact, int]) -> GroupIndex:
    """`index` for any number of facts."""
    by_content: dict[tuple[Any, ...], list[Version]] = {}
    lines: dict[tuple[bool, tuple[Any, ...]], list[Care]] = {}
    for fact in facts:
        if isinstance(fact, Version):
            by_content.setdefault(fact.content, []).append(fact)
        else:
            lines.setdefault((fact.stop, fact.key), []).append(fact)
    versions = []
    for same in by_content.values():
        if len(same) > 1:
            same.sort(key=_message_id)
            ids = tuple([v.message_id for v in same])
            versions.append(VersionEntry(same[0], ids, min([facts[v] for v in same])))
        else:
            first = same[0]
            versions.append(VersionEntry(first, (first.message_id,), facts[first]))
    if len(versions) > 1:
        versions.sort(key=_version_order)
    starts: list[CareLine] = []
    stops: list[CareLine] = []
    for (stop, _), cares in lines.items():
        if len(cares) > 1:
            cares.sort(key=_care_order)
            adds = tuple(c for c in cares if not c.deletes)
            deletes = tuple(c for c in cares if c.deletes)
            line = CareLine(stop, adds, deletes, min(facts[c] for c in (adds or deletes)))
        elif cares[0].deletes:
            line = CareLine(stop, (), (cares[0],), facts[cares[0]])
        else:
            line = CareLine(stop, (cares[0],), (), facts[cares[0]])
        (stops if stop else starts).append(line)
    if len(starts) > 1:
        starts.sort(key=CareLine.sort_key)
    if len(stops) > 1:
        stops.sort(key=CareLine.sort_key)
        stops = _refuse_early_stops(stops)
    if stops:
        starts = _refuse_deletions(starts, stops)
    return GroupIndex(
        key,
        tuple(versions),
        tuple(starts),
        tuple(stops),
        tuple([s for s in starts if s.live]),
        tuple([s for s in stops if s.live]),
    )


def _index_of_one(key: GroupKey, facts: Mapping[Fact, int]) -> GroupIndex:
    """`index` of a group holding a single fact (the same result, without the sorting)."""
    [(fact, received_ms)] = facts.items()
    if isinstance(fact, Version):
        entry = VersionEntry(fact, (fact.message_id,), received_ms)
        return GroupIndex(key, (entry,), (), (), (), ())
    if fact.deletes:
        line = CareLine(fact.stop, (), (fact,), received_ms)
    else:
        line = CareLine(fact.stop, (fact,), (), received_ms)
    lines, live = (line,), ((line,) if line.live else ())
    if fact.stop:
        return GroupIndex(key, (), (), lines, (), live)
    return GroupIndex(key, (), lines, (), live, ())


def _refuse_early_stops(stops: list[CareLine]) -> list[CareLine]:
    """TR414 on the set: a definitive stop that ends before a live temporary stop of the same
    start (Bsn, Begindatum) is refused, whichever of the two arrived first."""
    ends: dict[tuple[str, dt.date], dt.date] = {}
    for s in stops:
        c = s.line
        if c.temporary and c.einddatum is not None and s.live:
            start = (c.bsn, c.begindatum)
            if start not in ends or ends[start] < c.einddatum:
                ends[start] = c.einddatum
    if not ends:
        return stops
    out = []
    for s in stops:
        c = s.line
        latest = ends.get((c.bsn, c.begindatum))
        early = latest is not None and c.einddatum is not None and c.einddatum < latest
        if early and not c.temporary and s.live:
            s = dataclasses.replace(s, refused=STOP_REFUSED)
        out.append(s)
    return out


def _refuse_deletions(starts: list[CareLine], stops: list[CareLine]) -> list[CareLine]:
    """TR071 on the set: a start that was sent and deleted stays if a live stop refers to it
    (a start with a stop cannot be deleted; the stop has to be deleted first)."""
    if all(s.live or not s.adds for s in starts):
        return starts
    stopped = {s.line.start_key for s in stops if s.live}
    return [
        dataclasses.replace(s, refused=DELETION_REFUSED)
        if s.adds and not s.live and s.line.start_key in stopped
        else s
        for s in starts
    ]


def _message_id(fact: Version) -> str:
    return fact.message_id


@dataclass(frozen=True, slots=True)
class Arrangement:
    """One row of the arrangements view: a toewijzing, where it stands, and its history."""

    key: GroupKey
    current: VersionEntry
    status: str
    versions: tuple[VersionEntry, ...]
    starts: tuple[CareLine, ...]
    stops: tuple[CareLine, ...]
    #: The latest start is live and not stopped definitively (gestart or tijdelijk gestopt).
    care_open: bool
    #: When the hub first received a version of this toewijzing.
    assigned_ms: int
    #: When the hub first received the current version.
    version_ms: int
    #: When the hub received the first live start (None without one): ASSIGNMENT_NOT_STARTED.
    first_start_ms: int | None
    #: When the hub received the definitive stop of the latest start, if stopped.
    care_closed_ms: int | None

    @property
    def bsn(self) -> str:
        return self.current.version.bsn

    @property
    def message_ids(self) -> tuple[str, ...]:
        ids = {m for e in self.versions for m in e.message_ids}
        for line in (*self.starts, *self.stops):
            ids.update(c.message_id for c in line.adds)
            ids.update(c.message_id for c in line.deletes)
        return tuple(sorted(ids))

    def comparable(self) -> tuple[Any, ...]:
        """Everything but receipt times: what must not depend on arrival order."""
        return (
            self.key,
            self.current.version,
            self.current.message_ids,
            self.status,
            tuple((e.version, e.message_ids) for e in self.versions),
            self.starts,
            self.stops,
            self.care_open,
            self.first_start_ms is None,
        )


def withdrawn(versions: tuple[VersionEntry, ...]) -> bool:
    """The current Einddatum is earlier than that of an older version (intrekking)."""
    current = versions[-1].version.einddatum
    if current is None:
        return False
    return any(e.version.einddatum is None or e.version.einddatum > current for e in versions[:-1])


def latest_start(group: GroupIndex) -> CareLine | None:
    return group.live_starts[-1] if group.live_starts else None


def arrangement(group: GroupIndex) -> Arrangement | None:
    """The arrangements row of a group; None for care lines that name no known toewijzing."""
    current = group.current
    if current is None:
        return None
    latest = latest_start(group)
    stops = group.stops_of(latest) if latest is not None else []
    definitive = [s for s in stops if not s.line.temporary]
    if current.version.removed:
        status = VERWIJDERD
    elif definitive:
        status = GESTOPT
    elif withdrawn(group.versions):
        status = INGETROKKEN
    elif stops:
        status = TIJDELIJK_GESTOPT
    elif latest is not None:
        status = GESTART
    else:
        status = TOEGEWEZEN
    live_starts = group.live_starts
    return Arrangement(
        key=group.key,
        current=current,
        status=status,
        versions=group.versions,
        starts=group.starts,
        stops=group.stops,
        care_open=latest is not None and not definitive,
        assigned_ms=min(e.received_ms for e in group.versions),
        version_ms=current.received_ms,
        first_start_ms=min((s.received_ms for s in live_starts), default=None),
        care_closed_ms=min((s.received_ms for s in definitive), default=None),
    )
