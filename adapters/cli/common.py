"""Helpers shared by the CLI commands: file discovery, progress, output formats."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem with what the user asked for (exit code 2)."""


def add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="output format: text for people, json for scripts (default: text)",
    )


def iter_message_files(paths: Iterable[str]) -> Iterator[Path]:
    """Files named on the command line, and every *.xml below named directories, sorted."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and _is_xml(p))
        elif path.is_file():
            yield path
        else:
            raise UsageError(f"no such file or directory: {raw}")


def _is_xml(path: Path) -> bool:
    return path.suffix.lower() == ".xml" and not path.name.startswith(".")


class Progress:
    """A one-line progress meter on stderr, shown only when stderr is a terminal."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = total >= 50 and self.stream.isatty()
        self.started = time.monotonic()
        self.done = 0
        self._last = 0.0

    def step(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.2 and self.done < self.total):
            return
        self._last = now
        rate = self.done / max(now - self.started, 1e-9)
        left = (self.total - self.done) / rate if rate else 0.0
        self.stream.write(
            f"\r{self.label}: {self.done:,}/{self.total:,} ({rate:,.0f}/s, {left:,.0f}s left)"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
