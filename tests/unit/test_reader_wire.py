"""The reader process's batches made straight from decoded fields (`wire_batches`,
`row_of_data`) carry exactly what the batches made through events and facts (`decode_batch`)
carry: the same positions, groups and rows (marshal may share equal objects differently, so
the bytes themselves can differ)."""

from __future__ import annotations

import marshal
import os
import sys
from pathlib import Path

import pytest

from adapters.bootstrap import event_mapper
from hub.events import Omvang
from hub.records import EVENTS, StreamPosition
from projections.facts import fact_of, fact_row, row_of_data
from projections.reader import PIPE_BYTES, read_batches, widen_pipe, wire_batches
from tests.unit.projection_scenarios import assign, start, stop
from tests.unit.test_projection_store import HISTORY, log_of
from tests.unit.test_replay import ingest, traffic

EDGES = [
    assign("e1", product=None, reden="01", eind=None),
    assign("e2", nummer=7),
    start("e3", nummer=None, product=None, ingang=None),
    stop("e4", nummer=None, reden="20", status="3", ingang=None),
]


def test_rows_from_decoded_fields_equal_rows_from_facts() -> None:
    mapper = event_mapper()
    with_omvang = assign("e5").__class__
    events = [*HISTORY, *EDGES]
    events.append(
        with_omvang(
            **{**_fields(EDGES[1]), "omvang": Omvang(volume=3, eenheid="04", frequentie="2")}
        )
    )
    for i, event in enumerate(events):
        record = mapper.to_record(event, timestamp_ms=1_000 + i)
        found = fact_of(mapper.to_event(record))
        assert found is not None
        key, fact = found
        expected = (tuple(key), fact_row(fact, record.timestamp_ms))
        assert row_of_data(record.event_type, mapper.to_data(record), record.timestamp_ms) == (
            expected
        )


def test_wire_batches_equal_decoded_batches() -> None:
    log = log_of([*HISTORY, *EDGES])
    ingest(log, traffic(clients=15, seed=3))  # with MessageReceived records between them
    mapper = event_mapper()
    end = log.end_position(EVENTS)
    ours = list(wire_batches(log, mapper.to_data, StreamPosition(), end, 7))
    theirs = [b.wire() for b in read_batches(log, mapper.to_event, StreamPosition(), end, 7)]
    assert len(ours) > 3 and list(map(marshal.loads, ours)) == list(map(marshal.loads, theirs))
    limited = list(wire_batches(log, mapper.to_data, StreamPosition(), end, 4, max_records=10))
    assert list(map(marshal.loads, limited)) == [
        marshal.loads(b.wire())
        for b in read_batches(log, mapper.to_event, StreamPosition(), end, 4, 10)
    ]


def _fields(event: object) -> dict[str, object]:
    return {name: getattr(event, name) for name in event.__dataclass_fields__}  # type: ignore[attr-defined]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are Linux's")
def test_the_reader_pipe_holds_a_whole_batch() -> None:
    read, write = os.pipe()
    try:
        size = widen_pipe(write)
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        assert size == min(PIPE_BYTES, limit)
        data = b"x" * (size - 1)
        assert os.write(write, data) == len(data)  # without a reader: it fits
    finally:
        os.close(read)
        os.close(write)
