"""The live projection path is followed across a swap: readers and followers reopen."""

from __future__ import annotations

import os
from pathlib import Path

from adapters.http.reads import ReadStores
from adapters.live_projections import LiveProjections
from projections.store import ProjectionStore


def _store_with_meta(path: Path, value: str) -> None:
    store = ProjectionStore(path)
    try:
        store.db.execute("CREATE TABLE IF NOT EXISTS probe (value TEXT)")
        store.db.execute("INSERT INTO probe VALUES (?)", (value,))
    finally:
        store.close()


def _probe(store: ProjectionStore) -> str:
    row = store.db.execute("SELECT value FROM probe").fetchone()
    return str(row[0])


def _swap(live: Path, target: Path) -> None:
    """As `replay --swap` does: a new link renamed over the live path in one step."""
    link = live.with_name(live.name + ".new")
    link.symlink_to(target)
    os.replace(link, live)


def test_a_swap_is_noticed_and_the_new_file_opened(tmp_path: Path) -> None:
    _store_with_meta(tmp_path / "a.db", "old")
    _store_with_meta(tmp_path / "b.db", "new")
    live_path = tmp_path / "live.db"
    live_path.symlink_to(tmp_path / "a.db")
    live = LiveProjections(live_path)
    try:
        first = live.get()
        assert _probe(first) == "old" and not live.swapped()
        assert live.get() is first  # no swap: the same connection
        _swap(live_path, tmp_path / "b.db")
        assert live.swapped()
        assert _probe(live.get()) == "new" and live.reopened == 1
        assert not live.swapped()
    finally:
        live.close()


def test_api_readers_follow_a_swap(tmp_path: Path) -> None:
    _store_with_meta(tmp_path / "a.db", "old")
    _store_with_meta(tmp_path / "b.db", "new")
    live_path = tmp_path / "live.db"
    live_path.symlink_to(tmp_path / "a.db")
    readers = ReadStores(str(live_path))
    assert _probe(readers.get()) == "old"
    _swap(live_path, tmp_path / "b.db")
    assert _probe(readers.get()) == "new"
