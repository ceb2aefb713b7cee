"""The projection store and the projector on the embedded event log: the stored view equals
the pure fold, saves are atomic with the checkpoint, replays change nothing, and the read
queries answer what a back-office asks."""

from __future__ import annotations

import datetime as dt
import functools
import gc
import json
import logging
import os
import random
import shutil
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.bootstrap import event_mapper, open_hub
from adapters.sqlite_log import SqliteEventLog
from hub.codec import to_xml
from hub.errors import StoreUnavailable
from hub.events import DomainEvent
from hub.factory import MessageFactory
from hub.records import EVENTS, StreamPosition
from hub.settings import HubSettings
from projections import queries
from projections.projector import Projector
from projections.reader import FOLD_GC_THRESHOLDS, Decoded, ReaderError, decode_batch
from projections.rows import rows_of
from projections.state import Changes, Fold
from projections.store import ProjectionStore, ProjectionStoreError
from projections.timed import day_start_ms
from projections.views import arrangement_row, iso_ms, json_texts
from projections.writer import WRITER_NICE, WriterError, WriterProcess
from tests.unit.projection_scenarios import (
    AANBIEDER,
    GEMEENTE,
    T0_MS,
    assign,
    day,
    start,
    stop,
)

HISTORY: list[DomainEvent] = [
    start("s0", nummer=9),  # TR019 until t9 arrives
    assign("t1"),
    assign("t2", nummer=2, ingang="2025-02-01", eind=None),
    start("s1"),
    start("s2"),  # TR074 until s3 deletes one
    stop("p1", reden="20", eind="2025-02-28"),
    assign("t9", nummer=9, ingang="2025-01-01"),
    start("s3", status="3"),
    assign("t3", nummer=3, aanbieder="87654321"),
    start("s4", nummer=2, begin="2025-01-15", ingang="2025-02-01"),  # START_BEFORE_ASSIGNMENT
]


def log_of(events: Sequence[DomainEvent], *, spacing_ms: int = 60_000) -> SqliteEventLog:
    """An in-memory event log holding `events`, received `spacing_ms` apart."""
    log = SqliteEventLog(":memory:")
    mapper = event_mapper()
    log.append(
        [mapper.to_record(e, timestamp_ms=T0_MS + i * spacing_ms) for i, e in enumerate(events)]
    )
    return log


def project(log: SqliteEventLog, path: Path, batch_size: int = 1000) -> ProjectionStore:
    store = ProjectionStore(path)
    Projector(log, store, event_mapper().to_event, source="test", batch_size=batch_size).catch_up()
    return store


def dump(store: ProjectionStore, *, timestamps: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted (without the arrival-dependent columns if asked)."""
    drop = set() if timestamps else {"updated_at", "first_start_at", "care_closed_at",
                                     "assigned_at", "version_received_at", "opened_at",
                                     "resolved_at", "received_ms"}  # fmt: skip
    out = {}
    for table in ("arrangements", "mismatches", "facts", "checkpoint"):
        rows = store.query(f"SELECT * FROM {table}")
        out[table] = sorted(
            tuple(row[k] for k in row.keys() if k not in drop)  # noqa: SIM118
            for row in rows
        )
    return out


def fold(events: Sequence[DomainEvent], spacing_ms: int = 60_000) -> Fold:
    result = Fold()
    for i, event in enumerate(events):
        result.apply(event, T0_MS + i * spacing_ms)
    return result


def test_the_stored_view_is_the_pure_fold(tmp_path: Path) -> None:
    store = project(log_of(HISTORY), tmp_path / "p.db", batch_size=3)
    reference = fold(HISTORY)
    stored = {tuple(r)[:3]: tuple(r) for r in store.query("SELECT * FROM arrangements")}
    expected = {}
    for a in reference.arrangements():
        group = reference.groups[a.key]
        row = arrangement_row(a, max(group.facts.values()), len(group.mismatches))
        expected[row[:3]] = row
    assert stored == expected
    rows = store.query("SELECT * FROM mismatches")
    assert {r["id"]: (r["code"], r["status"], r["opened_at"], r["resolved_at"]) for r in rows} == {
        mid: (t.mismatch.code, t.status, iso_ms(t.opened_ms), iso_ms(t.resolved_ms))
        for mid, t in reference.tracked.items()
    }
    by_code = {r["code"]: r for r in rows}
    assert by_code["TR019"]["status"] == "resolved"
    assert by_code["TR019"]["resolved_at"] == iso_ms(T0_MS + 6 * 60_000)  # t9's receipt
    assert by_code["TR074"]["status"] == "resolved"
    assert by_code["START_BEFORE_ASSIGNMENT"]["status"] == "open"
    assert json.loads(by_code["TR074"]["message_ids"]) == ["s1", "s2"]
    assert all(r["bsn_masked"] == "*****0006" for r in rows)


def test_batch_boundaries_do_not_change_the_result(tmp_path: Path) -> None:
    log = log_of(HISTORY)
    whole = dump(project(log, tmp_path / "a.db", batch_size=1000))
    for size in (1, 2, 3, 7):
        assert dump(project(log, tmp_path / f"b{size}.db", batch_size=size)) == whole


def test_every_arrival_order_gives_the_same_tables_but_for_receipt_times(tmp_path: Path) -> None:
    expected = dump(project(log_of(HISTORY), tmp_path / "in-order.db"), timestamps=False)
    rng = random.Random(80)
    for n in range(5):
        shuffled = rng.sample(HISTORY, len(HISTORY))
        got = dump(project(log_of(shuffled), tmp_path / f"s{n}.db"), timestamps=False)
        assert got["arrangements"] == expected["arrangements"]
        assert sorted(r for r in got["mismatches"] if "open" in r) == sorted(
            r for r in expected["mismatches"] if "open" in r
        )


def test_the_checkpoint_is_saved_with_the_view_and_a_replay_changes_nothing(
    tmp_path: Path,
) -> None:
    log = log_of(HISTORY)
    path = tmp_path / "p.db"
    store = project(log, path, batch_size=4)
    assert store.position() == log.end_position(EVENTS)
    before = dump(store)
    store.close()
    again = ProjectionStore(path)
    projector = Projector(log, again, event_mapper().to_event, source="test")
    assert projector.catch_up().records == 0
    # Records the checkpoint already covers are skipped, even if a reader hands them over again.
    projector._fold(decode_batch(list(log.read(EVENTS)), event_mapper().to_event))
    assert dump(again) == before


def test_a_save_that_fails_leaves_view_and_checkpoint_as_they_were(tmp_path: Path) -> None:
    log = log_of(HISTORY)
    path = tmp_path / "p.db"
    store = project(log_of(HISTORY[:4]), path)
    before = dump(store)

    def broken(record: Any) -> Any:
        if record.position.offset >= 6:
            raise RuntimeError("decoder failed")
        return event_mapper().to_event(record)

    with pytest.raises(RuntimeError):
        Projector(log, store, broken, source="test", batch_size=100).catch_up()
    assert dump(store) == before


def test_two_projectors_on_one_store_fold_each_event_once(tmp_path: Path) -> None:
    log = log_of(HISTORY)
    path = tmp_path / "p.db"
    one, two = ProjectionStore(path), ProjectionStore(path)
    first = Projector(log, one, event_mapper().to_event, source="test", batch_size=3)
    second = Projector(log, two, event_mapper().to_event, source="test", batch_size=3)
    first.catch_up(max_records=4)
    # `second` read its position before `first` saved again: the write lock makes it re-check.
    batch = decode_batch(list(log.read(EVENTS, StreamPosition(), limit=7)), second.decode)
    first.catch_up(max_records=3)
    second._fold(batch)
    second.catch_up()
    assert dump(one) == dump(project(log, tmp_path / "single.db"))


def test_a_store_refuses_another_event_log(tmp_path: Path) -> None:
    store = project(log_of(HISTORY), tmp_path / "p.db")
    with pytest.raises(ProjectionStoreError, match="another --projections file"):
        Projector(log_of([]), store, event_mapper().to_event, source="elsewhere")


def test_the_schema_matches_the_documentation(tmp_path: Path) -> None:
    """docs/projections.md lists every column of every table the store creates."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "projections.md").read_text()
    db = sqlite3.connect(tmp_path / "p.db")
    ProjectionStore(tmp_path / "p.db").close()
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        assert f"### `{table}`" in doc, table
        for column in db.execute(f"PRAGMA table_info({table})"):
            assert f"`{column[1]}`" in doc, f"{table}.{column[1]}"


# --- the read side ---------------------------------------------------------------------------


@pytest.fixture
def projected(tmp_path: Path) -> Iterator[ProjectionStore]:
    store = project(log_of(HISTORY), tmp_path / "p.db")
    yield store
    store.close()


def test_arrangements_of_a_gemeente_and_aanbieder(projected: ProjectionStore) -> None:
    found = queries.arrangements(projected, GEMEENTE)
    assert [(a["aanbieder"], a["toewijzingnummer"]) for a in found] == [
        (AANBIEDER, 1), (AANBIEDER, 2), (AANBIEDER, 9), ("87654321", 3),
    ]  # fmt: skip
    mine = {a["toewijzingnummer"]: a for a in queries.arrangements(projected, GEMEENTE, AANBIEDER)}
    assert set(mine) == {1, 2, 9}
    assert mine[1]["status"] == "tijdelijk_gestopt" and mine[1]["care_open"] is True
    assert mine[1]["product"] == {"categorie": "04", "code": "04A01"}
    assert mine[1]["bsn_masked"] == "*****0006" and "bsn" not in mine[1]
    assert mine[1]["message_ids"] == ["p1", "s1", "s2", "s3", "t1"]
    assert mine[9]["status"] == "gestart"
    assert queries.arrangements(projected, "9999") == []


def test_arrangements_with_history_and_bsn(projected: ProjectionStore) -> None:
    [a] = [
        a
        for a in queries.arrangements(projected, GEMEENTE, AANBIEDER, history=True, show_bsn=True)
        if a["toewijzingnummer"] == 1
    ]
    assert a["bsn"] == "999900006"
    starts = a["history"]["starts"]
    assert starts[0]["message_ids"] == ["s1", "s2"] and starts[0]["deleted_by"] == ["s3"]
    assert a["history"]["stops"][0]["reden_beeindiging"] == "20"
    assert a["history"]["versions"][0]["message_ids"] == ["t1"]


def test_arrangements_as_of_a_date(projected: ProjectionStore) -> None:
    # Event i was received at T0 + i minutes; T0 is 2025-06-15 in the Netherlands.
    received = dt.datetime.fromtimestamp(T0_MS / 1000, dt.UTC).date()
    assert queries.arrangements(projected, GEMEENTE, as_of=received - dt.timedelta(days=1)) == []
    now = queries.arrangements(projected, GEMEENTE, as_of=received)
    assert [a["status"] for a in now] == [
        a["status"] for a in queries.arrangements(projected, GEMEENTE)
    ]
    assert all("history" in a for a in now)


def test_arrangements_as_of_a_day_in_the_middle_of_the_history(tmp_path: Path) -> None:
    """Events one day apart: as of the day p1 arrived, t9 was not known yet."""
    store = project(log_of(HISTORY, spacing_ms=86_400_000), tmp_path / "p.db")
    p1_day = dt.datetime.fromtimestamp(T0_MS / 1000 + 5 * 86_400, dt.UTC).date()
    then = queries.arrangements(store, GEMEENTE, AANBIEDER, as_of=p1_day)
    assert [(a["toewijzingnummer"], a["status"]) for a in then] == [
        (1, "tijdelijk_gestopt"),
        (2, "toegewezen"),
    ]
    assert then[0]["message_ids"] == ["p1", "s1", "s2", "t1"]  # s3 came later
    now = queries.arrangements(store, GEMEENTE, AANBIEDER)
    assert [(a["toewijzingnummer"], a["status"]) for a in now] == [
        (1, "tijdelijk_gestopt"),
        (2, "gestart"),
        (9, "gestart"),
    ]


def test_mismatches_by_status_and_party(projected: ProjectionStore) -> None:
    today = day("2025-06-30")
    open_ = queries.mismatches(projected, status="open", as_of=today)
    assert [(m["code"], m["toewijzingnummer"]) for m in open_] == [
        ("START_BEFORE_ASSIGNMENT", 2),
        ("ASSIGNMENT_NOT_STARTED", 3),  # received long after its Ingangsdatum, never started
    ]
    m = open_[0]
    assert m["message_ids"] == ["s4", "t2"]
    assert m["retour_code"] is None and m["resolved_at"] is None
    resolved = queries.mismatches(projected, status="resolved", as_of=today)
    # Toewijzingen 1 and 2 were past due when received and started minutes later.
    assert sorted((m["code"], m["toewijzingnummer"]) for m in resolved) == [
        ("ASSIGNMENT_NOT_STARTED", 1), ("ASSIGNMENT_NOT_STARTED", 2), ("TR019", 9), ("TR074", 1),
    ]  # fmt: skip
    assert all(m["resolved_at"] for m in resolved)
    assert len(queries.mismatches(projected, status="all", as_of=today)) == 6
    other = queries.mismatches(projected, aanbieder="87654321", status="all", as_of=today)
    assert [m["code"] for m in other] == ["ASSIGNMENT_NOT_STARTED"]
    assert queries.mismatches(projected, gemeente="9999", status="all", as_of=today) == []


def test_mismatches_judged_at_a_later_date(projected: ProjectionStore) -> None:
    later = queries.mismatches(projected, status="open", as_of=day("2026-03-01"))
    codes = sorted((m["code"], m["aanbieder"], m["toewijzingnummer"]) for m in later)
    # t9 and t1 end 2025-12-31 with care open (t1 only stopped temporarily).
    assert codes == [
        ("ASSIGNMENT_NOT_STARTED", "87654321", 3),
        ("CARE_AFTER_ASSIGNMENT_END", AANBIEDER, 1),
        ("CARE_AFTER_ASSIGNMENT_END", AANBIEDER, 9),
        ("START_BEFORE_ASSIGNMENT", AANBIEDER, 2),
    ]
    fewer = queries.mismatches(projected, status="open", as_of=day("2026-03-01"),
                               not_started_days=10_000)  # fmt: skip
    assert "ASSIGNMENT_NOT_STARTED" not in {m["code"] for m in fewer}


def test_mismatches_as_they_stood_on_an_earlier_day(projected: ProjectionStore) -> None:
    received = dt.datetime.fromtimestamp(T0_MS / 1000, dt.UTC).date()
    before = queries.mismatches(projected, status="all", as_of=received - dt.timedelta(days=1))
    assert before == []
    assert day_start_ms(received) <= T0_MS


def test_ingest_then_project_with_the_real_ingest_service(tmp_path: Path) -> None:
    """Messages built by the factory, ingested by the hub, folded without any mismatch."""
    factory = MessageFactory(21, today=dt.date(2025, 6, 30))
    toewijzing = factory.wmo301(producten=[{"ingangsdatum": day("2025-02-01")}])
    started = factory.wmo305(toewijzing)
    log = SqliteEventLog(":memory:")
    clock = iter(dt.datetime(2025, 6, 30, 9, m, tzinfo=dt.UTC) for m in range(60))
    with open_hub(HubSettings(), log=log, clock=lambda: next(clock)) as hub:
        for message in (started, toewijzing):  # the start arrives first
            assert hub.ingest.ingest(to_xml(message)).status == "accepted"
        store = project(log, tmp_path / "p.db")
        gemeente = toewijzing.header.afzender
        [a] = queries.arrangements(store, gemeente)
        assert a["status"] == "gestart"
        assert len(a["message_ids"]) == 2
        all_ = queries.mismatches(store, status="all", as_of=dt.date(2025, 6, 30))
        assert [(m["code"], m["status"]) for m in all_] == [("TR019", "resolved")]


def _sqlite_source(path: str) -> tuple[SqliteEventLog, Any]:
    """A `Source` for the reader process (module level, so it pickles)."""
    return SqliteEventLog(path), event_mapper()


@pytest.mark.parametrize("writes", [True, False], ids=["writer-process", "writes-here"])
def test_reading_in_a_second_process_gives_the_same_store(tmp_path: Path, writes: bool) -> None:
    events = tmp_path / "events.db"
    with SqliteEventLog(events) as log:
        mapper = event_mapper()
        log.append([mapper.to_record(e, timestamp_ms=T0_MS + i) for i, e in enumerate(HISTORY)])
        alone = dump(project(log, tmp_path / "alone.db", batch_size=3))
        store = ProjectionStore(tmp_path / "two.db")
        projector = Projector(
            log,
            store,
            mapper.to_event,
            source="test",
            batch_size=3,
            reader=functools.partial(_sqlite_source, str(events)),
            parallel_from=0,
            parallel_writes=writes,
            keep_groups=2,  # groups leave memory while saves holding them are in flight
        )
        done = projector.catch_up()
        assert done.records == len(HISTORY) and done.batches == 4
        assert done.position == store.position() == log.end_position(EVENTS)
        assert dump(store) == alone
        # Caught up, the next fold continues in this process from what the writer saved.
        more = assign("t7", nummer=7)
        log.append([mapper.to_record(more, timestamp_ms=T0_MS + len(HISTORY))])
        assert projector.catch_up().records == 1
        assert dump(store) == dump(project(log, tmp_path / "alone-more.db", batch_size=3))


def test_the_writer_process_refuses_a_save_when_another_projector_saved_first(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While the writer process has saves in flight, a second projector folds a few records
    into the same file: the writer refuses the save that expected the old position, and the
    projector folds the refused batches again from what is stored."""
    events = tmp_path / "events.db"
    path = tmp_path / "p.db"
    with SqliteEventLog(events) as log:
        mapper = event_mapper()
        log.append([mapper.to_record(e, timestamp_ms=T0_MS + i) for i, e in enumerate(HISTORY)])
        store, other = ProjectionStore(path), ProjectionStore(path)
        projector = Projector(log, store, mapper.to_event, source="test", batch_size=3,
                              reader=functools.partial(_sqlite_source, str(events)),
                              parallel_from=0)  # fmt: skip
        intruder = Projector(log, other, mapper.to_event, source="test", batch_size=2)
        interleaved: list[int] = []

        def meanwhile(progress: Any) -> None:
            if not interleaved:  # once, after the first save was sent to the writer
                # Once the writer has written it, the intruder folds the next two records:
                # the second save, sent next, expects the store where the first one left it.
                deadline = time.monotonic() + 30
                while not other.position().offsets and time.monotonic() < deadline:
                    time.sleep(0.01)
                interleaved.append(intruder.catch_up(max_records=2).records)

        caplog.set_level(logging.INFO, logger="projections.projector")
        done = projector.catch_up(on_batch=meanwhile)
        assert interleaved == [2]
        assert other.position() != StreamPosition()
        assert "another projector saved" in caplog.text
        assert done.position == store.position() == log.end_position(EVENTS)
        assert dump(store) == dump(project(log, tmp_path / "single.db"))


def test_a_writer_that_fails_is_reported(tmp_path: Path) -> None:
    garbage = tmp_path / "not-a-database.db"
    garbage.write_bytes(b"this is not SQLite" * 100)
    with WriterProcess(str(garbage)) as writer, pytest.raises(WriterError, match="failed"):
        writer.send(StreamPosition(), rows_of(Changes(), StreamPosition.of({0: 1}), {}))
        writer.settle()


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="no process priorities here")
def test_the_writer_process_yields_the_core_to_the_fold(tmp_path: Path) -> None:
    ProjectionStore(str(tmp_path / "p.db")).close()
    own = os.getpriority(os.PRIO_PROCESS, 0)
    with WriterProcess(str(tmp_path / "p.db")) as writer:
        pid = writer._process.pid
        assert pid is not None
        deadline = time.monotonic() + 10
        while os.getpriority(os.PRIO_PROCESS, pid) == own and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(own + WRITER_NICE, 19)


def test_a_reader_process_that_fails_is_reported(tmp_path: Path) -> None:
    store = ProjectionStore(tmp_path / "p.db")
    log = log_of(HISTORY)
    missing = functools.partial(_sqlite_source, str(tmp_path / "no-such-dir" / "x" / "e.db"))
    projector = Projector(
        log, store, event_mapper().to_event, source="t", reader=missing, parallel_from=0
    )
    # The worker opens another, empty log: it stops short of the end and the projector says so.
    with pytest.raises(ReaderError, match="before the end of the log"):
        projector.catch_up()
    assert store.position() == StreamPosition()
    broken = Projector(
        log,
        store,
        event_mapper().to_event,
        source="t",
        reader=functools.partial(_failing_source, "no broker"),
        parallel_from=0,
    )
    with pytest.raises(ReaderError, match="StoreUnavailable: no broker"):
        broken.catch_up()


def _failing_source(why: str) -> tuple[SqliteEventLog, Any]:
    raise StoreUnavailable(why)


# --- speed without changing the result --------------------------------------------------------


def test_groups_kept_between_batches_give_the_same_store(tmp_path: Path) -> None:
    """Groups kept in memory across batches (or evicted after every batch) change nothing."""
    log = log_of(HISTORY)
    expected = dump(project(log, tmp_path / "whole.db"))
    for keep in (0, 1, 3, 10_000):
        store = ProjectionStore(tmp_path / f"keep{keep}.db")
        Projector(log, store, event_mapper().to_event, source="test", batch_size=2,
                  keep_groups=keep).catch_up()  # fmt: skip
        assert dump(store) == expected


def test_a_projector_drops_its_groups_when_another_one_saved(tmp_path: Path) -> None:
    """`first` keeps group 1 in memory; `second` folds more of group 1 into the same file;
    `first` must not continue from what it kept, or it would write group 1 without those."""
    log = log_of(HISTORY)
    path = tmp_path / "p.db"
    one, two = ProjectionStore(path), ProjectionStore(path)
    first = Projector(log, one, event_mapper().to_event, source="test", batch_size=2)
    second = Projector(log, two, event_mapper().to_event, source="test", batch_size=2)
    first.catch_up(max_records=4)  # s0, t1, t2, s1: group 1 kept by `first`
    second.catch_up(max_records=2)  # s2 and p1: both about group 1
    first.catch_up()
    assert dump(one) == dump(project(log, tmp_path / "single.db"))


def test_a_failed_save_drops_the_groups_in_memory(tmp_path: Path, monkeypatch: Any) -> None:
    """The fold changes the kept groups before the save; a save that fails must not leave
    them ahead of the file, or the next batch would build on facts that were rolled back."""
    log = log_of(HISTORY)
    store = ProjectionStore(tmp_path / "p.db")
    projector = Projector(log, store, event_mapper().to_event, source="test", batch_size=3)
    projector.catch_up(max_records=3)
    real_save = ProjectionStore.save

    def failing(self: ProjectionStore, *args: Any, **kwargs: Any) -> None:
        real_save(self, *args, **kwargs)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(ProjectionStore, "save", failing)
    with pytest.raises(ProjectionStoreError):
        projector.catch_up(max_records=3)
    monkeypatch.setattr(ProjectionStore, "save", real_save)
    projector.catch_up()
    assert dump(store) == dump(project(log, tmp_path / "single.db"))


def test_a_batch_crosses_the_pipe_unchanged() -> None:
    batch = decode_batch(list(log_of(HISTORY).read(EVENTS)), event_mapper().to_event)
    assert len(batch.facts) == len(HISTORY)
    assert Decoded.of_wire(batch.wire()) == batch


def test_a_fresh_store_is_built_unsynced_then_flushed(tmp_path: Path) -> None:
    """An empty store is filled from a long backlog without fsync, then checkpointed and
    back to NORMAL; a short first catch-up (`bulk_from`) is written as any other."""
    log = log_of(HISTORY)
    store = ProjectionStore(tmp_path / "p.db")
    seen: list[int] = []
    projector = Projector(
        log, store, event_mapper().to_event, source="test", batch_size=4, bulk_from=len(HISTORY)
    )
    projector.catch_up(
        on_batch=lambda _: seen.append(store.db.execute("PRAGMA synchronous").fetchone()[0])
    )
    assert seen == [0, 0, 0]  # OFF while building
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    # Checkpointed: the file alone, without its WAL, holds the view.
    shutil.copy(tmp_path / "p.db", tmp_path / "alone.db")
    with ProjectionStore(tmp_path / "alone.db") as alone:
        assert dump(alone) == dump(store)
    # A store that holds something already is written with NORMAL all along.
    more = log_of([*HISTORY, assign("t7", nummer=7)])
    store.close()
    again = ProjectionStore(tmp_path / "p.db")
    later: list[int] = []
    Projector(more, again, event_mapper().to_event, source="test").catch_up(
        on_batch=lambda _: later.append(again.db.execute("PRAGMA synchronous").fetchone()[0])
    )
    assert later == [1]
    short = ProjectionStore(tmp_path / "short.db")
    first: list[int] = []
    projector = Projector(
        log, short, event_mapper().to_event, source="test", bulk_from=len(HISTORY) + 1
    )
    projector.catch_up(
        on_batch=lambda _: first.append(short.db.execute("PRAGMA synchronous").fetchone()[0])
    )
    assert first == [1]


def test_the_collector_runs_rarely_while_folding_and_as_before_after() -> None:
    log = log_of(HISTORY)
    before = gc.get_threshold()
    during: list[tuple[int, int, int]] = []
    Projector(log, ProjectionStore(":memory:"), event_mapper().to_event, source="t").catch_up(
        on_batch=lambda _: during.append(gc.get_threshold())
    )
    assert during == [FOLD_GC_THRESHOLDS]
    assert gc.get_threshold() == before


@given(st.lists(st.text(), max_size=4))
def test_json_texts_is_json_dumps(items: list[str]) -> None:
    assert json_texts(items) == json.dumps(items)
    assert json_texts(tuple(items)) == json.dumps(items)


@given(st.integers(min_value=0, max_value=253_402_300_799_999))  # up to 9999-12-31
def test_iso_ms_is_the_datetime_form(ms: int) -> None:
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
    assert iso_ms(ms) == moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
