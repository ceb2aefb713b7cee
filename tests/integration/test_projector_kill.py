"""Kill and resume: the projector, run as `iwmo-hub project` in a subprocess, is SIGKILLed at
random moments and started again; the projection store it ends with equals that of a run that
was never interrupted. On the embedded SQLite event log and on a real Kafka broker."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.bootstrap import event_mapper
from adapters.kafka_log import KafkaEventLog
from adapters.sqlite_log import SqliteEventLog
from hub.eventlog import EventLog
from hub.events import DomainEvent
from hub.records import EVENTS
from projections.store import ProjectionStore
from tests.integration import KafkaBroker
from tests.integration.test_eventlog_kafka import delete_topics
from tests.unit.projection_scenarios import T0_MS, assign, start, stop

pytestmark = pytest.mark.slow
GEMEENTEN = ("0014", "0034", "0153", "0193", "0200", "0202", "0268", "0307")
KILLS = 4


def history(groups: int, seed: int = 5) -> list[DomainEvent]:
    """Toewijzingen in several gemeenten with starts, stops, deletions and anomalies, in an
    order that opens and resolves mismatches along the way."""
    rng = random.Random(seed)
    events: list[DomainEvent] = []
    for n in range(1, groups + 1):
        g = {"gemeente": GEMEENTEN[n % len(GEMEENTEN)]}
        kind = rng.randrange(6)
        if kind == 0:  # the start before the toewijzing: TR019, resolved
            events += [start(f"s{n}", n, **g), assign(f"t{n}", n, **g)]
        elif kind == 1:  # a duplicate start, later deleted: TR074, resolved
            events += [assign(f"t{n}", n, **g), start(f"s{n}", n, **g), start(f"d{n}", n, **g),
                       start(f"x{n}", n, status="3", **g)]  # fmt: skip
        elif kind == 2:  # temporary, then definitive stop
            events += [assign(f"t{n}", n, **g), start(f"s{n}", n, **g),
                       stop(f"p{n}", n, reden="20", eind="2025-02-28", **g),
                       stop(f"q{n}", n, eind="2025-03-31", **g)]  # fmt: skip
        elif kind == 3:  # withdrawn with care still running
            withdrawn = assign(f"u{n}", n, eind="2025-02-28", datum="2025-02-01", reden="05", **g)
            events += [assign(f"t{n}", n, **g), start(f"s{n}", n, **g), withdrawn]
        elif kind == 4:  # a stop without start: TR382, open
            events += [assign(f"t{n}", n, **g), stop(f"p{n}", n, **g)]
        else:
            events += [assign(f"t{n}", n, **g)]
    return events


def fill(log: EventLog, events: list[DomainEvent]) -> None:
    mapper = event_mapper()
    records = [mapper.to_record(e, timestamp_ms=T0_MS + i) for i, e in enumerate(events)]
    for i in range(0, len(records), 2000):
        log.append(records[i : i + 2000])


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with ProjectionStore(path) as store:
        return {
            table: sorted(tuple(row) for row in store.query(f"SELECT * FROM {table}"))
            for table in ("arrangements", "mismatches", "facts", "checkpoint", "meta")
        }


def project_cmd(store_url: str, projections: Path, batch: int, workers: int = 0) -> list[str]:
    return [sys.executable, "-m", "adapters.cli", "project", "--store", store_url,
            "--projections", str(projections), "--batch-size", str(batch),
            "--workers", str(workers)]  # fmt: skip


def folded(projections: Path) -> int:
    """How many records the projection store's checkpoint says are folded."""
    if not projections.exists():
        return 0
    db = sqlite3.connect(f"file:{projections}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT next_offset FROM checkpoint").fetchall()
    except sqlite3.OperationalError:
        return 0  # the schema is not there yet
    finally:
        db.close()
    return sum(offset for (offset,) in rows)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def killed_and_resumed(
    store_url: str, projections: Path, cwd: Path, seed: int, end: int, workers: int = 0
) -> list[int]:
    """Run the projector, SIGKILL it at random moments, then let it finish. Returns the folded
    record count seen at each kill (from the checkpoint)."""
    rng = random.Random(seed)
    seen = []
    for _ in range(KILLS):
        process = subprocess.Popen(
            project_cmd(store_url, projections, rng.choice((17, 50, 200)), workers),
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # Kill once the checkpoint has passed a random point of the rest of the history, so
        # that kills land in the middle of it however fast the machine folds.
        before = folded(projections)
        target = before + rng.randint(1, max(1, (end - before) // 2))
        deadline = time.monotonic() + 120
        while process.poll() is None and folded(projections) < target:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.02))
        readers = children(process.pid)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        _, errors = process.communicate(timeout=30)
        assert process.returncode in (0, -signal.SIGKILL), errors
        # A reader process left behind by the killed projector exits on its own.
        assert all(gone(pid) for pid in readers), readers
        seen.append(folded(projections))
    done = subprocess.run(
        project_cmd(store_url, projections, 100, workers), cwd=cwd, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return seen


@pytest.mark.parametrize("workers", [0, 1], ids=["one-process", "reader-process"])
def test_sigkill_and_resume_on_sqlite(tmp_path: Path, workers: int) -> None:
    events_db = tmp_path / "events.db"
    events = history(4000)
    with SqliteEventLog(events_db) as log:
        fill(log, events)
        end = sum(o for _, o in log.end_position(EVENTS).offsets)
    url = f"sqlite:{events_db}"
    reference = tmp_path / "reference.db"
    subprocess.run(project_cmd(url, reference, 5000), cwd=tmp_path, check=True, timeout=600)
    resumed = tmp_path / "resumed.db"
    seed = int.from_bytes(os.urandom(2))
    seen = killed_and_resumed(url, resumed, tmp_path, seed, end, workers)
    # At least one kill landed in the middle of the history (not before the first save).
    assert any(0 < n < end for n in seen), (seen, end)
    assert dump(resumed) == dump(reference)


@pytest.fixture
def kafka_url(kafka_broker: KafkaBroker) -> Iterator[str]:
    prefix = f"projector-{uuid.uuid4().hex[:12]}"
    yield f"kafka://{kafka_broker.bootstrap}?prefix={prefix}&partitions=3"
    delete_topics(kafka_broker.bootstrap, prefix)


@pytest.mark.kafka
def test_sigkill_and_resume_on_kafka(
    kafka_broker: KafkaBroker, kafka_url: str, tmp_path: Path
) -> None:
    events = history(3000)
    prefix = kafka_url.split("prefix=")[1].split("&")[0]
    with KafkaEventLog(kafka_broker.bootstrap, prefix=prefix, partitions={"events": 3}) as log:
        fill(log, events)
        end = sum(o for _, o in log.end_position(EVENTS).offsets)
    reference = tmp_path / "reference.db"
    subprocess.run(project_cmd(kafka_url, reference, 5000), cwd=tmp_path, check=True, timeout=600)
    resumed = tmp_path / "resumed.db"
    # With the reader in a second process, which opens its own Kafka consumer.
    seen = killed_and_resumed(kafka_url, resumed, tmp_path, int.from_bytes(os.urandom(2)), end, 1)
    assert any(0 < n < end for n in seen), (seen, end)
    assert dump(resumed) == dump(reference)
