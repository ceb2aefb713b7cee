"""Shared helpers for the benchmark scripts: timing, tables, and docs/benchmarks.md sections."""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
REFERENCE = REPO.parent / "shared" / "iwmo-reference" / "jaapjunior" / "packages" / "api" / "wmo"


def rate(items: Sequence[object], work: Callable[[object], object], *, min_seconds: float) -> float:
    """Items per second for `work` over `items`, repeated until at least `min_seconds` passed."""
    done = 0
    started = time.perf_counter()
    while True:
        for item in items:
            work(item)
        done += len(items)
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return done / elapsed


def interleaved(
    items: Sequence[object],
    methods: dict[str, Callable[[object], object]],
    *,
    rounds: int = 7,
    round_seconds: float = 0.3,
) -> dict[str, float]:
    """Items per second per method, measured in alternating rounds; the best round counts.

    Alternating the methods round by round exposes each to the same background load, and the
    best round is the least disturbed one, so the ratios between methods stay meaningful on a
    busy machine.
    """
    best = dict.fromkeys(methods, 0.0)
    for _ in range(rounds):
        for name, work in methods.items():
            best[name] = max(best[name], rate(items, work, min_seconds=round_seconds))
    return best


def process_cpu(pid: int | None) -> float | None:
    """User and system CPU seconds a live process has used so far (Linux /proc), None where
    that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}"


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section between `<!-- name:start -->` and `<!-- name:end -->`."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text}\n{block}\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
