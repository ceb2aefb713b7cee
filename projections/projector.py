"""The projector: folds the event log into the projection store, batch by batch.

It reads the `events` stream from the position saved in the projection store, turns each
domain event into a fact of its group, and after every `batch_size` records saves the changed
groups together with the new position in one transaction. Records at or before the saved
position are skipped, so a replay is idempotent and a projector killed at any moment resumes
where its last save left off with exactly the state an uninterrupted run has: the fold
reports each event's changes on its own (`GroupState.add` + `judge`), so where batches start
and end does not change the result.

The groups a batch touched stay in memory for the next batches (up to `keep_groups`, least
recently used dropped first), so a group touched again soon is neither read back nor judged
again; they are dropped whenever the store's position is not the one this projector saved
last (another projector saved in between) and after a failed save. Memory holds a few batches
and those groups, whatever the length of the history.

With a `reader` source and a backlog of at least `parallel_from` records, reading and
decoding run in a second process (`projections.reader.ReaderProcess`), and writing each
save runs in a third (`projections.writer.WriterProcess`), while this process folds.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Final

from hub.eventlog import EventLog
from hub.records import EVENTS, StreamPosition
from projections.facts import Care, GroupKey
from projections.reader import (
    FOLDED_TYPES,
    Decoded,
    Decoder,
    Folded,
    ReaderError,
    ReaderProcess,
    Source,
    fewer_collections,
    read_batches,
)
from projections.receipt import before_message, line_key, receipt_codes
from projections.rows import rows_of
from projections.state import Changes, GroupState
from projections.store import ProjectionStore
from projections.writer import WriterProcess

log = logging.getLogger(__name__)

DEFAULT_BATCH: Final = 5000
#: Groups kept in memory between batches (their facts, index and mismatches), so that a group
#: touched again soon is neither read back from the store nor judged again on loading.
KEEP_GROUPS: Final = 20_000
#: A backlog this long is read and decoded in a second process (when a source is given).
PARALLEL_FROM: Final = 50_000
#: Saves sent to the writer process and not yet written, at most.
IN_FLIGHT: Final = 2
#: A store that holds nothing yet is filled without fsync from a backlog this long (below it,
#: the one flush at the end would cost more than it saves).
BULK_FROM: Final = 10_000

__all__ = [
    "BULK_FROM",
    "DEFAULT_BATCH",
    "FOLDED_TYPES",
    "KEEP_GROUPS",
    "PARALLEL_FROM",
    "Progress",
    "Projector",
]


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

    def advance(
        self,
        position: StreamPosition,
        batch: Decoded,
        folded: int,
        started: float,
        on_batch: Callable[[Progress], None] | None,
    ) -> None:
        """Count a folded batch (saved, or sent to the writer) and report it."""
        self.position = position
        self.records += len(batch.positions)
        self.folded += folded
        self.batches += 1
        self.seconds = time.monotonic() - started
        if on_batch is not None:
            on_batch(self)


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
        keep_groups: int = KEEP_GROUPS,
        parallel_writes: bool = True,
        bulk_from: int = BULK_FROM,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.log = log
        self.store = store
        self.decode = decode
        self.batch_size = batch_size
        self.reader = reader
        self.parallel_from = parallel_from
        self.keep_groups = keep_groups
        self.bulk_from = bulk_from
        #: With a reader process, also write in a process of its own (file stores only).
        self.parallel_writes = parallel_writes and store.path != ":memory:"
        #: Groups as saved, most recently used last; valid while the store's position is
        #: `_saved`, the one this projector saved last.
        self._groups: dict[GroupKey, GroupState] = {}
        self._saved: StreamPosition | None = None
        store.bind_source(source)

    def catch_up(
        self,
        *,
        max_records: int | None = None,
        on_batch: Callable[[Progress], None] | None = None,
    ) -> Progress:
        """Fold everything stored now (or at most `max_records` records), then return."""
        with fewer_collections():
            return self._catch_up(max_records, on_batch)

    def _catch_up(
        self, max_records: int | None, on_batch: Callable[[Progress], None] | None
    ) -> Progress:
        started = time.monotonic()
        position = self.store.position()
        progress = Progress(position=position)
        end = self.log.end_position(EVENTS)
        if position.reached(end):
            return progress
        backlog = sum(max(0, o - position.next_offset(p)) for p, o in end.offsets)
        if max_records is not None:
            backlog = min(backlog, max_records)
        # A store that holds nothing yet is being built, as by a rebuild: written without
        # fsync, and flushed to disk once at the end (`ProjectionStore.unsynced`).
        bulk = not position.offsets and backlog >= self.bulk_from
        with self.store.unsynced() if bulk else contextlib.nullcontext():
            if self.reader is not None and backlog >= self.parallel_from:
                with ReaderProcess(
                    self.reader, position, end, self.batch_size, max_records
                ) as worker:
                    if self.parallel_writes:
                        unsynced = self.store.is_unsynced
                        with WriterProcess(self.store.path, unsynced=unsynced) as writer:
                            self._fold_writing(worker, writer, progress, started, on_batch)
                    else:
                        self._fold_all(worker, progress, started, on_batch)
                if max_records is None and not progress.position.reached(end):
                    raise ReaderError(
                        f"the reader process stopped at {progress.position or 'the start'},"
                        f" before the end of the log ({end}); does its source open the same"
                        " event log?"
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
        batches: Iterable[Decoded],
        progress: Progress,
        started: float,
        on_batch: Callable[[Progress], None] | None,
    ) -> None:
        for batch in batches:
            position, folded = self._fold(batch)
            progress.advance(position, batch, folded, started, on_batch)

    def _fold_writing(
        self,
        batches: Iterable[Decoded],
        writer: WriterProcess,
        progress: Progress,
        started: float,
        on_batch: Callable[[Progress], None] | None,
    ) -> None:
        """Fold batch after batch while the writer process saves the ones before.

        A batch is folded from the position the previous one leads to, with the groups in
        memory and the rest read as committed: a group is only dropped from memory once the
        writer has written it. If the writer refuses a save (another projector saved first),
        the batches not written are folded again here, from what is stored, and so is the rest.
        """
        expected = self.store.position()
        if expected != self._saved:
            self._groups.clear()
        self._saved = None  # from now on the store moves as the writer writes
        #: Saves sent and not yet written: (number, batch, the groups it saves).
        pending: deque[tuple[int, Decoded, Collection[GroupKey]]] = deque()
        rest = iter(batches)
        try:
            for batch in rest:
                writer.settle(wait_for=IN_FLIGHT - 1)
                while pending and pending[0][0] <= writer.done and writer.refused is None:
                    pending.popleft()
                if writer.refused is not None:
                    rest = chain([batch], rest)
                    break
                position, facts = _after(expected, batch)
                out = self._apply(facts)
                rows = rows_of(out.changes, position, out.updated, out.receipts)
                pending.append((writer.send(expected, rows), batch, out.changes.groups.keys()))
                self._keep(out.changes.groups, busy=pending)
                expected = position
                progress.advance(position, batch, len(facts), started, on_batch)
            writer.settle()
        except BaseException:
            self._groups.clear()
            raise
        if writer.refused is None:
            self._saved = expected
            return
        # Another projector saved in between: what it folded is skipped, the rest folded here.
        log.info("another projector saved to %s; folding in this process", self.store.path)
        self._groups.clear()
        refused = [batch for seq, batch, _ in pending if seq >= writer.refused]
        for batch in refused:  # counted when they were sent
            progress.position, _ = self._fold(batch)
        self._fold_all(rest, progress, started, on_batch)

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
        try:
            with self.store.transaction():
                # The position is read under the write lock: another projector on the same
                # store may have saved since this batch was read; what it folded is skipped
                # here, and the groups kept in memory may be stale, so they are dropped.
                saved = self.store.position()
                if saved != self._saved:
                    self._groups.clear()
                position, facts = _after(saved, batch)
                changes = self._apply(facts)
                self.store.save(changes.changes, position, changes.updated, changes.receipts)
        except BaseException:
            # The groups in memory may hold what was just rolled back.
            self._groups.clear()
            self._saved = None
            raise
        self._saved = position
        self._keep(changes.changes.groups)
        log.debug("folded %d events, position %s", len(facts), position)
        return position, len(facts)

    def _apply(self, facts: Sequence[Folded]) -> _Batch:
        """Fold facts into their groups, event by event (so the result does not depend on
        where batches end): the retour codes of each care line as it arrived, the facts, and
        the mismatches each event opened, changed or resolved."""
        groups = self._groups
        missing = {f[2] for f in facts if f[2] not in groups}
        if missing:
            groups.update(self.store.load_groups(missing))
        out = _Batch()
        changes, updated, receipts = out.changes, out.updated, out.receipts
        for _, _, key, fact, at_ms, row in facts:
            state = groups[key]
            # The retour codes at receipt: judged before the line joins the facts.
            found = receipts.get(fact.message_id)
            if found is None:
                found = receipts[fact.message_id] = {}
            if isinstance(fact, Care):
                before = before_message(key, state.facts, state.index, fact.message_id)
                codes = receipt_codes(before, fact)
                if codes:
                    found[line_key(key, fact)] = list(codes)
            if state.add(fact, at_ms, row):
                changes.record(state, state.judge(), at_ms)
            else:
                # The same fact again: the same mismatches; its receipt time may be earlier.
                changes.groups[key] = state
            updated[key] = at_ms
        return out

    def _keep(
        self,
        touched: Iterable[GroupKey],
        busy: Iterable[tuple[int, Decoded, Collection[GroupKey]]] = (),
    ) -> None:
        """Keep the groups just saved for the next batches, least recently used evicted first;
        never one that a save not yet written holds (`busy`): the store does not have it yet."""
        groups = self._groups
        for key in touched:
            groups[key] = groups.pop(key)
        excess = len(groups) - self.keep_groups
        if excess > 0:
            held: set[GroupKey] = set().union(*(keys for _, _, keys in busy))
            for key in list(islice(groups, excess)):
                if key not in held:
                    del groups[key]


@dataclass
class _Batch:
    """What folding one batch gives the store to save."""

    changes: Changes = field(default_factory=Changes)
    #: Per group, the receipt time of its last event (the row's `updated_at`).
    updated: dict[GroupKey, int] = field(default_factory=dict)
    #: Per message, the retour codes of its lines that were not 0200.
    receipts: dict[str, dict[str, list[str]]] = field(default_factory=dict)


def _after(saved: StreamPosition, batch: Decoded) -> tuple[StreamPosition, list[Folded]]:
    """The position after `batch` (never behind `saved`) and the facts `saved` does not hold."""
    offsets = saved.as_dict()
    for partition, offset in batch.positions:
        if offset >= offsets.get(partition, 0):
            offsets[partition] = offset + 1
    facts = [f for f in batch.facts if f[1] >= saved.next_offset(f[0])]
    return StreamPosition.of(offsets), facts
