"""Reading and decoding the event log for the projector, in this process or in a second one.

Reading records and decoding their Avro payloads is a large part of the projector's work and
needs nothing from the projection store, so for a long backlog it runs in a worker process
that sends decoded batches through a pipe while the projector folds the previous ones (and a
writer process saves them, `projections.writer`). The worker opens the event log itself from
a `Source`: a picklable callable that returns the log and the decoder. If the projector dies
(even by SIGKILL) the worker dies with it (Linux: PR_SET_PDEATHSIG; elsewhere its next send fails on
the broken pipe and it exits).

A batch crosses the pipe as the `facts` table rows of its facts (`marshal`: plain strings,
integers and None), not as pickled objects: unpickling a fact with its dates costs the
projector several times more than rebuilding it from its row, and the projector inserts that
row as it came.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import marshal
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final, Protocol

from hub import collector
from hub.errors import StoreError
from hub.eventlog import EventLog
from hub.events import AnyEvent
from hub.records import EVENTS, StoredRecord, StreamPosition

try:
    import fcntl
except ImportError:  # Windows has no fcntl: pipes keep their size there
    fcntl = None  # type: ignore[assignment]

from projections.facts import Fact, GroupKey, fact_of, fact_of_row, fact_row, row_of_data

#: The event types the projection folds; others (MessageReceived) only move the position.
FOLDED_TYPES: Final = frozenset({"AssignmentIssued", "CareStarted", "CareStopped"})

#: What the pipe from the reader process may hold (`widen_pipe`): room for a decoded batch or
#: two, so reading, folding and writing overlap.
PIPE_BYTES: Final = 4 << 20
_PR_SET_PDEATHSIG: Final = 1
#: Collector thresholds while folding (`fewer_collections`): young collections every 20,000
#: allocations instead of 700, and no full collection at all (see there).
FOLD_GC_THRESHOLDS: Final = (20_000, 50, 1_000_000)
#: Starts the worker's message that reports a failure (a marshalled batch never does).
_FAILED: Final = b"\0"

Decoder = Callable[[StoredRecord], AnyEvent]


class EventDecoder(Protocol):
    """What the reader process decodes with (`hub.events.EventMapper`)."""

    def to_event(self, record: StoredRecord) -> AnyEvent:
        """The event in `record`."""
        ...

    def to_data(self, record: StoredRecord) -> dict[str, Any]:
        """The event's fields by name, without building the event."""
        ...


#: Opens the event log and gives the decoder; must pickle (a module function or a partial).
Source = Callable[[], tuple[EventLog, EventDecoder]]


#: One domain event of a batch: (partition, offset, group, fact, receipt time, the fact's row
#: of the `facts` table as `projections.facts.fact_row` gives it).
Folded = tuple[int, int, GroupKey, Fact, int, tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Decoded:
    """One batch of records: where every record was, and the facts of the domain events."""

    #: (partition, offset) of every record in the batch, folded or not.
    positions: tuple[tuple[int, int], ...]
    #: The facts of the batch's domain events, in log order.
    facts: tuple[Folded, ...]

    def wire(self) -> bytes:
        """The batch as bytes for the pipe: positions, and per fact its group and row."""
        return marshal.dumps(
            (self.positions, tuple((p, o, tuple(key), row) for p, o, key, _, _, row in self.facts))
        )

    @classmethod
    def of_wire(cls, data: bytes) -> Decoded:
        """The batch `wire` sent (facts rebuilt from their rows)."""
        positions, facts = marshal.loads(data)
        group = GroupKey._make
        folded = []
        for p, o, key, row in facts:
            fact, received_ms = fact_of_row(row)
            folded.append((p, o, group(key), fact, received_ms, row))
        return cls(positions, tuple(folded))


def decode_batch(records: Sequence[StoredRecord], decode: Decoder) -> Decoded:
    """Turn read records into a `Decoded` batch (the same in either process)."""
    positions = []
    facts: list[Folded] = []
    for record in records:
        where = record.position
        if where is None:
            continue
        positions.append((where.partition, where.offset))
        if record.event_type in FOLDED_TYPES:
            found = fact_of(decode(record))
            if found is not None:
                key, fact = found
                at = record.timestamp_ms
                facts.append((where.partition, where.offset, key, fact, at, fact_row(fact, at)))
    return Decoded(tuple(positions), tuple(facts))


def fewer_collections() -> contextlib.AbstractContextManager[None]:
    """Run the cyclic garbage collector rarely while folding (`FOLD_GC_THRESHOLDS`, through
    `hub.collector.fewer_collections`).

    Reading and folding allocate millions of short-lived objects that hold no reference
    cycles (tuples, facts, rows), while the groups kept in memory are many long-lived ones:
    with the default thresholds the collector walks all of those dozens of times per 100,000
    records and finds next to nothing, a quarter of the fold's time. Reference counting frees
    everything the fold drops; the few cycles made meanwhile wait for the first collection
    after the thresholds are restored (when the last such job in this process ends).
    """
    return collector.fewer_collections(FOLD_GC_THRESHOLDS)


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


def wire_batches(
    log: EventLog,
    to_data: Callable[[StoredRecord], dict[str, Any]],
    start: StreamPosition,
    end: StreamPosition,
    batch_size: int,
    max_records: int | None = None,
) -> Iterator[bytes]:
    """`Decoded.wire()` of the batches `read_batches` would give, made straight from the
    events' decoded fields (`projections.facts.row_of_data`): the reader process only sends
    rows, so it builds neither events nor facts."""
    records: Iterator[StoredRecord] = log.read(EVENTS, start, until=end)
    if max_records is not None:
        records = islice(records, max_records)
    folded = FOLDED_TYPES
    while batch := list(islice(records, batch_size)):
        positions = []
        facts = []
        for record in batch:
            where = record.position
            if where is None:
                continue
            p, o = where.partition, where.offset
            positions.append((p, o))
            if record.event_type in folded:
                found = row_of_data(record.event_type, to_data(record), record.timestamp_ms)
                if found is not None:
                    facts.append((p, o, found[0], found[1]))
        yield marshal.dumps((tuple(positions), tuple(facts)))


def die_with(parent: int) -> None:
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
    """The worker process: read, decode, send batches (`Decoded.wire`); an empty message at
    the end, an error text (marked by a leading NUL byte) on failure."""
    die_with(parent)
    gc.set_threshold(*FOLD_GC_THRESHOLDS)  # this process only reads and decodes
    try:
        log, decoder = source()
        with log:
            for wire in wire_batches(log, decoder.to_data, start, end, batch_size, max_records):
                out.send_bytes(wire)
        out.send_bytes(b"")
    except (BrokenPipeError, EOFError):
        return  # the projector is gone
    except Exception as e:  # sent to the projector, which raises it there
        with contextlib.suppress(OSError):
            out.send_bytes(_FAILED + f"{type(e).__name__}: {e}".encode())
    finally:
        out.close()


def widen_pipe(fd: int, wanted: int = PIPE_BYTES) -> int:
    """Linux: let the pipe hold up to `wanted` bytes (at most the system's pipe-max-size), so
    the worker can hand over a whole decoded batch (about 0.6 MB per 5,000 records) and go on
    decoding the next while the projector is still folding: with the default 64 KiB, every
    send waits for the projector and the three processes stall one another. Returns the size
    the pipe has (0 where it cannot be asked)."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return 0
    try:
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    except (OSError, ValueError):
        limit = wanted
    try:
        return int(fcntl.fcntl(fd, set_size, min(wanted, limit)))
    except OSError:
        return 0


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
        widen_pipe(send.fileno())
        self._process.start()
        send.close()  # the worker holds the only write end: its exit means end of data

    def __iter__(self) -> Iterator[Decoded]:
        while True:
            try:
                data = self._receive.recv_bytes()
            except EOFError:
                raise ReaderError("the reader process stopped without finishing") from None
            if not data:
                return
            if data.startswith(_FAILED):
                why = data[1:].decode(errors="replace")
                raise ReaderError(f"reading the event log failed: {why}")
            yield Decoded.of_wire(data)

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
    "EventDecoder",
    "Folded",
    "ReaderError",
    "ReaderProcess",
    "Source",
    "decode_batch",
    "fewer_collections",
    "read_batches",
    "wire_batches",
]
