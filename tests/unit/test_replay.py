"""Rebuild and time travel (`replay.rebuild`) on the embedded store, with generated traffic."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.bootstrap import event_mapper, open_hub
from adapters.sqlite_log import SqliteEventLog
from hub.codec import to_xml
from hub.eventlog import EventLog
from hub.generator import Emitted, GeneratorConfig, build, generate
from hub.records import EVENTS, StreamPosition
from hub.settings import HubSettings
from projections.projector import Projector
from projections.store import ProjectionStore
from replay.digest import digest
from replay.rebuild import rebuild

T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
SOURCE = "sqlite:test"


def traffic(clients: int = 40, seed: int = 7, gemeenten: int = 2) -> list[bytes]:
    """Generated 301/305/307 messages in arrival order."""
    config = GeneratorConfig(gemeenten=gemeenten, aanbieders=3, clients=clients, seed=seed)
    return [to_xml(build(i.message)) for i in generate(config) if isinstance(i, Emitted)]


def minute_clock(start: dt.datetime = T0) -> Iterator[dt.datetime]:
    """One message a minute from `start`: receipt times time travel can cut between."""
    return (start + dt.timedelta(minutes=n) for n in itertools.count())


def ingest(log: EventLog, docs: list[bytes], clock: Iterator[dt.datetime] | None = None) -> None:
    ticks = clock or minute_clock()
    with_clock = open_hub(HubSettings(), log=log, clock=lambda: next(ticks))
    results = [r for _, r in with_clock.ingest.ingest_many(enumerate(docs))]
    assert {r.status for r in results} <= {"accepted", "duplicate"}, results[0]


def rebuilt(log: EventLog, path: Path, **window: object) -> str:
    with ProjectionStore(path) as store:
        result = rebuild(log, store, event_mapper().to_event, source=SOURCE, **window)  # type: ignore[arg-type]
        assert result.digest == digest(store)
        return result.digest


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventLog]:
    log = SqliteEventLog(tmp_path_factory.mktemp("log") / "events.db")
    ingest(log, traffic())
    yield log
    log.close()


def test_rebuilding_twice_gives_identical_digests(history: EventLog, tmp_path: Path) -> None:
    first = rebuilt(history, tmp_path / "a.db")
    second = rebuilt(history, tmp_path / "b.db", batch_size=7)
    assert first == second
    with ProjectionStore(tmp_path / "a.db") as store:
        count = store.db.execute("SELECT COUNT(*) FROM arrangements").fetchone()[0]
        assert count > 10
        assert store.position() == history.end_position(EVENTS)


def test_rebuild_equals_incremental_projection(history: EventLog, tmp_path: Path) -> None:
    """Folding the log in small steps (as `project` does while intake runs) ends equal."""
    with ProjectionStore(tmp_path / "live.db") as store:
        projector = Projector(history, store, event_mapper().to_event, source=SOURCE)
        while projector.catch_up(max_records=13).records:
            pass
        assert digest(store) == rebuilt(history, tmp_path / "fresh.db")


def test_digest_sees_a_changed_row(history: EventLog, tmp_path: Path) -> None:
    before = rebuilt(history, tmp_path / "a.db")
    with ProjectionStore(tmp_path / "a.db") as store:
        store.db.execute("UPDATE arrangements SET status = 'gestopt' WHERE rowid = 1")
        assert digest(store) != before


def test_digest_depends_on_the_rows_not_their_order(history: EventLog, tmp_path: Path) -> None:
    """The same rows written in another order (other rowids, other pages) give the same
    digest; two rows swapping one value between them give another."""
    before = rebuilt(history, tmp_path / "a.db")
    with ProjectionStore(tmp_path / "a.db") as store, ProjectionStore(tmp_path / "b.db") as copy:
        for table in ("arrangements", "mismatches", "facts"):
            rows = store.db.execute(f"SELECT * FROM {table} ORDER BY rowid DESC").fetchall()
            marks = ", ".join("?" for _ in rows[0])
            copy.db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        assert digest(copy) == before
        statuses = copy.db.execute("SELECT rowid, status FROM arrangements").fetchall()
        first = statuses[0]
        second = next(row for row in statuses if row[1] != first[1])
        for rowid, status in ((first[0], second[1]), (second[0], first[1])):
            copy.db.execute("UPDATE arrangements SET status = ? WHERE rowid = ?", (status, rowid))
        assert digest(copy) != before


def test_a_rebuild_is_written_unsynced_and_left_on_disk(history: EventLog, tmp_path: Path) -> None:
    with ProjectionStore(tmp_path / "r.db") as store:
        seen: list[int] = []
        rebuild(history, store, event_mapper().to_event, source=SOURCE, batch_size=50,
                on_batch=lambda _: seen.append(store.db.execute("PRAGMA synchronous")
                                               .fetchone()[0]))  # fmt: skip
        assert seen and set(seen) == {0}  # OFF while rebuilding
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL after
        # Checkpointed: the file alone, without its WAL, holds the views.
        shutil.copy(tmp_path / "r.db", tmp_path / "alone.db")
        with ProjectionStore(tmp_path / "alone.db") as alone:
            assert digest(alone) == digest(store)


def test_until_position_is_a_prefix_of_history(history: EventLog, tmp_path: Path) -> None:
    end = history.end_position(EVENTS).next_offset(0)
    cut = StreamPosition.of({0: end // 2})
    with ProjectionStore(tmp_path / "half.db") as store:
        result = rebuild(history, store, event_mapper().to_event, source=SOURCE, until=cut)
        assert store.position() == cut
        assert result.records == end // 2
    # the same prefix, copied into a log of its own, rebuilds to the same views
    prefix = SqliteEventLog(tmp_path / "prefix.db")
    prefix.append([r.without_position() for r in history.read(EVENTS, until=cut)])
    assert rebuilt(prefix, tmp_path / "copy.db") == result.digest
    assert result.digest != rebuilt(history, tmp_path / "full.db")


def test_until_timestamp_matches_messages_received_before(tmp_path: Path) -> None:
    docs = traffic(clients=15, seed=3)
    log = SqliteEventLog(tmp_path / "events.db")
    ingest(log, docs)
    moment = T0 + dt.timedelta(minutes=len(docs) // 3)  # the first third, by receipt time
    with ProjectionStore(tmp_path / "then.db") as store:
        cut = log.position_at(EVENTS, int(moment.timestamp() * 1000))
        rebuild(log, store, event_mapper().to_event, source=SOURCE, until=cut)
        then = digest(store)
    earlier = SqliteEventLog(tmp_path / "earlier.db")
    ingest(earlier, docs[: len(docs) // 3])
    assert rebuilt(earlier, tmp_path / "earlier-view.db") == then


def test_one_gemeente_only(history: EventLog, tmp_path: Path) -> None:
    with ProjectionStore(tmp_path / "all.db") as store:
        rebuild(history, store, event_mapper().to_event, source=SOURCE)
        gemeenten = [g for (g,) in store.db.execute("SELECT DISTINCT gemeente FROM facts")]
        expected = store.db.execute(
            "SELECT * FROM arrangements WHERE gemeente = ? ORDER BY 2, 3", (gemeenten[0],)
        ).fetchall()
    assert len(gemeenten) == 2
    with ProjectionStore(tmp_path / "one.db") as store:
        rebuild(history, store, event_mapper().to_event, source=SOURCE, gemeente=gemeenten[0])
        assert {g for (g,) in store.db.execute("SELECT gemeente FROM facts")} == {gemeenten[0]}
        got = store.db.execute("SELECT * FROM arrangements ORDER BY 2, 3").fetchall()
    assert got == expected and got


def test_from_position_skips_the_events_before(history: EventLog, tmp_path: Path) -> None:
    end = history.end_position(EVENTS).next_offset(0)
    start = StreamPosition.of({0: end - 20})
    with ProjectionStore(tmp_path / "tail.db") as store:
        result = rebuild(history, store, event_mapper().to_event, source=SOURCE, start=start)
        assert result.records == 20
        assert store.position() == history.end_position(EVENTS)
    with ProjectionStore(tmp_path / "tail.db") as store, pytest.raises(ValueError, match="fresh"):
        rebuild(history, store, event_mapper().to_event, source=SOURCE, start=start)
