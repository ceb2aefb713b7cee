"""Replace the live projection store with a rebuilt one while intake goes on.

Readers find the projection store by a path (`--projections`, `$IWMO_HUB_PROJECTIONS`).
After a swap that path is a symbolic link to the rebuilt file, replaced in one `rename`
(atomic on POSIX): a reader that opens the path gets either the old file or the new one,
never neither, and SQLite follows the link to the real file (its -wal and -shm sit next to
it). Connections already open keep the old file until they reopen: the hub's long-running
users (`project --follow`, the API's readers and projector) notice the new target and reopen
(`adapters.live_projections`), going on from the new file's checkpoint. A live store that
was a plain file is kept as `<name>-previous-<time>.db`.

No event is missed or applied twice: the new store carries its own checkpoint, the swap
waits until it has caught up with the live end of the log, and whatever arrives after
that is folded by the next catch-up on the new file, from that checkpoint.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.eventlog import EventLog
from projections.projector import Progress, Projector
from projections.store import ProjectionStore
from replay.rebuild import backlog

#: Catch up again (outside the swap) while more than this many records are new.
CLOSE_ENOUGH = 1000


@dataclass(frozen=True, slots=True)
class SwapResult:
    """Where the live path points now, what it pointed to, and the catch-up it took."""

    live: str
    target: str
    previous: str | None
    caught_up: int
    rounds: int


def current_target(live: Path) -> Path | None:
    """The file the live path resolves to now (None if there is none)."""
    if live.is_symlink() or live.exists():
        return live.resolve()
    return None


def _plain_file(path: Path) -> bool:
    return path.exists() and not path.is_symlink()


def keep_plain_file(live: Path) -> Path:
    """Keep a live store that is a plain file under a second name (a hard link), its WAL
    checkpointed into it first, so the swap leaves the previous view on disk."""
    with sqlite3.connect(live, timeout=10) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    kept = live.with_name(f"{live.stem}-previous-{stamp}{live.suffix}")
    os.link(live, kept)
    return kept.resolve()


def point(live: Path, target: Path) -> None:
    """Make `live` a symlink to `target` in one atomic rename."""
    temporary = live.with_name(f".{live.name}.swap-{os.getpid()}")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    os.symlink(os.path.relpath(target.resolve(), live.parent.resolve()), temporary)
    os.replace(temporary, live)
    _fsync_dir(live.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def catch_up_and_swap(
    projector: Projector,
    log: EventLog,
    live: Path,
    *,
    max_rounds: int = 20,
    on_batch: Callable[[Progress], None] | None = None,
) -> SwapResult:
    """Fold new events into the projector's store until it is at (or close to) the live end,
    once more right before the switch, then point `live` at it."""
    store: ProjectionStore = projector.store
    target = Path(store.path)
    if target.resolve() == (current_target(live) or Path("/nonexistent")):
        raise ValueError(f"{live} already points to {target}")
    caught_up = rounds = 0
    while rounds < max_rounds:
        rounds += 1
        caught_up += projector.catch_up(on_batch=on_batch).records
        if backlog(log, store) <= CLOSE_ENOUGH:
            break
    # The last round runs right before the switch: what arrives after it is folded by the
    # next reader's catch-up from the new file's own checkpoint.
    caught_up += projector.catch_up(on_batch=on_batch).records
    # On disk before readers are pointed at it (a rebuild writes without fsync).
    store.sync()
    live.parent.mkdir(parents=True, exist_ok=True)
    previous = keep_plain_file(live) if _plain_file(live) else current_target(live)
    point(live, target)
    if previous is not None and previous != live:
        # A plain file's -wal and -shm are named after the live path; nothing uses them now
        # (SQLite follows the link to the new file's own), and they would confuse a later one.
        for suffix in ("-wal", "-shm"):
            live.with_name(live.name + suffix).unlink(missing_ok=True)
    return SwapResult(
        live=str(live),
        target=str(target.resolve()),
        previous=None if previous is None else str(previous),
        caught_up=caught_up,
        rounds=rounds + 1,
    )
