"""Ingest throughput: validate + store into SQLite and into Kafka, against two baselines.

All in one run, on the same messages (a mix of WMO301/305/307 from the factory):
  - validation only:   hub.validation.Validator.check, one process (baseline 1)
  - raw produce:       the very records ingest appends, sent with a bare kafka-python producer
                       (same settings as the Kafka adapter, same batches, flush per batch;
                       baseline 2)
  - prepare only:      validation + events + Avro encoding, no store (where the time goes)
  - ingest -> SQLite:  `IngestService.ingest_many` into a fresh SQLite file
  - ingest -> Kafka:   the same into a fresh topic prefix, with 0 and each of `--workers` worker
                       processes (validating and encoding while the main process stores)
  - TR056 index:       opening a hub on a log of `--rebuild` messages (rebuilding its index)

Each phase runs its paths in alternating rounds, the validation baseline among them: first
validation, prepare and SQLite, then (with the broker running) validation, raw produce and the
Kafka paths. The best round of each path counts, and each path is compared with the validation
rounds of its own phase, so load from other work on the machine falls on a path and its
baseline alike; the slowest round is shown too, as a measure of how much the host's speed
drifted during the run. The broker is started with
scripts/kafka.py in a temp folder and stopped by its PID at the end.
Prints messages/s and ratios, and writes them to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import importlib.util
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.pop(0)  # benchmarks/ itself: its http.py would shadow the standard library's http
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kafka import KafkaProducer

from adapters.bootstrap import event_mapper, open_hub
from adapters.kafka_log import TYPE_HEADER, VERSION_HEADER
from benchmarks._common import REPO, machine, process_cpu, table, write_section
from hub.events import MessageReceived, epoch_ms
from hub.factory import sample_documents
from hub.ingest import ACCEPTED, IngestResult
from hub.ingest_events import Prepared
from hub.messagetypes import MessageType
from hub.records import StoredRecord
from hub.settings import HubSettings
from hub.validation import Validator

TYPES = (MessageType.WMO301, MessageType.WMO305, MessageType.WMO307)


def kafka_tool() -> Any:
    """scripts/kafka.py as a module (the same code the test fixture uses)."""
    spec = importlib.util.spec_from_file_location("iwmo_hub_kafka_tool", REPO / "scripts/kafka.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Figure:
    """One measured path: wall-clock rate, CPU per message of this process, of its worker
    processes (if any) and of the broker."""

    rate: float
    cpu_us: float
    broker_us: float | None = None
    workers_us: float | None = None
    #: The slowest round's rate when several rounds ran: how far the host drifted meanwhile.
    slowest: float | None = None


def processes_cpu(pids: Sequence[int]) -> float | None:
    used = [process_cpu(pid) for pid in pids]
    return None if not used or None in used else sum(u for u in used if u is not None)


def measure(
    count: int,
    work: Callable[[], object],
    broker: int | None = None,
    workers: Sequence[int] = (),
) -> Figure:
    """Run `work` (which handles `count` messages) once and time it."""
    b0, w0 = process_cpu(broker), processes_cpu(workers)
    c0, t0 = time.process_time(), time.perf_counter()
    work()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    b1, w1 = process_cpu(broker), processes_cpu(workers)
    used = None if b0 is None or b1 is None else (b1 - b0) / count * 1e6
    by_workers = None if w0 is None or w1 is None else (w1 - w0) / count * 1e6
    return Figure(count / elapsed, cpu / count * 1e6, used, by_workers)


def alternating(runs: int, paths: dict[str, Callable[[], Figure]]) -> dict[str, Figure]:
    """`runs` rounds of every path in turn; per path its fastest round (other load on the
    machine only ever slows a run down), carrying the slowest round's rate."""
    rounds: dict[str, list[Figure]] = {key: [] for key in paths}
    for _ in range(runs):
        for key, run in paths.items():
            rounds[key].append(run())
    return {
        key: dataclasses.replace(
            max(found, key=lambda f: f.rate), slowest=min(f.rate for f in found)
        )
        for key, found in rounds.items()
    }


def ingest(settings: HubSettings, docs: Sequence[bytes], broker: int | None = None) -> Figure:
    """A full ingest into the (fresh) store `settings` names; every message must be accepted."""
    with open_hub(settings) as hub:
        hub.ingest.open()  # empty store: cheap; keeps connection set-up out of the figure
        pids: list[int] = []
        if hub.workers is not None:
            hub.workers.warm()  # process start-up is paid once per hub, not per message
            pids = hub.workers.pids()
        results: list[IngestResult] = []
        figure = measure(
            len(docs),
            lambda: results.extend(r for _, r in hub.ingest.ingest_many(enumerate(docs))),
            broker,
            pids,
        )
    assert all(r.status == ACCEPTED for r in results), "benchmark messages must be accepted"
    return figure


def raw_produce(
    bootstrap: str, prepared: Sequence[Prepared], batch: int, broker: int | None
) -> Figure:
    """Ingest's records sent with a bare KafkaProducer (the adapter's settings and batches)."""
    topic_prefix = f"bench-raw-{uuid.uuid4().hex[:8]}"
    # Let the adapter create the topics (explicit partitions), then bypass it.
    with open_hub(HubSettings(store=f"kafka://{bootstrap}?prefix={topic_prefix}")) as hub:
        topics = dict(hub.log.topics)  # type: ignore[attr-defined]
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=256 * 1024,
        max_request_size=32 * 1024 * 1024,
    )

    def produce() -> None:
        for first in range(0, len(prepared), batch):
            futures = [
                producer.send(
                    topics[r.stream],
                    value=r.payload,
                    key=r.key.encode(),
                    headers=[
                        (TYPE_HEADER, r.event_type.encode()),
                        (VERSION_HEADER, str(r.schema_version).encode()),
                    ],
                    timestamp_ms=r.timestamp_ms,
                )
                for p in prepared[first : first + batch]
                for r in p.records
            ]
            producer.flush()
            for future in futures:
                future.get()

    try:
        return measure(len(prepared), produce, broker)
    finally:
        producer.close()


def rebuild_seconds(store: str, prepared: Sequence[Prepared], count: int) -> tuple[float, int]:
    """Fill `store` with `count` messages, then time opening a new hub (index rebuild)."""
    mapper = event_mapper()
    with open_hub(HubSettings(store=store)) as hub:
        batch: list[StoredRecord] = []
        for n in range(count):
            base = prepared[n % len(prepared)]
            event = mapper.to_event(base.records[-1])
            assert isinstance(event, MessageReceived)
            copy = dataclasses.replace(event, identificatie=f"R{n}", hub_message_id=str(n))
            # Domain events are skipped by type during the rebuild: reuse their payloads.
            batch += [*base.records[:-1], mapper.to_record(copy, timestamp_ms=epoch_ms(NOW))]
            if len(batch) >= 2000 or n == count - 1:
                hub.log.append(batch)
                batch = []
    started = time.perf_counter()
    with open_hub(HubSettings(store=store)) as hub:
        indexed = hub.ingest.open()
    return time.perf_counter() - started, indexed


NOW = dt.datetime.now(dt.UTC)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 5,000 per type: a run into Kafka then lasts about two seconds, long enough for a steady
    # rate. At 1,000 per type it lasts under half a second, and the pipeline's fill and drain
    # and the broker's start-up on a fresh topic prefix weigh in (broker CPU per message about
    # twice as high).
    parser.add_argument("--messages", type=int, default=5000, help="documents per type")
    parser.add_argument("--runs", type=int, default=5, help="repetitions; the best counts")
    parser.add_argument("--batch-size", type=int, default=200, help="messages per append")
    parser.add_argument(
        "--workers",
        type=lambda text: [int(n) for n in text.split(",") if n.strip()],
        default=[1, 2],
        help="worker process counts to try besides 0, comma-separated (default 1,2)",
    )
    parser.add_argument("--rebuild", type=int, default=100_000, help="messages for the index")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()

    load_at_start = os.getloadavg()[0]
    docs = [d for mt in TYPES for d in sample_documents(mt, args.messages, seed=7)]
    n = len(docs)
    validator = Validator()
    assert all(validator.is_valid(d) for d in docs[:50]), "benchmark documents must be valid"
    with open_hub(HubSettings(store="sqlite::memory:")) as hub:
        prepare = hub.ingest.preparer.prepare
        prepared = [prepare(d, NOW) for d in docs]
        records = sum(len(p.records) for p in prepared)

        def validate() -> Figure:
            return measure(n, lambda: [*map(validator.check, docs)])

        tmp = Path(tempfile.mkdtemp(prefix="iwmo-bench-"))

        def sqlite() -> str:
            return f"sqlite:{tmp / uuid.uuid4().hex}.db"

        base = HubSettings(batch_size=args.batch_size)
        # No broker yet: validation, prepare and SQLite in alternating rounds.
        figures = alternating(
            args.runs,
            {
                "validate1": validate,
                "prepare": lambda: measure(n, lambda: [prepare(d, NOW) for d in docs]),
                "sqlite": lambda: ingest(base.model_copy(update={"store": sqlite()}), docs),
            },
        )
    print(f"{n} messages, {records / n:.2f} records/message, {sum(map(len, docs)) // n} bytes avg")
    show("validation only", figures["validate1"])
    show("prepare", figures["prepare"])
    show("ingest -> SQLite", figures["sqlite"])
    sqlite_rebuild = rebuild_seconds(sqlite(), prepared, args.rebuild) if args.rebuild else None

    tool = kafka_tool()
    broker = tool.Broker(tmp / "broker", tied=True)
    broker.start(timeout=180)
    try:
        bootstrap, pid = broker.bootstrap, broker.pid()

        def kafka(workers: int) -> HubSettings:
            url = f"kafka://{bootstrap}?prefix=bench-{uuid.uuid4().hex[:8]}"
            return base.model_copy(update={"store": url, "workers": workers})

        def run_kafka(workers: int) -> Figure:
            return ingest(kafka(workers), docs, pid)

        # Warm the broker's JIT: a broker that has just started costs several times more.
        for _ in range(2):
            ingest(kafka(0), docs)
        # The Kafka paths and the validation baseline in alternating rounds, so that load from
        # other work on the machine falls on all of them alike; the Kafka paths are compared
        # with these validation rounds only.
        paths: dict[str, tuple[str, Callable[[], Figure]]] = {
            "validate": ("validation only", validate),
            "raw": (
                "raw kafka-python produce",
                lambda: raw_produce(bootstrap, prepared, args.batch_size, pid),
            ),
            "kafka0": ("ingest -> Kafka", functools.partial(run_kafka, 0)),
            **{
                f"kafka{count}": (
                    f"ingest -> Kafka, {count} worker(s)",
                    functools.partial(run_kafka, count),
                )
                for count in args.workers
            },
        }
        figures.update(alternating(args.runs, {key: run for key, (_, run) in paths.items()}))
        for key, (label, _) in paths.items():
            show(label, figures[key])
        kafka_rebuild = None
        if args.rebuild:
            kafka_store = f"kafka://{bootstrap}?prefix=bench-rebuild-{uuid.uuid4().hex[:8]}"
            kafka_rebuild = rebuild_seconds(kafka_store, prepared, args.rebuild)
    finally:
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # SQLite files and broker data: gigabytes

    load = (load_at_start, os.getloadavg()[0])
    body = report(args, figures, n, records, sqlite_rebuild, kafka_rebuild, load)
    print(body)
    if not args.no_write:
        write_section("ingest", body)
    return 0


def hub_cpu(figure: Figure) -> float:
    """CPU per message of the hub: its main process plus its worker processes."""
    return figure.cpu_us + (figure.workers_us or 0.0)


def show(label: str, figure: Figure) -> None:
    broker = f", broker {figure.broker_us:,.0f} us" if figure.broker_us is not None else ""
    workers = f" + workers {figure.workers_us:,.0f} us" if figure.workers_us is not None else ""
    print(
        f"{label}: {figure.rate:,.0f}/s (CPU per message: main {figure.cpu_us:,.0f} us"
        f"{workers}{broker})"
    )


def report(
    args: argparse.Namespace,
    f: dict[str, Figure],
    n: int,
    records: int,
    sqlite_rebuild: tuple[float, int] | None,
    kafka_rebuild: tuple[float, int] | None,
    load: tuple[float, float],
) -> str:
    # (label, key, setup, the key of the validation rounds it alternated with)
    paths = [
        ("validation only (baseline), no broker", "validate1", "1 process", "validate1"),
        ("prepare: validate + events + Avro, no store", "prepare", "1 process", "validate1"),
        ("ingest -> SQLite", "sqlite", "1 process", "validate1"),
        ("validation only (baseline), broker running", "validate", "1 process", "validate"),
        ("raw kafka-python produce of the same records (baseline)", "raw", "1 process", "validate"),
        ("ingest -> Kafka", "kafka0", "1 process", "validate"),
        *[
            ("ingest -> Kafka", f"kafka{c}", f"+{c} worker process(es)", "validate")
            for c in args.workers
        ],
    ]
    rows = [
        (
            name,
            f"{f[key].rate:,.0f}",
            f"{f[key].slowest or f[key].rate:,.0f}",
            setup,
            f"{f[key].rate / f[baseline].rate:.0%}",
            f"{hub_cpu(f[key]):,.0f}"
            + (
                f" ({f[key].cpu_us:,.0f} main + {f[key].workers_us:,.0f} workers)"
                if f[key].workers_us is not None
                else ""
            ),
            "" if f[key].broker_us is None else f"{f[key].broker_us:,.0f}",
        )
        for name, key, setup, baseline in paths
        if key in f
    ]
    v = f["validate"].rate
    drift = 1 - (f["validate"].slowest or v) / v
    kafka_keys = [k for k in f if k.startswith("kafka")]
    best_key = max(kafka_keys, key=lambda k: f[k].rate)
    kafka = f[best_key]
    setup = "1 process" if best_key == "kafka0" else f"{best_key[5:]} worker process(es)"
    budget = hub_cpu(kafka) + (kafka.broker_us or 0.0)
    lines = [
        "## Ingest (`benchmarks/ingest.py`)\n",
        f"{n:,} factory messages (WMO301/305/307 in equal parts, {records / n:.2f} records per "
        f"message), {args.batch_size} messages per append, best of {args.runs} rounds (each "
        "phase's paths in alternating rounds, the validation baseline among them; each path "
        "is compared with its own phase's validation rounds), measured "
        f"{dt.date.today().isoformat()} on {machine()}: 2 cores shared with the single-node "
        "Kafka 4.3 broker (scripts/kafka.py, C1 JIT) and with other work (1-minute load "
        f"average {load[0]:.1f} at the start, {load[1]:.1f} at the end: rates fall with it, "
        "CPU per message much less). Hub CPU is per message, every thread of the ingesting "
        "process plus its worker processes; the broker's column is the JVM's CPU.\n",
        table(
            (
                "path",
                "messages/s (best round)",
                "slowest round",
                "setup",
                "vs validation only",
                "hub CPU us/message",
                "broker CPU us/message",
            ),
            rows,
        ),
        "",
        f"- Target >= 3,000 messages/s into Kafka: {kafka.rate:,.0f}/s ({setup}), "
        + ("met." if kafka.rate >= 3000 else "**not met**."),
        f"- Target Kafka ingest >= 60% of validation only: {kafka.rate / v:.0%}, "
        + ("met." if kafka.rate >= 0.6 * v else "**not met**."),
        f"- The host's drift during the Kafka phase: validation alone ran at "
        f"{f['validate'].slowest or v:,.0f}-{v:,.0f} messages/s over its rounds "
        f"({drift:.0%} apart).",
        f"- CPU budget of one message into Kafka ({setup}): {hub_cpu(kafka):,.0f} us in the "
        f"hub + {kafka.broker_us or 0:,.0f} us in the broker; two dedicated cores could do at "
        f"most {2e6 / budget:,.0f} messages/s this way.",
        f"- Raw produce of the same records with `KafkaProducer.send` alone: "
        f"{f['raw'].rate:,.0f} messages/s ({f['raw'].rate * records / n:,.0f} records/s), "
        f"{f['raw'].cpu_us:,.0f} us CPU per message in kafka-python; ingest hands whole "
        "batches to the producer instead (adapters/kafka_batches.py).",
    ]
    for name, rebuilt in (("SQLite", sqlite_rebuild), ("Kafka", kafka_rebuild)):
        if rebuilt:
            seconds, indexed = rebuilt
            lines.append(
                f"- Opening a hub on a {name} log of {indexed:,} messages (TR056 index rebuilt "
                f"from the log): {seconds:.1f} s."
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
