"""The projection store at a live path, reopened when `iwmo-hub replay --swap` replaces it.

A swap points the live path at a rebuilt file in one `rename` (see `replay.swap`). SQLite
connections opened before keep the file they opened, so every long-running user of the live
path (the API's readers, its in-process projector, `iwmo-hub project --follow`) holds a
`LiveProjections` and asks it for the store each time: when the path resolves to another
file than the open one, the old connection is closed and the new file opened. The new file
carries its own checkpoint, so a projector that reopens it neither misses nor repeats an event.
"""

from __future__ import annotations

from pathlib import Path

from projections.store import ProjectionStore
from replay.swap import current_target


class LiveProjections:
    """One connection to the projection store at `path`, following swaps of that path."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._store: ProjectionStore | None = None
        self._target: Path | None = None
        self.reopened = 0

    def _resolved(self) -> Path | None:
        return None if self.path == ":memory:" else current_target(Path(self.path))

    def swapped(self) -> bool:
        """True when the live path now names another file than the open connection's."""
        return self._store is not None and self._resolved() != self._target

    def get(self) -> ProjectionStore:
        """The open store, reopened first if the live path was swapped since it was opened."""
        if self._store is not None and not self.swapped():
            return self._store
        if self._store is not None:
            self._store.close()
            self._store = None
            self.reopened += 1
        # Resolve before opening: a swap in between is then seen as one at the next call.
        target = self._resolved()
        self._store = ProjectionStore(self.path)
        self._target = target
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
