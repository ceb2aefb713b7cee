"""The projector: folds the event log into the projection store, batch by batch.

It reads the `events` stream from the position saved in the projection store, turns each
domain event into a fact of its group, and after every `batch_size` records saves the changed
groups together with the new position in one transaction. Records at or before the saved
position are skipped, so a replay is idempotent and a projector killed at any moment resumes
where its last save left off with exactly the state an uninterrupted run has: the fold
reports each event's changes on its own (`GroupState.add` + `judge`), so where batches start
and end does not change the result. Memory holds a batch or two of records and the groups
they touch, whatever the length of the history.

With a `reader` source and a backlog of at least `parallel_from` records, reading and
decoding run in a second process (`projections.reader.ReaderProcess`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from hub.eventlog import EventLog
from hub.records import EVENTS, StreamPosition
from projections.facts import Care, GroupKey
from projections.reader import (
    FOLDED_TYPES,
    Decoded,
    Decoder,
    ReaderError,
    ReaderProcess,
    Source,
    read_batches,
)
from projections.receipt import before_message, line_key, receipt_codes
from projections.state import Changes
from projections.store import ProjectionStore

log = logging.getLogger(__name__)

DEFAULT_BATCH: Final = 5000
#: A backlog this long is read and decoded in a second process (when a source is given).
PARALLEL_FROM: Final = 50_000

__all__ = ["DEFAULT_BATCH", "FOLDED_TYPES", "PARALLEL_FROM", "Progress", "Projector"]


@dataclass
class Progress:
    """What a run did: records read, domain events folded, saves, and the position reached."""

    records: int = 0
    folded: int = 0
    batches: int = 0
    seconds: float = 0.0
    position: StreamPosition = field(default_factory=StreamPosition)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


class Projector:
    """Folds `log` into `store`; `decode` turns a stored record into its event."""

    def __init__(
        self,
        log: EventLog,
        store: ProjectionStore,
        decode: Decoder,
        *,
        source: str,
        batch_size: int = DEFAULT_BATCH,
        reader: Source | None = None,
        parallel_from: int = PARALLEL_FROM,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.log = log
        self.store = store
        self.decode = decode
        self.batch_size = batch_size
        self.reader = reader
        self.parallel_from = parallel_from
        store.bind_source(source)

    def catch_up(
        self,
        *,
        max_records: int | None = None,
        on_batch: Callable[[Progress], None] | None = None,
    ) -> Progress:
        """Fold everything stored now (or at most `max_records` records), then return."""
        started = time.monotonic()
        position = self.store.position()
        progress = Progress(position=position)
        end = self.log.end_position(EVENTS)
        if position.reached(end):
            return progress
        backlog = sum(max(0, o - position.next_offset(p)) for p, o in end.offsets)
        if max_records is not None:
            backlog = min(backlog, max_records)
        if self.reader is not None and backlog >= self.parallel_from:
            with ReaderProcess(self.reader, position, end, self.batch_size, max_records) as worker:
                self._fold_all(worker, progress, started, on_batch)
            if max_records is None and not progress.position.reached(end):
                raise ReaderError(
                    f"the reader process stopped at {progress.position or 'the start'}, before"
                    f" the end of the log ({end}); does its source open the same event log?"
                )
        else:
            batches = read_batches(
                self.log, self.decode, position, end, self.batch_size, max_records
            )
            self._fold_all(batches, progress, started, on_batch)
        progress.seconds = time.monotonic() - started
        return progress

    def _fold_all(
        self,
        batches: Iterator[Decoded] | ReaderProcess,
        progress: Progress,
        started: float,
        on_batch: Callable[[Progress], None] | None,
    ) -> None:
        for batch in batches:
            progress.position, folded = self._fold(batch)
            progress.records += len(batch.positions)
            progress.folded += folded
            progress.batches += 1
            progress.seconds = time.monotonic() - started
            if on_batch is not None:
                on_batch(progress)

    def follow(
        self,
        stop: threading.Event,
        *,
        poll_seconds: float = 1.0,
        on_batch: Callable[[Progress], None] | None = None,
    ) -> Progress:
        """Keep folding new records until `stop` is set; waits `poll_seconds` when idle."""
        total = Progress(position=self.store.position())
        while not stop.is_set():
            done = self.catch_up(on_batch=on_batch)
            total.records += done.records
            total.folded += done.folded
            total.batches += done.batches
            total.seconds += done.seconds
            total.position = done.position if done.records else total.position
            if not done.records:
                stop.wait(poll_seconds)
        return total

    def _fold(self, batch: Decoded) -> tuple[StreamPosition, int]:
        """Fold one batch and save it with the position after it; returns that position."""
        with self.store.transaction():
            # The position is read under the write lock: another projector on the same store
            # may have saved since this batch was read, and what it folded is skipped here.
            saved = self.store.position()
            offsets = saved.as_dict()
            for partition, offset in batch.positions:
                if offset >= offsets.get(partition, 0):
                    offsets[partition] = offset + 1
            facts = [f for f in batch.facts if f[1] >= saved.next_offset(f[0])]
            states = self.store.load_groups({f[2] for f in facts})
            changes = Changes()
            updated: dict[GroupKey, int] = {}
            receipts: dict[str, dict[str, list[str]]] = {}
            for _, _, key, fact, at_ms in facts:
                state = states[key]
                # The retour codes at receipt: judged before the line joins the facts.
                found = receipts.setdefault(fact.message_id, {})
                if isinstance(fact, Care):
                    before = before_message(key, state.facts, state.index, fact.message_id)
                    codes = receipt_codes(before, fact)
                    if codes:
                        found[line_key(key, fact)] = list(codes)
                state.add(fact, at_ms)
                changes.record(state, state.judge(), at_ms)
                updated[key] = at_ms
            position = StreamPosition.of(offsets)
            self.store.save(changes, position, updated, receipts)
        log.debug("folded %d events, position %s", len(facts), position)
        return position, len(facts)
