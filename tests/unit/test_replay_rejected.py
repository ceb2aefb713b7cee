"""Dead letters: rejected submissions listed, shown (BSNs masked) and redriven, with the
outcome of every redrive recorded on the dead-letter stream."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from adapters.bootstrap import open_hub, payload_codec
from adapters.sqlite_log import SqliteEventLog
from hub.records import EVENTS, REJECTED
from hub.settings import HubSettings
from hub.validation import Validator
from replay.deadletters import REDRIVE_TYPE, find, redrive, rejections
from tests.unit.test_replay import traffic
from tests.unit.test_replay_revalidate import stricter

BSN = re.compile(rb"<(?:\w+:)?Bsn>(\d{9})<")


def test_list_show_and_redrive(tmp_path: Path) -> None:
    docs = traffic(clients=20, seed=5)
    log = SqliteEventLog(tmp_path / "events.db")
    # A rule set that was too strict at the time: every WMO305 starting care before 2100.
    strict = open_hub(HubSettings(), log=log, validator=Validator(rules=stricter("2100-01-01")))
    results = [r for _, r in strict.ingest.ingest_many(enumerate(docs))]
    wrongly = {r.message_id for r in results if r.status == "rejected"}
    assert wrongly and len(wrongly) < len(docs)
    garbage = strict.ingest.ingest(b"<not-iwmo/>")
    assert garbage.status == "rejected"

    found = rejections(log, payload_codec())
    assert {r.id for r in found} == wrongly | {garbage.message_id}
    one = next(r for r in found if r.id in wrongly)
    assert one.outcome == "open" and one.summary()["rules"] == ["RV001"]
    assert one.gemeente == one.event.receiver  # a 305 is about the gemeente it goes to
    bsns = set(BSN.findall(one.event.content))
    assert bsns
    shown = repr(one.details()) + repr(one.summary())
    assert not any(b.decode() in shown for b in bsns)

    events_before = log.end_position(EVENTS).next_offset(0)
    fixed = open_hub(HubSettings(), log=log)  # the current rules again
    chosen = find(found, [one.id[:8], garbage.message_id or ""])
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    outcome = dict(
        (r.id, res.status)
        for r, res in redrive(
            log, chosen, fixed.ingest.ingest, avro=payload_codec(), clock=lambda: moment
        )
    )
    assert outcome == {one.id: "accepted", garbage.message_id: "rejected"}
    assert log.end_position(EVENTS).next_offset(0) > events_before

    after = {r.id: r for r in rejections(log, payload_codec())}
    assert after[one.id].outcome == "resolved"
    [recorded] = after[one.id].redrives
    assert recorded.status == "accepted" and recorded.redriven_at.startswith("2026-01-02T03:04:05")
    assert after[garbage.message_id or ""].outcome == "redriven"
    # the second rejection of the garbage is a rejection of its own, linked from the redrive
    [again] = after[garbage.message_id or ""].redrives
    assert again.message_id in after and again.message_id != garbage.message_id
    types = [r.event_type for r in log.read(REJECTED)]
    assert types.count(REDRIVE_TYPE) == 2

    # a second redrive of the fixed message finds it stored: a duplicate, recorded as such
    [(_, res)] = list(redrive(log, [after[one.id]], fixed.ingest.ingest, avro=payload_codec()))
    assert res.status == "duplicate"
    [latest] = find(rejections(log, payload_codec()), [one.id])
    assert [x.status for x in latest.redrives] == ["accepted", "duplicate"]
