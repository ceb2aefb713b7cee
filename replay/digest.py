"""A content digest of a projection store's views, to tell whether two rebuilds agree.

Rows are hashed in sorted order (by every column), table by table, so the digest depends on
what the views hold, not on the order rows were written or on SQLite's page layout. Every
column counts: the `*_at` columns are receipt times taken from the event log, never the
projector's clock (docs/projections.md), so replaying the same log gives the same values. The
checkpoint and meta tables are left out: they say where a view came from, not what it holds.
"""

from __future__ import annotations

import hashlib
import json
from typing import Final

from projections.store import ProjectionStore

#: The view tables, in the order they are hashed.
VIEW_TABLES: Final = ("arrangements", "mismatches", "facts")


def table_digest(store: ProjectionStore, table: str) -> tuple[int, str]:
    """(row count, sha256) of one view table, its rows in the order of all their columns.

    SQLite sorts (spilling to temporary files when large) and rows are hashed as they are
    read, so memory stays flat however large the views grow.
    """
    if table not in VIEW_TABLES:
        raise ValueError(f"not a view table: {table!r}")
    width = len(store.db.execute(f"PRAGMA table_info({table})").fetchall())
    order = ", ".join(str(i) for i in range(1, width + 1))
    h = hashlib.sha256()
    count = 0
    for row in store.db.execute(f"SELECT * FROM {table} ORDER BY {order}"):  # a fixed name
        h.update(json.dumps(list(row), ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
        count += 1
    return count, h.hexdigest()


def digest(store: ProjectionStore) -> str:
    """sha256 over every view table's sorted rows: equal digests, equal views."""
    h = hashlib.sha256()
    for table in VIEW_TABLES:
        count, part = table_digest(store, table)
        h.update(f"{table}:{count}:{part}\n".encode())
    return h.hexdigest()
