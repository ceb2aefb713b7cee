"""What one save writes to the projection store: rows built by the fold, SQL run by a writer.

A save is split in two so that the SQL can run in another process while the projector folds
the next batch (`projections.writer`): `rows_of` turns a batch's changes into plain rows
(strings, integers and None, so they cross a pipe as `marshal` data), and `write_rows` runs
them, inside the caller's transaction, against a connection. `ProjectionStore.save` does both
in one process. Each changed group is written once per save: its new facts, its arrangements
row (or its removal), the mismatches that changed, the receipts, and the checkpoint.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

from hub.records import EVENTS, Stream, StreamPosition
from projections.facts import FACT_COLUMNS
from projections.state import Changes
from projections.views import ARRANGEMENT_COLUMNS, arrangement_row, iso_ms, json_texts

Row = tuple[Any, ...]

FACT_SELECT: Final = ", ".join(FACT_COLUMNS)
_INSERT_FACT: Final = (
    f"INSERT INTO facts (group_key, gemeente, aanbieder, toewijzing_nummer, {FACT_SELECT})"
    f" VALUES ({', '.join('?' for _ in range(4 + len(FACT_COLUMNS)))})"
)
_ARRANGEMENT_KEY: Final = ("gemeente", "aanbieder", "toewijzing_nummer")
# An update in place (not INSERT OR REPLACE, which deletes the row and inserts it again, in
# the table and in both indexes).
_UPSERT_ARRANGEMENT: Final = (
    f"INSERT INTO arrangements ({', '.join(ARRANGEMENT_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in ARRANGEMENT_COLUMNS)})"
    f" ON CONFLICT ({', '.join(_ARRANGEMENT_KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in ARRANGEMENT_COLUMNS if c not in _ARRANGEMENT_KEY)
)
_DELETE_ARRANGEMENT: Final = (
    "DELETE FROM arrangements WHERE gemeente = ? AND aanbieder = ? AND toewijzing_nummer = ?"
)
# An update of a mismatch that is still open keeps the time it opened (opened_at NULL).
_UPSERT_MISMATCH: Final = """INSERT INTO mismatches (id, code, status, gemeente, aanbieder,
    toewijzing_nummer, bsn_masked, message_ids, reason, opened_at, resolved_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(?, ''), ?)
    ON CONFLICT (id) DO UPDATE SET status = excluded.status,
        bsn_masked = excluded.bsn_masked, message_ids = excluded.message_ids,
        reason = excluded.reason,
        opened_at = CASE WHEN excluded.opened_at = '' THEN mismatches.opened_at
                         ELSE excluded.opened_at END,
        resolved_at = excluded.resolved_at"""
# A message split over two saves keeps the codes of both parts.
_UPSERT_RECEIPT: Final = (
    "INSERT INTO receipts (message_id, codes) VALUES (?, ?) ON CONFLICT (message_id)"
    " DO UPDATE SET codes = json_patch(receipts.codes, excluded.codes)"
)
_SAVE_CHECKPOINT: Final = (
    "INSERT OR REPLACE INTO checkpoint (stream, partition_id, next_offset) VALUES (?, ?, ?)"
)


class Rows(NamedTuple):
    """The rows of one save, in the order `write_rows` writes them."""

    #: Groups whose stored facts are replaced (a fact's receipt time moved earlier).
    rewrite: list[tuple[str]]
    facts: list[Row]
    arrangements: list[Row]
    #: Arrangements to delete: (gemeente, aanbieder, ToewijzingNummer).
    gone: list[Row]
    mismatches: list[Row]
    receipts: list[tuple[str, str]]
    checkpoint: list[tuple[str, int, int]]

    def wire(self) -> tuple[list[Any], ...]:
        """Plain tuples and lists for `marshal` (which refuses tuple subclasses)."""
        return tuple(self)

    @classmethod
    def of_wire(cls, data: Sequence[list[Any]]) -> Rows:
        return cls(*data)


def rows_of(
    changes: Changes,
    position: StreamPosition,
    updated_ms: Mapping[Any, int],
    receipts: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    stream: Stream = EVENTS,
) -> Rows:
    """The rows that save `changes` and `position`; the changed groups count as saved after
    this (their new facts are in the rows). `updated_ms`: per group, the receipt time of its
    last event; `receipts`: per message, the retour codes of its lines that were not 0200."""
    facts: list[Row] = []
    arrangements: list[Row] = []
    gone: list[Row] = []
    rewrite: list[tuple[str]] = []
    for key, state in changes.groups.items():
        text = key.text()
        if state.rewrite:
            rewrite.append((text,))
        new = state.rows()
        if new:
            head = (text, key.gemeente, key.aanbieder, key.toewijzing_nummer)
            facts += [head + row for row in new]
        state.saved()
        found = state.arrangement
        if found is not None:
            arrangements.append(arrangement_row(found, updated_ms[key], len(state.mismatches)))
        elif key.toewijzing_nummer is not None:
            gone.append(key[:3])
    mismatches = [
        (
            m.mismatch.id,
            m.mismatch.code,
            m.status,
            m.mismatch.gemeente,
            m.mismatch.aanbieder,
            m.mismatch.toewijzing_nummer,
            m.mismatch.bsn_masked,
            json_texts(m.mismatch.message_ids),
            m.mismatch.reason,
            iso_ms(m.opened_ms),
            iso_ms(m.resolved_ms),
        )
        for m in changes.mismatches.values()
    ]
    return Rows(
        rewrite=rewrite,
        facts=facts,
        arrangements=arrangements,
        gone=gone,
        mismatches=mismatches,
        receipts=[
            (m, json.dumps(codes, sort_keys=True) if codes else "{}")
            for m, codes in (receipts or {}).items()
        ],
        checkpoint=[(stream, p, o) for p, o in position.offsets],
    )


def write_rows(db: sqlite3.Connection, rows: Rows) -> None:
    """Run one save's rows (inside the caller's transaction)."""
    if rows.rewrite:
        db.executemany("DELETE FROM facts WHERE group_key = ?", rows.rewrite)
    if rows.facts:
        db.executemany(_INSERT_FACT, rows.facts)
    if rows.arrangements:
        db.executemany(_UPSERT_ARRANGEMENT, rows.arrangements)
    if rows.gone:
        db.executemany(_DELETE_ARRANGEMENT, rows.gone)
    if rows.mismatches:
        db.executemany(_UPSERT_MISMATCH, rows.mismatches)
    if rows.receipts:
        db.executemany(_UPSERT_RECEIPT, rows.receipts)
    db.executemany(_SAVE_CHECKPOINT, rows.checkpoint)
