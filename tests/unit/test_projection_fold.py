"""The pure fold: where a toewijzing stands after any set of versions, starts and stops."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hub.events import DomainEvent
from hub.factory import MessageFactory
from projections.derive import (
    GESTART,
    GESTOPT,
    INGETROKKEN,
    TIJDELIJK_GESTOPT,
    TOEGEWEZEN,
    VERWIJDERD,
    Arrangement,
)
from projections.facts import GroupKey
from projections.state import Fold
from tests.unit.projection_scenarios import (
    AANBIEDER,
    GEMEENTE,
    T0_MS,
    assign,
    day,
    events_of,
    start,
    stop,
)


def fold(events: Sequence[DomainEvent]) -> Fold:
    """Each event received one second after the previous one."""
    result = Fold()
    for i, event in enumerate(events):
        result.apply(event, T0_MS + i * 1000)
    return result


def only(result: Fold) -> Arrangement:
    found = list(result.arrangements())
    assert len(found) == 1, found
    return found[0]


def status(*events: DomainEvent) -> str:
    return only(fold(events)).status


def test_a_toewijzing_alone_is_toegewezen() -> None:
    a = only(fold([assign("t1")]))
    assert a.status == TOEGEWEZEN
    assert a.key == GroupKey(GEMEENTE, AANBIEDER, 1)
    assert a.current.version.ingangsdatum == day("2025-01-01")
    assert a.current.message_ids == ("t1",)
    assert not a.care_open and a.first_start_ms is None


def test_statuses_follow_starts_and_stops() -> None:
    assert status(assign("t1"), start("s1")) == GESTART
    assert status(assign("t1"), start("s1"), stop("p1", reden="20")) == TIJDELIJK_GESTOPT
    assert status(assign("t1"), start("s1"), stop("p1", reden="19")) == GESTOPT
    # A temporary stop followed by the definitive one (TR413 allows exactly that).
    definitive = stop("p2", eind="2025-04-30", reden="19")
    assert status(assign("t1"), start("s1"), stop("p1", reden="20"), definitive) == GESTOPT


def test_a_new_start_after_a_temporary_stop_is_gestart_again() -> None:
    events = [
        assign("t1"),
        start("s1", begin="2025-01-06"),
        stop("p1", begin="2025-01-06", eind="2025-02-28", reden="20"),
        start("s2", begin="2025-04-01"),
    ]
    a = only(fold(events))
    assert a.status == GESTART and a.care_open
    assert [line.line.begindatum for line in a.starts] == [day("2025-01-06"), day("2025-04-01")]


def test_the_current_version_is_the_latest_toewijzingsdatum_and_tijd_not_the_last_one() -> None:
    older = assign("t1", eind="2025-12-31", datum="2024-12-20", tijd="10:00")
    newer = assign("t2", eind="2026-06-30", datum="2024-12-20", tijd="11:30")
    for events in ([older, newer], [newer, older]):
        a = only(fold(events))
        assert a.current.message_ids == ("t2",)
        assert a.current.version.einddatum == day("2026-06-30")
        assert [e.message_ids for e in a.versions] == [("t1",), ("t2",)]
        assert a.status == TOEGEWEZEN  # extended, not withdrawn


def test_an_einddatum_brought_forward_is_ingetrokken() -> None:
    first = assign("t1", eind="2025-12-31", datum="2024-12-20")
    shortened = assign("t2", eind="2025-06-30", datum="2025-03-01", reden="05")
    assert status(first, shortened) == INGETROKKEN
    assert status(shortened, first) == INGETROKKEN
    assert status(first, shortened, start("s1")) == INGETROKKEN
    # Care that has stopped for good is gestopt, withdrawn or not.
    assert status(first, shortened, start("s1"), stop("p1")) == GESTOPT


def test_reden_wijziging_13_is_verwijderd_whatever_else_arrived() -> None:
    first = assign("t1")
    deleted = assign("t2", eind="2025-01-01", datum="2025-01-10", reden="13")
    assert status(first, deleted) == VERWIJDERD
    assert status(deleted, first, start("s1")) == VERWIJDERD


def test_a_toewijzing_missing_from_a_later_301_is_not_deleted_op087() -> None:
    factory = MessageFactory(11)
    both = factory.wmo301(producten=2)
    first, second = both.client.toegewezen_producten
    later = factory.wmo301(
        afzender=both.header.afzender,
        ontvanger=both.header.ontvanger,
        bsn=both.client.bsn,
        producten=[first],  # the same first line again; the second is left out
    )
    result = fold([*events_of(both, "m1"), *events_of(later, "m2")])
    by_number = {a.key.toewijzing_nummer: a for a in result.arrangements()}
    assert set(by_number) == {first.toewijzing_nummer, second.toewijzing_nummer}
    assert by_number[second.toewijzing_nummer].status == TOEGEWEZEN
    assert by_number[second.toewijzing_nummer].current.message_ids == ("m1",)
    # The line sent again unchanged is one version carried by both messages.
    resent = by_number[first.toewijzing_nummer]
    assert len(resent.versions) == 1 and resent.current.message_ids == ("m1", "m2")


def test_the_history_keeps_every_version_start_stop_and_deletion_with_message_ids() -> None:
    events = [
        assign("t1"),
        assign("t2", eind="2025-09-30", datum="2025-02-01"),
        start("s1"),
        start("s2", begin="2025-01-07"),
        start("s3", begin="2025-01-07", status="3"),  # takes s2 back
        stop("p1"),
    ]
    a = only(fold(events))
    assert [e.message_ids for e in a.versions] == [("t1",), ("t2",)]
    lines = {line.line.begindatum: line for line in a.starts}
    assert [c.message_id for c in lines[day("2025-01-06")].adds] == ["s1"]
    assert lines[day("2025-01-06")].live
    deleted = lines[day("2025-01-07")]
    assert not deleted.live
    assert [c.message_id for c in deleted.adds] == ["s2"]
    assert [c.message_id for c in deleted.deletes] == ["s3"]
    assert [c.message_id for s in a.stops for c in s.adds] == ["p1"]
    assert a.message_ids == ("p1", "s1", "s2", "s3", "t1", "t2")
    assert a.status == GESTOPT


def test_the_same_event_twice_counts_once() -> None:
    once = fold([assign("t1"), start("s1")])
    twice = fold([assign("t1"), start("s1"), start("s1"), assign("t1")])
    assert only(once).comparable() == only(twice).comparable()
    assert twice.open_mismatches() == []
    # The earliest receipt time is kept.
    assert only(twice).first_start_ms == T0_MS + 1000


def test_care_without_a_toewijzing_makes_no_arrangement() -> None:
    result = fold([start("s1", nummer=5)])
    assert list(result.arrangements()) == []
    assert [m.code for m in result.open_mismatches()] == ["TR019"]


def test_a_factory_chain_of_301_305_307_ends_gestopt_without_mismatches() -> None:
    factory = MessageFactory(5, today=dt.date(2025, 6, 30))
    toewijzing = factory.wmo301(producten=[{"einddatum": None, "ingangsdatum": day("2025-01-01")}])
    started = factory.wmo305(toewijzing)
    stopped = factory.wmo307(started, toewijzing=toewijzing)
    events = [
        *events_of(toewijzing, "m1"),
        *events_of(started, "m2"),
        *events_of(stopped, "m3"),
    ]
    result = fold(events)
    assert only(result).status == GESTOPT
    assert result.open_mismatches() == []


# --- lines a cross-message rule refuses are void for the status, whatever the arrival order ---


def _received(events: Sequence[DomainEvent], mid: str) -> int:
    """When `fold` received the event of message `mid`."""
    return T0_MS + 1000 * [e.hub_message_id for e in events].index(mid)


def test_tr071_the_deletion_of_a_stopped_start_is_void_in_either_order() -> None:
    t1, s1, p1 = assign("t1"), start("s1"), stop("p1", reden="19")
    deletion = start("s2", status="3")
    # The deletion after the stop (refused at receipt) or before it: the start stays, stopped.
    for events in ([t1, s1, p1, deletion], [t1, s1, deletion, p1], [deletion, p1, s1, t1]):
        result = fold(events)
        a = only(result)
        assert a.status == GESTOPT and not a.care_open
        assert a.first_start_ms == _received(events, "s1")
        assert a.care_closed_ms == _received(events, "p1")
        [line] = a.starts
        assert line.live and line.refused == "TR071" and line.count == 0
        assert [m.code for m in result.open_mismatches()] == ["TR071"]
    # Only a live stop makes the deletion void: once the stop is deleted, so is the start.
    undone = fold([t1, s1, p1, deletion, stop("p2", reden="19", status="3")])
    assert only(undone).status == TOEGEWEZEN and only(undone).first_start_ms is None
    assert undone.open_mismatches() == []


def test_tr414_a_definitive_stop_ending_before_the_temporary_one_is_void_in_either_order() -> None:
    t1, s1 = assign("t1"), start("s1")
    temporary = stop("p1", eind="2025-03-31", reden="20")
    early = stop("p2", eind="2025-03-01", reden="19")
    for events in (
        [t1, s1, temporary, early],
        [t1, s1, early, temporary],
        [early, temporary, s1, t1],
    ):
        result = fold(events)
        a = only(result)
        assert a.status == TIJDELIJK_GESTOPT and a.care_open and a.care_closed_ms is None
        refused = {line.line.einddatum: line.refused for line in a.stops}
        assert refused == {day("2025-03-31"): None, day("2025-03-01"): "TR414"}
        assert [m.code for m in result.open_mismatches()] == ["TR414"]
    # A definitive stop on or after the temporary one counts, and is no second one (TR415).
    fitting = stop("p3", eind="2025-04-30", reden="19")
    for events in ([t1, s1, temporary, early, fitting], [fitting, early, temporary, s1, t1]):
        result = fold(events)
        assert only(result).status == GESTOPT
        assert only(result).care_closed_ms == _received(events, "p3")
        assert [m.code for m in result.open_mismatches()] == ["TR414"]
    # Without the temporary stop nothing refuses the definitive one.
    undone = [t1, s1, temporary, early, stop("p4", eind="2025-03-31", reden="20", status="3")]
    assert status(*undone) == GESTOPT


def test_a_single_fact_is_indexed_as_the_general_path_indexes_it() -> None:
    from projections import derive
    from projections.facts import fact_of

    singles = [
        assign("a1"),
        assign("a2", reden="13"),
        start("s1"),
        start("s2", status="3"),
        stop("p1", reden="20"),
        stop("p2", status="3"),
        start("s3", nummer=None),
    ]
    for event in singles:
        found = fact_of(event)
        assert found is not None
        key, fact = found
        facts = {fact: T0_MS}
        assert derive._index_of_one(key, facts) == derive._index_sorted(key, facts)
        assert derive.index(key, facts) == derive._index_sorted(key, facts)
