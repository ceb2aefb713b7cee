"""As an operator would: generate and ingest traffic, then rebuild, time-travel, swap,
re-validate, look at dead letters and ask for the status, all with the installed command line
on the embedded store."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration import KafkaBroker

BSN = re.compile(rb"<(?:\w+:)?Bsn>(\d{9})<")


def hub(cwd: Path, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode in ok, done.stderr
    return done


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("site")
    hub(cwd, "generate", "--clients", "60", "--seed", "4", "--out", "msgs", "--store",
        "sqlite:events.db")  # fmt: skip
    return cwd


@pytest.mark.parametrize("command", ["replay", "revalidate", "status", "rejected"])
def test_help(site: Path, command: str) -> None:
    assert command in hub(site, command, "--help").stdout


def test_rebuild_twice_is_identical_and_shows_progress(site: Path) -> None:
    a = hub(site, "replay", "--store", "sqlite:events.db", "--into", "a.db", "--format", "json")
    b = hub(site, "replay", "--store", "sqlite:events.db", "--into", "b.db", "--format", "json")
    first, second = as_json(a), as_json(b)
    assert first["digest"] == second["digest"]
    assert first["records"] == int(first["log_end"].split(":")[1]) > 100
    assert re.search(r"replay: [\d,]+/[\d,]+ events .*events/s, .*s left", a.stderr)
    again = hub(site, "replay", "--store", "sqlite:events.db", "--into", "a.db", ok=(2,))
    assert "fresh" in again.stderr


def test_until_gives_what_arrangements_as_of_shows(site: Path) -> None:
    hub(site, "replay", "--store", "sqlite:events.db", "--into", "full.db")
    then = as_json(hub(site, "replay", "--store", "sqlite:events.db", "--into", "then.db",
                       "--until", "2025-06-15T00:00+02:00", "--format", "json"))  # fmt: skip
    assert then["position"] == then["target"] != then["log_end"]
    shown = 0
    for gemeente in sorted(_gemeenten(site / "full.db")):
        past = hub(site, "arrangements", "--gemeente", gemeente, "--projections", "then.db",
                   "--no-catch-up", "--history", "--format", "json")  # fmt: skip
        as_of = hub(site, "arrangements", "--gemeente", gemeente, "--projections", "full.db",
                    "--no-catch-up", "--as-of", "2025-06-14", "--format", "json")  # fmt: skip
        assert as_json(past) == as_json(as_of)
        shown += len(as_json(past))
    assert shown > 0


def _gemeenten(path: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(path) as db:
        return {g for (g,) in db.execute("SELECT DISTINCT gemeente FROM arrangements")}


def test_swap_points_readers_at_the_rebuilt_store(site: Path) -> None:
    hub(site, "project", "--store", "sqlite:events.db", "--projections", "live.db")
    done = as_json(hub(site, "replay", "--store", "sqlite:events.db", "--swap", "--projections",
                       "live.db", "--format", "json"))  # fmt: skip
    live = site / "live.db"
    assert live.is_symlink() and str(live.resolve()) == done["swap"]["target"]
    assert Path(done["swap"]["previous"]).exists()
    [gemeente, *_] = sorted(_gemeenten(live))
    found = as_json(hub(site, "arrangements", "--gemeente", gemeente, "--projections", "live.db",
                        "--store", "sqlite:events.db", "--format", "json"))  # fmt: skip
    assert found


def test_status(site: Path) -> None:
    hub(site, "project", "--store", "sqlite:events.db", "--projections", "st.db")
    status = as_json(hub(site, "status", "--store", "sqlite:events.db", "--projections", "st.db",
                         "--format", "json"))  # fmt: skip
    [projection] = status["projections"]
    assert projection["lag_events"] == 0 and projection["position"] == status["log_end"]
    manifest = (site / "msgs" / "manifest.jsonl").read_text().splitlines()
    assert sum(g["accepted"] for g in status["gemeenten"]) == len(manifest)
    assert "GEMEENTE" in hub(site, "status", "--store", "sqlite:events.db", "--projections",
                             "st.db").stdout  # fmt: skip


def test_revalidate_finds_nothing_new_with_current_rules(site: Path) -> None:
    report = as_json(hub(site, "revalidate", "--store", "sqlite:events.db", "--format", "json"))
    assert report["would_reject"] == 0 and report["checked"] > 100
    stale = hub(site, "revalidate", "--store", "sqlite:events.db", "--today", "2000-01-01",
                ok=(1,))  # fmt: skip
    assert "TR135" in stale.stdout


def test_rejected_list_show_redrive(site: Path, tmp_path: Path) -> None:
    original = sorted((site / "msgs").rglob("*.xml"))[0].read_bytes()
    bsn = BSN.findall(original)[0]
    broken = original.replace(b"Bsn>", b"Bsnn>", 2)  # no longer schema-valid
    (tmp_path / "bad.xml").write_bytes(broken)
    hub(site, "ingest", "--store", "sqlite:events.db", str(tmp_path / "bad.xml"), ok=(1,))
    listed = as_json(hub(site, "rejected", "list", "--store", "sqlite:events.db", "--format",
                         "json"))  # fmt: skip
    assert len(listed) == 1 and listed[0]["outcome"] == "open"
    rid = listed[0]["id"]
    shown = hub(site, "rejected", "show", rid[:8], "--store", "sqlite:events.db")
    assert "XSD" in shown.stdout and bsn.decode() not in shown.stdout + shown.stderr
    redriven = hub(site, "rejected", "redrive", rid, "--store", "sqlite:events.db", ok=(1,))
    assert "rejected" in redriven.stdout
    after = as_json(hub(site, "rejected", "show", rid, "--store", "sqlite:events.db", "--format",
                        "json"))  # fmt: skip
    assert [r["status"] for r in after["redrives"]] == ["rejected"]


@pytest.mark.kafka
def test_the_same_on_kafka(site: Path, kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    import uuid

    from tests.integration.test_eventlog_kafka import delete_topics

    prefix = f"e2e-replay-{uuid.uuid4().hex[:8]}"
    store = f"kafka://{kafka_broker.bootstrap}?prefix={prefix}&partitions=3"
    try:
        hub(tmp_path, "generate", "--clients", "60", "--seed", "4", "--store", store)
        on_kafka = as_json(hub(tmp_path, "replay", "--store", store, "--into", "k.db",
                               "--format", "json"))  # fmt: skip
        embedded = as_json(hub(site, "replay", "--store", "sqlite:events.db", "--into",
                               "same.db", "--format", "json"))  # fmt: skip
        assert on_kafka["digest"] == embedded["digest"]
        assert "," in on_kafka["log_end"]  # more than one partition
        hub(tmp_path, "project", "--store", store, "--projections", "live.db")
        swapped = as_json(hub(tmp_path, "replay", "--store", store, "--swap", "--projections",
                              "live.db", "--format", "json"))  # fmt: skip
        assert swapped["digest"] == embedded["digest"]
        assert (tmp_path / "live.db").is_symlink()
        status = as_json(hub(tmp_path, "status", "--store", store, "--projections", "live.db",
                             "--format", "json"))  # fmt: skip
        assert status["projections"][0]["lag_events"] == 0
        sqlite_status = as_json(hub(site, "status", "--store", "sqlite:events.db",
                                    "--projections", "same.db", "--format", "json"))  # fmt: skip
        accepted = {g["gemeente"]: g["accepted"] for g in status["gemeenten"]}
        assert accepted == {g["gemeente"]: g["accepted"] for g in sqlite_status["gemeenten"]}
        report = as_json(hub(tmp_path, "revalidate", "--store", store, "--format", "json"))
        assert report["would_reject"] == 0 and report["checked"] == sum(
            g["accepted"] for g in status["gemeenten"]
        )
        assert as_json(hub(tmp_path, "rejected", "list", "--store", store, "--format",
                           "json")) == []  # fmt: skip
    finally:
        delete_topics(kafka_broker.bootstrap, prefix)


def test_a_following_projector_keeps_the_swapped_store_current(tmp_path: Path) -> None:
    """`project --follow` notices `replay --swap` and folds later events into the new file."""
    import signal

    from adapters.sqlite_log import SqliteEventLog
    from hub.records import EVENTS
    from projections.store import ProjectionStore

    hub(tmp_path, "generate", "--clients", "40", "--seed", "6", "--store", "sqlite:events.db")
    follower = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "project", "--follow", "--poll", "0.1",
         "--store", "sqlite:events.db", "--projections", "live.db"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def caught_up() -> bool:
        with SqliteEventLog(tmp_path / "events.db") as log:
            end = log.end_position(EVENTS)
        if not (tmp_path / "live.db").exists():
            return False
        store = ProjectionStore(tmp_path / "live.db")
        try:
            return store.position() == end
        finally:
            store.close()

    def wait_for(condition: Any) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert follower.poll() is None, follower.communicate()[1]
            assert time.monotonic() < deadline, "the follower did not catch up"
            time.sleep(0.1)

    try:
        wait_for(caught_up)
        swapped = as_json(hub(tmp_path, "replay", "--store", "sqlite:events.db", "--swap",
                              "--projections", "live.db", "--format", "json"))  # fmt: skip
        assert (tmp_path / "live.db").resolve() == Path(swapped["swap"]["target"])
        hub(tmp_path, "generate", "--clients", "40", "--seed", "7", "--out", "more")
        hub(tmp_path, "ingest", "--store", "sqlite:events.db", "more", ok=(0, 1))
        wait_for(caught_up)  # in the swapped-in file, with no other command catching up
    finally:
        follower.send_signal(signal.SIGTERM)
        _, stderr = follower.communicate(timeout=30)
    assert follower.returncode == 0, stderr
    assert "was swapped" in stderr
