"""Swap without downtime: a rebuilt store replaces the live one while intake goes on, and
after the switch the live path holds every event exactly once."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

from adapters.bootstrap import event_mapper, open_hub
from adapters.sqlite_log import SqliteEventLog
from hub.eventlog import EventLog
from hub.records import EVENTS
from hub.settings import HubSettings
from projections.projector import Projector
from projections.store import ProjectionStore
from replay.digest import digest
from replay.rebuild import rebuild
from replay.status import lag
from replay.swap import catch_up_and_swap
from tests.unit.test_replay import SOURCE, ingest, minute_clock, traffic


class Intake(threading.Thread):
    """Ingests messages one at a time on its own connection until told to stop."""

    def __init__(self, path: Path, docs: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.path, self.docs = path, docs
        self.stop = threading.Event()
        self.started_ingesting = threading.Event()
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            ticks = minute_clock(dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
            with SqliteEventLog(self.path) as log:
                hub = open_hub(HubSettings(), log=log, clock=lambda: next(ticks))
                for doc in self.docs:
                    if self.stop.is_set():
                        break
                    assert hub.ingest.ingest(doc).status in ("accepted", "duplicate")
                    self.sent += 1
                    self.started_ingesting.set()
                    time.sleep(0.002)
        except BaseException as e:  # reported by the test
            self.error = e


def fold(log: EventLog, path: Path) -> ProjectionStore:
    store = ProjectionStore(path)
    Projector(log, store, event_mapper().to_event, source=SOURCE).catch_up()
    return store


def test_swap_under_intake(tmp_path: Path) -> None:
    events = tmp_path / "events.db"
    log = SqliteEventLog(events)
    ingest(log, traffic(clients=60, seed=21))
    live = tmp_path / "projections.db"
    with fold(log, live) as old:  # the live store, a plain file at first
        live_position = old.position()

    intake = Intake(events, traffic(clients=400, seed=22, gemeenten=3))
    intake.start()
    assert intake.started_ingesting.wait(30)
    new = tmp_path / "rebuilt.db"
    with ProjectionStore(new) as store:
        first = rebuild(log, store, event_mapper().to_event, source=SOURCE, batch_size=50)
        projector = Projector(log, store, event_mapper().to_event, source=SOURCE, batch_size=50)
        swapped = catch_up_and_swap(projector, log, live)
        at_swap = store.position()
    still_running = intake.is_alive() and not intake.stop.is_set()
    time.sleep(0.2)  # intake goes on after the switch
    intake.stop.set()
    intake.join(60)
    assert intake.error is None
    assert still_running, "intake must still be running at the switch"
    end = log.end_position(EVENTS)
    assert first.target.next_offset(0) < at_swap.next_offset(0) < end.next_offset(0)

    assert live.is_symlink() and live.resolve() == new.resolve()
    assert swapped.previous is not None
    with ProjectionStore(swapped.previous) as old:  # the previous view is kept, untouched
        assert old.position() == live_position
    assert not (tmp_path / "projections.db-wal").exists()
    # A reader opening the live path gets the new store and folds what came after the switch
    # from its checkpoint.
    with ProjectionStore(live) as reader:
        assert reader.position() == at_swap
        assert lag(log, str(live), reader.position()).events > 0
        Projector(log, reader, event_mapper().to_event, source=SOURCE).catch_up()
        assert reader.position() == end
        after = digest(reader)
    with fold(log, tmp_path / "from-scratch.db") as fresh:
        assert after == digest(fresh)
