"""The ingest service: bytes in -> validate -> events -> `EventLog.append` -> one result each.

    service = IngestService(log, Preparer(validator, mapper))
    result = service.ingest(data)                          # one message
    for tag, result in service.ingest_many(pairs): ...     # (tag, bytes) pairs, batched appends

Statuses: `accepted` (stored: its domain events and, last, its MessageReceived), `rejected`
(invalid, a retour, or TR056: an Identificatie reused with another Dagtekening; stored as a
MessageRejected on the dead-letter stream), `duplicate` (the same message type, sender and
BerichtIdentificatie is already stored; nothing appended, the result names the stored id), and
`failed` (the store did not confirm the batch; the message may or may not be in the log, and
submitting it again is safe: it is then stored or found to be a duplicate).

Guarantees. A message is reported accepted only after `append` returned for its batch (SQLite:
committed and fsynced; Kafka: acks=all and flushed). Within one `IngestService` a message is
stored at most once: the TR056 check and the append run under one lock, the index is rebuilt
from the log when the service opens, and after a failed append it first re-reads the log from
just past the last records it knows, so a message that reached the store although `append`
failed is found and reported `duplicate` when submitted again. Two processes ingesting the same
message at the same moment can both store it (the log has no conditional append); both copies
carry the same deterministic hub message id, every later process's index sees the first one,
and readers keep the first `MessageReceived` per id. A failed Kafka append can also leave
domain events without their MessageReceived: readers apply a message's domain events only once
its MessageReceived follows them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

from hub.collector import bulk_collection
from hub.errors import SerializationError, StoreError
from hub.eventlog import EventLog
from hub.events import EventMapper, MessageReceived, RejectionError
from hub.ingest_events import Identity, Prepared, Preparer, tr056_error
from hub.records import EVENTS, RecordPosition, StoredRecord, StreamPosition

Status = Literal["accepted", "rejected", "duplicate", "failed"]
ACCEPTED: Final = "accepted"
REJECTED: Final = "rejected"
DUPLICATE: Final = "duplicate"
FAILED: Final = "failed"
#: Payload bytes per append at most (many large messages): well under Kafka's request limits.
MAX_BATCH_BYTES: Final = 16 * 1024 * 1024

T = TypeVar("T")
Clock = Callable[[], dt.datetime]
#: Turns (content, received_at) pairs into `Prepared`s, in order (inline or in worker processes).
PrepareMany = Callable[[Iterator[tuple[bytes, dt.datetime]]], Iterator[Prepared]]
#: Reads (TR056 key, hub message id, Dagtekening) from a stored MessageReceived record.
ReadReceived = Callable[[StoredRecord], tuple[tuple[str, str, str], str, dt.date]]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What happened to one submitted document."""

    status: Status
    message_id: str | None
    message_type: str | None
    errors: tuple[RejectionError, ...] = ()
    detail: str | None = None
    position: RecordPosition | None = None

    @property
    def stored(self) -> bool:
        """True when the log holds the message (accepted now or before)."""
        return self.status in (ACCEPTED, DUPLICATE)

    def as_dict(self) -> dict[str, Any]:
        """The result as the CLI's JSON output shows it."""
        return {
            "status": self.status,
            "message_id": self.message_id,
            "message_type": self.message_type,
            "errors": [
                {
                    "rule": e.rule,
                    "retour_code": e.retour_code,
                    "path": e.path,
                    "line": e.line,
                    "message": e.message,
                }
                for e in self.errors
            ],
            "detail": self.detail,
        }


class DedupeIndex:
    """TR056 keys of every stored MessageReceived: rebuilt from the log, kept current."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], tuple[str, dt.date]] = {}
        self._next: dict[int, int] = {}  # per partition of `events`: the next offset to read
        self.loaded = False

    def __len__(self) -> int:
        return len(self._seen)

    @property
    def position(self) -> StreamPosition:
        """Where the next `catch_up` starts reading the events stream."""
        return StreamPosition.of(self._next)

    def get(self, key: tuple[str, str, str]) -> tuple[str, dt.date] | None:
        """(hub message id, Dagtekening) of the stored message with this TR056 key."""
        return self._seen.get(key)

    def add(self, identity: Identity) -> None:
        self._seen.setdefault(identity.tr056_key, (identity.message_id, identity.dagtekening))

    def passed(self, position: RecordPosition) -> None:
        """This process stored a record at `position`: no need to read it back."""
        if self._next.get(position.partition, 0) <= position.offset:
            self._next[position.partition] = position.offset + 1

    def catch_up(self, log: EventLog, read: ReadReceived) -> int:
        """Read `events` from `position` to its end; returns how many records were read."""
        count = 0
        seen, after = self._seen, self._next
        for record in log.read(EVENTS, self.position):
            count += 1
            if record.position is not None:
                partition, offset = record.position.partition, record.position.offset
                if after.get(partition, 0) <= offset:
                    after[partition] = offset + 1
            if record.event_type != "MessageReceived":
                continue  # domain events: their type, not their payload, is all the index needs
            key, message_id, dagtekening = read(record)
            # The first stored copy wins, as it does for every reader of the log.
            seen.setdefault(key, (message_id, dagtekening))
        self.loaded = True
        return count


def received_reader(mapper: EventMapper) -> ReadReceived:
    """Reads a MessageReceived record's TR056 key, hub id and Dagtekening (full decode)."""

    def read(record: StoredRecord) -> tuple[tuple[str, str, str], str, dt.date]:
        event = mapper.to_event(record)
        if not isinstance(event, MessageReceived):
            raise SerializationError(f"expected a MessageReceived, got {record.event_type}")
        key = (event.message_type, event.sender, event.identificatie)
        return key, event.hub_message_id, event.dagtekening

    return read


@dataclass(slots=True)
class _Planned:
    """One prepared document in a batch: what to append and what to report."""

    prepared: Prepared
    status: Status
    first: int = 0  # its records are records[first:last] of the batch
    last: int = 0
    original: str | None = None  # duplicate: the stored (or earlier in-batch) message id
    in_batch: bool = False
    errors: tuple[RejectionError, ...] = ()


class IngestService:
    """Validates, deduplicates (TR056) and durably stores submitted iWmo messages."""

    def __init__(
        self,
        log: EventLog,
        preparer: Preparer,
        *,
        clock: Clock = utc_now,
        batch_size: int = 200,
        max_failed_batches: int = 3,
        prepare_many: PrepareMany | None = None,
        read_received: ReadReceived | None = None,
        index: DedupeIndex | None = None,
    ) -> None:
        if batch_size < 1 or max_failed_batches < 1:
            raise ValueError("batch_size and max_failed_batches must be at least 1")
        self.log = log
        self.preparer = preparer
        self.batch_size = batch_size
        self.max_failed_batches = max_failed_batches
        self.index = index or DedupeIndex()
        self._clock = clock
        self._prepare_many = prepare_many or self._prepare_inline
        self._read_received = read_received or received_reader(preparer.mapper)
        self._lock = threading.Lock()
        self._stale = True  # the index must (re)read the log before the next TR056 check

    def open(self) -> int:
        """Rebuild the TR056 index from the log now (otherwise the first ingest does it)."""
        with self._lock:
            self._refresh()
            return len(self.index)

    def _refresh(self) -> None:
        if self._stale:
            self.index.catch_up(self.log, self._read_received)
            self._stale = False

    def _prepare_inline(self, items: Iterator[tuple[bytes, dt.datetime]]) -> Iterator[Prepared]:
        prepare = self.preparer.prepare
        return (prepare(content, received_at) for content, received_at in items)

    def ingest(self, content: bytes) -> IngestResult:
        """Validate and store one document."""
        return self.commit([self.preparer.prepare(content, self._clock())])[0]

    def ingest_many(
        self, items: Iterable[tuple[T, bytes]]
    ) -> Generator[tuple[T, IngestResult], None, None]:
        """A result per (tag, content) pair, in order; appends `batch_size` messages at a time.

        After `max_failed_batches` failed appends in a row the store is given up on: the rest
        is reported `failed` without being prepared or sent. Closing the generator early waits
        for an append under way (its results are not reported) and starts no other. While it
        runs the garbage collector's young generation is larger (`hub.collector`).
        """
        with bulk_collection():
            yield from self._ingest_many(items)

    def _ingest_many(
        self, items: Iterable[tuple[T, bytes]]
    ) -> Generator[tuple[T, IngestResult], None, None]:
        tags: deque[T] = deque()
        source = iter(items)

        def submissions() -> Iterator[tuple[bytes, dt.datetime]]:
            for tag, content in source:
                tags.append(tag)
                yield content, self._clock()

        prepared = self._prepare_many(submissions())
        failures, last_error = 0, ""
        # One batch is appended in this thread while the caller's thread prepares the next:
        # validating overlaps with waiting for the store. Appends stay strictly sequential.
        appender = ThreadPoolExecutor(1, thread_name_prefix="iwmo-hub-append")
        in_flight: Future[tuple[list[IngestResult], str]] | None = None
        batches = _batches(prepared, self.batch_size, MAX_BATCH_BYTES)
        try:
            while True:
                batch = next(batches, [])
                done: list[IngestResult] = []
                if in_flight is not None:
                    done, error = in_flight.result()
                    in_flight = None
                    failures, last_error = (failures + 1, error) if error else (0, "")
                if batch and failures < self.max_failed_batches:
                    in_flight = appender.submit(self._commit, batch)
                for result in done:
                    yield tags.popleft(), result
                if in_flight is None:
                    break
        finally:
            appender.shutdown(wait=True)  # an append under way finishes; nothing new starts
            close = getattr(prepared, "close", None)
            if close is not None:
                close()
        detail = (
            f"not attempted: the store failed {failures} batch(es) in a row, last: {last_error}"
        )
        for tag in itertools.chain(tags, (tag for tag, _ in source)):
            yield tag, IngestResult(FAILED, None, None, detail=detail)

    def commit(self, batch: Sequence[Prepared]) -> list[IngestResult]:
        """Check TR056 and append prepared documents in one `append`; a result for each."""
        return self._commit(batch)[0]

    def _commit(self, batch: Sequence[Prepared]) -> tuple[list[IngestResult], str]:
        """The results, and the store error's text when the append failed ('' otherwise)."""
        with self._lock:
            try:
                self._refresh()
            except StoreError as e:
                self._stale = True
                return [_failed(p, p.errors, f"store not readable: {e}") for p in batch], str(e)
            plans, records, fresh = self._plan(batch)
            try:
                positions = self.log.append(records) if records else []
            except StoreError as e:
                # Part of the batch may be stored (Kafka); re-read the log before the next check.
                self._stale = True
                return [self._report(plan, None, str(e)) for plan in plans], str(e)
            for identity in fresh:
                self.index.add(identity)
            for record, position in zip(records, positions, strict=True):
                if record.stream == EVENTS:
                    self.index.passed(position)
            return [self._report(plan, positions, "") for plan in plans], ""

    def _plan(
        self, batch: Sequence[Prepared]
    ) -> tuple[list[_Planned], list[StoredRecord], list[Identity]]:
        plans: list[_Planned] = []
        records: list[StoredRecord] = []
        fresh: dict[tuple[str, str, str], Identity] = {}
        for prepared in batch:
            identity = prepared.identity
            if prepared.rejected or identity is None:
                plan = _Planned(prepared, REJECTED, errors=prepared.errors)
                appended = prepared.records
            else:
                key = identity.tr056_key
                earlier = fresh.get(key)
                stored = self.index.get(key) or (
                    (earlier.message_id, earlier.dagtekening) if earlier else None
                )
                if stored is None:
                    fresh[key] = identity
                    plan, appended = _Planned(prepared, ACCEPTED), prepared.records
                elif stored[1] == identity.dagtekening:
                    plan = _Planned(prepared, DUPLICATE, original=stored[0])
                    plan.in_batch = earlier is not None and self.index.get(key) is None
                    appended = ()
                else:
                    error = tr056_error(identity, stored[1])
                    rejection = self.preparer.rejection(
                        prepared.content, prepared.received_at, (error,), prepared.header
                    )
                    plan = _Planned(rejection, REJECTED, errors=rejection.errors)
                    appended = rejection.records
            plan.first = len(records)
            records.extend(appended)
            plan.last = len(records)
            plans.append(plan)
        return plans, records, list(fresh.values())

    def _report(
        self, plan: _Planned, positions: list[RecordPosition] | None, error: str
    ) -> IngestResult:
        prepared = plan.prepared
        message_type = prepared.header.message_type
        if plan.status == DUPLICATE:
            if positions is None and plan.in_batch:
                return _failed(prepared, (), f"its first copy in this batch failed: {error}")
            return IngestResult(
                DUPLICATE,
                plan.original,
                message_type,
                detail=f"already stored as {plan.original} (TR056: same sender and"
                " BerichtIdentificatie)",
            )
        if positions is None:
            what = "the rejection" if plan.status == REJECTED else "the message"
            return _failed(prepared, plan.errors, f"the store did not confirm {what}: {error}")
        position = positions[plan.last - 1] if plan.last > plan.first else None
        return IngestResult(
            plan.status, prepared.message_id, message_type, plan.errors, position=position
        )


def _batches(prepared: Iterator[Prepared], size: int, max_bytes: int) -> Iterator[list[Prepared]]:
    """At most `size` messages per batch, and no more than `max_bytes` of payload unless a
    single message is larger (OP179 allows 25 MB)."""
    batch: list[Prepared] = []
    total = 0
    for item in prepared:
        # An upper bound, cheap to take: a message's records carry its bytes once (in
        # MessageReceived or MessageRejected) plus well under 1 KiB each of decoded fields.
        weight = len(item.content) + 1024 * len(item.records)
        if batch and total + weight > max_bytes:
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += weight
        if len(batch) >= size:
            yield batch
            batch, total = [], 0
    if batch:
        yield batch


def _failed(prepared: Prepared, errors: tuple[RejectionError, ...], detail: str) -> IngestResult:
    return IngestResult(
        FAILED, prepared.message_id, prepared.header.message_type, errors, detail=detail
    )
