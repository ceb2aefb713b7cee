"""HTTP intake under load: 10,000 generated messages from 50 concurrent clients, on Kafka.

    python benchmarks/http.py [--messages 10000] [--clients 50] [--store kafka://HOST:PORT]
                              [--workers N] [--projector both|in-process|separate]

1. generates the messages (the traffic generator; a prefix of a run, in arrival order) and a
   token for every sender;
2. starts a Kafka broker with scripts/kafka.py (unless --store names one) and `iwmo-hub serve`
   on a free loopback port, on a fresh topic prefix, with the projector in process, and then
   again on another prefix with `serve --no-projector` beside `iwmo-hub project --follow` (the
   two ways to deploy it; `--projector` picks one);
3. posts every message from `--clients` concurrent connections (asyncio streams) and records
   each request's latency and the CPU the server (and projector) used; waits until the
   projection has caught up;
4. in the same run, ingests the same files with `iwmo-hub ingest` (bulk, batched) into a second
   prefix and projects them with `iwmo-hub project`;
5. checks that every accepted message is in the log exactly once and that both projection
   stores hold the same arrangements and mismatches (receipt times aside);
6. prints requests/s, p50 and p99 beside the CLI rate and writes them to docs/benchmarks.md.

Client and server share this machine's cores, as do the broker and the projector.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named http.py: run as a script, its folder would shadow the standard library's
# `http` package (which httpx needs). Put the repository, not benchmarks/, on the path.
# ruff: noqa: E402
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse
import asyncio
import functools
import importlib.util
import json
import os
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from typing import Any, Final

import httpx

from adapters.bootstrap import event_mapper
from adapters.http.auth import Party, add_entry, make_token
from adapters.kafka_log import KafkaEventLog
from benchmarks._common import REPO, machine, process_cpu, table, write_section
from hub.events import MessageReceived
from hub.generator import GeneratorConfig, generate
from hub.generator.render import render
from hub.generator.stream import Emitted
from hub.records import EVENTS

BIN = Path(sys.executable).parent
#: Arrangement columns named *_at hold receipt times (updated_at, first_start_at, ...), which
#: differ between two ingests of the same messages; every other column must be equal.
TIME_SUFFIX = "_at"


def kafka_tool() -> Any:
    spec = importlib.util.spec_from_file_location("iwmo_hub_kafka_tool", REPO / "scripts/kafka.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@functools.cache
def messages(count: int) -> list[tuple[str, bytes]]:
    """The first `count` messages of a generated run: (sender, bytes) in arrival order
    (generated once, however many deployments are measured)."""
    config = GeneratorConfig(gemeenten=3, aanbieders=20, clients=max(100, count // 2), seed=3)
    out: list[tuple[str, bytes]] = []
    for item in generate(config):
        if isinstance(item, Emitted):
            out.append((item.message.sender, render(item.message)))
            if len(out) == count:
                break
    return out


def party(sender: str) -> str:
    return f"gemeente:{sender}" if len(sender) == 4 else f"aanbieder:{sender}"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("IWMO_HUB_")}


async def load(
    url: str, items: list[tuple[str, bytes]], tokens: dict[str, str], clients: int
) -> tuple[list[float], list[dict[str, Any]], float]:
    """Post every item over `clients` keep-alive connections: latencies, answers, seconds.

    A few lines of HTTP/1.1 on asyncio streams rather than an HTTP library: the load
    generator shares the machine with the server, and httpx's connection pool spends more
    CPU at 50 concurrent connections than the server does answering them.
    """
    host, _, port = url.removeprefix("http://").partition(":")
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(len(items)):
        queue.put_nowait(n)
    latencies = [0.0] * len(items)
    answers: list[dict[str, Any]] = [{} for _ in items]

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while not queue.empty():
                n = queue.get_nowait()
                sender, data = items[n]
                head = (
                    f"POST /v1/messages HTTP/1.1\r\nHost: {host}\r\n"
                    f"Authorization: Bearer {tokens[party(sender)]}\r\n"
                    f"Content-Type: application/xml\r\nContent-Length: {len(data)}\r\n\r\n"
                )
                started = time.perf_counter()
                writer.write(head.encode() + data)
                await writer.drain()
                status, body = await _response(reader)
                latencies[n] = time.perf_counter() - started
                answers[n] = {"code": status, **json.loads(body)}
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, answers, time.perf_counter() - started


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 response with a Content-Length."""
    status = int((await reader.readline()).split(b" ", 2)[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def wait_caught_up(url: str, operator: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = httpx.get(url + "/readyz", headers={"Authorization": f"Bearer {operator}"})
        if answer.status_code == 200 and answer.json()["projector"].get("lag") == 0:
            return
        time.sleep(0.5)
    raise SystemExit("the server's projector did not catch up")


def wait_folded(store: str, projections: Path, timeout: float = 600) -> None:
    """Wait until a separate projector's store has no lag (`iwmo-hub status`)."""
    deadline = time.monotonic() + timeout
    command = [str(BIN / "iwmo-hub"), "status", "--store", store, "--projections",
               str(projections), "--format", "json"]  # fmt: skip
    while time.monotonic() < deadline:
        done = subprocess.run(command, capture_output=True, env=environment(), check=False)
        if done.returncode == 0 and all(
            p.get("lag_events") == 0 for p in json.loads(done.stdout)["projections"]
        ):
            return
        time.sleep(0.5)
    raise SystemExit("the separate projector did not catch up")


def append_figures(url: str, operator: str) -> dict[str, float]:
    """The server's group commits so far, from /metrics: how many, their mean size and time."""
    text = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {operator}"}).text
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in (
            "iwmo_hub_append_batch_messages_count",
            "iwmo_hub_append_batch_messages_sum",
            "iwmo_hub_append_seconds_sum",
        ):
            values[name] = float(value)
    count = values.get("iwmo_hub_append_batch_messages_count", 0.0)
    per = max(count, 1.0)
    return {
        "appends": count,
        "mean_batch": values.get("iwmo_hub_append_batch_messages_sum", 0.0) / per,
        "mean_append_ms": values.get("iwmo_hub_append_seconds_sum", 0.0) * 1000 / per,
    }


def _used(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else now - before


def _per_item_ms(seconds: float | None, items: int) -> float | None:
    return None if seconds is None else seconds * 1000 / items


def projection(path: Path) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """Arrangements (receipt times left out) and open mismatches (id, code) of a store.

    Those two are the same for every arrival order (OP080); resolved mismatches are not:
    fifty clients post in another order than the CLI reads files, and a 305 that arrives
    before its 301 opens a mismatch that the 301 then resolves.
    """
    db = sqlite3.connect(path)
    try:
        cursor = db.execute("SELECT * FROM arrangements")
        names = [d[0] for d in cursor.description]
        keep = [i for i, name in enumerate(names) if not name.endswith(TIME_SUFFIX)]
        arrangements = {tuple(row[i] for i in keep) for row in cursor}
        mismatches = set(db.execute("SELECT id, code FROM mismatches WHERE status = 'open'"))
    finally:
        db.close()
    return arrangements, mismatches


def stored_ids(bootstrap: str, prefix: str) -> Counter[str]:
    mapper = event_mapper()
    with KafkaEventLog(bootstrap, prefix=prefix, timeout_ms=60_000) as log:
        return Counter(
            e.hub_message_id
            for e in map(mapper.to_event, log.read(EVENTS))
            if isinstance(e, MessageReceived)
        )


def run(args: argparse.Namespace, bootstrap: str, tmp: Path, placement: str) -> dict[str, Any]:
    """One server (projector `placement`) under load, then the CLI on the same messages."""
    tmp.mkdir()
    items = messages(args.messages)
    folder = tmp / "messages"
    folder.mkdir()
    for n, (_, data) in enumerate(items):
        (folder / f"{n:06d}.xml").write_bytes(data)
    tokens: dict[str, str] = {}
    tokens_file = tmp / "tokens.json"
    for name in ["operator", *sorted({party(s) for s, _ in items})]:
        token, entry = make_token(Party.parse(name))
        add_entry(tokens_file, entry)
        tokens[name] = token
    http_prefix, cli_prefix = (f"bench-http-{uuid.uuid4().hex[:8]}" for _ in range(2))
    cli_prefix = cli_prefix.replace("http", "cli")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    store = f"kafka://{bootstrap}?prefix={http_prefix}"
    separate = placement == "separate"
    server = subprocess.Popen(
        [str(BIN / "iwmo-hub"), "serve", "--port", str(port), "--tokens", str(tokens_file),
         "--store", store, "--projections", str(tmp / "http-projections.db"),
         "--workers", str(args.workers), "--log-level", "warning",
         *(["--no-projector"] if separate else [])],
        cwd=tmp, env=environment(), stderr=(tmp / "server.log").open("wb"),
    )  # fmt: skip
    projector = None
    if separate:
        projector = subprocess.Popen(
            [str(BIN / "iwmo-hub"), "project", "--follow", "--store", store,
             "--projections", str(tmp / "http-projections.db")],
            cwd=tmp, env=environment(), stdout=subprocess.DEVNULL,
            stderr=(tmp / "projector.log").open("wb"),
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                answer = httpx.get(
                    url + "/readyz", headers={"Authorization": f"Bearer {tokens['operator']}"}
                )
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start: " + (tmp / "server.log").read_text())
            time.sleep(0.2)
        busy = {p.pid: process_cpu(p.pid) for p in (server, projector) if p is not None}
        client_cpu = time.process_time()
        latencies, answers, seconds = asyncio.run(load(url, items, tokens, args.clients))
        client_cpu = time.process_time() - client_cpu
        busy = {pid: _used(process_cpu(pid), cpu) for pid, cpu in busy.items()}
        appends = append_figures(url, tokens["operator"])
        if separate:
            wait_folded(store, tmp / "http-projections.db")
        else:
            wait_caught_up(url, tokens["operator"])
    finally:
        for process in (server, projector):
            if process is not None:
                process.terminate()
                process.wait(60)
        log = (tmp / "server.log").read_text(errors="replace")
        if server.returncode not in (0, -15):
            print(f"server exited with {server.returncode}:\n{log[-3000:]}", file=sys.stderr)

    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "iwmo-hub"), "ingest", "--store", f"kafka://{bootstrap}?prefix={cli_prefix}",
         str(folder)],
        check=False, capture_output=True, env=environment(),
    )  # fmt: skip
    cli_seconds = time.perf_counter() - started
    subprocess.run(
        [str(BIN / "iwmo-hub"), "project", "--store", f"kafka://{bootstrap}?prefix={cli_prefix}",
         "--projections", str(tmp / "cli-projections.db")],
        check=True, capture_output=True, env=environment(),
    )  # fmt: skip

    codes = Counter(a["code"] for a in answers)
    statuses = Counter(a.get("status") for a in answers)
    stored = stored_ids(bootstrap, http_prefix)
    accepted = [a["message_id"] for a in answers if a.get("status") == "accepted"]
    http_view = projection(tmp / "http-projections.db")
    cli_view = projection(tmp / "cli-projections.db")
    return {
        "messages": len(items),
        "clients": args.clients,
        "seconds": seconds,
        "rate": len(items) / seconds,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
        "codes": dict(codes),
        "statuses": dict(statuses),
        "exactly_once": all(stored[m] == 1 for m in accepted) and max(stored.values()) == 1,
        "stored": len(stored),
        "projections_equal": http_view == cli_view,
        "arrangements": len(http_view[0]),
        "mismatches": len(http_view[1]),
        "server_cpu_ms": _per_item_ms(busy[server.pid], len(items)),
        "projector_cpu_ms": _per_item_ms(busy[projector.pid], len(items)) if projector else None,
        "client_cpu_ms": client_cpu * 1000 / len(items),
        **appends,
        "workers": args.workers,
        "projector": placement,
        "cli_seconds": cli_seconds,
        "cli_rate": len(items) / cli_seconds,
        "prefixes": (http_prefix, cli_prefix),
    }


def _ms(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--store", help="kafka://HOST:PORT of a running broker (else start one)")
    parser.add_argument(
        "--workers", type=int, default=0, help="`serve --workers`: validating processes (0)"
    )
    parser.add_argument(
        "--projector",
        choices=("both", "in-process", "separate"),
        default="both",
        help="fold in the server, in an `iwmo-hub project --follow` beside it, or measure"
        " both one after the other (default)",
    )
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="iwmo-bench-http-") as name:
        tmp = Path(name)
        broker = None
        if args.store:
            bootstrap = args.store.removeprefix("kafka://").split("?")[0]
        else:
            tool = kafka_tool()
            tool.fetch()
            broker = tool.Broker(tmp / "broker", tied=True)
            broker.start(timeout=180)
            bootstrap = broker.bootstrap
        placements = ["in-process", "separate"] if args.projector == "both" else [args.projector]
        try:
            results = [run(args, bootstrap, tmp / where, where) for where in placements]
        finally:
            if broker is not None:
                broker.stop()
    print(json.dumps(results, indent=2))
    body = report(results)
    print(body)
    if not args.no_doc:
        write_section("http", body)
    ok = all(r["exactly_once"] and r["projections_equal"] for r in results)
    return 0 if ok else 1


_WHERE: Final = {
    "in-process": "projector in the server (default)",
    "separate": "`serve --no-projector` + `project --follow`",
}


def report(results: list[dict[str, Any]]) -> str:
    first = results[0]
    rows = []
    for r in results:
        where = _WHERE[r["projector"]]
        rows.append([f"HTTP, {r['clients']} clients, {where}", f"{r['rate']:,.0f}",
                     f"{r['rate'] / r['cli_rate']:.0%}", f"{r['p50_ms']:.0f}",
                     f"{r['p99_ms']:.0f}"])  # fmt: skip
        rows.append(["CLI bulk ingest, right after (baseline)", f"{r['cli_rate']:,.0f}", "100%",
                     "-", "-"])  # fmt: skip
    lines = [
        "## HTTP intake under load (`benchmarks/http.py`)",
        "",
        f"{first['messages']:,} generated messages posted by {first['clients']} concurrent"
        f" clients to `iwmo-hub serve --workers {first['workers']}` on a real Kafka broker, on"
        f" {machine()}, {os.cpu_count()} cores shared by client, server, projector and broker;"
        " each server on a fresh topic prefix, followed by `iwmo-hub ingest` of the same files"
        " (the same-run baseline). Target: 1,000 messages/s, p99 < 250 ms.",
        "",
        table(["path", "messages/s", "vs CLI", "p50 ms", "p99 ms"], rows),
        "",
    ]
    for r in results:
        lines.append(
            f"- {_WHERE[r['projector']]}: answers {r['codes']}; every accepted message in the"
            f" log exactly once: {r['exactly_once']}; projections equal to the CLI's:"
            f" {r['projections_equal']} ({r['arrangements']:,} arrangements,"
            f" {r['mismatches']:,} open mismatches). CPU per message: server process"
            f" {_ms(r['server_cpu_ms'])}"
            + (
                f", separate projector {_ms(r['projector_cpu_ms'])}"
                if r["projector"] == "separate"
                else ""
            )
            + f", load generator {_ms(r['client_cpu_ms'])}. Group commits:"
            f" {r['appends']:,.0f} appends of {r['mean_batch']:.1f} messages on average,"
            f" {r['mean_append_ms']:.1f} ms each."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
