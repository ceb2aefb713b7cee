"""Re-validation: stored messages through other rules or another day, the log unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from lxml import etree

from adapters.bootstrap import event_mapper
from adapters.sqlite_log import SqliteEventLog
from hub.errors import ValidationError
from hub.eventlog import EventLog
from hub.messagetypes import MessageType
from hub.records import EVENTS, REJECTED
from hub.rules.base import RuleContext, RuleRegistry, registry
from replay.revalidate import load_rules, received_messages, revalidate, validators
from tests.unit.test_replay import ingest, minute_clock, traffic

CUTOFF = "RV001"


def log_fingerprint(log: EventLog) -> tuple[str, str]:
    """What the log holds, as (end positions, hash of every record of both streams)."""
    h = hashlib.sha256()
    for stream in (EVENTS, REJECTED):
        for r in log.read(stream):
            h.update(f"{r.position}|{r.key}|{r.event_type}|".encode() + r.payload)
    ends = f"{log.end_position(EVENTS)}/{log.end_position(REJECTED)}"
    return ends, h.hexdigest()


def begindata(content: bytes) -> list[str]:
    """The Begindatum of every StartProduct, read with plain lxml (the test's own oracle)."""
    root = etree.fromstring(content)
    return [
        el.text or ""
        for el in root.iter()
        if isinstance(el.tag, str) and etree.QName(el).localname == "Begindatum"
        and etree.QName(el.getparent()).localname == "StartProduct"
    ]  # fmt: skip


def stricter(cutoff: str) -> RuleRegistry:
    """Every current rule plus one: a WMO305 may not start care before `cutoff`."""
    rules = RuleRegistry()
    for rule in registry:
        rules.add(rule)

    @rules.rule(CUTOFF, MessageType.WMO305, description="No care starts before the cutoff.")
    def no_early_start(ctx: RuleContext) -> list[ValidationError]:
        return [
            ctx.error(el, f"{CUTOFF}: Begindatum {el.text} is before {cutoff}")
            for el in ctx.elements("Begindatum")
            if (el.text or "") < cutoff
        ]

    return rules


@pytest.fixture
def stored(tmp_path: Path) -> EventLog:
    log = SqliteEventLog(tmp_path / "events.db")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ingest(log, traffic(clients=30, seed=11), minute_clock(now - dt.timedelta(hours=2)))
    return log


def test_current_rules_reject_nothing_that_was_accepted(stored: EventLog) -> None:
    report = revalidate(stored, event_mapper(), validators())
    assert report.total > 30
    assert report.findings == []


def test_stricter_rules_report_exactly_the_affected_messages(stored: EventLog) -> None:
    starts = {
        m.hub_message_id: begindata(m.content)
        for _, m in received_messages(stored, event_mapper())
        if m.message_type == "WMO305"
    }
    dates = sorted(d for ds in starts.values() for d in ds)
    cutoff = dates[len(dates) // 2]
    expected = {mid for mid, ds in starts.items() if any(d < cutoff for d in ds)}
    assert expected and len(expected) < len(starts)
    before = log_fingerprint(stored)

    report = revalidate(stored, event_mapper(), validators(stricter(cutoff)))

    assert {f.hub_message_id for f in report.findings} == expected
    assert {e[0] for f in report.findings for e in f.errors} == {CUTOFF}
    assert {f.message_type for f in report.findings} == {"WMO305"}
    assert sum(report.rejected().values()) == len(expected)
    assert log_fingerprint(stored) == before


def test_judged_at_another_day(stored: EventLog) -> None:
    """With `today` long ago every Dagtekening is in the future (TR135)."""
    report = revalidate(stored, event_mapper(), validators(today=dt.date(2000, 1, 1)))
    assert len(report.findings) == report.total
    assert all("TR135" in {e[0] for e in f.errors} for f in report.findings)


def test_rules_by_name() -> None:
    assert load_rules("current") is registry
    assert load_rules("hub.rules.base:registry") is registry
    with pytest.raises(ValueError, match="RuleRegistry"):
        load_rules("hub.rules.base:parse_date")
    with pytest.raises(ValueError, match="expected"):
        load_rules("v2")
