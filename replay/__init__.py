"""The operator's side of the event log: rebuild, time travel, swap, re-validate, dead letters.

- `replay.rebuild`: rebuild the projections from the first event (or a position) into a fresh
  projection store, up to the end or to a moment (`--until`), all or one gemeente.
- `replay.digest`: a content digest of a store's views (equal digests: equal views).
- `replay.swap`: catch a rebuilt store up with the live log and switch readers atomically.
- `replay.revalidate`: every stored message through the current (or a candidate) rule set.
- `replay.deadletters`: rejected submissions listed, shown and redriven (outcome recorded).
- `replay.status`: each projection's lag and intake counts per gemeente.

Nothing here writes to the `events` stream; a redrive goes through the ingest service and
records its outcome on the dead-letter stream. See docs/operations.md.
"""

from __future__ import annotations

from replay.digest import digest
from replay.rebuild import RebuildResult, rebuild

__all__ = ["RebuildResult", "digest", "rebuild"]
