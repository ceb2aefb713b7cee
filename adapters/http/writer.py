"""Group commit: concurrent submissions share one `append`, each answered after its batch.

Requests prepare (validate, encode) their message in parallel and hand the `Prepared` to one
writer thread. While an append is in flight the next submissions queue up; the writer then
takes all of them (up to `max_batch`) into the next `IngestService.commit`, so fifty
concurrent posts cost a few appends instead of fifty. A future is resolved only with the
result of the commit its message was in: accepted means the store confirmed that batch. A full
queue refuses at once (the caller answers 503).

Every append costs the Kafka client about the same CPU whatever its size (about 1.3 ms here),
so under load the writer lingers: while submissions are still being prepared (`preparing`:
validated and mapped, not yet submitted) it waits up to `linger_ms` for them to join the batch.
A lone request is never held: with nothing in preparation the batch goes at once.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import Final

from hub.ingest import FAILED, IngestResult
from hub.ingest_events import Prepared

log = logging.getLogger(__name__)

Commit = Callable[[Sequence[Prepared]], list[IngestResult]]
DEFAULT_MAX_BATCH: Final = 200
DEFAULT_MAX_QUEUE: Final = 5_000
#: How long a batch waits, at most, for submissions still being prepared (milliseconds). On
#: the HTTP benchmark (50 clients, Kafka) 5 ms made the mean batch half as large again and
#: raised the rate by 15-20 %; a lone request never waits.
DEFAULT_LINGER_MS: Final = 5.0


class QueueFull(Exception):
    """More submissions are waiting than the writer accepts; try again later."""


class BatchingWriter:
    """One thread that commits queued submissions in batches."""

    def __init__(
        self,
        commit: Commit,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_queue: int = DEFAULT_MAX_QUEUE,
        on_batch: Callable[[int, float], None] | None = None,
        linger_ms: float = DEFAULT_LINGER_MS,
    ) -> None:
        if max_batch < 1 or max_queue < 1 or linger_ms < 0:
            raise ValueError("max_batch and max_queue must be at least 1, linger_ms at least 0")
        self._commit = commit
        self.max_batch = max_batch
        self.linger = linger_ms / 1000
        #: Submissions being prepared (`preparing`); only the event loop's thread changes it.
        self._preparing = 0
        self._queue: queue.Queue[tuple[Prepared, Future[IngestResult]] | None] = queue.Queue(
            max_queue
        )
        self._on_batch = on_batch
        self._thread = threading.Thread(target=self._run, name="iwmo-hub-writer", daemon=True)
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def submit(self, prepared: Prepared) -> Future[IngestResult]:
        """Queue one prepared submission; its future resolves once its batch is committed."""
        future: Future[IngestResult] = Future()
        try:
            self._queue.put_nowait((prepared, future))
        except queue.Full:
            raise QueueFull(f"{self._queue.maxsize} submissions are waiting to be stored") from None
        return future

    @contextlib.contextmanager
    def preparing(self) -> Iterator[None]:
        """Count a submission as on its way for as long as the block runs (wrap reading,
        validating and `submit`): a batch lingers for those."""
        self._preparing += 1
        try:
            yield
        finally:
            self._preparing -= 1

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then end the thread."""
        if self._started:
            self._queue.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            deadline: float | None = None
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    if self._preparing <= 0 or self.linger <= 0:
                        break
                    # Submissions are on their way: give them until the deadline to join.
                    if deadline is None:
                        deadline = time.monotonic() + self.linger
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        item = self._queue.get(timeout=remaining)
                    except queue.Empty:
                        break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[tuple[Prepared, Future[IngestResult]]]) -> None:
        started = time.perf_counter()
        try:
            results = self._commit([prepared for prepared, _ in batch])
        except Exception as e:  # never leave a request waiting for ever
            log.exception("commit of %d submissions failed", len(batch))
            detail = f"the store did not confirm the batch: {type(e).__name__}"
            results = [
                IngestResult(FAILED, p.message_id, p.header.message_type, detail=detail)
                for p, _ in batch
            ]
        if self._on_batch is not None:
            self._on_batch(len(batch), time.perf_counter() - started)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.cancelled():
                future.set_result(result)
