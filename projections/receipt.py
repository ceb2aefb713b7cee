"""The cross-message retour codes of a start or stop line as they stand at the moment of receipt.

Unlike the mismatches (a pure function of the whole set of facts), a retour answers a message
when it arrives: each line is judged against the facts of the messages received before it, in
the order the hub received them (the standard's "reeds ontvangen berichten"). Lines of the
same message never judge each other (that is TR101, an intra-message rule).

| code | rule | the line is refused because, before it arrived, ... |
|---|---|---|
| 9019 | TR019 | no toewijzing of that gemeente and aanbieder had its ToewijzingNummer |
| 9326 | TR326 | (a start) the toewijzing had a start without a stop |
| 9069 | TR382 | (a stop) no live start had its key (Bsn, ToewijzingNummer, Product, Begindatum) |
| 9074 | TR074 | (StatusAanlevering 1) a live line had the same key |
| 9063 | TR063 | (StatusAanlevering 3) no live line had the key it deletes |
| 9071 | TR071 | (deleting a start) that start had a stop |
| 9413 | TR413 | (a temporary stop) a temporary stop of the same start was live |
| 9414 | TR414 | (a stop) a live stop of the same start ended later |
| 9415 | TR415 | (a stop) a definitive stop of the same start was live |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from projections.derive import CareLine, GroupIndex, index
from projections.facts import Care, Fact, GroupKey, Version

TR019: Final = "9019"
TR326: Final = "9326"
TR382: Final = "9069"
TR074: Final = "9074"
TR063: Final = "9063"
TR071: Final = "9071"
TR413: Final = "9413"
TR414: Final = "9414"
TR415: Final = "9415"


def line_key(key: GroupKey, fact: Fact) -> str:
    """Which line of its message a fact is (unique in a message by TR101): the retour
    builder finds a line's codes by this key."""
    if isinstance(fact, Version):
        return f"toewijzing|{key.toewijzing_nummer}"
    product = "-" if fact.product is None else f"{fact.product[0]}/{fact.product[1] or ''}"
    kind = "stop" if fact.stop else "start"
    return (
        f"{kind}|{key.toewijzing_nummer}|{product}|{fact.begindatum}|"
        f"{fact.reden_beeindiging or '-'}|{fact.einddatum or '-'}|{fact.status_aanlevering}"
    )


def before_message(key: GroupKey, facts: Mapping[Fact, int], current: GroupIndex,
                   message_id: str) -> GroupIndex:  # fmt: skip
    """The group as the messages before `message_id` left it (`current` if it has none of
    that message's lines yet, which is the usual case)."""
    if not any(f.message_id == message_id for f in facts):
        return current
    return index(key, {f: ms for f, ms in facts.items() if f.message_id != message_id})


def receipt_codes(before: GroupIndex, line: Fact) -> tuple[str, ...]:
    """The 9xxx retour codes of `line` against the group as it stood before (none: 0200)."""
    if isinstance(line, Version):
        return ()
    codes = []
    if before.current is None:
        codes.append(TR019)
    starts = {s.line.key: s for s in before.starts}
    if not line.stop:
        codes += _start_codes(before, starts, line)
    else:
        codes += _stop_codes(before, starts, line)
    return tuple(codes)


def _start_codes(before: GroupIndex, starts: dict[Any, CareLine], line: Care) -> list[str]:
    existing = starts.get(line.key)
    if line.deletes:
        if existing is None or not existing.live:
            return [TR063]
        return [TR071] if before.stops_of(existing) else []
    live = existing is not None and existing.live
    codes = [TR074] if live else []
    if any(not before.stops_of(s) for s in before.live_starts):
        codes.append(TR326)
    return codes


def _stop_codes(before: GroupIndex, starts: dict[Any, CareLine], line: Care) -> list[str]:
    existing = {s.line.key: s for s in before.live_stops}.get(line.key)
    if line.deletes:
        return [] if existing is not None else [TR063]
    codes = [TR074] if existing is not None else []
    start = starts.get(line.start_key)
    if start is None or not start.live:
        codes.append(TR382)
    same = [s.line for s in before.live_stops if (s.line.bsn, s.line.begindatum)
            == (line.bsn, line.begindatum)]  # fmt: skip
    if line.temporary and any(s.temporary for s in same):
        codes.append(TR413)
    if any(s.einddatum and line.einddatum and line.einddatum < s.einddatum for s in same):
        codes.append(TR414)
    if any(not s.temporary for s in same):
        codes.append(TR415)
    return codes
