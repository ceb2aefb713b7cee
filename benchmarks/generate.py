"""Generator throughput and memory: `iwmo-hub generate` at about 100,000 and 1,000,000 messages.

Each size runs in a fresh process (so its peak RSS is its own) and writes every message file,
manifest.jsonl and expected.json to a temporary directory, which is removed afterwards. Both
sizes keep the same intake of clients per month and differ in length (1 and 10 years): memory
holds the cases that are open, so it should level off rather than grow with the run.

    python benchmarks/generate.py              # 100k only
    python benchmarks/generate.py --million    # 100k and 1M (several minutes, ~2.5 GB of files)

Prints messages/s and peak RSS, and writes them to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.pop(0)  # benchmarks/ itself: its http.py would shadow the standard library's http
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, table, write_section

#: name -> (clients, months): 1,500 new clients a month in 10 gemeenten with 50 aanbieders.
SIZES = {"100k": (18_000, 12), "1M": (180_000, 120)}


def child(clients: int, months: int, out: Path, seed: int) -> None:
    """One run in this process; prints its figures as JSON."""
    from adapters.cli.generate import write_run
    from hub.generator import GeneratorConfig

    config = GeneratorConfig(
        gemeenten=10, aanbieders=50, clients=clients, months=months, seed=seed, anomaly_rate=0.02
    )
    started = time.perf_counter()
    summary = write_run(config, out)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    size = sum(p.stat().st_size for p in (out / "messages").iterdir())
    print(
        json.dumps(
            {
                "messages": summary["messages"],
                "seconds": seconds,
                "rate": summary["messages"] / seconds,
                "peak_rss_mb": peak_kb / 1024,
                "bytes": size,
                "open_mismatches": sum(summary["mismatches"]["open"].values()),
            }
        )
    )


def measure(name: str, seed: int) -> dict[str, float]:
    """Run one size in a child process; print its figures, then remove its files."""
    out = Path(tempfile.mkdtemp(prefix=f"iwmo-generate-{name}-"))
    try:
        command = [sys.executable, __file__, "--child", name, "--out", str(out)]
        command += ["--seed", str(seed)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{name}: {figures['messages']:,.0f} messages in {figures['seconds']:,.1f}s = "
            f"{figures['rate']:,.0f} messages/s, peak RSS {figures['peak_rss_mb']:,.0f} MB, "
            f"{figures['bytes'] / 1e9:,.2f} GB of XML",
            flush=True,
        )
    finally:
        print(f"removing {out} ...", flush=True)
        subprocess.run(["rm", "-rf", str(out)], check=False)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--million", action="store_true", help="also run the 1M size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--child", choices=sorted(SIZES), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        clients, months = SIZES[args.child]
        child(clients, months, args.out, args.seed)
        return 0
    names = ["100k", "1M"] if args.million else ["100k"]
    results = {name: measure(name, args.seed) for name in names}
    body = table(
        ("run", "clients", "months", "messages", "seconds", "messages/s", "peak RSS (MB)"),
        [
            (
                name,
                f"{SIZES[name][0]:,}",
                str(SIZES[name][1]),
                f"{r['messages']:,.0f}",
                f"{r['seconds']:,.0f}",
                f"{r['rate']:,.0f}",
                f"{r['peak_rss_mb']:,.0f}",
            )
            for name, r in results.items()
        ],
    )
    header = (
        "## Traffic generator (`benchmarks/generate.py`)\n\n"
        f"`iwmo-hub generate` with 10 gemeenten, 50 aanbieders, 1,500 new clients a month, "
        f"writing every file; one process, measured {dt.date.today().isoformat()} on "
        f"{machine()}. Peak RSS is the whole process's. The same intake per month over ten "
        "times the months gives ten times the messages; memory holds the open cases only.\n\n"
    )
    print(body)
    if not args.no_write:
        write_section("generate", header + body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
