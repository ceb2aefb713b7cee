"""Stored records and positions: the value types both event log adapters share."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.records import EVENTS, RecordPosition, StoredRecord, StreamPosition, positions_in

positions = st.dictionaries(st.integers(0, 20), st.integers(0, 10_000), max_size=6).map(
    StreamPosition.of
)


@given(positions)
def test_a_position_reads_back_from_its_text(position: StreamPosition) -> None:
    assert StreamPosition.parse(str(position)) == position


def test_unmentioned_partitions_start_at_zero_so_zeros_compare_equal() -> None:
    assert StreamPosition.of({0: 0, 3: 0}) == StreamPosition()
    assert StreamPosition.of({2: 5, 0: 1}) == StreamPosition(((0, 1), (2, 5)))
    assert StreamPosition.of({2: 5}).next_offset(7) == 0


@given(positions, st.integers(0, 20), st.integers(0, 10_000))
def test_after_moves_one_partition_forward_and_never_back(
    position: StreamPosition, partition: int, offset: int
) -> None:
    moved = position.after(RecordPosition(partition, offset))
    assert moved.next_offset(partition) == max(position.next_offset(partition), offset + 1)
    assert moved.includes(RecordPosition(partition, offset))
    assert moved.reached(position)
    for other in position.partitions():
        if other != partition:
            assert moved.next_offset(other) == position.next_offset(other)


def test_reached_is_per_partition() -> None:
    a = StreamPosition.of({0: 5, 1: 2})
    b = StreamPosition.of({0: 3, 1: 4})
    assert not a.reached(b) and not b.reached(a)
    assert StreamPosition.of({0: 5, 1: 4}).reached(a)
    assert a.reached(StreamPosition())


@pytest.mark.parametrize("text", ["0", "0:x", "a:1", "0:1,,1", "-1:3", "0:1;1:2"])
def test_malformed_position_text(text: str) -> None:
    with pytest.raises(ValueError, match="position"):
        StreamPosition.parse(text)


def test_invalid_positions_and_records_are_refused() -> None:
    with pytest.raises(ValueError):
        RecordPosition(-1, 0)
    with pytest.raises(ValueError, match="twice"):
        StreamPosition(((0, 1), (0, 2)))
    record = {"stream": EVENTS, "key": "0599", "event_type": "X", "schema_version": 1}
    with pytest.raises(ValueError, match="stream"):
        StoredRecord(**{**record, "stream": "audit"}, payload=b"", timestamp_ms=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="key"):
        StoredRecord(**{**record, "key": ""}, payload=b"", timestamp_ms=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="version"):
        StoredRecord(**{**record, "schema_version": 0}, payload=b"", timestamp_ms=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="1970"):
        StoredRecord(**record, payload=b"", timestamp_ms=-1)  # type: ignore[arg-type]


def test_a_payload_never_shows_in_a_repr() -> None:
    record = StoredRecord(
        stream=EVENTS,
        key="0599",
        event_type="X",
        schema_version=1,
        payload=b"<Bsn>",
        timestamp_ms=0,
    )
    assert "Bsn" not in repr(record)
    assert record.at(RecordPosition(0, 4)).without_position() == record


def test_positions_in_a_partition_equal_checked_ones_and_refuse_negatives() -> None:
    assert positions_in(3, [0, 7, 8]) == [
        RecordPosition(3, 0),
        RecordPosition(3, 7),
        RecordPosition(3, 8),
    ]
    assert hash(positions_in(1, [2])[0]) == hash(RecordPosition(1, 2))
    with pytest.raises(ValueError):
        positions_in(-1, [0])
    with pytest.raises(ValueError):
        positions_in(0, [1, -1])
