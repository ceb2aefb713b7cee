"""Reading and decoding the event log for the projector, in this process or in a second one.

Reading records and decoding their Avro payloads is close to half of the projector's work and
needs nothing from the projection store, so for a long backlog it runs in a worker process
(the projector's second core) that sends decoded batches through a pipe while the projector
folds and saves the previous ones. The worker opens the event log itself from a `Source`: a
picklable callable that returns the log and the decoder. If the projector dies (even by
SIGKILL) the worker dies with it (Linux: PR_SET_PDEATHSIG; elsewhere its next send fails on
the broken pipe and it exits).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from multiprocessing.connection import Connection
from typing import Final

from hub.errors import StoreError
from hub.eventlog import EventLog
from hub.events import AnyEvent
from hub.records import EVENTS, StoredRecord, StreamPosition
from projections.facts import Fact, GroupKey, fact_of

#: The event types the projection folds; others (MessageReceived) only move the position.
FOLDED_TYPES: Final = frozenset({"AssignmentIssued", "CareStarted", "CareStopped"})

_PR_SET_PDEATHSIG: Final = 1

Decoder = Callable[[StoredRecord], AnyEvent]
#: Opens the event log and gives the decoder; must pickle (a module function or a partial).
Source = Callable[[], tuple[EventLog, Decoder]]


@dataclass(frozen=True, slots=True)
class Decoded:
    """One batch of records: where every record was, and the facts of the domain events."""

    #: (partition, offset) of every record in the batch, folded or not.
    positions: tuple[tuple[int, int], ...]
    #: (partition, offset, group, fact, receipt time) of each domain event.
    facts: tuple[tuple[int, int, GroupKey, Fact, int], ...]


def decode_batch(records: Sequence[StoredRecord], decode: Decoder) -> Decoded:
    """Turn read records into a `Decoded` batch (the same in either process)."""
    positions = []
    facts = []
    for record in records:
        where = record.position
        if where is None:
            continue
        positions.append((where.partition, where.offset))
        if record.event_type in FOLDED_TYPES:
            found = fact_of(decode(record))
            if found is not None:
                facts.append((where.partition, where.offset, found[0], found[1],
                              record.timestamp_ms))  # fmt: skip
    return Decoded(tuple(positions), tuple(facts))


def read_batches(
    log: EventLog,
    decode: Decoder,
    start: StreamPosition,
    end: StreamPosition,
    batch_size: int,
    max_records: int | None = None,
) -> Iterator[Decoded]:
    """Decoded batches of the records from `start` up to `end`, in this process."""
    records: Iterator[StoredRecord] = log.read(EVENTS, start, until=end)
    if max_records is not None:
        records = islice(records, max_records)
    while batch := list(islice(records, batch_size)):
        yield decode_batch(batch, decode)


def _die_with(parent: int) -> None:
    """Linux: have the kernel kill this worker the moment the projector dies, even by SIGKILL
    while the worker waits on the event store (elsewhere the next send fails instead)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the line above took effect
        os._exit(0)


def _worker(
    parent: int,
    out: Connection,
    source: Source,
    start: StreamPosition,
    end: StreamPosition,
    batch_size: int,
    max_records: int | None,
) -> None:
    """The worker process: read, decode, send; None at the end, an error text on failure."""
    _die_with(parent)
    try:
        log, decode = source()
        with log:
            for batch in read_batches(log, decode, start, end, batch_size, max_records):
                out.send(batch)
        out.send(None)
    except (BrokenPipeError, EOFError):
        return  # the projector is gone
    except Exception as e:  # sent to the projector, which raises it there
        with contextlib.suppress(OSError):
            out.send(f"{type(e).__name__}: {e}")
    finally:
        out.close()


class ReaderProcess:
    """Decoded batches from a worker process; use as a context manager and iterate."""

    def __init__(
        self,
        source: Source,
        start: StreamPosition,
        end: StreamPosition,
        batch_size: int,
        max_records: int | None = None,
    ) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        receive, send = context.Pipe(duplex=False)
        self._receive = receive
        self._process = context.Process(
            target=_worker,
            args=(os.getpid(), send, source, start, end, batch_size, max_records),
            name="iwmo-hub-projector-reader",
            daemon=True,
        )
        self._process.start()
        send.close()  # the worker holds the only write end: its exit means end of data

    def __iter__(self) -> Iterator[Decoded]:
        while True:
            try:
                item = self._receive.recv()
            except EOFError:
                raise ReaderError("the reader process stopped without finishing") from None
            if item is None:
                return
            if isinstance(item, str):
                raise ReaderError(f"reading the event log failed: {item}")
            yield item

    def close(self) -> None:
        self._receive.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def __enter__(self) -> ReaderProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReaderError(StoreError):
    """The reader process failed or disappeared."""


__all__ = [
    "FOLDED_TYPES",
    "Decoded",
    "ReaderError",
    "ReaderProcess",
    "Source",
    "decode_batch",
    "read_batches",
]
