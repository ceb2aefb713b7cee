"""Status: a projection's lag in records and seconds, and intake counts per gemeente."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from lxml import etree

from adapters.bootstrap import event_mapper, open_hub
from adapters.sqlite_log import SqliteEventLog
from hub.records import EVENTS, StreamPosition
from hub.settings import HubSettings
from projections.projector import Projector
from projections.store import ProjectionStore
from replay.status import intake_counts, lag
from tests.unit.test_replay import SOURCE, ingest, traffic


def gemeente_of(doc: bytes) -> str:
    """The gemeente a message is about, read with plain lxml: sender of a 301, else receiver."""
    root = etree.fromstring(doc)
    values = {etree.QName(el).localname: el.text for el in root.iter() if isinstance(el.tag, str)}
    return str(values["Afzender"] if values["BerichtCode"] == "414" else values["Ontvanger"])


def test_lag_and_counts(tmp_path: Path) -> None:
    docs = traffic(clients=25, seed=9)
    log = SqliteEventLog(tmp_path / "events.db")
    ingest(log, docs)
    hub = open_hub(HubSettings(), log=log)
    bad = docs[0].replace(b"<", b"<x", 1)  # not well-formed: rejected, sender unknown
    assert hub.ingest.ingest(bad).status == "rejected"

    accepted, rejected = intake_counts(log, event_mapper())
    assert accepted == Counter(gemeente_of(d) for d in docs)
    assert rejected == Counter({"unknown": 1})

    end = log.end_position(EVENTS).next_offset(0)
    with ProjectionStore(tmp_path / "p.db") as store:
        Projector(log, store, event_mapper().to_event, source=SOURCE).catch_up(max_records=end - 10)
        records = list(log.read(EVENTS, StreamPosition.of({0: end - 10})))
        now = records[-1].timestamp_ms + 5000
        behind = lag(log, store.path, store.position(), now_ms=now)
        assert behind.events == 10
        assert behind.seconds == (now - records[0].timestamp_ms) / 1000
        Projector(log, store, event_mapper().to_event, source=SOURCE).catch_up()
        assert lag(log, store.path, store.position(), now_ms=now).events == 0
        assert lag(log, store.path, store.position(), now_ms=now).seconds == 0
