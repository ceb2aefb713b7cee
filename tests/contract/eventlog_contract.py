"""The `EventLog` contract: every adapter must pass these very same tests.

Subclass `EventLogContract` (as `Test...`) and implement `create_log()`; it is called again in a
test to reopen the same storage (a new file handle, a new Kafka client). Records carry random
keys and payloads so nothing depends on state left by another test.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

import pytest

from hub.errors import StoreError
from hub.eventlog import EventLog
from hub.records import (
    EVENTS,
    REJECTED,
    RecordPosition,
    StoredRecord,
    Stream,
    StreamPosition,
)

DAY_MS = 24 * 3600 * 1000


def random_keys(count: int) -> list[str]:
    """Distinct four-digit gemeente-like codes, different in every test."""
    keys: set[str] = set()
    while len(keys) < count:
        keys.add(f"{uuid.uuid4().int % 10000:04d}")
    return sorted(keys)


def make_records(
    stream: Stream,
    keys: Sequence[str],
    per_key: int,
    *,
    timestamp_ms: int,
    tag: str = "",
) -> list[StoredRecord]:
    """`per_key` records for each key, interleaved; the payload says key, sequence and a tag."""
    run = uuid.uuid4().hex[:8]
    return [
        StoredRecord(
            stream=stream,
            key=key,
            event_type="TestEvent",
            schema_version=1,
            payload=f"{key}|{n}|{tag}|{run}".encode(),
            timestamp_ms=timestamp_ms + n,
        )
        for n in range(per_key)
        for key in keys
    ]


def by_key(records: Sequence[StoredRecord]) -> dict[str, list[StoredRecord]]:
    grouped: dict[str, list[StoredRecord]] = defaultdict(list)
    for record in records:
        grouped[record.key].append(record)
    return dict(grouped)


def written(records: Iterable[StoredRecord]) -> list[StoredRecord]:
    return [r.without_position() for r in records]


def position_of(record: StoredRecord) -> RecordPosition:
    assert record.position is not None, "a record read from the log must have a position"
    return record.position


def past_ms() -> int:
    """A timestamp a day ago: brokers refuse timestamps too far in the future."""
    return int(time.time() * 1000) - DAY_MS


class EventLogContract(ABC):
    """Behaviour every `EventLog` adapter guarantees."""

    @abstractmethod
    def create_log(self) -> EventLog:
        """A log on this test's own storage; a second call opens the same storage again."""

    @pytest.fixture
    def log(self) -> Iterator[EventLog]:
        opened = self.create_log()
        try:
            yield opened
        finally:
            opened.close()

    def test_empty_log_has_nothing_to_read(self, log: EventLog) -> None:
        for stream in (EVENTS, REJECTED):
            assert log.end_position(stream) == StreamPosition()
            assert list(log.read(stream)) == []
            assert list(log.read_since(stream, 0)) == []
            assert log.position_at(stream, 0) == StreamPosition()
            assert log.committed(stream, "nobody") == StreamPosition()
            assert list(log.consume(stream, "nobody")) == []
        assert log.append([]) == []

    def test_append_returns_a_position_per_record_and_read_returns_them(
        self, log: EventLog
    ) -> None:
        records = make_records(EVENTS, random_keys(3), 4, timestamp_ms=past_ms())
        positions = log.append(records)

        assert len(positions) == len(records)
        assert len(set(positions)) == len(records), "every record has its own position"
        read = list(log.read(EVENTS))
        assert sorted(written(read), key=records.index) == records
        stored_at = {r.payload: position_of(r) for r in read}
        assert [stored_at[r.payload] for r in records] == positions

    def test_records_with_the_same_key_keep_order_and_partition(self, log: EventLog) -> None:
        keys = random_keys(5)
        records = make_records(EVENTS, keys, 6, timestamp_ms=past_ms(), tag="a")
        records += make_records(EVENTS, keys, 6, timestamp_ms=past_ms(), tag="b")
        log.append(records[:25])
        log.append(records[25:])

        read = by_key(list(log.read(EVENTS)))
        expected = by_key(records)
        assert set(read) == set(keys)
        for key in keys:
            assert written(read[key]) == expected[key], f"history of key {key} out of order"
            positions = [position_of(r) for r in read[key]]
            assert len({p.partition for p in positions}) == 1, f"key {key} spread over partitions"
            assert positions == sorted(positions)

    def test_end_position_is_just_past_the_last_record(self, log: EventLog) -> None:
        positions = log.append(make_records(EVENTS, random_keys(4), 3, timestamp_ms=past_ms()))
        end = log.end_position(EVENTS)

        last: dict[int, int] = {}
        for p in positions:
            last[p.partition] = max(last.get(p.partition, -1), p.offset)
        assert end == StreamPosition.of(
            {partition: offset + 1 for partition, offset in last.items()}
        )
        assert all(end.includes(p) for p in positions)
        assert list(log.read(EVENTS, end)) == []

    def test_read_from_a_position_returns_only_later_records(self, log: EventLog) -> None:
        keys = random_keys(4)
        first = make_records(EVENTS, keys, 3, timestamp_ms=past_ms(), tag="first")
        second = make_records(EVENTS, keys, 3, timestamp_ms=past_ms(), tag="second")
        log.append(first)
        middle = log.end_position(EVENTS)
        log.append(second)

        later = list(log.read(EVENTS, middle))
        assert sorted(written(later), key=second.index) == second
        assert all(not middle.includes(position_of(r)) for r in later)

        # A position built record by record, as a projector does, resumes at the same place.
        position = StreamPosition()
        for record in log.read(EVENTS, limit=len(first)):
            position = position.after(position_of(record))
        rest = list(log.read(EVENTS, position))
        assert len(rest) == len(second)

    def test_read_until_and_limit(self, log: EventLog) -> None:
        keys = random_keys(3)
        first = make_records(EVENTS, keys, 2, timestamp_ms=past_ms())
        log.append(first)
        middle = log.end_position(EVENTS)
        log.append(make_records(EVENTS, keys, 2, timestamp_ms=past_ms()))

        assert sorted(written(log.read(EVENTS, until=middle)), key=first.index) == first
        assert len(list(log.read(EVENTS, limit=4))) == 4
        assert list(log.read(EVENTS, limit=0)) == []
        assert len(list(log.read(EVENTS, middle, limit=100))) == len(first)

    def test_read_since_a_timestamp(self, log: EventLog) -> None:
        keys = random_keys(3)
        start = past_ms()
        older = make_records(EVENTS, keys, 3, timestamp_ms=start)
        newer = make_records(EVENTS, keys, 3, timestamp_ms=start + 60_000)
        log.append(older)
        log.append(newer)

        since = list(log.read_since(EVENTS, start + 60_000))
        assert sorted(written(since), key=newer.index) == newer
        assert len(list(log.read_since(EVENTS, start))) == len(older) + len(newer)
        assert list(log.read_since(EVENTS, start + DAY_MS)) == []
        assert log.position_at(EVENTS, start + DAY_MS) == log.end_position(EVENTS)
        # A moment between two records of one key starts at the later one.
        between = list(log.read_since(EVENTS, start + 1))
        assert {r.payload for r in between} == {
            r.payload for r in older + newer if r.timestamp_ms >= start + 1
        }

    def test_consume_as_a_group_commits_and_resumes(self, log: EventLog) -> None:
        group = f"projector-{uuid.uuid4().hex[:8]}"
        records = make_records(EVENTS, random_keys(3), 3, timestamp_ms=past_ms())
        log.append(records)

        position = log.committed(EVENTS, group)
        seen: list[StoredRecord] = []
        for record in log.consume(EVENTS, group, limit=4):
            seen.append(record)
            position = position.after(position_of(record))
        assert len(seen) == 4
        log.commit(EVENTS, group, position)
        assert log.committed(EVENTS, group) == position

        rest = list(log.consume(EVENTS, group))
        assert len(rest) == len(records) - 4
        assert {r.payload for r in seen + rest} == {r.payload for r in records}
        for record in rest:
            position = position.after(position_of(record))
        log.commit(EVENTS, group, position)
        assert list(log.consume(EVENTS, group)) == []

        more = make_records(EVENTS, random_keys(2), 2, timestamp_ms=past_ms())
        log.append(more)
        assert sorted(written(log.consume(EVENTS, group)), key=more.index) == more

    def test_consume_stops_at_the_end_seen_when_it_started(self, log: EventLog) -> None:
        group = f"g-{uuid.uuid4().hex[:8]}"
        keys = random_keys(2)
        before = make_records(EVENTS, keys, 3, timestamp_ms=past_ms())
        log.append(before)

        consumed: list[StoredRecord] = []
        for record in log.consume(EVENTS, group):
            if not consumed:
                log.append(make_records(EVENTS, keys, 3, timestamp_ms=past_ms(), tag="late"))
            consumed.append(record)
        assert sorted(written(consumed), key=before.index) == before

    def test_groups_and_streams_have_their_own_positions(self, log: EventLog) -> None:
        log.append(make_records(EVENTS, random_keys(2), 2, timestamp_ms=past_ms()))
        log.append(make_records(REJECTED, random_keys(2), 1, timestamp_ms=past_ms()))
        end = log.end_position(EVENTS)
        log.commit(EVENTS, "first", end)

        assert log.committed(EVENTS, "first") == end
        assert log.committed(EVENTS, "second") == StreamPosition()
        assert log.committed(REJECTED, "first") == StreamPosition()
        assert len(list(log.consume(EVENTS, "second"))) == 4
        assert len(list(log.consume(REJECTED, "first"))) == 2

    def test_dead_letter_stream_is_separate(self, log: EventLog) -> None:
        accepted = make_records(EVENTS, random_keys(2), 2, timestamp_ms=past_ms())
        rejected = make_records(REJECTED, ["unknown", *random_keys(1)], 2, timestamp_ms=past_ms())
        mixed = [r for pair in zip(accepted, rejected, strict=True) for r in pair]
        positions = log.append(mixed)

        assert len(positions) == len(mixed)
        assert sorted(written(log.read(EVENTS)), key=accepted.index) == accepted
        assert sorted(written(log.read(REJECTED)), key=rejected.index) == rejected
        assert all(r.stream == REJECTED for r in log.read(REJECTED))

    def test_records_and_commits_survive_reopening(self, log: EventLog) -> None:
        records = make_records(EVENTS, random_keys(3), 2, timestamp_ms=past_ms())
        rejected = make_records(REJECTED, random_keys(1), 2, timestamp_ms=past_ms())
        log.append(records + rejected)
        first = next(iter(log.read(EVENTS)))
        log.commit(EVENTS, "durable", StreamPosition().after(position_of(first)))
        end = log.end_position(EVENTS)
        log.close()

        reopened = self.create_log()
        try:
            assert reopened.end_position(EVENTS) == end
            assert sorted(written(reopened.read(EVENTS)), key=records.index) == records
            assert sorted(written(reopened.read(REJECTED)), key=rejected.index) == rejected
            assert reopened.committed(EVENTS, "durable") == StreamPosition().after(
                position_of(first)
            )
            assert len(list(reopened.consume(EVENTS, "durable"))) == len(records) - 1
        finally:
            reopened.close()

    def test_a_payload_as_large_as_a_big_message(self, log: EventLog) -> None:
        # MessageReceived carries the submitted bytes; messages run to megabytes (OP179: 25 MB).
        big = uuid.uuid4().bytes * (3 * 1024 * 1024 // 16)
        record = StoredRecord(
            stream=EVENTS,
            key=random_keys(1)[0],
            event_type="TestEvent",
            schema_version=1,
            payload=big,
            timestamp_ms=past_ms(),
        )
        [position] = log.append([record])
        [read] = list(log.read(EVENTS))
        assert read.payload == big
        assert read.position == position

    def test_unknown_stream_or_group_is_a_programming_error(self, log: EventLog) -> None:
        with pytest.raises(ValueError, match="unknown stream"):
            list(log.read("audit"))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="group"):
            log.committed(EVENTS, "no spaces allowed")

    def test_a_closed_log_refuses_work(self, log: EventLog) -> None:
        log.close()
        with pytest.raises(StoreError, match="closed"):
            log.append(make_records(EVENTS, random_keys(1), 1, timestamp_ms=past_ms()))
        with pytest.raises(StoreError, match="closed"):
            log.end_position(EVENTS)
        log.close()  # closing twice is harmless
