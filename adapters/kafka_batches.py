"""How an append reaches kafka-python's producer: as ready-made record batches (or record by
record, the fallback).

`KafkaProducer.send` costs about 65 us of pure Python per record here (partitioner, size
estimates, a future per record, and the v2 record encoding one varint at a time): more than
validating the message the record came from. An append already holds every record of a
batch, so this module does that work once per append instead: it partitions each key once
(murmur2, exactly as kafka-python's and Java's default partitioner), encodes each record with
cached key and header bytes (about 3 us), and fills one `ProducerBatch` per partition and
megabyte. Those batches go into the producer's own accumulator, so its sender thread does
everything else as for `send`: the idempotent producer's sequence numbers, acks=all, retries,
request size limits, compression, delivery timeouts. One future per batch replaces one per
record.

This relies on kafka-python internals (the accumulator's deques and the record builder's
fields). `bulk_supported()` checks they are there; without them the log falls back to `send`.
tests/unit/test_kafka_batches.py compares the batches byte for byte with kafka-python's own
builder, so an upgrade that changes the format fails there, not in production.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import kafka.errors as kerrors
from kafka.partitioner.default import murmur2
from kafka.producer.producer_batch import ProducerBatch
from kafka.producer.record_accumulator import RecordAccumulator
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecordsBuilder
from kafka.structs import TopicPartition

from hub.records import RecordPosition, StoredRecord, Stream, positions_in

#: Record bytes per batch at most (a larger record gets a batch of its own): large batches
#: cost the broker less per record, and stay far below the topics' 32 MiB message limit.
MAX_BATCH_BYTES: Final = 1024 * 1024
TYPE_HEADER: Final = "event-type"
VERSION_HEADER: Final = "schema-version"
#: Keys whose partition is remembered, at most.
_PLACED_MAX: Final = 100_000
#: Bytes a record takes besides its payload, at most about: key, headers, lengths, deltas.
_RECORD_OVERHEAD: Final = 128
#: The one-byte zigzag varints: values -64..63.
_SMALL: Final = {n: bytes(((n << 1) ^ (n >> 63),)) for n in range(-64, 64)}


def varint(n: int) -> bytes:
    """A signed (zigzag) varint, as Kafka's v2 records encode lengths and deltas."""
    found = _SMALL.get(n)
    if found is not None:
        return found
    z = (n << 1) ^ (n >> 63)
    if 0 <= z < 0x4000:  # two bytes: most payload and record lengths
        return bytes(((z & 0x7F) | 0x80, z >> 7))
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


#: Offsets within a batch (0, 1, ...) as varints, for the usual batch sizes.
_OFFSETS: Final = tuple(varint(n) for n in range(4096))


def partition_of(key: bytes, partitions: Sequence[int]) -> int:
    """The partition of `key`: kafka-python's (and Java's) default, murmur2 of the key."""
    hashed: int = murmur2(key)
    return partitions[(hashed & 0x7FFFFFFF) % len(partitions)]


def bulk_supported() -> bool:
    """True if this kafka-python has the internals `BulkAppender` fills in."""
    wanted = {
        MemoryRecordsBuilder: ("_builder", "_next_offset"),
        DefaultRecordBatchBuilder: (
            "_buffer",
            "_num_records",
            "_last_offset",
            "_first_timestamp",
            "_max_timestamp",
        ),
    }
    for cls, slots in wanted.items():
        if not set(slots) <= set(getattr(cls, "__slots__", ())):
            return False
    accumulator = ("_tp_lock", "_batches", "_incomplete", "_appends_in_progress", "config")
    probe = RecordAccumulator()
    return all(hasattr(probe, name) for name in accumulator)


@dataclass(frozen=True, slots=True)
class Sent:
    """One batch handed to the producer, and which of the append's records it holds."""

    batch: Any  # kafka.producer.producer_batch.ProducerBatch
    indices: tuple[int, ...]


class BulkAppender:
    """Turns an append's records into ProducerBatches in one producer's accumulator."""

    def __init__(self, producer: Any, topics: Mapping[Stream, str]) -> None:
        self._producer = producer
        self._accumulator = producer._accumulator
        self._topics = topics
        self._compression: int = self._accumulator.config["compression_attrs"]
        # What `send` checks per record: none larger than one produce request may be.
        config = getattr(producer, "config", None) or {}
        self._max_record: int = config.get("max_request_size", 1 << 62)
        self._partitions: dict[str, list[int]] = {}  # topic -> sorted partition ids
        self._placed: dict[tuple[str, str], tuple[TopicPartition, bytes]] = {}
        self._headers: dict[tuple[str, int], bytes] = {}

    def _place(self, stream: Stream, key: str) -> tuple[TopicPartition, bytes]:
        """The partition of a stream's key, and the key as a record encodes it (cached)."""
        topic = self._topics[stream]
        partitions = self._partitions.get(topic)
        if partitions is None:
            # Public API: waits for the topic's metadata, which the sender needs as well.
            partitions = self._partitions[topic] = sorted(self._producer.partitions_for(topic))
        raw = key.encode("utf-8")
        placed = (TopicPartition(topic, partition_of(raw, partitions)), varint(len(raw)) + raw)
        if len(self._placed) >= _PLACED_MAX:
            self._placed.clear()  # keys are gemeenten and senders: hundreds, not millions
        self._placed[(stream, key)] = placed
        return placed

    def _header_bytes(self, event_type: str, version: int) -> bytes:
        encoded = self._headers.get((event_type, version))
        if encoded is None:
            parts = [varint(2)]
            for name, value in (
                (TYPE_HEADER, event_type.encode("utf-8")),
                (VERSION_HEADER, str(version).encode("ascii")),
            ):
                raw = name.encode("utf-8")
                parts += [varint(len(raw)), raw, varint(len(value)), value]
            encoded = self._headers[(event_type, version)] = b"".join(parts)
        return encoded

    def send(self, records: Sequence[StoredRecord]) -> list[Sent]:
        """Hand every record to the producer (sent on its next flush); the batches made."""
        groups: dict[TopicPartition, list[int]] = {}
        keys: list[bytes] = []
        placed = self._placed
        largest = max(len(r.payload) for r in records) + _RECORD_OVERHEAD if records else 0
        if largest > self._max_record:
            # Refused before anything is queued, so none of the append is stored.
            raise kerrors.MessageSizeTooLargeError(
                f"a record of about {largest} bytes is larger than the producer's "
                f"max_request_size of {self._max_record} bytes"
            )
        for index, record in enumerate(records):
            found = placed.get((record.stream, record.key)) or self._place(
                record.stream, record.key
            )
            keys.append(found[1])
            group = groups.get(found[0])
            if group is None:
                groups[found[0]] = [index]
            else:
                group.append(index)
        sent = [
            Sent(self._batch(tp, [(records[i], keys[i]) for i in chunk]), tuple(chunk))
            for tp, indices in groups.items()
            for chunk in _chunks(indices, records)
        ]
        self._enqueue([s.batch for s in sent])
        return sent

    def _batch(self, tp: TopicPartition, records: list[tuple[StoredRecord, bytes]]) -> Any:
        """One v2 record batch of `records` (each with its key as a record encodes it)."""
        first = records[0][0].timestamp_ms
        newest = first
        parts: list[bytes] = []
        largest = 0
        header_bytes = self._header_bytes
        deltas: dict[int, bytes] = {}  # a message's records share their timestamp
        for offset, (record, key) in enumerate(records):
            value = record.payload
            timestamp = record.timestamp_ms
            newest = max(newest, timestamp)
            delta = deltas.get(timestamp)
            if delta is None:
                delta = deltas[timestamp] = varint(timestamp - first)
            count = _OFFSETS[offset] if offset < len(_OFFSETS) else varint(offset)
            head = b"".join((b"\x00", delta, count, key, varint(len(value))))
            tail = header_bytes(record.event_type, record.schema_version)
            size = len(head) + len(value) + len(tail)
            length = varint(size)
            parts += (length, head, value, tail)
            largest = max(largest, len(length) + size)
        builder = MemoryRecordsBuilder(2, self._compression, MAX_BATCH_BYTES)
        inner = builder._builder
        # What DefaultRecordBatchBuilder.append leaves behind after appending these records;
        # its build() then writes the batch header, the CRC and compresses as usual.
        inner._buffer += b"".join(parts)
        inner._num_records = len(records)
        inner._last_offset = len(records) - 1
        inner._first_timestamp = first
        inner._max_timestamp = newest
        builder._next_offset = len(records)
        batch = ProducerBatch(tp, builder)
        batch.max_record_size = largest
        return batch

    def _enqueue(self, batches: list[Any]) -> None:
        """Put whole batches at the end of their partitions' queues, as `append` would."""
        accumulator = self._accumulator
        accumulator._appends_in_progress.increment()
        try:
            for batch in batches:
                tp = batch.topic_partition
                with accumulator._tp_lock(tp):
                    if accumulator._closed:
                        raise kerrors.IllegalStateError("the producer is closed")
                    accumulator._batches[tp].append(batch)
                    accumulator._incomplete.add(batch)
        finally:
            accumulator._appends_in_progress.decrement()


def _chunks(indices: list[int], records: Sequence[StoredRecord]) -> Iterator[list[int]]:
    """`indices` in order, cut so no chunk holds more than MAX_BATCH_BYTES of payload."""
    chunk: list[int] = []
    size = 0
    for index in indices:
        weight = len(records[index].payload) + _RECORD_OVERHEAD
        if chunk and size + weight > MAX_BATCH_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(index)
        size += weight
    if chunk:
        yield chunk


def acknowledged(sent: Sent) -> list[int]:
    """The offsets of a flushed batch's records; raises the producer's error if it failed."""
    future = sent.batch.produce_future
    if not future.is_done:
        raise kerrors.KafkaTimeoutError(f"no acknowledgement for {sent.batch.topic_partition}")
    if future.failed():
        raise future.exception
    base_offset, _, record_error = future.value
    if record_error is not None:
        raise record_error(0)
    return [base_offset + i for i in range(len(sent.indices))]


def append_in_bulk(
    producer: Any, appender: BulkAppender, records: Sequence[StoredRecord], deadline: float
) -> list[RecordPosition]:
    """One batch per partition (and MiB), one flush, then each batch's acknowledgement; the
    records' positions in input order. kafka-python's errors pass through."""
    sent = appender.send(records)
    producer.flush(timeout=max(0.0, deadline - time.monotonic()))
    positions: dict[int, RecordPosition] = {}
    for batch in sent:
        found = positions_in(batch.batch.topic_partition.partition, acknowledged(batch))
        positions.update(zip(batch.indices, found, strict=True))
    return [positions[index] for index in range(len(records))]


def append_each(
    producer: Any, topics: Mapping[Stream, str], records: Sequence[StoredRecord], deadline: float
) -> list[RecordPosition]:
    """The same through `KafkaProducer.send`, record by record (the fallback)."""
    futures = [
        producer.send(
            topics[r.stream],
            value=r.payload,
            key=r.key.encode("utf-8"),
            headers=[
                (TYPE_HEADER, r.event_type.encode("utf-8")),
                (VERSION_HEADER, str(r.schema_version).encode("ascii")),
            ],
            timestamp_ms=r.timestamp_ms,
        )
        for r in records
    ]
    producer.flush(timeout=max(0.0, deadline - time.monotonic()))
    metadata = [f.get(timeout=max(0.0, deadline - time.monotonic())) for f in futures]
    return [RecordPosition(md.partition, md.offset) for md in metadata]
