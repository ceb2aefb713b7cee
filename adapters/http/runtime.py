"""What an API process runs besides its routes: the hub, the writer, the followers.

    runtime = Runtime(ServerConfig(settings=HubSettings(), tokens=...), Metrics())
    runtime.start()          # returns at once; the store is opened in the background
    runtime.require_hub()    # the Hub, or a 503 ApiError while the store is unavailable
    runtime.stop()

The event store is opened by a background thread that retries until it succeeds, so the API
starts (and answers /healthz, /readyz and 503s) while Kafka is still coming up. The same thread
then keeps the message index current. With `run_projector`, a second thread folds the log into
the projection store, as `iwmo-hub project --follow` would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from adapters.bootstrap import Hub, open_hub, source_of
from adapters.http.auth import TokenRegistry
from adapters.http.index import MessageIndex
from adapters.http.logs import event
from adapters.http.metrics import Metrics
from adapters.http.models import ApiError
from adapters.http.writer import DEFAULT_LINGER_MS, BatchingWriter
from adapters.live_projections import LiveProjections
from hub.eventlog import EventLog
from hub.ingest import Clock, utc_now
from hub.ingest_events import Prepared, Preparer
from hub.records import EVENTS, StreamPosition
from hub.settings import HubSettings
from hub.validation import Validator
from projections.projector import Projector
from projections.store import default_path

log = logging.getLogger("iwmo_hub.http")

#: Seconds a client is told to wait before retrying when the store is unavailable.
RETRY_AFTER: Final = 5


@dataclass(frozen=True)
class ServerConfig:
    """Everything an API process is configured with."""

    tokens: TokenRegistry
    settings: HubSettings = field(default_factory=HubSettings)
    projections: str = field(default_factory=default_path)
    run_projector: bool = True
    poll_seconds: float = 0.5
    retry_after: int = RETRY_AFTER
    #: /readyz fails when the projection is further behind than this many records.
    max_lag: int = 100_000
    max_batch: int = 200
    #: How long a batch waits, at most, for posts still being validated (`BatchingWriter`).
    linger_ms: float = DEFAULT_LINGER_MS
    #: Processes that validate and encode posted messages (0: threads of this process).
    workers: int = 0
    #: Tests and the demo: an open log (the caller closes it), a validator, a clock.
    log: EventLog | None = None
    validator: Validator | None = None
    clock: Clock = utc_now


def unavailable(reason: str, retry_after: int) -> ApiError:
    return ApiError(503, "store_unavailable", reason, {"Retry-After": str(retry_after)})


def lag_between(end: StreamPosition, position: StreamPosition) -> int:
    """Records from `position` to `end`, summed over partitions."""
    return sum(max(0, o - position.next_offset(p)) for p, o in end.offsets)


class Runtime:
    """The hub of one API process and its background threads."""

    def __init__(self, config: ServerConfig, metrics: Metrics) -> None:
        self.config = config
        self.metrics = metrics
        self.index = MessageIndex()
        self.hub: Hub | None = None
        self.writer: BatchingWriter | None = None
        self.store_error: str | None = "not opened yet"
        self.projector_state: dict[str, Any] = {"running": False}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ready = threading.Event()
        self._pool: ProcessPoolExecutor | None = None
        # Without worker processes, posts are prepared in one thread of their own: validation
        # holds the interpreter lock (and lxml's parser lock) nearly all the time, so more
        # threads only contend (asyncio's default pool of six: about 10 % fewer posts/s).
        self._preparer = ThreadPoolExecutor(1, thread_name_prefix="iwmo-hub-prepare")

    @property
    def clock(self) -> Clock:
        return self.config.clock

    def start(self) -> None:
        """Start the background threads (once; the app's lifespan calls this too)."""
        if self._threads:
            return
        self._spawn("iwmo-hub-store", self._keep_store)
        if self.config.run_projector:
            self._spawn("iwmo-hub-projector", self._project)

    def wait_open(self, timeout: float) -> bool:
        """Wait until the store is open (tests, the demo); False on timeout."""
        return self._ready.wait(timeout)

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    async def prepare(self, hub: Hub, content: bytes) -> Prepared:
        """Validate and map one posted document off the event loop: in a worker process
        when `workers` is set (the second core does the validation), else in the preparing
        thread."""
        received_at = self.clock()
        loop = asyncio.get_running_loop()
        if self._pool is None:
            prepare = hub.ingest.preparer.prepare
            return await loop.run_in_executor(self._preparer, prepare, content, received_at)
        return await loop.run_in_executor(self._pool, _prepare_in_worker, content, received_at)

    def stop(self) -> None:
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._preparer.shutdown(wait=True, cancel_futures=True)
        if self.writer is not None:
            self.writer.stop()
        for thread in self._threads:
            thread.join(30)
        hub = self.hub
        if hub is not None:
            if self.config.log is None:
                hub.close()
            elif hub.workers is not None:
                hub.workers.close()  # the caller's log stays open

    def require_hub(self) -> tuple[Hub, BatchingWriter]:
        """The open hub and its writer, or a 503 that says why not."""
        hub, writer = self.hub, self.writer
        if hub is None or writer is None:
            reason = f"the event store is not available: {self.store_error}"
            raise unavailable(reason, self.config.retry_after)
        return hub, writer

    # --- the store thread: open, then keep the message index current -------------------------

    def _keep_store(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                if self.hub is None:
                    self._open()
                lag = self._follow_once()
                self.store_error = None
                self.metrics.store_up.set(1)
                self.metrics.index_lag.set(lag)
                backoff = 0.5
                self._stop.wait(self.config.poll_seconds)
            except Exception as e:  # the store failed; report, wait, try again
                self.store_error = f"{type(e).__name__}: {e}"
                self.metrics.store_up.set(0)
                event(log, logging.WARNING, "event store unavailable", error=self.store_error)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _open(self) -> None:
        config = self.config
        hub = open_hub(
            config.settings, log=config.log, validator=config.validator, clock=config.clock
        )
        try:
            hub.ingest.open()  # rebuild the TR056 index before the first message
        except BaseException:
            if config.log is None:
                hub.close()
            raise
        if config.workers:
            self._pool = ProcessPoolExecutor(
                config.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(hub.validator.today, hub.validator.max_bytes),
            )
        writer = BatchingWriter(
            hub.ingest.commit,
            max_batch=config.max_batch,
            on_batch=self.metrics.batch,
            linger_ms=config.linger_ms,
        )
        writer.start()
        self.hub, self.writer = hub, writer
        event(log, logging.INFO, "event store open", store=_safe_store(config))
        self._ready.set()

    def _follow_once(self) -> int:
        hub = self.hub
        assert hub is not None
        self.index.catch_up(hub.log, hub.mapper)
        return self.index.lag(hub.log)

    # --- the projector thread -----------------------------------------------------------

    def _project(self) -> None:
        backoff = 0.5
        live = LiveProjections(self.config.projections)
        projector: Projector | None = None
        try:
            while not self._stop.is_set():
                hub = self.hub
                if hub is None:
                    self._stop.wait(0.2)
                    continue
                try:
                    if projector is not None and live.swapped():
                        # `replay --swap` replaced the store: go on from the new file's checkpoint.
                        projector = None
                        event(log, logging.INFO, "projection store swapped; reopened")
                    store = live.get()
                    if projector is None:
                        source = source_of(self.config.settings)
                        projector = Projector(hub.log, store, hub.mapper.to_event, source=source)
                    projector.catch_up()
                    lag = lag_between(hub.log.end_position(EVENTS), store.position())
                    self.metrics.projection_lag.set(lag)
                    self.projector_state = {
                        "running": True,
                        "lag": lag,
                        "position": str(store.position()),
                        "error": None,
                    }
                    backoff = 0.5
                    # Also after a catch-up that folded something: each one costs the same
                    # reads of the log's end, a seek and a durable commit however little it
                    # folds, and it takes the interpreter lock from intake. Folding what came
                    # in the last `poll_seconds` at once served 50 clients 15 % faster
                    # (benchmarks/http.py); the views lag by at most about that much.
                    self._stop.wait(self.config.poll_seconds)
                except Exception as e:  # store or projection failure; keep trying
                    self.projector_state = {
                        **self.projector_state,
                        "error": f"{type(e).__name__}: {e}",
                    }
                    event(log, logging.WARNING, "projector failed", error=str(e))
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            live.close()


_WORKER: Preparer | None = None


def _init_worker(today: dt.date | None, max_bytes: int) -> None:
    """A worker process's own validator and mapper (loaded once, schemas compiled once)."""
    global _WORKER
    from adapters.bootstrap import event_mapper

    _WORKER = Preparer(Validator(today=today, max_bytes=max_bytes), event_mapper())


def _prepare_in_worker(content: bytes, received_at: dt.datetime) -> Prepared:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.prepare(content, received_at)


def _safe_store(config: ServerConfig) -> str:
    """The store URL for a log line (a Kafka URL names hosts only; SQLite a path)."""
    return config.settings.store if config.log is None else "(given)"
