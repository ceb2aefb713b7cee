"""`iwmo-hub ingest` as a user runs it: the installed console script in a subprocess, against a
temporary SQLite store and against the real Kafka broker."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.bootstrap import event_mapper
from adapters.kafka_log import KafkaEventLog
from adapters.sqlite_log import SqliteEventLog
from hub.codec import to_xml
from hub.eventlog import EventLog
from hub.events import MessageReceived
from hub.factory import MessageFactory
from hub.records import EVENTS, REJECTED
from hub.validation import Validator
from tests.integration import KafkaBroker
from tests.integration.test_eventlog_kafka import delete_topics

BIN = Path(sys.executable).parent
# Warnings are errors, except the ones kafka-python 3.0 raises itself on Python 3.11.
WARNINGS = ",".join(
    [
        "error",
        "ignore:read_text is deprecated:DeprecationWarning",
        "ignore:open_text is deprecated:DeprecationWarning",
        "ignore:unclosed <socket:ResourceWarning",
    ]
)
SUMMARY = re.compile(
    r"(\d+) file\(s\): (\d+) accepted, (\d+) rejected, (\d+) duplicate, (\d+) failed"
)


def iwmo_hub(
    *args: str, cwd: Path, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("IWMO_HUB_")}
    return subprocess.run(
        [str(BIN / "iwmo-hub"), *args],
        cwd=cwd,
        capture_output="stderr" not in kwargs,
        stdout=subprocess.PIPE if "stderr" in kwargs else None,
        text=True,
        timeout=300,
        env={**environ, "PYTHONWARNINGS": WARNINGS, **(env or {})},
        **kwargs,
    )


def summary(output: str) -> tuple[int, ...]:
    found = SUMMARY.search(output)
    assert found, f"no summary line in:\n{output}"
    return tuple(int(n) for n in found.groups())


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """A folder of messages: 4 valid heen messages (one in a subfolder), 1 invalid, 1 retour."""
    factory = MessageFactory(12)
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    toewijzing = factory.wmo301(producten=2)
    start = factory.wmo305(toewijzing)
    files = {
        "a-301.xml": to_xml(toewijzing),
        "b-305.xml": to_xml(start),
        "c-307.xml": to_xml(factory.wmo307(start, toewijzing=toewijzing)),
        "sub/d-301.xml": to_xml(factory.wmo301()),
        "e-invalid.xml": to_xml(factory.wmo301(bsn="123456789")),
        "f-retour.xml": to_xml(factory.wmo302(toewijzing)),
    }
    validator = Validator()
    for name, data in files.items():
        assert validator.is_valid(data) == (name != "e-invalid.xml"), name
        (folder / name).write_bytes(data)
    (folder / "notes.txt").write_text("not a message")
    return folder


def stored_ids(log: EventLog) -> list[str]:
    mapper = event_mapper()
    with log:
        return [
            event.hub_message_id
            for event in map(mapper.to_event, log.read(EVENTS))
            if isinstance(event, MessageReceived)
        ]


def test_help_describes_the_command_and_its_exit_codes(tmp_path: Path) -> None:
    done = iwmo_hub("ingest", "--help", cwd=tmp_path)
    assert done.returncode == 0
    for option in ("--store", "--format", "--batch-size", "--workers", "IWMO_HUB_STORE"):
        assert option in done.stdout
    assert "exit status" in done.stdout
    listed = iwmo_hub("--help", cwd=tmp_path)
    assert "ingest" in listed.stdout


def test_ingest_into_a_sqlite_store_counts_and_stores_each_message(
    inbox: Path, tmp_path: Path
) -> None:
    db = tmp_path / "store" / "events.db"
    first = iwmo_hub("ingest", "--store", f"sqlite:{db}", str(inbox), cwd=tmp_path)

    assert first.returncode == 1, first.stderr  # one message was rejected
    assert summary(first.stdout) == (6, 4, 2, 0, 0)
    assert "REJECTED" in first.stdout and "e-invalid.xml" in first.stdout
    assert "123456789" not in first.stdout + first.stderr, "a BSN was printed"
    assert len(stored_ids(SqliteEventLog(db))) == 4
    rejected = list(SqliteEventLog(db).read(REJECTED))
    assert len(rejected) == 2

    again = iwmo_hub(
        "ingest", "--store", f"sqlite:{db}", "--format", "json", str(inbox), cwd=tmp_path
    )
    results = {Path(r["file"]).name: r for r in json.loads(again.stdout)}
    assert again.returncode == 1
    assert {name: r["status"] for name, r in results.items()} == {
        "a-301.xml": "duplicate",
        "b-305.xml": "duplicate",
        "c-307.xml": "duplicate",
        "d-301.xml": "duplicate",
        "e-invalid.xml": "rejected",
        "f-retour.xml": "rejected",
    }
    for result in results.values():
        assert set(result) == {
            "file",
            "status",
            "message_id",
            "message_type",
            "errors",
            "detail",
        }
    assert results["e-invalid.xml"]["errors"][0]["rule"] == "CS002"
    assert results["f-retour.xml"]["message_type"] == "WMO302"
    duplicates = {r["message_id"] for r in results.values() if r["status"] == "duplicate"}
    assert duplicates == set(stored_ids(SqliteEventLog(db)))


def test_only_accepted_and_duplicates_exit_zero(inbox: Path, tmp_path: Path) -> None:
    files = [str(inbox / "a-301.xml"), str(inbox / "b-305.xml")]
    done = iwmo_hub("ingest", "-v", *files, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary(done.stdout) == (2, 2, 0, 0, 0)
    assert done.stdout.count("ACCEPTED") == 2
    assert (tmp_path / ".iwmo-hub" / "events.db").is_file(), "the documented default store"


def test_the_store_comes_from_the_environment(inbox: Path, tmp_path: Path) -> None:
    db = tmp_path / "from-env.db"
    done = iwmo_hub(
        "ingest", str(inbox / "a-301.xml"), cwd=tmp_path, env={"IWMO_HUB_STORE": f"sqlite:{db}"}
    )
    assert done.returncode == 0, done.stderr
    assert len(stored_ids(SqliteEventLog(db))) == 1
    assert not (tmp_path / ".iwmo-hub").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.xml"], "no such file"),
        (["--store", "mysql://x", "."], "unknown store"),
        (["--batch-size", "0", "."], "batch_size"),
        ([], "required"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = iwmo_hub("ingest", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr


def test_progress_shows_on_a_terminal_only(tmp_path: Path) -> None:
    factory = MessageFactory(2)
    for n in range(60):
        (tmp_path / f"m{n:02}.xml").write_bytes(to_xml(factory.wmo305()))
    db = f"sqlite:{tmp_path / 'events.db'}"
    plain = iwmo_hub("ingest", "--store", db, str(tmp_path), cwd=tmp_path)
    assert "ingesting" not in plain.stderr

    leader, follower = pty.openpty()
    try:
        on_tty = iwmo_hub("ingest", "--store", db, str(tmp_path), cwd=tmp_path, stderr=follower)
        os.close(follower)
        shown = _drain(leader)
    finally:
        os.close(leader)
    assert on_tty.returncode == 0
    assert "ingesting: 60/60" in shown
    assert summary(on_tty.stdout) == (60, 0, 0, 60, 0)


def _drain(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


@pytest.fixture
def kafka_prefix(kafka_broker: KafkaBroker) -> Iterator[str]:
    prefix = f"e2e-{uuid.uuid4().hex[:10]}"
    yield prefix
    delete_topics(kafka_broker.bootstrap, prefix)


@pytest.mark.kafka
def test_ingest_into_kafka_and_again_after_a_restart(
    inbox: Path, tmp_path: Path, kafka_broker: KafkaBroker, kafka_prefix: str
) -> None:
    store = f"kafka://{kafka_broker.bootstrap}?prefix={kafka_prefix}"
    first = iwmo_hub("ingest", "--store", store, "--format", "json", str(inbox), cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    statuses = {Path(r["file"]).name: r["status"] for r in json.loads(first.stdout)}
    assert sorted(statuses.values()) == ["accepted"] * 4 + ["rejected"] * 2
    accepted = {r["message_id"] for r in json.loads(first.stdout) if r["status"] == "accepted"}
    log = KafkaEventLog(kafka_broker.bootstrap, prefix=kafka_prefix)
    assert sorted(stored_ids(log)) == sorted(accepted)

    # A new process rebuilds its TR056 index from the topic.
    again = iwmo_hub("ingest", "--store", store, str(inbox / "a-301.xml"), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert summary(again.stdout) == (1, 0, 0, 1, 0)


def test_retour_dir_gets_the_retour_of_every_heen_message(inbox: Path, tmp_path: Path) -> None:
    orphan = MessageFactory(13).wmo305()  # a start that refers to no toewijzing: TR019
    (inbox / "g-orphan-305.xml").write_bytes(to_xml(orphan))
    out = tmp_path / "retours"
    done = iwmo_hub(
        "ingest",
        "--store",
        f"sqlite:{tmp_path / 'events.db'}",
        "--projections",
        str(tmp_path / "projections.db"),
        "--retour-dir",
        str(out),
        str(inbox),
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr  # e-invalid and f-retour are rejected
    assert "6 retour(s) written" in done.stdout
    # A retour answers a heen message only: the submitted 302 gets none. Subfolders are kept.
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.xml"))
    assert written == [
        "a-301.WMO302.xml",
        "b-305.WMO306.xml",
        "c-307.WMO308.xml",
        "e-invalid.WMO302.xml",
        "g-orphan-305.WMO306.xml",
        "sub/d-301.WMO302.xml",
    ]
    validator = Validator()
    codes = {}
    for path in out.rglob("*.xml"):
        data = path.read_bytes()
        assert validator.check(data).valid, path.name
        codes[path.name] = set(re.findall(rb"RetourCode>(\d{4})<", data))
    assert codes["a-301.WMO302.xml"] == {b"0200"}
    assert codes["b-305.WMO306.xml"] == {b"0200"}
    assert codes["c-307.WMO308.xml"] == {b"0200"}
    assert codes["e-invalid.WMO302.xml"] == {b"0001"}
    assert b"9019" in codes["g-orphan-305.WMO306.xml"]
