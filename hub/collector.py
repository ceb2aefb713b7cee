"""Fewer garbage collections while a bulk job runs: `fewer_collections(thresholds)`.

Bulk jobs allocate many short-lived container objects that hold no reference cycles, while
they keep many long-lived ones. With CPython's default thresholds (a young collection every
700 allocations) the collector keeps promoting the short-lived objects still in flight and
rescanning the long-lived ones, and finds next to nothing; reference counting frees what the
jobs drop. Two jobs raise the thresholds this way:

- a bulk ingest (`IngestService.ingest_many`, `bulk_collection`): up to a thousand messages in
  flight, each some thirty objects. At `BULK_YOUNG` most of them are freed before a young
  collection sees them: about 8 us less CPU per message in the ingesting process with two
  workers (four alternating pairs of 15,000-message ingests into Kafka, 2026-12-07);
- a projection's fold (`projections.reader.fewer_collections`), see there.

The few cycles made meanwhile wait for the first collection after the thresholds come back.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator
from typing import Final

#: Allocations between young collections during a bulk ingest (CPython's default is 700).
BULK_YOUNG: Final = 20_000


class _Scope:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.saved: tuple[int, int, int] | None = None


_SCOPE: Final = _Scope()


@contextlib.contextmanager
def fewer_collections(thresholds: tuple[int, int, int]) -> Iterator[None]:
    """Each collector threshold at least its value in `thresholds` (0: left as it is) while
    any user in the process is inside; the thresholds from before the first user come back
    when the last one leaves. A threshold is never lowered, and a collector switched off (a
    young threshold of 0) stays off."""
    with _SCOPE.lock:
        current = gc.get_threshold()
        if _SCOPE.users == 0:
            _SCOPE.saved = current
        if current[0] > 0:
            raised = tuple(
                max(now, wanted) for now, wanted in zip(current, thresholds, strict=True)
            )
            if raised != current:
                gc.set_threshold(*raised)
        _SCOPE.users += 1
    try:
        yield
    finally:
        with _SCOPE.lock:
            _SCOPE.users -= 1
            if _SCOPE.users == 0 and _SCOPE.saved is not None:
                gc.set_threshold(*_SCOPE.saved)
                _SCOPE.saved = None


def bulk_collection() -> contextlib.AbstractContextManager[None]:
    """Young collections every `BULK_YOUNG` allocations at least, for a bulk ingest."""
    return fewer_collections((BULK_YOUNG, 0, 0))
