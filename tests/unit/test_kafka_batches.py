"""Bulk record batches (adapters.kafka_batches) against kafka-python's own producer code: the
same bytes as its record builder, the same partitions as its default partitioner, and a
batch's outcome read the way its futures read it. No broker needed (the integration suite
appends through this path on a real one)."""

from __future__ import annotations

from typing import Any

import kafka.errors as kerrors
import pytest
from kafka.partitioner.default import DefaultPartitioner
from kafka.producer.record_accumulator import RecordAccumulator
from kafka.record.default_records import DefaultRecordBatch
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder
from kafka.record.util import encode_varint

from adapters.kafka_batches import (
    MAX_BATCH_BYTES,
    TYPE_HEADER,
    VERSION_HEADER,
    BulkAppender,
    Sent,
    acknowledged,
    bulk_supported,
    partition_of,
    varint,
)
from hub.records import EVENTS, REJECTED, StoredRecord

TOPICS = {EVENTS: "t.events", REJECTED: "t.rejected"}


class FakeProducer:
    """Just what BulkAppender uses of a KafkaProducer: its accumulator and topic metadata."""

    def __init__(
        self, compression: int = 0, partitions: int = 6, max_request: int = 1 << 30
    ) -> None:
        self._accumulator = RecordAccumulator(compression_attrs=compression)
        self.config = {"max_request_size": max_request}
        self.partitions = partitions
        self.asked: list[str] = []

    def partitions_for(self, topic: str) -> set[int]:
        self.asked.append(topic)
        return set(range(self.partitions))


def record(key: str, payload: bytes, ts: int = 1_700_000_000_000, **kw: Any) -> StoredRecord:
    values: dict[str, Any] = {
        "stream": EVENTS,
        "key": key,
        "event_type": "CareStarted",
        "schema_version": 1,
        "payload": payload,
        "timestamp_ms": ts,
    }
    return StoredRecord(**{**values, **kw})


def kafka_python_batch(records: list[StoredRecord], compression: int = 0) -> bytes:
    """The batch kafka-python's producer builds for these records (`send` one by one)."""
    builder = MemoryRecordsBuilder(2, compression, 1 << 30)
    for r in records:
        headers = [
            (TYPE_HEADER, r.event_type.encode()),
            (VERSION_HEADER, str(r.schema_version).encode()),
        ]
        builder.append(r.timestamp_ms, r.key.encode(), r.payload, headers)
    builder.set_producer_state(4711, 3, 1000, False)
    builder.close()
    return bytes(builder.buffer())


def test_this_kafka_python_has_what_bulk_appends_use() -> None:
    assert bulk_supported()


#: One-byte, two-byte (8191 and -8192 are its last) and longer varints.
VARINTS = [
    0,
    1,
    -1,
    63,
    64,
    -64,
    -65,
    127,
    128,
    300,
    4500,
    8191,
    8192,
    -8192,
    -8193,
    2**31,
    -(2**40),
]


@pytest.mark.parametrize("n", VARINTS)
def test_varints_are_kafkas_zigzag_varints(n: int) -> None:
    expected = bytearray()
    encode_varint(n, expected.append)
    assert varint(n) == bytes(expected)


@pytest.mark.parametrize("key", ["0599", "0363", "0014", "unknown", "12345678", "ü"])
@pytest.mark.parametrize("count", [1, 2, 6, 7])
def test_partitions_are_the_default_partitioners(key: str, count: int) -> None:
    class Cluster:
        def topics(self) -> set[str]:
            return {"t"}

        def partitions_for_topic(self, topic: str) -> set[int]:
            return set(range(count))

        def available_partitions_for_topic(self, topic: str) -> set[int]:
            return set(range(count))

    raw = key.encode()
    expected = DefaultPartitioner().partition("t", key, raw, None, None, Cluster())
    assert partition_of(raw, list(range(count))) == expected


def test_a_batch_is_byte_for_byte_what_kafka_python_builds() -> None:
    producer = FakeProducer(partitions=1)
    records = [
        record("0599", b"\xc3\x01" + bytes(range(256)) * 3, ts=1_700_000_000_500),
        record("0599", b"", ts=1_700_000_000_000),  # older than the first: a negative delta
        record("0363", b"x" * 70_000, event_type="MessageReceived"),  # a 3-byte length
        record("unknown", b"r", stream=REJECTED, event_type="MessageRejected", schema_version=12),
    ]
    appender = BulkAppender(producer, TOPICS)
    sent = appender.send(records[:3])
    [batch] = [s.batch for s in sent]
    batch.records.set_producer_state(4711, 3, 1000, False)
    batch.records.close()
    assert bytes(batch.records.buffer()) == kafka_python_batch(records[:3])
    assert batch.record_count == 3
    assert batch.max_record_size > 70_000
    # A record of another stream goes to that stream's topic, headers and all.
    [rejected] = appender.send(records[3:])
    rejected.batch.records.set_producer_state(4711, 3, 1000, False)
    rejected.batch.records.close()
    assert rejected.batch.topic_partition.topic == "t.rejected"
    assert bytes(rejected.batch.records.buffer()) == kafka_python_batch(records[3:])


def test_compressed_batches_read_back_record_for_record() -> None:
    producer = FakeProducer(compression=1, partitions=1)  # gzip
    records = [record("0599", b"payload %d" % i * 50, ts=1_700_000_000_000 + i) for i in range(5)]
    [sent] = BulkAppender(producer, TOPICS).send(records)
    sent.batch.records.close()
    [batch] = list(MemoryRecords(bytes(sent.batch.records.buffer())))
    assert isinstance(batch, DefaultRecordBatch)
    assert batch.compression_type == 1
    read = list(batch)
    assert [(r.offset, r.timestamp, r.key, r.value) for r in read] == [
        (i, r.timestamp_ms, b"0599", r.payload) for i, r in enumerate(records)
    ]
    assert read[0].headers == [(TYPE_HEADER, b"CareStarted"), (VERSION_HEADER, b"1")]
    assert len(sent.batch.records.buffer()) < sum(len(r.payload) for r in records)


def test_records_go_to_their_keys_partition_in_order() -> None:
    producer = FakeProducer(partitions=6)
    keys = ["0599", "0363", "0014", "0599", "0200", "0363", "0599"]
    records = [record(k, f"{i}".encode()) for i, k in enumerate(keys)]
    sent = BulkAppender(producer, TOPICS).send(records)
    placed: dict[int, int] = {}
    for s in sent:
        for index in s.indices:
            placed[index] = s.batch.topic_partition.partition
        assert list(s.indices) == sorted(s.indices)  # append order within each partition
    assert sorted(placed) == list(range(len(records)))
    for index, key in enumerate(keys):
        assert placed[index] == partition_of(key.encode(), list(range(6)))
    # The batches wait in the producer's accumulator, as `send` would leave them.
    queued = [b for dq in producer._accumulator._batches.values() for b in dq]
    assert {id(b) for b in queued} == {id(s.batch) for s in sent}
    assert producer.asked == ["t.events"]  # the topic's metadata was asked for once


def test_large_appends_are_cut_into_batches_of_at_most_a_megabyte() -> None:
    producer = FakeProducer(partitions=1)
    payload = b"x" * 300_000
    records = [record("0599", payload) for _ in range(7)] + [
        record("0599", b"y" * (MAX_BATCH_BYTES + 10))  # larger than a batch: one of its own
    ]
    sent = BulkAppender(producer, TOPICS).send(records)
    assert [s.indices for s in sent] == [(0, 1, 2), (3, 4, 5), (6,), (7,)]
    for s in sent:
        s.batch.records.close()
        assert [r.offset for b in MemoryRecords(bytes(s.batch.records.buffer())) for r in b] == (
            list(range(len(s.indices)))
        )


def test_a_record_too_large_for_a_request_refuses_the_whole_append() -> None:
    producer = FakeProducer(max_request=10_000)
    records = [record("0599", b"x" * 100), record("0363", b"y" * 20_000)]
    with pytest.raises(kerrors.MessageSizeTooLargeError, match="max_request_size"):
        BulkAppender(producer, TOPICS).send(records)
    assert not any(producer._accumulator._batches.values())  # nothing queued, nothing sent


def test_a_closed_producer_takes_no_batches() -> None:
    producer = FakeProducer()
    producer._accumulator.close()
    with pytest.raises(kerrors.IllegalStateError):
        BulkAppender(producer, TOPICS).send([record("0599", b"x")])


def _sent(count: int) -> Sent:
    producer = FakeProducer(partitions=1)
    [sent] = BulkAppender(producer, TOPICS).send([record("0599", b"x")] * count)
    return sent


def test_an_acknowledged_batch_gives_each_record_its_offset() -> None:
    sent = _sent(3)
    sent.batch.complete(base_offset=41, log_append_time=-1)
    assert acknowledged(sent) == [41, 42, 43]


def test_a_failed_batch_raises_the_producers_error() -> None:
    sent = _sent(2)
    error = kerrors.NotEnoughReplicasError("1 of 2 in sync")
    sent.batch.complete_exceptionally(error, lambda index: error)
    with pytest.raises(kerrors.NotEnoughReplicasError):
        acknowledged(sent)
    aborted = _sent(1)
    aborted.batch.abort(kerrors.IllegalStateError("producer closed forcefully"))
    with pytest.raises(kerrors.IllegalStateError):
        acknowledged(aborted)


def test_an_unanswered_batch_is_a_timeout() -> None:
    with pytest.raises(kerrors.KafkaTimeoutError):
        acknowledged(_sent(1))
