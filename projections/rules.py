"""Mismatches between what a gemeente assigned and what an aanbieder reports, from a group's facts.

Each check is a pure function of the group's set of facts (`derive.GroupIndex`), so every
arrival order gives the same open mismatches (OP080). Cross-message rules of the standard
(TR019, TR063, TR071, TR074, TR326, TR382, TR413, TR414, TR415) are judged on the whole set: a
rule that the standard words as "already received" holds between the lines that are live in
the set, ordered by their own dates rather than by arrival. A line TR071 or TR414 refuses is
void for the status (`derive`): it is flagged here and counts for no other check. A
mismatch's identity (`id`) is its code and what it is about, so a later message that changes
its details keeps the id, and one that removes its cause makes it disappear (the store then
marks it resolved).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from hub.masking import mask_bsn
from projections.derive import STOP_REFUSED, CareLine, GroupIndex
from projections.facts import Care, GroupKey

TR019: Final = "TR019"
TR063: Final = "TR063"
TR071: Final = "TR071"
TR074: Final = "TR074"
TR326: Final = "TR326"
TR382: Final = "TR382"
TR413: Final = "TR413"
TR414: Final = "TR414"
TR415: Final = "TR415"
START_BEFORE_ASSIGNMENT: Final = "START_BEFORE_ASSIGNMENT"
CARE_AFTER_ASSIGNMENT_END: Final = "CARE_AFTER_ASSIGNMENT_END"
INGANGSDATUM_MISMATCH: Final = "INGANGSDATUM_MISMATCH"
PRODUCT_MISMATCH: Final = "PRODUCT_MISMATCH"
CARE_ON_DELETED_ASSIGNMENT: Final = "CARE_ON_DELETED_ASSIGNMENT"
ASSIGNMENT_NOT_STARTED: Final = "ASSIGNMENT_NOT_STARTED"

#: Every code, with the retour code the standard gives the rule (None: hub-specific check).
CODES: Final[dict[str, str | None]] = {
    TR019: "9019",
    TR326: "9326",
    TR382: "9069",
    TR074: "9074",
    TR063: "9063",
    TR071: "9071",
    TR413: "9413",
    TR414: "9414",
    TR415: "9415",
    START_BEFORE_ASSIGNMENT: None,
    CARE_AFTER_ASSIGNMENT_END: None,
    INGANGSDATUM_MISMATCH: None,
    PRODUCT_MISMATCH: None,
    CARE_ON_DELETED_ASSIGNMENT: None,
    ASSIGNMENT_NOT_STARTED: None,
}


def mismatch_id(code: str, key: GroupKey, subject: str) -> str:
    """A stable, opaque id (the subject may hold a Bsn, so only its hash is kept)."""
    digest = hashlib.sha256(f"{code}\x1f{key.text()}\x1f{subject}".encode()).hexdigest()
    return f"{code}-{digest[:20]}"


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One flag: the rule, where (gemeente, aanbieder, ToewijzingNummer, client), why, and
    the messages involved."""

    id: str
    code: str
    key: GroupKey
    bsn_masked: str
    message_ids: tuple[str, ...]
    reason: str

    @property
    def gemeente(self) -> str:
        return self.key.gemeente

    @property
    def aanbieder(self) -> str:
        return self.key.aanbieder

    @property
    def toewijzing_nummer(self) -> int | None:
        return self.key.toewijzing_nummer


def _flag(
    code: str, group: GroupIndex, subject: str, bsn: str, ids: Iterable[str], reason: str
) -> Mismatch:
    return Mismatch(
        id=mismatch_id(code, group.key, subject),
        code=code,
        key=group.key,
        bsn_masked=mask_bsn(bsn),
        message_ids=tuple(sorted(set(ids))),
        reason=f"{code}: {reason}",
    )


def _product(product: Any) -> str:
    if product is None:
        return "no product"
    categorie, code = product
    return f"product {categorie}/{code}" if code else f"product categorie {categorie}"


def describe(line: Care) -> str:
    """A line in words, without the Bsn: 'start of 2025-01-06 (product 04/04A01)'."""
    if line.stop:
        return (
            f"stop of the start of {line.begindatum} ({_product(line.product)}, Einddatum "
            f"{line.einddatum}, RedenBeeindiging {line.reden_beeindiging})"
        )
    return f"start of {line.begindatum} ({_product(line.product)})"


def _subject(line: Care) -> str:
    return "|".join(str(part) for part in (("stop" if line.stop else "start"), *line.key))


def _ids(lines: Iterable[CareLine]) -> list[str]:
    return [m for line in lines for m in line.message_ids]


def mismatches(group: GroupIndex) -> tuple[Mismatch, ...]:
    """Every mismatch in a group, sorted by id (a pure function of the group's facts)."""
    found = [
        *_keys(group),
        *_stop_links(group),
        *_stop_sequence(group),
        *_open_start(group),
        *_against_assignment(group),
    ]
    return tuple(sorted(found, key=lambda m: m.id))


def _keys(group: GroupIndex) -> list[Mismatch]:
    """TR074 (a key submitted again while live) and TR063 (a deletion of a line never sent)."""
    out = []
    for line in (*group.starts, *group.stops):
        c = line.line
        if line.count >= 2:
            out.append(
                _flag(
                    TR074,
                    group,
                    _subject(c),
                    c.bsn,
                    line.message_ids,
                    f"the {describe(c)} was sent {len(line.adds)} times with StatusAanlevering 1"
                    f" and deleted {len(line.deletes)} times; its key must be unique.",
                )
            )
        elif line.count < 0:
            out.append(
                _flag(
                    TR063,
                    group,
                    _subject(c),
                    c.bsn,
                    line.message_ids,
                    f"the {describe(c)} was deleted (StatusAanlevering 3) {len(line.deletes)}"
                    f" times but sent only {len(line.adds)} times.",
                )
            )
    return out


def _stop_links(group: GroupIndex) -> list[Mismatch]:
    """TR382: a stop needs a current start with its key; TR071: a start with a stop was deleted
    (the deletion is void, `derive`, so the start and its stops still count)."""
    starts = {line.line.start_key: line for line in group.starts}
    out = []
    for stop in group.live_stops:
        start = starts.get(stop.line.start_key)
        if start is not None and start.live:
            continue
        out.append(
            _flag(
                TR382,
                group,
                _subject(stop.line),
                stop.line.bsn,
                stop.message_ids,
                f"no current start has the key (Bsn, ToewijzingNummer, Product, Begindatum) of"
                f" the {describe(stop.line)}.",
            )
        )
    for start in group.refused_deletions:
        stops = group.stops_of(start)
        out.append(
            _flag(
                TR071,
                group,
                _subject(start.line),
                start.line.bsn,
                [*start.message_ids, *_ids(stops)],
                f"the {describe(start.line)} was deleted (StatusAanlevering 3) although"
                f" {len(stops)} stop(s) for it were sent.",
            )
        )
    return out


def _stop_sequence(group: GroupIndex) -> list[Mismatch]:
    """TR413, TR414, TR415 per (Bsn, ToewijzingNummer, Begindatum): at most one temporary stop
    (RedenBeeindiging 20), at most one definitive stop, and that one not ending earlier. A
    definitive stop TR414 refuses (void in `derive`) is flagged here and counts for nothing else."""
    by_start: dict[Any, list[CareLine]] = defaultdict(list)
    for stop in (*group.live_stops, *group.refused_stops):
        by_start[(stop.line.bsn, stop.line.begindatum)].append(stop)
    out = []
    for (bsn, begin), stops in by_start.items():
        subject = f"stops|{bsn}|{begin}"
        temporary = [s for s in stops if s.line.temporary]
        definitive = [s for s in stops if not s.line.temporary and s.live]
        if len(temporary) > 1:
            reason = f"{len(temporary)} temporary stops (RedenBeeindiging 20) of the start of"
            reason += f" {begin}; after a temporary stop only a definitive stop may follow."
            out.append(_flag(TR413, group, subject, bsn, _ids(temporary), reason))
        if len(definitive) > 1:
            reason = f"{len(definitive)} definitive stops of the start of {begin}; after a"
            reason += " definitive stop no further stop may follow."
            out.append(_flag(TR415, group, subject, bsn, _ids(definitive), reason))
        refused = [s for s in stops if s.refused == STOP_REFUSED]
        early = [
            (t, d)
            for t in temporary
            for d in refused
            if d.line.einddatum and t.line.einddatum and d.line.einddatum < t.line.einddatum
        ]
        if early:
            reason = (
                f"a definitive stop of the start of {begin} ends on {early[0][1].line.einddatum}"
            )
            reason += f", before the temporary stop's Einddatum {early[0][0].line.einddatum}."
            ids = _ids(line for pair in early for line in pair)
            out.append(_flag(TR414, group, subject, bsn, ids, reason))
    return out


def _open_start(group: GroupIndex) -> list[Mismatch]:
    """TR326: no start while an earlier start (by Begindatum) of the toewijzing has no stop."""
    out = []
    open_so_far: list[CareLine] = []
    for start in group.live_starts:
        if open_so_far:
            earlier = ", ".join(str(s.line.begindatum) for s in open_so_far)
            out.append(
                _flag(
                    TR326,
                    group,
                    _subject(start.line),
                    start.line.bsn,
                    [*start.message_ids, *_ids(open_so_far)],
                    f"the {describe(start.line)} came while the start(s) of {earlier} of the"
                    " same toewijzing had no stop.",
                )
            )
        if not group.stops_of(start):
            open_so_far.append(start)
    return out


def _against_assignment(group: GroupIndex) -> list[Mismatch]:
    """TR019 and the checks of live starts and stops against the current version."""
    starts, stops = group.live_starts, group.live_stops
    care = [*starts, *stops]
    if not care:
        return []
    current = group.current
    nummer = group.key.toewijzing_nummer
    if current is None:
        what = "without ToewijzingNummer" if nummer is None else f"for ToewijzingNummer {nummer}"
        reason = f"{len(starts)} start(s) and {len(stops)} stop(s) {what}, which gemeente"
        reason += f" {group.key.gemeente} did not assign to aanbieder {group.key.aanbieder}."
        return [_flag(TR019, group, "", care[0].line.bsn, _ids(care), reason)]
    v = current.version
    ids = current.message_ids
    if v.removed:
        reason = f"{len(starts)} start(s) and {len(stops)} stop(s) on a toewijzing deleted with"
        reason += f" RedenWijziging {v.reden_wijziging}, which counts as never sent."
        return [_flag(CARE_ON_DELETED_ASSIGNMENT, group, "", v.bsn, [*ids, *_ids(care)], reason)]
    out = []
    for line in care:
        c = line.line

        def flag(code: str, reason: str, line: CareLine = line, c: Care = c) -> None:
            out.append(_flag(code, group, _subject(c), c.bsn, [*ids, *line.message_ids], reason))

        if not c.stop and c.begindatum < v.ingangsdatum:
            flag(START_BEFORE_ASSIGNMENT, f"the {describe(c)} is before the Ingangsdatum"
                 f" {v.ingangsdatum} of the toewijzing.")  # fmt: skip
        if v.einddatum is not None:
            end = c.einddatum if c.stop else c.begindatum
            if end is not None and end > v.einddatum:
                flag(CARE_AFTER_ASSIGNMENT_END, f"the {describe(c)} is after the toewijzing's"
                     f" Einddatum {v.einddatum}.")  # fmt: skip
        if c.toewijzing_ingangsdatum is not None and c.toewijzing_ingangsdatum != v.ingangsdatum:
            flag(INGANGSDATUM_MISMATCH, f"the {describe(c)} gives ToewijzingIngangsdatum"
                 f" {c.toewijzing_ingangsdatum}; the toewijzing's Ingangsdatum is"
                 f" {v.ingangsdatum}.")  # fmt: skip
        if c.product is not None and c.product != v.product:
            flag(PRODUCT_MISMATCH, f"the {describe(c)} names {_product(c.product)}; the"
                 f" toewijzing assigns {_product(v.product)}.")  # fmt: skip
    return out
