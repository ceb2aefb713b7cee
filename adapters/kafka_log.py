"""The event log on Apache Kafka (kafka-python 3.x), the hub's production system of record.

Each stream is one topic, `<prefix>.events` and `<prefix>.rejected`, which the hub creates
itself through the admin client with explicit partition counts and configs (the broker's
auto-creation is never relied on, and is refused on every client here). Records are keyed by
gemeente code, so the default (murmur2, as in Java) partitioner keeps each gemeente's history
in one partition, in order. The producer is idempotent with acks=all, and `append` returns
only after `flush` and an acknowledgement for every record (adapters.kafka_batches hands it
whole batches). Group positions are Kafka's own
committed offsets (group `<prefix>.<group>`), written through the admin client; readers
assign partitions themselves, so a group is a checkpoint, not a rebalancing membership.

Every wait is bounded by `timeout_ms`; an unreachable broker fails with `StoreUnavailable`
naming the bootstrap address.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeVar

import kafka.errors as kerrors
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from adapters import kafka_fetch
from adapters.kafka_batches import TYPE_HEADER as TYPE_HEADER  # re-exported: record headers
from adapters.kafka_batches import VERSION_HEADER as VERSION_HEADER
from adapters.kafka_batches import BulkAppender, append_each, append_in_bulk, bulk_supported
from adapters.kafka_support import (
    QuietSelector,
    connect,
    ensure_topics,
    kafka_errors,
    retrying,
    topic_configs,
    translate,
)
from hub.errors import StoreError
from hub.eventlog import EventLog, check_group, check_limit
from hub.records import (
    STREAMS,
    RecordPosition,
    StoredRecord,
    Stream,
    StreamPosition,
    check_stream,
    restore_record,
)

log = logging.getLogger(__name__)

DEFAULT_PREFIX: Final = "iwmo-hub"
DEFAULT_PARTITIONS: Final[Mapping[str, int]] = {"events": 6, "rejected": 2}
DEFAULT_TIMEOUT_MS: Final = 15_000
#: Room for the largest message (OP179: 25 MB) in a MessageReceived, with headroom.
DEFAULT_MAX_RECORD_BYTES: Final = 32 * 1024 * 1024
_TOPIC_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
T = TypeVar("T")


class KafkaEventLog(EventLog):
    """The `EventLog` port on Kafka topics `<prefix>.events` and `<prefix>.rejected`."""

    def __init__(
        self,
        bootstrap_servers: str | Sequence[str],
        *,
        prefix: str = DEFAULT_PREFIX,
        partitions: Mapping[str, int] | None = None,
        replication_factor: int = 1,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        compression_type: str | None = None,
        client_id: str = "iwmo-hub",
        bulk: bool | None = None,
    ) -> None:
        servers = (
            [bootstrap_servers] if isinstance(bootstrap_servers, str) else list(bootstrap_servers)
        )
        self.servers = [s.strip() for server in servers for s in server.split(",") if s.strip()]
        if not self.servers:
            raise ValueError("no Kafka bootstrap servers given")
        if not prefix or not set(prefix) <= _TOPIC_CHARS or len(prefix) > 200:
            raise ValueError(f"invalid topic prefix {prefix!r}: use letters, digits, '.', '_', '-'")
        counts = {**DEFAULT_PARTITIONS, **(partitions or {})}
        if set(counts) != set(STREAMS) or min(counts.values()) < 1 or replication_factor < 1:
            raise ValueError(f"need partitions >= 1 for exactly {STREAMS} and replication >= 1")
        self.prefix = prefix
        self.topics: dict[Stream, str] = {s: f"{prefix}.{s}" for s in STREAMS}
        self.timeout_ms = timeout_ms
        self._common: dict[str, Any] = {
            "bootstrap_servers": self.servers,
            "client_id": client_id,
            "request_timeout_ms": timeout_ms,
            "bootstrap_timeout_ms": timeout_ms,
            # Reconnect quickly once a restarted broker is back, rather than backing off to 30 s.
            "reconnect_backoff_max_ms": 1000,
            "selector": QuietSelector,
        }
        self._producer_config: dict[str, Any] = {
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 5,
            "batch_size": 256 * 1024,
            "max_request_size": max_record_bytes,
            "compression_type": compression_type,
            "max_block_ms": timeout_ms,
            # Java clients insist on delivery >= linger + request timeout; records expire
            # rather than linger in the buffer after append has given up on them.
            "delivery_timeout_ms": timeout_ms + 5,
            "allow_auto_create_topics": False,
            # kafka-python's client metrics (sensors sampled on every request, batch and
            # response) are read by nothing here and cost a third of the producer's CPU per
            # append; the hub reports its own (/metrics).
            "metrics_enabled": False,
        }
        # Appends hand whole batches to the producer (adapters.kafka_batches) unless this
        # kafka-python lacks the internals for it, or `bulk=False` asks for plain `send`.
        self._bulk = bulk_supported() if bulk is None else bulk
        self._lock = threading.Lock()
        self._closed = False
        self._producer: Any = None
        self._appender: BulkAppender | None = None
        self._idle_readers: list[Any] = []
        self._admin: Any = self._connect(KafkaAdminClient)
        try:
            with self._seam("create topics"):
                found = ensure_topics(
                    self._admin,
                    {self.topics[s]: counts[s] for s in STREAMS},
                    topic_configs(replication_factor, max_record_bytes),
                    replication_factor=replication_factor,
                    timeout_ms=timeout_ms,
                )
            self._partitions = {s: found[self.topics[s]] for s in STREAMS}
        except BaseException:
            self._admin.close()
            raise

    # -- plumbing -------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return ",".join(self.servers)

    def _translate(self, action: str, error: BaseException) -> StoreError:
        return translate(error, action, where=self.where, timeout_ms=self.timeout_ms)

    @contextlib.contextmanager
    def _seam(self, action: str) -> Iterator[None]:
        with kafka_errors(action, where=self.where, timeout_ms=self.timeout_ms):
            yield

    def _connect(self, cls: Callable[..., T], **extra: Any) -> T:
        return connect(cls, {**self._common, **extra}, where=self.where, timeout_ms=self.timeout_ms)

    def _retrying(self, action: str, call: Callable[[], T]) -> T:
        return retrying(call, action, where=self.where, timeout_ms=self.timeout_ms)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the event log on Kafka at {self.where} is closed")

    def _tps(self, stream: Stream) -> list[TopicPartition]:
        topic = self.topics[check_stream(stream)]
        return [TopicPartition(topic, p) for p in self._partitions[stream]]

    @contextlib.contextmanager
    def _reader(self) -> Iterator[Any]:
        """A consumer from the pool (consumers are not thread-safe: one user at a time)."""
        self._check_open()
        with self._lock:
            consumer = self._idle_readers.pop() if self._idle_readers else None
        if consumer is None:
            consumer = self._connect(
                KafkaConsumer,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                allow_auto_create_topics=False,
                fetch_max_wait_ms=100,
                max_poll_records=5000,
                metrics_enabled=False,  # as for the producer: nothing reads them
            )
            kafka_fetch.install(consumer)  # batches read in bulk (kafka-python's path otherwise)
        try:
            yield consumer
            consumer.assign([])
        except GeneratorExit:
            # A reader abandoned by its caller: the consumer itself is fine, keep it.
            consumer.assign([])
            self._return_reader(consumer)
            raise
        except BaseException:
            consumer.close(autocommit=False)
            raise
        self._return_reader(consumer)

    def _return_reader(self, consumer: Any) -> None:
        with self._lock:
            if self._closed:
                consumer.close(autocommit=False)
            else:
                self._idle_readers.append(consumer)

    # -- the port ---------------------------------------------------------------------------

    def append(self, records: Sequence[StoredRecord]) -> list[RecordPosition]:
        self._check_open()
        if not records:
            return []
        with self._lock:
            if self._producer is None:
                self._producer = self._connect(KafkaProducer, **self._producer_config)
                self._appender = BulkAppender(self._producer, self.topics) if self._bulk else None
            producer, appender = self._producer, self._appender
        deadline = time.monotonic() + self.timeout_ms / 1000
        try:
            if appender is not None:
                return append_in_bulk(producer, appender, records, deadline)
            return append_each(producer, self.topics, records, deadline)
        except (kerrors.KafkaError, OSError) as e:
            # Drop the producer: records still buffered must not slip out after we report failure.
            self._discard_producer(producer)
            raise self._translate(f"acknowledge {len(records)} record(s)", e) from e

    def _discard_producer(self, producer: Any) -> None:
        with self._lock:
            if self._producer is producer:
                self._producer = None
                self._appender = None
        # Stop its I/O thread first: kafka-python's close(timeout=0) raises from flush() while
        # batches are unfinished, before it stops the thread, which would then still deliver
        # records after append reported the failure (and __del__ would raise again later).
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            sender.force_close()  # fails the unfinished batches instead of sending them
            sender.join(self.timeout_ms / 1000)
        with contextlib.suppress(Exception):
            producer.close(timeout=0)

    def read(
        self,
        stream: Stream,
        from_position: StreamPosition | None = None,
        *,
        until: StreamPosition | None = None,
        limit: int | None = None,
    ) -> Iterator[StoredRecord]:
        check_stream(stream)
        check_limit(limit)
        return self._read(stream, from_position or StreamPosition(), until, limit)

    def _read(
        self,
        stream: Stream,
        start: StreamPosition,
        until: StreamPosition | None,
        limit: int | None,
    ) -> Iterator[StoredRecord]:
        end = until if until is not None else self.end_position(stream)
        todo = {
            tp: end.next_offset(tp.partition)
            for tp in self._tps(stream)
            if start.next_offset(tp.partition) < end.next_offset(tp.partition)
        }
        if not todo or limit == 0:
            return
        count = 0
        with self._reader() as consumer:
            with self._seam("read"):
                consumer.assign(list(todo))
                for tp in todo:
                    consumer.seek(tp, start.next_offset(tp.partition))
            while todo:
                with self._seam(f"deliver records from {self.topics[stream]}"):
                    batch = self._poll(consumer, todo)
                for tp, messages in batch.items():
                    stop = todo.get(tp)
                    if stop is None:
                        continue
                    for message in messages:
                        if message.offset >= stop:
                            break
                        yield self._record(stream, tp, message)
                        count += 1
                        if limit is not None and count >= limit:
                            return
                    if messages and messages[-1].offset + 1 >= stop:
                        del todo[tp]
                        consumer.pause(tp)

    def _poll(
        self, consumer: Any, todo: dict[TopicPartition, int]
    ) -> dict[TopicPartition, list[Any]]:
        """The next records; a stretch of `timeout_ms` without any is a StoreUnavailable."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            batch: dict[TopicPartition, list[Any]] = consumer.poll(timeout_ms=200)
            if batch:
                return batch
            # No records although some were expected: a partition may end in a gap (offsets
            # used by markers, not records); its position then already says it is done.
            for tp in [tp for tp, stop in todo.items() if (consumer.position(tp) or 0) >= stop]:
                del todo[tp]
            if not todo:
                return {}
            if time.monotonic() >= deadline:
                raise kerrors.KafkaTimeoutError(f"no records from {sorted(todo)}")

    def _record(self, stream: Stream, tp: TopicPartition, message: Any) -> StoredRecord:
        """The StoredRecord in a fetched record (a `kafka_fetch.Fetched` or a ConsumerRecord)."""
        try:
            headers = message.headers or ()
            routing = _ROUTING.get(headers) if isinstance(headers, tuple) else None
            if routing is None:
                routing = _routing(headers)
                if isinstance(headers, tuple) and len(_ROUTING) < 1024:
                    _ROUTING[headers] = routing
            key = message.key.decode("utf-8")
            value = bytes(message.value)
        except (KeyError, ValueError, AttributeError, TypeError) as e:
            raise StoreError(
                f"record {tp.topic}/{tp.partition}@{message.offset} was not written"
                f" by iwmo-hub (missing key, value or {TYPE_HEADER}/{VERSION_HEADER} header)"
            ) from e
        if not key or message.timestamp < 0:
            raise StoreError(
                f"record {tp.topic}/{tp.partition}@{message.offset} has an empty key or a"
                " timestamp before 1970"
            )
        # Checked as StoredRecord would check them: built through its fast path.
        return restore_record(
            stream,
            key,
            routing[0],
            routing[1],
            value,
            message.timestamp,
            RecordPosition(tp.partition, message.offset),
        )

    def position_at(self, stream: Stream, timestamp_ms: int) -> StreamPosition:
        tps = self._tps(stream)
        with self._reader() as consumer, self._seam("look up offsets by time"):
            found = consumer.offsets_for_times(
                {tp: timestamp_ms for tp in tps}, timeout_ms=self.timeout_ms
            )
            missing = [tp for tp in tps if found.get(tp) is None]
            ends = consumer.end_offsets(missing, timeout_ms=self.timeout_ms) if missing else {}
        return StreamPosition.of(
            {
                tp.partition: found[tp].offset if found.get(tp) is not None else ends[tp]
                for tp in tps
            }
        )

    def end_position(self, stream: Stream) -> StreamPosition:
        tps = self._tps(stream)
        with self._reader() as consumer, self._seam("look up end offsets"):
            ends = consumer.end_offsets(tps, timeout_ms=self.timeout_ms)
        return StreamPosition.of({tp.partition: ends[tp] for tp in tps})

    def _group_id(self, group: str) -> str:
        return f"{self.prefix}.{check_group(group)}"

    def committed(self, stream: Stream, group: str) -> StreamPosition:
        self._check_open()
        tps = self._tps(stream)
        group_id = self._group_id(group)
        found = self._retrying(
            "read committed offsets", lambda: self._admin.list_group_offsets({group_id: tps})
        )
        offsets = found.get(group_id, {})
        return StreamPosition.of(
            {
                tp.partition: offsets[tp].offset
                for tp in tps
                if tp in offsets and offsets[tp].offset >= 0
            }
        )

    def commit(self, stream: Stream, group: str, position: StreamPosition) -> None:
        self._check_open()
        tps = {tp.partition: tp for tp in self._tps(stream)}
        unknown = set(position.partitions()) - set(tps)
        if unknown:
            raise StoreError(f"topic {self.topics[stream]} has no partition(s) {sorted(unknown)}")
        offsets = {tp: OffsetAndMetadata(position.next_offset(p), "", -1) for p, tp in tps.items()}
        group_id = self._group_id(group)
        results = self._retrying(
            "commit offsets", lambda: self._admin.alter_group_offsets(group_id, offsets)
        )
        failed = {
            tp.partition: error for tp, error in results.items() if error is not kerrors.NoError
        }
        if failed:
            error = next(iter(failed.values()))
            raise self._translate(f"commit offsets of group {group_id}", error(str(sorted(failed))))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            clients = [self._producer, *self._idle_readers]
            self._producer = None
            self._appender = None
            self._idle_readers.clear()
        for client in clients:
            if client is None:
                continue
            try:
                if isinstance(client, KafkaProducer):
                    client.close(timeout=self.timeout_ms / 1000)
                else:
                    client.close(autocommit=False)
            except (kerrors.KafkaError, OSError) as e:
                log.warning("closing a Kafka client for %s failed: %s", self.where, e)
        self._admin.close()

    def __repr__(self) -> str:
        return f"KafkaEventLog({self.where!r}, prefix={self.prefix!r})"


#: (event type, schema version) by a record's headers: the hub writes a handful of distinct
#: header sets, and the fast fetch path hands out one tuple per set.
_ROUTING: dict[Any, tuple[str, int]] = {}


def _routing(headers: Any) -> tuple[str, int]:
    """Event type and schema version from a record's headers (KeyError/ValueError if absent)."""
    found = dict(headers)
    event_type = found[TYPE_HEADER].decode("utf-8")
    version = int(found[VERSION_HEADER])
    if not event_type or version < 1:
        raise ValueError("empty event type or schema version below 1")
    return event_type, version
