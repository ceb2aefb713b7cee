"""Writing the projection store in a second process while the projector folds the next batch.

SQLite's work for a save (inserting the facts, arrangements and receipts into their indexes,
committing) is a quarter to a third of the projector's time on a long backlog. A
`WriterProcess` runs it on another core: the projector sends each save's rows
(`projections.rows.Rows`, as `marshal` data) with the position the save expects to find, and
the writer runs each in one transaction of its own, in order, and acknowledges it.

The guarantees of a save in one process hold: each transaction writes the view and its
position together; the writer checks, under the write lock, that the store is still at the
position the projector folded from, and if another projector has saved meanwhile it refuses
that save and every later one (the projector then folds those batches again from what is
stored). If the projector dies (even by SIGKILL), the writer dies with it (Linux:
PR_SET_PDEATHSIG; elsewhere it finds the pipe closed) and SQLite rolls back the transaction it
was in.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import multiprocessing
import os
from multiprocessing.connection import Connection
from typing import Any, Final

from hub.records import StreamPosition
from projections.reader import FOLD_GC_THRESHOLDS, die_with
from projections.rows import Rows
from projections.store import ProjectionStore, ProjectionStoreError

#: Acknowledgements: the save was written, refused (the store was not at the expected
#: position), or failed (the writer then writes nothing more).
WRITTEN: Final = "written"
REFUSED: Final = "refused"
FAILED: Final = "failed"
#: How much the writer process lowers its priority (`os.nice`): see `_writer`.
WRITER_NICE: Final = 10


def _writer(parent: int, pipe: Connection, path: str, unsynced: bool) -> None:
    """The writer process: write each save it is sent, acknowledge it; stop at an empty
    message or when the projector is gone. After a failure it reports the failure and reads
    on until the projector says stop (so the projector never blocks on a full pipe)."""
    die_with(parent)
    gc.set_threshold(*FOLD_GC_THRESHOLDS)  # this process only writes rows it is sent
    # The fold is the critical path of the three processes on two cores; the writer may fall
    # up to `projector.IN_FLIGHT` saves behind and catches up while the fold waits for the
    # reader. At the same priority it takes the fold's core instead (a 1,000,000-record
    # fold: 61 s at nice 0, 55-57 s at nice 8-19).
    with contextlib.suppress(OSError, AttributeError):  # no os.nice on Windows
        os.nice(WRITER_NICE)
    try:
        try:
            _write_all(pipe, path, unsynced)
        except (BrokenPipeError, EOFError, ConnectionResetError):
            return  # the projector is gone
        except Exception as e:  # reported to the projector, which raises it there
            pipe.send_bytes(marshal.dumps((-1, FAILED, f"{type(e).__name__}: {e}")))
            while pipe.recv_bytes():
                pass
    except (OSError, EOFError):
        return
    finally:
        pipe.close()


def _write_all(pipe: Connection, path: str, unsynced: bool) -> None:
    refused = False
    with ProjectionStore(path) as store:
        if unsynced:  # the projector flushes the file when it is done
            store.db.execute("PRAGMA synchronous=OFF")
        while data := pipe.recv_bytes():
            seq, expected, rows = marshal.loads(data)
            if not refused:
                with store.transaction():
                    refused = store.position().offsets != expected
                    if not refused:
                        store.write(Rows.of_wire(rows))
            pipe.send_bytes(marshal.dumps((seq, REFUSED if refused else WRITTEN, "")))


class WriterError(ProjectionStoreError):
    """The writer process failed or disappeared."""


class WriterProcess:
    """Writes saves in a second process, in the order they are sent; a context manager."""

    def __init__(self, path: str, *, unsynced: bool = False) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        self._pipe, theirs = context.Pipe(duplex=True)
        self._process = context.Process(
            target=_writer,
            args=(os.getpid(), theirs, path, unsynced),
            name="iwmo-hub-projector-writer",
            daemon=True,
        )
        self._process.start()
        theirs.close()
        self._sent = 0
        #: Saves acknowledged so far (each is written, or refused).
        self.done = 0
        #: The first save the writer refused, if any (it refuses all later ones too).
        self.refused: int | None = None

    @property
    def pending(self) -> int:
        """Saves sent and not acknowledged yet."""
        return self._sent - self.done

    def send(self, expected: StreamPosition, rows: Rows) -> int:
        """Queue a save that expects the store at `expected`; returns its number (1, 2, ...)."""
        self._sent += 1
        try:
            self._pipe.send_bytes(marshal.dumps((self._sent, expected.offsets, rows.wire())))
        except OSError as e:
            raise WriterError(f"the writer process is gone: {e}") from None
        return self._sent

    def settle(self, *, wait_for: int = 0) -> None:
        """Take the acknowledgements that have come; wait until at most `wait_for` saves are
        pending."""
        while self.pending and (self.pending > wait_for or self._pipe.poll()):
            try:
                seq, outcome, why = marshal.loads(self._pipe.recv_bytes())
            except (EOFError, OSError):
                raise WriterError("the writer process stopped without finishing") from None
            if outcome == FAILED:
                raise WriterError(f"writing the projection store failed: {why}")
            if outcome == REFUSED and self.refused is None:
                self.refused = seq
            self.done = seq

    def close(self) -> None:
        """Let the writer finish what it was sent, then stop it."""
        with contextlib.suppress(OSError):
            self._pipe.send_bytes(b"")
        with contextlib.suppress(WriterError):
            self.settle()
        self._pipe.close()
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def __enter__(self) -> WriterProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ["REFUSED", "WRITTEN", "WriterError", "WriterProcess"]
