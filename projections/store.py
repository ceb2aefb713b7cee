"""The projection store: a SQLite file of its own with the views and the projector's checkpoint.

Every save is one transaction that writes the changed groups' new facts, their arrangements
rows, the mismatches that changed, and the event-log position the projector has folded up to.
So after a crash (even SIGKILL) the file holds a view and the position it belongs to, never
one without the other, and the projector resumes exactly there. The tables are documented for
back-offices that query them directly in docs/projections.md. The file is derived data: it can
be deleted and rebuilt from the event log at any time, so it is written with
`synchronous=NORMAL` (WAL): a power cut may lose the last saves, never consistency.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from hub.errors import StoreError
from hub.records import EVENTS, Stream, StreamPosition
from projections.facts import FACT_COLUMNS, Fact, GroupKey, fact_of_row, fact_row
from projections.state import Changes, GroupState
from projections.views import ARRANGEMENT_COLUMNS, arrangement_row, iso_ms

SCHEMA_VERSION: Final = 1
DEFAULT_PATH: Final = "./.iwmo-hub/projections.db"
ENV_VAR: Final = "IWMO_HUB_PROJECTIONS"
_CHUNK: Final = 300

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS checkpoint (
        stream TEXT NOT NULL,
        partition_id INTEGER NOT NULL,
        next_offset INTEGER NOT NULL,
        PRIMARY KEY (stream, partition_id)
    )""",
    f"""CREATE TABLE IF NOT EXISTS facts (
        group_key TEXT NOT NULL,
        gemeente TEXT NOT NULL,
        aanbieder TEXT NOT NULL,
        toewijzing_nummer INTEGER,
        {", ".join(FACT_COLUMNS)}
    )""",
    # Also serves "every group of a gemeente (and aanbieder)": group keys start with them.
    "CREATE INDEX IF NOT EXISTS facts_by_group ON facts (group_key)",
    f"""CREATE TABLE IF NOT EXISTS arrangements (
        {", ".join(ARRANGEMENT_COLUMNS)},
        PRIMARY KEY (gemeente, aanbieder, toewijzing_nummer)
    )""",
    "CREATE INDEX IF NOT EXISTS arrangements_by_status ON arrangements (gemeente, status)",
    """CREATE TABLE IF NOT EXISTS mismatches (
        id TEXT PRIMARY KEY,
        code TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
        gemeente TEXT NOT NULL,
        aanbieder TEXT NOT NULL,
        toewijzing_nummer INTEGER,
        bsn_masked TEXT NOT NULL,
        message_ids TEXT NOT NULL,
        reason TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        resolved_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS mismatches_by_party ON mismatches (gemeente, aanbieder, status)",
    "CREATE INDEX IF NOT EXISTS mismatches_by_status ON mismatches (status, code)",
    """CREATE TABLE IF NOT EXISTS receipts (
        message_id TEXT PRIMARY KEY,
        codes TEXT NOT NULL
    )""",
)

_FACT_SELECT = ", ".join(FACT_COLUMNS)
_INSERT_FACT = (
    f"INSERT INTO facts (group_key, gemeente, aanbieder, toewijzing_nummer, {_FACT_SELECT})"
    f" VALUES ({', '.join('?' for _ in range(4 + len(FACT_COLUMNS)))})"
)
_UPSERT_ARRANGEMENT = (
    f"INSERT OR REPLACE INTO arrangements ({', '.join(ARRANGEMENT_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in ARRANGEMENT_COLUMNS)})"
)
# An update of a mismatch that is still open keeps the time it opened (opened_at NULL).
_UPSERT_MISMATCH = """INSERT INTO mismatches (id, code, status, gemeente, aanbieder,
    toewijzing_nummer, bsn_masked, message_ids, reason, opened_at, resolved_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(?, ''), ?)
    ON CONFLICT (id) DO UPDATE SET status = excluded.status,
        bsn_masked = excluded.bsn_masked, message_ids = excluded.message_ids,
        reason = excluded.reason,
        opened_at = CASE WHEN excluded.opened_at = '' THEN mismatches.opened_at
                         ELSE excluded.opened_at END,
        resolved_at = excluded.resolved_at"""


class ProjectionStoreError(StoreError):
    """The projection store could not be opened, read or written."""


def default_path(environ: Mapping[str, str] | None = None) -> str:
    """$IWMO_HUB_PROJECTIONS, else ./.iwmo-hub/projections.db."""
    env = os.environ if environ is None else environ
    return env.get(ENV_VAR, "").strip() or DEFAULT_PATH


class ProjectionStore:
    """The projection store on a SQLite file (or ':memory:')."""

    def __init__(self, path: str | Path = DEFAULT_PATH, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(
                self.path, timeout=busy_timeout_ms / 1000, isolation_level=None
            )
        except (OSError, sqlite3.Error) as e:
            raise ProjectionStoreError(f"cannot open the projection store {self.path}: {e}") from e
        try:
            self._setup()
        except sqlite3.Error as e:
            self.db.close()
            raise ProjectionStoreError(f"cannot set up {self.path}: {e}") from e

    def _setup(self) -> None:
        if self.path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ProjectionStoreError(
                f"{self.path} was written by a newer iwmo-hub (schema {version})"
            )
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # --- checkpoint and source --------------------------------------------------------------

    def position(self, stream: Stream = EVENTS) -> StreamPosition:
        """The event-log position the stored view includes (the beginning if none)."""
        rows = self.db.execute(
            "SELECT partition_id, next_offset FROM checkpoint WHERE stream = ?", (stream,)
        ).fetchall()
        return StreamPosition.of({int(p): int(o) for p, o in rows})

    def meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def bind_source(self, source: str) -> None:
        """Record which event log this store folds; refuse a different one (its positions
        would mean nothing there)."""
        known = self.meta("source")
        if known is None:
            self.db.execute("INSERT INTO meta (name, value) VALUES ('source', ?)", (source,))
        elif known != source:
            raise ProjectionStoreError(
                f"the projection store {self.path} holds the projection of {known}, not of"
                f" {source}; use another --projections file for that event store"
            )

    # --- the fold's working set ------------------------------------------------------------

    def load_groups(self, keys: Iterable[GroupKey]) -> dict[GroupKey, GroupState]:
        """The stored state of these groups (an empty state for a group never seen)."""
        wanted = {k.text(): k for k in keys}
        facts: dict[str, list[tuple[Fact, int]]] = {}
        texts = list(wanted)
        for i in range(0, len(texts), _CHUNK):
            chunk = texts[i : i + _CHUNK]
            rows = self.db.execute(
                f"SELECT group_key, {_FACT_SELECT} FROM facts WHERE group_key IN"
                f" ({','.join('?' for _ in chunk)})",
                chunk,
            )
            for row in rows:
                facts.setdefault(row[0], []).append(fact_of_row(row[1:]))
        calm = self._without_open_mismatches([wanted[t] for t in facts])
        return {
            key: GroupState(key, facts.get(text, ()), judged=key in calm)
            for text, key in wanted.items()
        }

    def _without_open_mismatches(self, keys: Sequence[GroupKey]) -> set[GroupKey]:
        """Which of these toewijzingen had no open mismatch when saved: their earlier
        judgement is known without deriving it again."""
        calm: set[GroupKey] = set()
        numbered = [k for k in keys if k.toewijzing_nummer is not None]
        for i in range(0, len(numbered), _CHUNK):
            chunk = numbered[i : i + _CHUNK]
            rows = self.db.execute(
                "SELECT gemeente, aanbieder, toewijzing_nummer FROM arrangements"
                " WHERE open_mismatches = 0 AND (gemeente, aanbieder, toewijzing_nummer) IN"
                f" (VALUES {','.join('(?, ?, ?)' for _ in chunk)})",
                [part for key in chunk for part in key[:3]],
            )
            calm.update(GroupKey(g, a, n) for g, a, n in rows)
        return calm

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE): a second projector on the same file
        waits here, then sees the position this one saved."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            raise ProjectionStoreError(f"cannot save to {self.path}: {e}") from e

    def save(
        self,
        changes: Changes,
        position: StreamPosition,
        updated_ms: dict[GroupKey, int],
        receipts: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
        stream: Stream = EVENTS,
    ) -> None:
        """Write what changed and the position it belongs to (inside `transaction`);
        `receipts`: per message, the retour codes of its lines that were not 0200."""
        if not self.db.in_transaction:
            raise ProjectionStoreError("save() needs an open transaction()")
        self._write(changes, updated_ms)
        if receipts:
            # A message split over two saves keeps the codes of both parts.
            self.db.executemany(
                "INSERT INTO receipts (message_id, codes) VALUES (?, ?) ON CONFLICT (message_id)"
                " DO UPDATE SET codes = json_patch(receipts.codes, excluded.codes)",
                [(m, json.dumps(codes, sort_keys=True)) for m, codes in receipts.items()],
            )
        self.db.executemany(
            "INSERT OR REPLACE INTO checkpoint (stream, partition_id, next_offset)"
            " VALUES (?, ?, ?)",
            [(stream, p, o) for p, o in position.offsets],
        )

    def _write(self, changes: Changes, updated_ms: dict[GroupKey, int]) -> None:
        facts_rows: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        gone: list[tuple[Any, ...]] = []
        rewrite: list[tuple[str]] = []
        for key, state in changes.groups.items():
            head = (key.text(), key.gemeente, key.aanbieder, key.toewijzing_nummer)
            if state.rewrite:
                rewrite.append(head[:1])
                written: Iterable[tuple[Fact, int]] = state.facts.items()
            else:
                written = state.new_facts
            facts_rows.extend((*head, *fact_row(f, ms)) for f, ms in written)
            state.saved()
            found = state.arrangement
            if found is not None:
                rows.append(arrangement_row(found, updated_ms[key], len(state.mismatches)))
            elif key.toewijzing_nummer is not None:
                gone.append(head[1:])
        if rewrite:
            self.db.executemany("DELETE FROM facts WHERE group_key = ?", rewrite)
        self.db.executemany(_INSERT_FACT, facts_rows)
        self.db.executemany(_UPSERT_ARRANGEMENT, rows)
        if gone:
            self.db.executemany(
                "DELETE FROM arrangements WHERE gemeente = ? AND aanbieder = ?"
                " AND toewijzing_nummer = ?",
                gone,
            )
        self.db.executemany(
            _UPSERT_MISMATCH,
            [
                (
                    m.mismatch.id,
                    m.mismatch.code,
                    m.status,
                    m.mismatch.gemeente,
                    m.mismatch.aanbieder,
                    m.mismatch.toewijzing_nummer,
                    m.mismatch.bsn_masked,
                    json.dumps(m.mismatch.message_ids),
                    m.mismatch.reason,
                    iso_ms(m.opened_ms),
                    iso_ms(m.resolved_ms),
                )
                for m in changes.mismatches.values()
            ],
        )

    # --- reading -----------------------------------------------------------------------------

    def receipt(self, message_id: str) -> dict[str, list[str]] | None:
        """The retour codes of a folded message's lines that were not 0200 (keyed by
        `projections.receipt.line_key`); None if the projection has not folded it."""
        row = self.db.execute(
            "SELECT codes FROM receipts WHERE message_id = ?", (message_id,)
        ).fetchone()
        if row is None:
            return None
        codes: dict[str, list[str]] = json.loads(row[0])
        return codes

    def groups_of(
        self, gemeente: str, aanbieder: str | None = None
    ) -> Iterator[tuple[GroupKey, list[tuple[Fact, int]]]]:
        """Every stored group's facts for a gemeente (and aanbieder), group by group."""
        # '}' sorts right after '|': the range holds exactly the keys with this prefix.
        prefix = f"{gemeente}|" if aanbieder is None else f"{gemeente}|{aanbieder}|"
        sql = f"SELECT group_key, {_FACT_SELECT} FROM facts WHERE group_key >= ? AND group_key < ?"
        key: str | None = None
        facts: list[tuple[Fact, int]] = []
        for row in self.db.execute(sql + " ORDER BY group_key", (prefix, prefix[:-1] + "}")):
            if row[0] != key:
                if key is not None:
                    yield GroupKey.parse(key), facts
                key, facts = row[0], []
            facts.append(fact_of_row(row[1:]))
        if key is not None:
            yield GroupKey.parse(key), facts

    def query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Rows of a read query, addressable by column name."""
        try:
            cursor = self.db.cursor()
            cursor.row_factory = sqlite3.Row
            rows: list[sqlite3.Row] = cursor.execute(sql, params).fetchall()
            return rows
        except sqlite3.Error as e:
            raise ProjectionStoreError(f"cannot read the projection store {self.path}: {e}") from e

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ProjectionStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
