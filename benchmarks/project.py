"""Projection throughput: events folded into the projection store per second, and peak memory.

Builds an event log of `--events` records (default 1,000,000) on the embedded SQLite store and
on Kafka (a broker started with scripts/kafka.py in a temp folder, stopped by its PID at the
end): client stories of a 301 with one to three lines, most of them started, many stopped,
some revised or withdrawn, a few anomalies, each message followed by its MessageReceived with
realistic XML from the factory. Then runs `iwmo-hub project` logic in a fresh child process
per store and reports records/s, domain events/s, the peak resident memory and CPU of the
child and of its reader and writer processes, beside a same-run baseline (reading and decoding
the same log, nothing folded); a second, smaller log shows whether memory grows with the
history. Writes docs/benchmarks.md (section "project") unless --no-write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.pop(0)  # benchmarks/ itself: its http.py would shadow the standard library's http
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.bootstrap import event_mapper, open_log
from benchmarks._common import machine, table, write_section
from hub.events import (
    AnyEvent,
    AssignmentIssued,
    CareStarted,
    CareStopped,
    MessageReceived,
    Omvang,
    Product,
)
from hub.factory import sample_documents
from hub.messagetypes import MessageType
from hub.records import StoredRecord
from hub.settings import HubSettings

T0_MS = 1_735_689_600_000  # 2025-01-01
GEMEENTEN = [f"{n:04d}" for n in range(14, 400, 7)]
AANBIEDERS = [f"{n:08d}" for n in range(10_000_000, 10_000_000 + 300 * 37, 37)]
PRODUCTS = [Product(categorie="04", code=f"04A{n:02d}") for n in range(1, 20)]


def stories(seed: int) -> Iterator[list[AnyEvent]]:
    """Message after message (each as its events, MessageReceived last), forever."""
    rng = random.Random(seed)
    content = {t: sample_documents(t, 50, seed) for t in (MessageType.WMO301, MessageType.WMO305,
                                                         MessageType.WMO307)}  # fmt: skip
    nummer = 0
    day0 = dt.date(2024, 1, 1)

    def received(kind: MessageType, g: str, a: str, mid: str) -> MessageReceived:
        sender, receiver = (g, a) if kind is MessageType.WMO301 else (a, g)
        return MessageReceived(
            hub_message_id=mid, message_type=kind.name, sender=sender, receiver=receiver,
            identificatie=mid[:12], dagtekening=day0, received_at=dt.datetime(2025, 1, 1,
            tzinfo=dt.UTC), content=rng.choice(content[kind]),
        )  # fmt: skip

    while True:
        g, a, bsn = rng.choice(GEMEENTEN), rng.choice(AANBIEDERS), f"{rng.randrange(10**9):09d}"
        lines = []
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            nummer += 1
            ingang = day0 + dt.timedelta(days=rng.randrange(500))
            lines.append((nummer, rng.choice(PRODUCTS), ingang))
        mid = uuid.uuid4().hex

        def version(n: int, p: Product, ingang: dt.date, eind: dt.date, mid: str,
                    tijd: dt.time, reden: str | None = None, g: str = g, a: str = a,
                    bsn: str = bsn) -> AssignmentIssued:  # fmt: skip
            return AssignmentIssued(
                hub_message_id=mid, gemeente=g, aanbieder=a, bsn=bsn, toewijzing_nummer=n,
                product=p, toewijzingsdatum=ingang - dt.timedelta(days=10), toewijzingstijd=tijd,
                ingangsdatum=ingang, einddatum=eind, reden_wijziging=reden,
                omvang=Omvang(volume=rng.randint(1, 20), eenheid="04", frequentie="2"),
            )  # fmt: skip

        ends = {n: ingang + dt.timedelta(days=rng.randrange(90, 400)) for n, _, ingang in lines}
        yield [*(version(n, p, i, ends[n], mid, dt.time(9)) for n, p, i in lines),
               received(MessageType.WMO301, g, a, mid)]  # fmt: skip
        if rng.random() < 0.1:  # a revision: withdrawn (Einddatum brought forward)
            mid = uuid.uuid4().hex
            yield [*(version(n, p, i, i + dt.timedelta(days=30), mid, dt.time(15), "05")
                     for n, p, i in lines), received(MessageType.WMO301, g, a, mid)]  # fmt: skip
        if rng.random() < 0.75:
            mid = uuid.uuid4().hex
            starts = [CareStarted(hub_message_id=mid, gemeente=g, aanbieder=a, bsn=bsn,
                                  toewijzing_nummer=n, product=p, toewijzing_ingangsdatum=i,
                                  begindatum=i + dt.timedelta(days=rng.randrange(14)),
                                  status_aanlevering="1") for n, p, i in lines]  # fmt: skip
            if rng.random() < 0.03:  # an anomaly: a start for a toewijzing never sent
                starts[0] = CareStarted(
                    hub_message_id=mid, gemeente=g, aanbieder=a, bsn=bsn,
                    toewijzing_nummer=10**8 + nummer, begindatum=day0, status_aanlevering="1",
                )  # fmt: skip
            yield [*starts, received(MessageType.WMO305, g, a, mid)]
            if rng.random() < 0.5:
                mid = uuid.uuid4().hex
                stops = [CareStopped(hub_message_id=mid, gemeente=g, aanbieder=a, bsn=bsn,
                                     toewijzing_nummer=s.toewijzing_nummer, product=s.product,
                                     toewijzing_ingangsdatum=s.toewijzing_ingangsdatum,
                                     begindatum=s.begindatum, reden_beeindiging="19",
                                     einddatum=s.begindatum + dt.timedelta(days=60),
                                     status_aanlevering="1") for s in starts]  # fmt: skip
                yield [*stops, received(MessageType.WMO307, g, a, mid)]


def records(count: int, seed: int) -> Iterator[list[StoredRecord]]:
    """`count` records in batches, stamped one millisecond apart."""
    mapper = event_mapper()
    made, batch = 0, []
    for message in stories(seed):
        for event in message:
            batch.append(mapper.to_record(event, timestamp_ms=T0_MS + made))
            made += 1
        if len(batch) >= 5000 or made >= count:
            yield batch
            batch = []
        if made >= count:
            return


def fill(store: str, count: int, seed: int) -> float:
    """Write the event log; returns seconds taken."""
    started = time.perf_counter()
    with open_log(HubSettings(store=store)) as log:
        for batch in records(count, seed):
            log.append(batch)
    return time.perf_counter() - started


def child(store: str, projections: str, batch: int, workers: bool) -> int:
    """In a fresh process: fold the whole log, print figures as JSON."""
    from adapters.bootstrap import open_source
    from projections.projector import Projector
    from projections.store import ProjectionStore

    settings = HubSettings(store=store)
    reader = functools.partial(open_source, settings) if workers else None
    with open_log(settings) as log, ProjectionStore(projections) as target:
        projector = Projector(log, target, event_mapper().to_event, source=store,
                              batch_size=batch, reader=reader)  # fmt: skip
        done = projector.catch_up()
    print(json.dumps({"records": done.records, "folded": done.folded,
                      "seconds": done.seconds, **usage()}))  # fmt: skip
    return 0


def read_only(store: str, batch: int) -> int:
    """In a fresh process, the baseline: read the log and decode its domain events into facts
    (what the projector's reader process does), fold nothing; print figures as JSON."""
    from hub.records import EVENTS, StreamPosition
    from projections.reader import fewer_collections, read_batches

    with open_log(HubSettings(store=store)) as log, fewer_collections():
        started = time.perf_counter()
        end = log.end_position(EVENTS)
        batches = read_batches(log, event_mapper().to_event, StreamPosition(), end, batch)
        records = sum(len(b.positions) for b in batches)
        seconds = time.perf_counter() - started
    print(json.dumps({"records": records, "seconds": seconds, **usage()}))
    return 0


def usage() -> dict[str, float]:
    """Peak memory and CPU of this process and (together) of its reader and writer."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    helpers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "peak_mb": own.ru_maxrss / 1024,
        "helpers_peak_mb": helpers.ru_maxrss / 1024,
        "cpu": own.ru_utime + own.ru_stime,
        "helpers_cpu": helpers.ru_utime + helpers.ru_stime,
    }


def run_child(*argv: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *argv], check=True, capture_output=True,
                         text=True)  # fmt: skip
    figures: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return figures


def measure(store: str, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The projector on `store`, and the read-and-decode baseline on the same log."""
    projections = tmp / f"projections-{uuid.uuid4().hex[:8]}.db"
    options = ["--batch-size", str(args.batch_size), *(["--no-reader"] if args.no_reader else [])]
    figures = run_child("--child", store, str(projections), *options)
    figures["rate"] = figures["records"] / figures["seconds"]
    figures["domain_rate"] = figures["folded"] / figures["seconds"]
    figures["db_mb"] = projections.stat().st_size / 2**20
    for leftover in tmp.glob(f"{projections.name}*"):
        leftover.unlink()
    baseline = run_child("--read-only", store, "--batch-size", str(args.batch_size))
    figures["read_rate"] = baseline["records"] / baseline["seconds"]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="records in the log")
    parser.add_argument("--small", type=int, default=100_000, help="records in the smaller log")
    parser.add_argument("--batch-size", type=int, default=5000, help="records per transaction")
    parser.add_argument("--no-kafka", action="store_true", help="only the embedded store")
    parser.add_argument(
        "--no-reader", action="store_true", help="read, decode and write in the folding process"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument(
        "--child", nargs=2, metavar=("STORE", "PROJECTIONS"), help=argparse.SUPPRESS
    )
    parser.add_argument("--read-only", metavar="STORE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], args.batch_size, not args.no_reader)
    if args.read_only:
        return read_only(args.read_only, args.batch_size)

    tmp = Path(tempfile.mkdtemp(prefix="iwmo-bench-project-"))
    load = [os.getloadavg()[0]]
    rows = []
    try:
        for count in (args.small, args.events):
            store = f"sqlite:{tmp / f'events-{count}.db'}"
            print(f"writing {count:,} records to SQLite: {fill(store, count, 1):.0f}s")
            f = measure(store, tmp, args)
            print(f"SQLite {count:,}: {f['rate']:,.0f} records/s, peak {f['peak_mb']:.0f} MB")
            rows.append(("SQLite", count, f))
        if not args.no_kafka:
            from benchmarks.ingest import kafka_tool

            broker = kafka_tool().Broker(tmp / "broker", tied=True)
            broker.start(timeout=180)
            try:
                for count in (args.small, args.events):
                    store = f"kafka://{broker.bootstrap}?prefix=bench-{uuid.uuid4().hex[:8]}"
                    print(f"writing {count:,} records to Kafka: {fill(store, count, 1):.0f}s")
                    f = measure(store, tmp, args)
                    print(f"Kafka {count:,}: {f['rate']:,.0f} records/s,"
                          f" peak {f['peak_mb']:.0f} MB")  # fmt: skip
                    rows.append(("Kafka (6 partitions)", count, f))
            finally:
                broker.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load.append(os.getloadavg()[0])
    body = report(rows, args, load)
    print(body)
    if not args.no_write:
        write_section("project", body)
    return 0


def report(
    rows: list[tuple[str, int, dict[str, Any]]], args: argparse.Namespace, load: list[float]
) -> str:
    about = (
        f"{machine()}, {os.cpu_count()} cores shared with other work (1-minute load average"
        f" {load[0]:.1f} at the start, {load[-1]:.1f} at the end); `python"
        f" benchmarks/project.py --events {args.events} --small {args.small}`. A fresh child"
        " process folds the whole log into an empty projection store (batches of"
        f" {args.batch_size:,} records, one transaction each), reading and decoding in a reader"
        " process and writing in a writer process"
        + (" (here not: `--no-reader`)" if args.no_reader else "")
        + ". Baseline in the same run: one process that only reads the log and decodes its"
        " domain events into facts (the reader's work), folding nothing. Records include each"
        " message's MessageReceived, which only moves the position; domain events are the"
        " AssignmentIssued/CareStarted/CareStopped. Peak memory: the folding process's"
        " maximum resident set, and the larger of its reader's and writer's; CPU: seconds of"
        " the folding process, and of reader and writer together."
    )
    lines = [
        "## Projection (`benchmarks/project.py`)",
        "",
        textwrap.fill(about, width=96, break_on_hyphens=False),
        "",
        table(
            (
                "event store",
                "records in log",
                "records/s",
                "domain events/s",
                "read+decode only, records/s",
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
                    f"{f['rate']:,.0f}",
                    f"{f['domain_rate']:,.0f}",
                    f"{f['read_rate']:,.0f}",
                    f"{f['rate'] / f['read_rate']:.0%}",
                    f"{f['peak_mb']:.0f} MB",
                    f"{f['helpers_peak_mb']:.0f} MB",
                    f"{f['cpu']:.0f} / {f['helpers_cpu']:.0f}",
                    f"{f['db_mb']:.0f} MB",
                )
                for store, count, f in rows
            ],
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
