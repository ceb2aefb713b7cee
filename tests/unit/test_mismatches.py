"""One test per mismatch code: raised by the messages that cause it, and resolved (with the
receipt time of the message that removed the cause) where a later message can remove it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest

from hub.events import DomainEvent
from projections import rules
from projections.derive import Arrangement
from projections.rules import Mismatch
from projections.state import Fold, Tracked
from projections.timed import OPEN, RESOLVED, Standing, day_start_ms, judge
from tests.unit.projection_scenarios import (
    AANBIEDER,
    BSN,
    GEMEENTE,
    OTHER_PRODUCT,
    T0_MS,
    assign,
    day,
    start,
    stop,
)


def at(i: int) -> int:
    """The receipt time of the i-th event of a history."""
    return T0_MS + i * 1000


def fold(events: Sequence[DomainEvent]) -> Fold:
    result = Fold()
    for i, event in enumerate(events):
        result.apply(event, at(i))
    return result


def open_codes(events: Sequence[DomainEvent]) -> list[str]:
    return sorted(m.code for m in fold(events).open_mismatches())


def the(code: str, result: Fold) -> Tracked:
    found = [t for t in result.tracked.values() if t.mismatch.code == code]
    assert len(found) == 1, [t.mismatch.code for t in result.tracked.values()]
    return found[0]


def assert_raised_then_resolved(
    code: str, cause: Sequence[DomainEvent], remedy: Sequence[DomainEvent]
) -> Mismatch:
    """`cause` opens exactly `code`; `remedy` resolves it at the first remedy's receipt."""
    raised = fold(cause)
    assert [m.code for m in raised.open_mismatches()] == [code]
    opened = the(code, raised)
    assert opened.status == OPEN
    history = [*cause, *remedy]
    after = fold(history)
    resolved = the(code, after)
    assert resolved.status == RESOLVED
    assert resolved.resolved_ms == at(len(history) - 1)
    assert resolved.opened_ms == opened.opened_ms
    assert after.open_mismatches() == []
    m = opened.mismatch
    assert (m.gemeente, m.aanbieder) == (GEMEENTE, AANBIEDER)
    assert m.bsn_masked == "*****0006" and BSN not in m.reason
    assert m.reason.startswith(f"{code}: ")
    return m


def test_tr019_care_for_an_unknown_toewijzing_until_the_301_arrives() -> None:
    m = assert_raised_then_resolved("TR019", [start("s1", nummer=7)], [assign("t1", nummer=7)])
    assert m.toewijzing_nummer == 7 and m.message_ids == ("s1",)
    # A toewijzing of the same number for another aanbieder does not count.
    assert open_codes([assign("t1", nummer=7, aanbieder="87654321"), start("s1", nummer=7)]) == [
        "TR019"
    ]


def test_tr019_a_start_without_toewijzingnummer_can_never_be_related() -> None:
    result = fold([assign("t1"), start("s1", nummer=None)])
    [m] = result.open_mismatches()
    assert m.code == "TR019" and m.toewijzing_nummer is None


def test_tr326_a_second_start_while_the_first_is_open_until_the_first_is_stopped() -> None:
    m = assert_raised_then_resolved(
        "TR326",
        [assign("t1"), start("s1", begin="2025-01-06"), start("s2", begin="2025-02-01")],
        [stop("p1", begin="2025-01-06", eind="2025-01-31")],
    )
    assert m.message_ids == ("s1", "s2")


def test_tr326_judges_by_begindatum_not_arrival() -> None:
    later_first = [assign("t1"), start("s2", begin="2025-02-01"), start("s1", begin="2025-01-06")]
    [m] = fold(later_first).open_mismatches()
    assert m.code == "TR326" and "start of 2025-02-01" in m.reason


def test_tr382_a_stop_without_a_current_start_until_the_start_arrives() -> None:
    m = assert_raised_then_resolved("TR382", [assign("t1"), stop("p1")], [start("s1")])
    assert m.message_ids == ("p1",)
    # The key includes the product: a stop with another product matches no start.
    codes = open_codes([assign("t1"), start("s1"), stop("p1", product=OTHER_PRODUCT)])
    assert "TR382" in codes


def test_tr074_a_key_sent_twice_until_one_is_deleted() -> None:
    m = assert_raised_then_resolved(
        "TR074",
        [assign("t1"), start("s1"), start("s2")],
        [start("s3", status="3")],
    )
    assert m.message_ids == ("s1", "s2")


def test_tr074_also_for_stops() -> None:
    # The same stop twice is a duplicate key, not a second definitive stop (TR415).
    assert open_codes([assign("t1"), start("s1"), stop("p1"), stop("p2")]) == ["TR074"]


def test_tr074_not_for_a_key_sent_again_after_its_deletion() -> None:
    assert open_codes([assign("t1"), start("s1"), start("s2", status="3"), start("s3")]) == []


def test_tr063_deleting_what_was_never_sent_until_the_original_arrives() -> None:
    m = assert_raised_then_resolved("TR063", [assign("t1"), start("s2", status="3")], [start("s1")])
    assert m.message_ids == ("s2",)
    assert open_codes([assign("t1"), start("s1"), stop("p1", status="3")]) == ["TR063"]


def test_tr071_deleting_a_start_that_has_a_stop_until_the_stop_is_deleted() -> None:
    m = assert_raised_then_resolved(
        "TR071",
        [assign("t1"), start("s1"), stop("p1"), start("s2", status="3")],
        [stop("p2", status="3")],
    )
    assert m.message_ids == ("p1", "s1", "s2")


def test_tr413_two_temporary_stops_until_one_is_deleted() -> None:
    assert_raised_then_resolved(
        "TR413",
        [
            assign("t1"),
            start("s1"),
            stop("p1", reden="20"),
            stop("p2", eind="2025-04-30", reden="20"),
        ],
        [stop("p3", eind="2025-04-30", reden="20", status="3")],
    )


def test_tr414_a_definitive_stop_ending_before_the_temporary_one_until_corrected() -> None:
    m = assert_raised_then_resolved(
        "TR414",
        [assign("t1"), start("s1"), stop("p1", eind="2025-03-31", reden="20"),
         stop("p2", eind="2025-03-01", reden="19")],
        [stop("p3", eind="2025-03-01", reden="19", status="3")],
    )  # fmt: skip
    assert m.message_ids == ("p1", "p2")
    # A definitive stop on or after the temporary one is what TR414 asks for.
    ok = [assign("t1"), start("s1"), stop("p1", reden="20"), stop("p2", eind="2025-03-31")]
    assert open_codes(ok) == []


def test_tr415_a_second_definitive_stop_until_one_is_deleted() -> None:
    assert_raised_then_resolved(
        "TR415",
        [assign("t1"), start("s1"), stop("p1", eind="2025-03-31"), stop("p2", eind="2025-04-30")],
        [stop("p3", eind="2025-04-30", status="3")],
    )


def test_start_before_assignment_until_the_start_is_corrected() -> None:
    assert_raised_then_resolved(
        "START_BEFORE_ASSIGNMENT",
        [assign("t1", ingang="2025-01-01"), start("s1", begin="2024-12-15")],
        [start("s2", begin="2024-12-15", status="3")],
    )


def test_care_after_assignment_end_a_start_after_the_einddatum_until_extended() -> None:
    m = assert_raised_then_resolved(
        "CARE_AFTER_ASSIGNMENT_END",
        [assign("t1", eind="2025-03-31"), start("s1", begin="2025-04-07")],
        [assign("t2", eind="2025-12-31", datum="2025-04-01", reden="04")],
    )
    assert m.message_ids == ("s1", "t1")


def test_care_after_assignment_end_a_stop_after_a_withdrawn_einddatum() -> None:
    history = [
        assign("t1", eind="2025-12-31"),
        start("s1"),
        stop("p1", eind="2025-06-30"),
        assign("t2", eind="2025-04-30", datum="2025-05-01", reden="05"),
    ]
    [m] = fold(history).open_mismatches()
    assert m.code == "CARE_AFTER_ASSIGNMENT_END"
    assert m.message_ids == ("p1", "t2") and "2025-04-30" in m.reason


def test_ingangsdatum_mismatch_until_the_301_is_corrected() -> None:
    assert_raised_then_resolved(
        "INGANGSDATUM_MISMATCH",
        [assign("t1", ingang="2025-01-01"), start("s1", begin="2025-01-06", ingang="2025-01-02")],
        [assign("t2", ingang="2025-01-02", datum="2025-01-10", reden="14")],
    )


def test_product_mismatch_until_the_start_is_deleted() -> None:
    m = assert_raised_then_resolved(
        "PRODUCT_MISMATCH",
        [assign("t1"), start("s1", product=OTHER_PRODUCT)],
        [start("s2", product=OTHER_PRODUCT, status="3")],
    )
    assert "04/04A02" in m.reason and "04/04A01" in m.reason


def test_a_start_without_product_claims_no_product() -> None:
    assert open_codes([assign("t1"), start("s1", product=None)]) == []


def test_care_on_deleted_assignment_until_the_start_is_deleted() -> None:
    m = assert_raised_then_resolved(
        "CARE_ON_DELETED_ASSIGNMENT",
        [
            assign("t1"),
            start("s1"),
            assign("t2", eind="2025-01-01", datum="2025-01-10", reden="13"),
        ],
        [start("s2", status="3")],
    )
    assert m.message_ids == ("s1", "t2")


# --- judged at a date ------------------------------------------------------------------------


def arrangement_of(events: Sequence[DomainEvent], times: Sequence[int]) -> Arrangement:
    result = Fold()
    for event, ms in zip(events, times, strict=True):
        result.apply(event, ms)
    [a] = result.arrangements()
    return a


def standing(a: Arrangement) -> Standing:
    v = a.current.version
    return Standing(
        key=a.key,
        bsn=v.bsn,
        status=a.status,
        ingangsdatum=v.ingangsdatum,
        einddatum=v.einddatum,
        care_open=a.care_open,
        assigned_ms=a.assigned_ms,
        version_ms=a.version_ms,
        first_start_ms=a.first_start_ms,
        care_closed_ms=a.care_closed_ms,
        message_ids=a.message_ids,
    )


def ms(day_text: str) -> int:
    return day_start_ms(day(day_text)) + 12 * 3600 * 1000  # noon


def test_assignment_not_started_n_days_after_the_ingangsdatum() -> None:
    a = arrangement_of([assign("t1", ingang="2025-01-01")], [ms("2024-12-20")])
    assert judge(standing(a), day("2025-01-28"), 28) == []
    [flag] = judge(standing(a), day("2025-01-29"), 28)
    assert flag.mismatch.code == rules.ASSIGNMENT_NOT_STARTED and flag.status == OPEN
    assert flag.opened_ms == day_start_ms(day("2025-01-29"))
    assert judge(standing(a), day("2025-01-10"), 7)[0].status == OPEN  # N is configurable


def test_assignment_not_started_resolved_by_a_late_start() -> None:
    history = [assign("t1", ingang="2025-01-01"), start("s1", begin="2025-02-03")]
    late = arrangement_of(history, [ms("2024-12-20"), ms("2025-02-05")])
    [flag] = judge(standing(late), day("2025-03-01"), 28)
    assert flag.status == RESOLVED and flag.resolved_ms == ms("2025-02-05")
    # Judged before the start was received, it was still open then.
    assert judge(standing(late), day("2025-02-01"), 28)[0].status == OPEN
    on_time = arrangement_of(history, [ms("2024-12-20"), ms("2025-01-20")])
    assert judge(standing(on_time), day("2025-03-01"), 28) == []


def test_care_open_after_the_einddatum_until_a_definitive_stop() -> None:
    history = [assign("t1", ingang="2025-01-01", eind="2025-03-31"), start("s1")]
    times = [ms("2024-12-20"), ms("2025-01-07")]
    a = arrangement_of(history, times)
    assert [f.mismatch.code for f in judge(standing(a), day("2025-03-31"), 28)] == []
    [flag] = judge(standing(a), day("2025-04-01"), 28)
    assert flag.mismatch.code == rules.CARE_AFTER_ASSIGNMENT_END and flag.status == OPEN
    stopped = arrangement_of([*history, stop("p1")], [*times, ms("2025-04-10")])
    [flag] = judge(standing(stopped), day("2025-05-01"), 28)
    assert flag.status == RESOLVED and flag.resolved_ms == ms("2025-04-10")
    # A temporary stop leaves care open.
    paused = arrangement_of([*history, stop("p1", reden="20")], [*times, ms("2025-03-01")])
    assert judge(standing(paused), day("2025-05-01"), 28)[0].status == OPEN


def test_a_deleted_toewijzing_is_not_expected_to_start() -> None:
    history = [assign("t1"), assign("t2", eind="2025-01-01", datum="2025-01-10", reden="13")]
    a = arrangement_of(history, [ms("2024-12-20"), ms("2025-01-10")])
    assert judge(standing(a), day("2025-06-01"), 28) == []


ISSUE_CODES = {
    "TR019", "TR326", "TR382", "TR074", "TR063", "TR071", "TR413", "TR414", "TR415",
    "START_BEFORE_ASSIGNMENT", "CARE_AFTER_ASSIGNMENT_END", "INGANGSDATUM_MISMATCH",
    "PRODUCT_MISMATCH", "CARE_ON_DELETED_ASSIGNMENT", "ASSIGNMENT_NOT_STARTED",
}  # fmt: skip


def test_the_codes_are_those_of_the_issue_table() -> None:
    assert set(rules.CODES) == ISSUE_CODES


@pytest.mark.reference
def test_retour_codes_match_the_standards_code_list(reference_dir: Path) -> None:
    """WJ001 (the retour code list) names the rule behind each 9xxx code."""
    table = (reference_dir / "codelijsten" / "WJ001_Retourcode.md").read_text(encoding="utf-8")
    by_rule = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("9") and cells[2].startswith("TR"):
            by_rule[cells[2]] = cells[0]
    for code, retour in rules.CODES.items():
        if retour is None:
            continue
        # TR382 has no code of its own: its check answers with TR069's 9069 ("no current start").
        rule = "TR069" if code == "TR382" else code
        assert by_rule[rule] == retour, code


def test_no_code_is_raised_for_a_clean_history() -> None:
    clean = [
        assign("t1"),
        start("s1"),
        stop("p1", reden="20", eind="2025-02-28"),
        stop("p2", reden="19", eind="2025-03-31"),
        start("s2", begin="2025-04-07"),
    ]
    assert open_codes(clean) == []
    assert dt.date(2025, 4, 7) <= day("2025-12-31")
