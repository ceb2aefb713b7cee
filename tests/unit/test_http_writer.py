"""The batching writer: queued submissions share commits; each answer waits for its commit."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence

import pytest

from adapters.http.writer import BatchingWriter, QueueFull
from hub.ingest import ACCEPTED, FAILED, IngestResult
from hub.ingest_events import HeaderFacts, Prepared

NOW = dt.datetime(2025, 6, 30, tzinfo=dt.UTC)


def prepared(n: int) -> Prepared:
    return Prepared(f"id-{n}", HeaderFacts(message_type="WMO305"), NOW, b"", ())


class GatedCommit:
    """A commit that blocks until released, recording every batch it was given."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.fail = False

    def __call__(self, batch: Sequence[Prepared]) -> list[IngestResult]:
        self.entered.set()
        self.gate.wait(10)
        self.batches.append([p.message_id for p in batch])
        if self.fail:
            raise RuntimeError("boom")
        return [IngestResult(ACCEPTED, p.message_id, "WMO305") for p in batch]


def test_submissions_that_arrive_during_a_commit_share_the_next_and_wait_for_it() -> None:
    commit = GatedCommit()
    writer = BatchingWriter(commit, max_batch=10)
    writer.start()
    try:
        first = writer.submit(prepared(0))
        assert commit.entered.wait(5)
        rest = [writer.submit(prepared(n)) for n in range(1, 26)]
        assert not first.done() and not any(f.done() for f in rest), "answered before the commit"
        commit.gate.set()
        results = [f.result(5) for f in [first, *rest]]
    finally:
        writer.stop()
    assert [r.message_id for r in results] == [f"id-{n}" for n in range(26)]
    assert [len(b) for b in commit.batches] == [1, 10, 10, 5]


def test_a_commit_that_raises_answers_every_submission_failed() -> None:
    commit = GatedCommit()
    commit.fail = True
    commit.gate.set()
    writer = BatchingWriter(commit)
    writer.start()
    try:
        results = [f.result(5) for f in [writer.submit(prepared(n)) for n in range(3)]]
    finally:
        writer.stop()
    assert {r.status for r in results} == {FAILED}


def test_a_full_queue_refuses_at_once() -> None:
    commit = GatedCommit()
    writer = BatchingWriter(commit, max_queue=2)
    writer.start()
    try:
        writer.submit(prepared(0))
        assert commit.entered.wait(5)
        writer.submit(prepared(1))
        writer.submit(prepared(2))
        with pytest.raises(QueueFull):
            writer.submit(prepared(3))
    finally:
        commit.gate.set()
        writer.stop()


def started_writer(linger_ms: float) -> tuple[GatedCommit, BatchingWriter]:
    """A running writer whose commits go through at once."""
    commit = GatedCommit()
    commit.gate.set()
    writer = BatchingWriter(commit, linger_ms=linger_ms)
    writer.start()
    return commit, writer


def test_a_batch_waits_for_a_submission_still_being_prepared() -> None:
    commit, writer = started_writer(linger_ms=5_000)
    try:
        with writer.preparing():  # request B is being validated
            first = writer.submit(prepared(0))  # request A is ready
            time.sleep(0.2)
            assert not first.done(), "A's batch went without waiting for B"
            second = writer.submit(prepared(1))
        results = [first.result(5), second.result(5)]
    finally:
        writer.stop()
    assert [r.status for r in results] == [ACCEPTED, ACCEPTED]
    assert commit.batches == [["id-0", "id-1"]]


def test_a_lone_submission_is_committed_without_lingering() -> None:
    commit, writer = started_writer(linger_ms=10_000)
    try:
        started = time.monotonic()
        assert writer.submit(prepared(0)).result(5).status == ACCEPTED
        waited = time.monotonic() - started
    finally:
        writer.stop()
    assert waited < 5, f"a lone submission waited {waited:.1f} s for nothing"
    assert commit.batches == [["id-0"]]


def test_lingering_ends_at_linger_ms_when_the_prepared_one_does_not_come() -> None:
    commit, writer = started_writer(linger_ms=300)
    try:
        with writer.preparing():  # a request that is refused before it submits (403, 413)
            future = writer.submit(prepared(0))
            assert future.result(5).status == ACCEPTED
    finally:
        writer.stop()
    assert commit.batches == [["id-0"]]


def test_linger_ms_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="linger_ms"):
        BatchingWriter(GatedCommit(), linger_ms=-1)
