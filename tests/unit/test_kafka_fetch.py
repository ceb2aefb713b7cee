"""Fetched batches read in bulk (adapters.kafka_fetch) against kafka-python's own reading of
the same bytes: the same offsets, timestamps, keys, values and headers, the same positions
after partial takes, and the same refusals of corrupt data. No broker needed (the contract
suite reads through this path from a real one)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from kafka import TopicPartition
from kafka.consumer.fetcher import Fetcher
from kafka.errors import CorruptRecordError
from kafka.record.default_records import DefaultRecordBatch
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder

from adapters import kafka_fetch
from adapters.kafka_fetch import FastPartitionRecords, Fetched, install, parse_records, supported

GZIP = DefaultRecordBatch.CODEC_GZIP


def records(count: int, seed: int) -> list[tuple[int, bytes | None, bytes | None, list[Any]]]:
    """(timestamp, key, value, headers) with every shape a record can take: null keys and
    values, empty and long values (varints of several bytes), null header values."""
    rnd = random.Random(seed)
    made = []
    for i in range(count):
        key = None if i % 17 == 5 else f"{rnd.randrange(10**4):04d}".encode()
        size = rnd.choice([0, 1, 63, 64, 300, 9000, 70000])
        value = None if i % 23 == 7 else rnd.randbytes(size)
        headers = [("iwmohub.type", rnd.choice([b"CareStarted", b"AssignmentIssued"]))]
        headers += [("iwmohub.version", b"1")] if i % 5 else [("x", None), ("leeg", b"")]
        made.append((1_700_000_000_000 + rnd.randrange(-5000, 5000), key, value, headers))
    return made


def build(
    batches: list[list[tuple[int, bytes | None, bytes | None, list[Any]]]],
    compression: int = 0,
    base: int = 0,
) -> bytes:
    """Record batches (magic 2) as a fetch response carries them, back to back."""
    data = b""
    offset = base
    for batch in batches:
        builder = MemoryRecordsBuilder(2, compression, 1 << 26)
        for timestamp, key, value, headers in batch:
            builder.append(timestamp, key, value, headers)
        builder.close()
        raw = bytearray(builder.buffer())
        raw[0:8] = offset.to_bytes(8, "big")  # a broker assigns the base offset
        data += bytes(raw)
        offset += len(batch)
    return data


def theirs(data: bytes) -> list[Fetched]:
    """What kafka-python reads from `data`."""
    found = []
    for batch in MemoryRecords(data):
        for r in batch:
            found.append(Fetched(r.offset, r.timestamp, r.key, r.value, tuple(r.headers)))
    return found


def partition_records(cls: type, data: bytes, fetch_offset: int, crcs: bool = True) -> Any:
    return cls(fetch_offset, TopicPartition("t", 0), MemoryRecords(data), check_crcs=crcs)


def test_the_installed_kafka_python_has_what_the_fast_path_needs() -> None:
    assert supported() and FastPartitionRecords is not None


@pytest.mark.parametrize("compression", [0, GZIP])
def test_batches_read_as_kafka_python_reads_them(compression: int) -> None:
    data = build([records(200, 1), records(1, 2), records(90, 3)], compression, base=1000)
    ours = [r for batch in MemoryRecords(data) for r in kafka_fetch._batch_records(batch)]
    assert ours == theirs(data)
    assert [r.offset for r in ours] == list(range(1000, 1291))


def test_partial_takes_keep_the_position_kafka_python_keeps() -> None:
    data = build([records(120, 4), records(80, 5)], base=50)
    fast = partition_records(FastPartitionRecords, data, fetch_offset=60)
    slow = partition_records(Fetcher.PartitionRecords, data, fetch_offset=60)
    for n in (1, 7, 100, 50, 1000):
        mine, base = fast.take(n), slow.take(n)
        assert [(r.offset, r.key, r.value, tuple(r.headers)) for r in mine] == [
            (r.offset, r.key, r.value, tuple(r.headers)) for r in base
        ]
        assert fast.next_fetch_offset == slow.next_fetch_offset
    assert fast.next_fetch_offset == 250 and not fast and not slow  # both drained


def test_a_corrupt_batch_is_refused() -> None:
    data = bytearray(build([records(10, 6)]))
    data[-3] ^= 0xFF  # inside the last record: the batch CRC no longer matches
    with pytest.raises(CorruptRecordError, match="CRC"):
        partition_records(FastPartitionRecords, bytes(data), 0).take(100)


def test_a_record_that_overruns_its_length_is_refused() -> None:
    # A record claiming one byte less than it has: the header block cannot be parsed.
    ok = build([[(1, b"k", b"v", [("h", b"x")])]])
    batch = next(iter(MemoryRecords(ok)))
    batch._maybe_uncompress()
    buf = bytearray(bytes(batch._buffer))
    start = batch._pos
    assert buf[start] < 0x80
    buf[start] -= 2  # zigzag: length - 1
    with pytest.raises(CorruptRecordError):
        parse_records(bytes(buf), start, 1, 0, 0, False)


def test_install_leaves_deserialising_consumers_alone() -> None:
    class FakeFetcher:
        PartitionRecords = Fetcher.PartitionRecords

        def __init__(self, **config: Any) -> None:
            self.config = {"isolation_level": "read_uncommitted", **config}

    class FakeConsumer:
        def __init__(self, **config: Any) -> None:
            self._fetcher = FakeFetcher(**config)

    plain, decoding = FakeConsumer(), FakeConsumer(value_deserializer=bytes.decode)
    committed = FakeConsumer(isolation_level="read_committed")
    assert install(plain) and plain._fetcher.PartitionRecords is FastPartitionRecords
    assert not install(decoding) and decoding._fetcher.PartitionRecords is Fetcher.PartitionRecords
    assert not install(committed)
