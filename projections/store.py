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
from typing import Final

from hub.errors import StoreError
from hub.records import EVENTS, Stream, StreamPosition
from projections.facts import FACT_COLUMNS, Fact, GroupKey, fact_of_row
from projections.rows import FACT_SELECT, Rows, rows_of, write_rows
from projections.state import Changes, GroupState
from projections.views import ARRANGEMENT_COLUMNS

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
    # Without rowid: one B-tree keyed by message id instead of a table and an index on it.
    """CREATE TABLE IF NOT EXISTS receipts (
        message_id TEXT PRIMARY KEY,
        codes TEXT NOT NULL
    ) WITHOUT ROWID""",
)


class ProjectionStoreError(StoreError):
    """The projection store could not be opened, read or written."""


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def default_path(environ: Mapping[str, str] | None = None) -> str:
    """$IWMO_HUB_PROJECTIONS, else ./.iwmo-hub/projections.db."""
    env = os.environ if environ is None else environ
    return env.get(ENV_VAR, "").strip() or DEFAULT_PATH


class ProjectionStore:
    """The projection store on a SQLite file (or ':memory:')."""

    def __init__(self, path: str | Path = DEFAULT_PATH, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = str(path)
        self._unsynced = 0
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
        # The fold keeps the groups it works on in memory and reads the rest rarely; a bigger
        # page cache made no difference to its speed on a 250 MB file, only to its memory.
        self.db.execute("PRAGMA cache_size=-16384")  # 16 MiB of page cache
        # Checkpoint the WAL every 40 MB rather than every 4 MB: pages that every save
        # changes (index pages) are copied into the file less often. The WAL file is cut back
        # to 64 MB after a checkpoint.
        self.db.execute("PRAGMA wal_autocheckpoint=10000")
        self.db.execute("PRAGMA journal_size_limit=67108864")
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
                f"SELECT group_key, {FACT_SELECT} FROM facts WHERE group_key IN"
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
    def unsynced(self) -> Iterator[None]:
        """Write without waiting for the disk (synchronous=OFF) for a bulk load such as a
        rebuild, then make the file durable (`sync`).

        A process killed meanwhile loses nothing (the operating system has every page it
        wrote, and each save is still one transaction); only a power cut or an OS crash could
        damage the file, which is derived data that a rebuild makes again.
        """
        self._unsynced += 1
        if self._unsynced == 1:
            self.db.execute("PRAGMA synchronous=OFF")
        try:
            yield
        finally:
            self._unsynced -= 1
            if self._unsynced == 0:
                self.db.execute("PRAGMA synchronous=NORMAL")
        if self._unsynced == 0:
            self.sync()

    @property
    def is_unsynced(self) -> bool:
        """True inside `unsynced` (a second connection that writes for it can do the same)."""
        return self._unsynced > 0

    def sync(self) -> None:
        """Make every committed save durable: the WAL checkpointed into the file as far as
        readers allow, and the file, the WAL and the folder flushed to disk."""
        if self.path == ":memory:":
            return
        try:
            # PASSIVE: never waits for readers (what a reader still needs stays in the WAL,
            # which is flushed too).
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            for name in (self.path, f"{self.path}-wal"):
                with contextlib.suppress(FileNotFoundError):
                    _fsync(name)
            _fsync(str(Path(self.path).resolve().parent))
        except (OSError, sqlite3.Error) as e:
            raise ProjectionStoreError(f"cannot flush {self.path} to disk: {e}") from e

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
        self.write(rows_of(changes, position, updated_ms, receipts, stream))

    def write(self, rows: Rows) -> None:
        """Write one save's rows (inside `transaction`)."""
        if not self.db.in_transaction:
            raise ProjectionStoreError("a save needs an open transaction()")
        write_rows(self.db, rows)

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
        sql = f"SELECT group_key, {FACT_SELECT} FROM facts WHERE group_key >= ? AND group_key < ?"
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
