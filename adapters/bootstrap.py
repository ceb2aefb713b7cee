"""The composition root: the hub's services wired from `HubSettings`.

    with open_hub(HubSettings(store="kafka://127.0.0.1:9092")) as hub:
        result = hub.ingest.ingest(data)

The store comes from `settings.store` (`--store` / `$IWMO_HUB_STORE`); tests pass `log=` (an
in-memory SQLite log, a fake) and `clock=` and get the same wiring otherwise. With
`settings.workers > 0`, validation and Avro encoding run in that many worker processes
(`ParallelPreparer`) while the calling process deduplicates and appends.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import itertools
import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import fastavro
from fastavro.read import SchemaResolutionError

from adapters.avro import HEADER_SIZE, AvroCodec
from adapters.store_url import KafkaStore, SqliteStore, parse_store_url
from hub.eventlog import EventLog
from hub.events import EventMapper
from hub.ingest import Clock, IngestService, ReadReceived, received_reader, utc_now
from hub.ingest_events import Prepared, Preparer
from hub.ingest_wire import Wire, from_wire, to_wire
from hub.messagetypes import MessageType
from hub.records import StoredRecord
from hub.settings import HubSettings
from hub.validation import Validator, compiled_schema

#: Documents per task sent to a worker process: big enough that the per-task cost of the
#: process pool is small, small enough that the first results come back soon.
CHUNK: Final = 200
#: Documents prepared ahead of the ingesting process, at most: more than a batch (200), so
#: workers keep validating while a whole batch waits for the store to confirm it, and few
#: enough that memory stays bounded however far the store falls behind.
AHEAD: Final = 1000


@functools.cache
def payload_codec() -> AvroCodec:
    """The one payload codec: Avro single-object encoding, every schema in schemas/events/."""
    return AvroCodec()


@functools.cache
def event_mapper() -> EventMapper:
    """The one mapper between events and records, on `payload_codec()`."""
    return EventMapper(payload_codec())


def source_of(settings: HubSettings) -> str:
    """What the projection store records as the event log it folds."""
    config = parse_store_url(settings.store)
    if isinstance(config, SqliteStore):
        return "sqlite:" + str(Path(config.path).resolve())
    assert isinstance(config, KafkaStore)
    prefix = config.prefix or settings.kafka_prefix
    return f"kafka://{','.join(config.servers)}?prefix={prefix}"


def open_source(settings: HubSettings) -> tuple[EventLog, EventMapper]:
    """The event log and decoder, for the projector's reader process (it pickles this)."""
    return open_log(settings), event_mapper()


def open_log(settings: HubSettings) -> EventLog:
    """The event log `settings.store` names; ValueError for a bad URL, StoreError if it fails.

    Options in a Kafka URL (`?prefix=`, `?timeout_ms=`) win over the settings'.
    """
    config = parse_store_url(settings.store)
    if not isinstance(config, KafkaStore):
        return config.open()
    from adapters.kafka_log import KafkaEventLog  # the embedded default never loads kafka

    return KafkaEventLog(
        list(config.servers),
        prefix=config.prefix or settings.kafka_prefix,
        timeout_ms=config.timeout_ms or settings.kafka_timeout_ms,
        partitions={"events": config.partitions} if config.partitions else None,
        replication_factor=config.replication_factor or 1,
        compression_type=None if settings.kafka_compression == "none" else "gzip",
    )


# Only what the TR056 index needs from a MessageReceived: Avro schema resolution skips the
# rest of the record (above all `content`, the message itself) without building objects.
_RECEIVED_IDENTITY: Final = fastavro.parse_schema(
    {
        "type": "record",
        "name": "nl.iwmohub.events.MessageReceived",
        "fields": [
            {"name": "hub_message_id", "type": "string"},
            {"name": "message_type", "type": "string"},
            {"name": "sender", "type": "string"},
            {"name": "identificatie", "type": "string"},
            {"name": "dagtekening", "type": {"type": "int", "logicalType": "date"}},
        ],
    }
)


def received_identity_reader(codec: AvroCodec) -> ReadReceived:
    """A `ReadReceived` that decodes only the identity fields of a MessageReceived payload."""
    fallback = received_reader(EventMapper(codec))

    def read(record: StoredRecord) -> tuple[tuple[str, str, str], str, dt.date]:
        writer = codec.writer_schema(record.payload)
        try:
            data: Any = fastavro.schemaless_reader(
                io.BytesIO(record.payload[HEADER_SIZE:]), writer.parsed, _RECEIVED_IDENTITY
            )
        except (SchemaResolutionError, ValueError, KeyError, TypeError, EOFError):
            return fallback(record)  # a schema version this projection cannot resolve
        key = (data["message_type"], data["sender"], data["identificatie"])
        return key, data["hub_message_id"], data["dagtekening"]

    return read


@dataclass
class Hub:
    """The wired services; closing it closes the log and stops worker processes."""

    settings: HubSettings
    log: EventLog
    validator: Validator
    mapper: EventMapper
    ingest: IngestService
    workers: ParallelPreparer | None = field(default=None, repr=False)

    def close(self) -> None:
        try:
            if self.workers is not None:
                self.workers.close()
        finally:
            self.log.close()

    def __enter__(self) -> Hub:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_hub(
    settings: HubSettings | None = None,
    *,
    log: EventLog | None = None,
    validator: Validator | None = None,
    clock: Clock = utc_now,
) -> Hub:
    """Wire validator, mapper, store and ingest service; the caller closes the `Hub`."""
    settings = settings or HubSettings()
    validator = validator or Validator()
    mapper = event_mapper()
    log = log if log is not None else open_log(settings)
    codec = payload_codec()
    workers = ParallelPreparer(settings.workers, validator.today) if settings.workers else None
    service = IngestService(
        log,
        Preparer(validator, mapper),
        clock=clock,
        batch_size=settings.batch_size,
        max_failed_batches=settings.max_failed_batches,
        prepare_many=workers,
        read_received=received_identity_reader(codec),
    )
    return Hub(settings, log, validator, mapper, service, workers)


# --- preparing in worker processes -----------------------------------------------------------

_WORKER_PREPARER: Preparer | None = None


def _init_worker(today: dt.date | None) -> None:
    global _WORKER_PREPARER
    validator = Validator(today=today)
    _WORKER_PREPARER = Preparer(validator, event_mapper())
    # Compile every schema now (about a second): otherwise the first documents of each
    # type wait for it while the ingesting process has nothing to store.
    for message_type in MessageType:
        compiled_schema(message_type, validator.schema_dir)


def _prepare_chunk(chunk: list[tuple[bytes, dt.datetime]]) -> list[Wire]:
    """Runs in a worker: the chunk prepared, as plain tuples (`hub.ingest_wire.to_wire`)."""
    assert _WORKER_PREPARER is not None, "worker not initialised"
    prepare = _WORKER_PREPARER.prepare
    return [to_wire(prepare(content, received_at), content) for content, received_at in chunk]


class ParallelPreparer:
    """Validates and encodes in `count` processes, results in input order (a `PrepareMany`).

    Workers are started with `spawn` (no fork of a process that runs Kafka client threads)
    on first use; at most `ahead` documents (and at least two chunks per worker) are in
    flight, so memory stays bounded however far the store falls behind.
    """

    def __init__(
        self, count: int, today: dt.date | None = None, chunk: int = CHUNK, ahead: int = AHEAD
    ) -> None:
        if count < 1 or chunk < 1:
            raise ValueError("need at least one worker and one document per chunk")
        self.count = count
        self.chunk = chunk
        self.in_flight = max(2 * count, ahead // chunk)
        self._today = today
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.count,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self._today,),
            )
        return self._executor

    def __call__(self, items: Iterator[tuple[bytes, dt.datetime]]) -> Iterator[Prepared]:
        pool = self._pool()
        pending: deque[tuple[list[tuple[bytes, dt.datetime]], Future[list[Wire]]]] = deque()
        try:
            while True:
                chunk = list(itertools.islice(items, self.chunk))
                if chunk:
                    pending.append((chunk, pool.submit(_prepare_chunk, chunk)))
                if pending and (not chunk or len(pending) >= self.in_flight):
                    sent, future = pending.popleft()
                    for (content, received_at), wire in zip(sent, future.result(), strict=True):
                        yield from_wire(wire, content, received_at)
                elif not chunk:
                    return
        finally:
            for _, future in pending:
                future.cancel()

    def warm(self) -> None:
        """Start every worker now and wait until each has loaded the schemas."""
        pool = self._pool()
        for future in [pool.submit(_prepare_chunk, []) for _ in range(self.count)]:
            future.result()

    def pids(self) -> list[int]:
        """The worker processes' ids (none before first use), e.g. to measure their CPU."""
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(processes)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
