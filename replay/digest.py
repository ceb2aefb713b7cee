"""A content digest of a projection store's views, to tell whether two rebuilds agree.

Each row is hashed on its own (every column, as JSON) and a table's digest is the sum of its
rows' hashes modulo 2**256: a digest of the multiset of rows, so it depends on what the views
hold, not on the order rows were written or on SQLite's page layout, and the tables are read
in storage order without sorting, with memory flat however large the views grow. Every column
counts: the `*_at` columns are receipt times taken from the event log, never the projector's
clock (docs/projections.md), so replaying the same log gives the same values. The checkpoint
and meta tables are left out: they say where a view came from, not what it holds.
"""

from __future__ import annotations

import hashlib
import json
from typing import Final

from projections.store import ProjectionStore

#: The view tables, in the order they are hashed.
VIEW_TABLES: Final = ("arrangements", "mismatches", "facts")
_MODULUS: Final = 2**256


def table_digest(store: ProjectionStore, table: str) -> tuple[int, str]:
    """(row count, digest) of one view table: the sum of its rows' sha256 modulo 2**256."""
    if table not in VIEW_TABLES:
        raise ValueError(f"not a view table: {table!r}")
    sha256, dumps, number = hashlib.sha256, json.dumps, int.from_bytes
    total = 0
    count = 0
    for row in store.db.execute(f"SELECT * FROM {table}"):  # a fixed name
        line = dumps(row, ensure_ascii=False).encode("utf-8")
        total += number(sha256(line).digest(), "big")
        count += 1
    return count, f"{total % _MODULUS:064x}"


def digest(store: ProjectionStore) -> str:
    """sha256 over every view table's row count and digest: equal digests, equal views."""
    h = hashlib.sha256()
    for table in VIEW_TABLES:
        count, part = table_digest(store, table)
        h.update(f"{table}:{count}:{part}\n".encode())
    return h.hexdigest()
