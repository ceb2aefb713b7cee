"""Replay throughput: a full rebuild (`iwmo-hub replay --into`) in events/s, and peak memory.

Fills an event log of `--small` and `--events` records (default 100,000 and 1,000,000) on the
embedded SQLite store and on Kafka (a broker started with scripts/kafka.py in a temp folder,
stopped by its PID at the end), with the client stories of benchmarks/project.py. Each
rebuild runs the real command line in a fresh child process; peak memory is the largest
resident set of that process and of its reader and writer processes. Beside it, in the same run,
the baseline of benchmarks/project.py: reading and decoding the same log, nothing folded.
Writes docs/benchmarks.md (section "replay") unless --no-write.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path
from typing import Any

sys.path.pop(0)  # benchmarks/ itself: its http.py would shadow the standard library's http
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, table, write_section
from benchmarks.project import fill, run_child


def child(argv: list[str]) -> int:
    """Run `iwmo-hub replay ARGV --format json` here; print its summary and peak memory."""
    import contextlib
    import io

    from adapters.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["replay", *argv, "--format", "json"])
    if code != 0:
        return code
    figures = json.loads(out.getvalue())
    own = resource.getrusage(resource.RUSAGE_SELF)
    helpers = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures["peak_mb"] = own.ru_maxrss / 1024
    figures["reader_peak_mb"] = helpers.ru_maxrss / 1024
    figures["cpu"] = own.ru_utime + own.ru_stime
    figures["helpers_cpu"] = helpers.ru_utime + helpers.ru_stime
    print(json.dumps(figures))
    return 0


def measure(store: str, tmp: Path, batch: int, workers: int) -> dict[str, Any]:
    into = tmp / f"replay-{uuid.uuid4().hex[:8]}.db"
    command = [sys.executable, __file__, "--child", "--store", store, "--into", str(into),
               "--batch-size", str(batch), "--workers", str(workers)]  # fmt: skip
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    figures["db_mb"] = into.stat().st_size / 2**20
    for leftover in tmp.glob(f"{into.name}*"):
        leftover.unlink()
    baseline = run_child("--read-only", store, "--batch-size", str(batch))
    figures["read_rate"] = baseline["records"] / baseline["seconds"]
    return figures


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="records in the big log")
    parser.add_argument("--small", type=int, default=100_000, help="records in the small log")
    parser.add_argument("--batch-size", type=int, default=5000, help="records per transaction")
    parser.add_argument("--workers", type=int, choices=(0, 1), default=1,
                        help="1: read and write in processes of their own (default)")  # fmt: skip
    parser.add_argument("--no-kafka", action="store_true", help="only the embedded store")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="iwmo-bench-replay-"))
    rows: list[tuple[str, int, dict[str, Any]]] = []
    sizes = sorted({args.small, args.events})
    load = [os.getloadavg()[0]]

    def run(label: str, make_store: Any) -> None:
        for count in sizes:
            store = make_store()
            print(f"{label}: writing {count:,} records took {fill(store, count, 1):.0f}s")
            f = measure(store, tmp, args.batch_size, args.workers)
            print(f"{label} {count:,}: {f['events_per_second']:,.0f} events/s in"
                  f" {f['seconds']:.1f}s, peak {f['peak_mb']:.0f} MB"
                  f" (reader {f['reader_peak_mb']:.0f} MB)", flush=True)  # fmt: skip
            rows.append((label, count, f))

    try:
        run("SQLite", lambda: f"sqlite:{tmp / f'events-{uuid.uuid4().hex[:8]}.db'}")
        if not args.no_kafka:
            from benchmarks.ingest import kafka_tool

            broker = kafka_tool().Broker(tmp / "broker", tied=True)
            broker.start(timeout=180)
            try:
                bootstrap = broker.bootstrap
                run(
                    "Kafka (6 partitions)",
                    lambda: f"kafka://{bootstrap}?prefix=b-{uuid.uuid4().hex[:8]}",
                )
            finally:
                broker.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load.append(os.getloadavg()[0])
    body = report(rows, args, load)
    print(body)
    if not args.no_write:
        write_section("replay", body)
    return 0


def report(
    rows: list[tuple[str, int, dict[str, Any]]], args: argparse.Namespace, load: list[float]
) -> str:
    about = (
        f"{machine()}, {os.cpu_count()} cores shared with other work (1-minute load average"
        f" {load[0]:.1f} at the start, {load[-1]:.1f} at the end); `python benchmarks/replay.py"
        f" --events {args.events} --small {args.small}`. `iwmo-hub replay --into` in a fresh"
        " child process rebuilds every view from the first event into an empty projection"
        f" store (batches of {args.batch_size:,}; reader and writer processes:"
        f" {'yes' if args.workers else 'no'}); events are every record of the log,"
        " MessageReceived included; seconds are the fold's, the digest after it not counted."
        " Baseline in the same run: reading and decoding the same log in one process, nothing"
        " folded. Peak memory: the largest resident set of the rebuilding process, and the"
        " larger of its reader's and writer's; CPU: seconds of the rebuilding process, and of"
        " reader and writer together."
    )
    return "\n".join(
        [
            "## Replay (`benchmarks/replay.py`)",
            "",
            textwrap.fill(about, width=96, break_on_hyphens=False),
            "",
            table(
                (
                    "event store",
                    "events",
                    "seconds",
                    "events/s",
                    "read+decode only, events/s",
                    "vs read+decode",
                    "peak memory",
                    "reader/writer peak",
                    "CPU s (fold / reader+writer)",
                    "projection file",
                ),
                [
                    (
                        store,
                        f"{count:,}",
                        f"{f['seconds']:.1f}",
                        f"{f['events_per_second']:,.0f}",
                        f"{f['read_rate']:,.0f}",
                        f"{f['events_per_second'] / f['read_rate']:.0%}",
                        f"{f['peak_mb']:.0f} MB",
                        f"{f['reader_peak_mb']:.0f} MB",
                        f"{f['cpu']:.0f} / {f['helpers_cpu']:.0f}",
                        f"{f['db_mb']:.0f} MB",
                    )
                    for store, count, f in rows
                ],
            ),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
