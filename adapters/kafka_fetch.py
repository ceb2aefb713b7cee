"""Fetched record batches read in one tight loop, for the hub's Kafka readers.

kafka-python turns every fetched record into a `DefaultRecord` and then a `ConsumerRecord`,
decoding about eleven varints through a function call each: some 30 us a record, most of what
a Kafka reader of the event log spends. `install(consumer)` gives the consumer's fetcher a
`PartitionRecords` whose `_unpack_records` reads each v2 batch's records straight from the
batch's (decompressed) buffer and yields `Fetched` tuples, after the same CRC and control-batch
handling as kafka-python's. Fetch sessions, positions, pausing and errors stay kafka-python's.

It relies on kafka-python internals (3.0.x): `supported()` checks them, and `install` leaves a
consumer on kafka-python's own path when they are missing, or when the consumer deserialises
keys or values or reads committed transactions only (the hub's readers do neither).
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Final, NamedTuple

from kafka.consumer.fetcher import Fetcher
from kafka.errors import CorruptRecordError
from kafka.record.default_records import DefaultRecordBatch

log = logging.getLogger(__name__)

_NEEDED_BATCH: Final = (
    "_maybe_uncompress",
    "_buffer",
    "_pos",
    "base_offset",
    "first_timestamp",
    "max_timestamp",
    "timestamp_type",
    "records_count",
    "is_control_batch",
    "next_offset",
    "validate_crc",
    "magic",
    "leader_epoch",
    "size_in_bytes",
)
_LOG_APPEND_TIME: Final = 1


class Fetched(NamedTuple):
    """One fetched record, with the fields of kafka-python's `ConsumerRecord` the hub reads."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]


def supported() -> bool:
    """True when kafka-python's fetcher still has the shape `install` relies on."""
    base = getattr(Fetcher, "PartitionRecords", None)
    if base is None or not hasattr(base, "_unpack_records"):
        return False
    try:
        params = list(inspect.signature(base._unpack_records).parameters)
    except (TypeError, ValueError):
        return False
    if params != ["self", "tp", "records", "key_deserializer", "value_deserializer"]:
        return False
    slots = set(getattr(DefaultRecordBatch, "__slots__", ()))
    return all(hasattr(DefaultRecordBatch, n) or n in slots for n in _NEEDED_BATCH)


def install(consumer: Any) -> bool:
    """Have `consumer` read fetched batches with `FastPartitionRecords`; False if it cannot."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None or not supported() or FastPartitionRecords is None:
        return False
    config = getattr(fetcher, "config", {})
    if config.get("key_deserializer") or config.get("value_deserializer"):
        return False
    if str(config.get("isolation_level", "read_uncommitted")) != "read_uncommitted":
        return False
    fetcher.PartitionRecords = FastPartitionRecords
    return True


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint (int32 or int64) at `pos`, and the position after it."""
    result = 0
    shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
        if shift >= 70:
            raise CorruptRecordError("a varint longer than 10 bytes in a record batch")


def _headers(block: bytes) -> tuple[tuple[str, bytes | None], ...]:
    """A record's headers from the bytes after its value: count, then key and value each."""
    n, pos = _varint(block, 0)
    if n < 0:
        raise CorruptRecordError(f"a record with {n} headers")
    headers: list[tuple[str, bytes | None]] = []
    for _ in range(n):
        size, pos = _varint(block, pos)
        if size < 0:
            raise CorruptRecordError("a record header with a null key")
        name = block[pos : pos + size].decode("utf-8")
        pos += size
        size, pos = _varint(block, pos)
        if size >= 0:
            headers.append((name, block[pos : pos + size]))
            pos += size
        else:
            headers.append((name, None))
    if pos != len(block):
        raise CorruptRecordError(f"a record's headers end {len(block) - pos} bytes early")
    return tuple(headers)


#: Parsed header blocks by their bytes: the hub's records carry a handful of distinct header
#: sets (event type and schema version), so almost every record's headers are found here.
_HEADER_CACHE: dict[bytes, tuple[tuple[str, bytes | None], ...]] = {}
_HEADER_CACHE_MAX: Final = 1024


def parse_records(
    buf: bytes, pos: int, count: int, base_offset: int, base_timestamp: int, log_append: bool
) -> tuple[list[Fetched], int]:
    """The `count` records of a v2 batch whose records start at `pos` in `buf`.

    Record: length, attributes (int8), timestampDelta, offsetDelta, key, value, headers, all
    lengths and deltas zigzag varints. One-byte varints, by far the most common, are decoded
    inline; a record's header block (everything after its value) is parsed once per distinct
    block.
    """
    out: list[Fetched] = []
    append = out.append
    new = tuple.__new__
    varint = _varint
    cache = _HEADER_CACHE
    for _ in range(count):
        length, pos = varint(buf, pos)
        end = pos + length
        pos += 1  # attributes: unused in v2
        b = buf[pos]
        if b < 0x80:
            delta, pos = (b >> 1) ^ -(b & 1), pos + 1
        else:
            delta, pos = varint(buf, pos)
        timestamp = base_timestamp if log_append else base_timestamp + delta
        delta, pos = varint(buf, pos)
        offset = base_offset + delta
        b = buf[pos]
        if b < 0x80:
            size, pos = (b >> 1) ^ -(b & 1), pos + 1
        else:
            size, pos = varint(buf, pos)
        if size >= 0:
            key: bytes | None = buf[pos : pos + size]
            pos += size
        else:
            key = None
        size, pos = varint(buf, pos)
        if size >= 0:
            value: bytes | None = buf[pos : pos + size]
            pos += size
        else:
            value = None
        if pos > end or end > len(buf):
            raise CorruptRecordError(f"the record at offset {offset} overruns its length")
        block = buf[pos:end]
        headers = cache.get(block)
        if headers is None:
            headers = _headers(block)
            if len(cache) < _HEADER_CACHE_MAX:
                cache[block] = headers
        pos = end
        append(new(Fetched, (offset, timestamp, key, value, headers)))
    return out, pos


def _batch_records(batch: Any) -> list[Fetched]:
    """Every record of one (not control) v2 batch."""
    batch._maybe_uncompress()
    buf = batch._buffer
    if not isinstance(buf, bytes):
        buf = bytes(buf)
    log_append = batch.timestamp_type == _LOG_APPEND_TIME
    found, end = parse_records(
        buf,
        batch._pos,
        batch.records_count,
        batch.base_offset,
        batch.max_timestamp if log_append else batch.first_timestamp,
        log_append,
    )
    if end != len(buf):
        raise CorruptRecordError(f"{len(buf) - end} unread bytes after the records of a batch")
    return found


def _fast_partition_records() -> type | None:
    """kafka-python's PartitionRecords with `_unpack_records` reading batches in bulk."""
    base = getattr(Fetcher, "PartitionRecords", None)
    if base is None:
        return None

    class _FastPartitionRecords(base):  # type: ignore[misc, valid-type]
        """PartitionRecords whose records are `Fetched` tuples read batch by batch."""

        def _unpack_records(
            self, tp: Any, records: Any, key_deserializer: Any, value_deserializer: Any
        ) -> Any:
            try:
                batch = records.next_batch()
                last = None
                while batch is not None:
                    last = batch
                    if self.check_crcs and not batch.validate_crc():
                        raise CorruptRecordError(
                            f"record batch for {tp} at offset {batch.base_offset} failed its"
                            " CRC check"
                        )
                    if batch.magic != 2:  # message format v0/v1: kafka-python's own records
                        for record in batch:
                            if self.check_crcs and not record.validate_crc():
                                raise CorruptRecordError(
                                    f"record for {tp} at offset {record.offset} failed its CRC"
                                )
                            self.records_read += 1
                            self.bytes_read += record.size_in_bytes
                            self.next_fetch_offset = record.offset + 1
                            yield Fetched(
                                record.offset, record.timestamp, record.key, record.value, ()
                            )
                        batch = records.next_batch()
                        continue
                    self.leader_epoch = batch.leader_epoch
                    if not batch.is_control_batch:
                        for fetched in _batch_records(batch):
                            self.next_fetch_offset = fetched[0] + 1
                            yield fetched
                        self.records_read += batch.records_count
                        self.bytes_read += batch.size_in_bytes
                    self.next_fetch_offset = batch.next_offset
                    batch = records.next_batch()
                # v2 keeps a batch's last offset even when compaction removed its last record:
                # continue after the batch, not after its last record still there.
                if last is not None and last.magic == 2:
                    self.next_fetch_offset = last.next_offset
                self.drain()
            except StopIteration as e:  # would silently end the generator instead
                raise RuntimeError("StopIteration raised while reading a record batch") from e

    return _FastPartitionRecords


FastPartitionRecords: Final = _fast_partition_records() if supported() else None
