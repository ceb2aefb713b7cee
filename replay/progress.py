"""The progress line of a replay on stderr: events done, events/s, time left."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from projections.projector import Progress


class ProgressLine:
    """Rewrites one line on a terminal; elsewhere prints a line every `every` seconds."""

    def __init__(
        self, total: int, label: str, stream: TextIO | None = None, every: float = 5.0
    ) -> None:
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = 0.2 if self.tty else every
        self._last = time.monotonic()
        self.shown = False

    def text(self, done: int, rate: float) -> str:
        left = (self.total - done) / rate if rate > 0 else 0.0
        pct = 100.0 * done / self.total if self.total else 100.0
        return (
            f"{self.label}: {done:,}/{self.total:,} events ({pct:.0f}%),"
            f" {rate:,.0f} events/s, {max(left, 0.0):,.0f}s left"
        )

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._last < self.every and progress.records < self.total:
            return
        self._last = now
        line = self.text(progress.records, progress.rate)
        self.stream.write(f"\r{line}" if self.tty else f"{line}\n")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()
