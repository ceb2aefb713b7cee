"""`iwmo-hub generate`: realistic iWmo traffic with its ground truth, as files or into a store.

    DIR/messages/00000001-wmo301.xml ...   one message per file; sorting gives arrival order
    DIR/manifest.jsonl                     one line per message: file, type, sender, receiver,
                                           sent_at, identificatie, dagtekening (+ anomaly)
    DIR/expected.json                      the ground truth (docs/generator.md)

Messages stream to disk: the ground truth is gathered in two temporary JSON-lines files and
joined into expected.json at the end, so memory does not grow with the length of the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from adapters.cli.common import EXIT_OK, EXIT_USAGE, add_format_option
from hub.generator import Emitted, GeneratorConfig, Planned, generate
from hub.generator.cases import ANOMALY_KINDS
from hub.generator.plan import moment
from hub.generator.render import render
from hub.generator.results import CaseTruth

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
HELP = "generate realistic iWmo 3.2 traffic (301/305/307) with its ground truth"
MESSAGES = "messages"
FORMAT = "iwmo-hub generate expected v1"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "generate",
        help=HELP,
        description=(
            f"{HELP}. The same arguments always give the same bytes. Exit status: 0 on "
            "success, 2 on a usage error."
        ),
    )
    add = parser.add_argument
    add("--gemeenten", type=int, default=3, metavar="N", help="municipalities (default 3)")
    add("--aanbieders", type=int, default=10, metavar="M", help="providers (default 10)")
    add("--clients", type=int, default=1_000, metavar="K", help="clients (default 1000)")
    add("--months", type=int, default=1, metavar="T", help="length of the run (default 1)")
    add(
        "--anomaly-rate",
        type=float,
        default=0.05,
        metavar="R",
        help="share of client-aanbieder cases with an injected anomaly (default 0.05)",
    )
    add("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    add(
        "--start",
        type=dt.date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="first day of the run (default: the run ends on 2025-06-30)",
    )
    add(
        "--not-started-days",
        type=int,
        default=28,
        metavar="DAYS",
        help="ASSIGNMENT_NOT_STARTED threshold the ground truth uses (default 28)",
    )
    add(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write the messages, manifest.jsonl and expected.json here (an empty directory)",
    )
    add(
        "--store",
        default=None,
        metavar="URL",
        help="also ingest every message into this event store (sqlite:PATH or kafka://HOST:PORT)"
        ", received at its send time",
    )
    add_format_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = GeneratorConfig(
            gemeenten=args.gemeenten,
            aanbieders=args.aanbieders,
            clients=args.clients,
            months=args.months,
            anomaly_rate=args.anomaly_rate,
            seed=args.seed,
            start=args.start,
            not_started_days=args.not_started_days,
        )
    except ValueError as e:
        return _usage(str(e))
    if args.out is None and args.store is None:
        return _usage("give --out DIR, --store URL or both")
    if args.out is not None:
        problem = _check_out(args.out)
        if problem:
            return _usage(problem)
    started = time.perf_counter()
    summary = (
        _with_store(config, args.out, args.store)
        if args.store is not None
        else write_run(config, args.out)
    )
    summary["seconds"] = round(time.perf_counter() - started, 3)
    summary["messages_per_second"] = round(summary["messages"] / max(summary["seconds"], 1e-9))
    if args.format == "json":
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_summary(summary, args.out)
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"iwmo-hub generate: {message}", file=sys.stderr)
    return EXIT_USAGE


def _check_out(out: Path) -> str | None:
    if out.exists() and not out.is_dir():
        return f"--out {out} is not a directory"
    if out.is_dir() and any(out.iterdir()):
        return f"--out {out} is not empty (the run would mix with what is there)"
    return None


def file_name(message: Planned) -> str:
    """Relative path of a message: zero-padded sequence first, so sorting gives arrival."""
    return f"{MESSAGES}/{message.seq:08d}-{message.message_type.short}.xml"


def write_run(config: GeneratorConfig, out: Path | None, sink: Any = None) -> dict[str, Any]:
    """Generate the run into `out` (and/or hand each message to `sink(planned, data)`)."""
    writer = _Writer(config, out) if out is not None else None
    counts: Counter[str] = Counter()
    truth = _Truth()
    try:
        for item in generate(config):
            if isinstance(item, Emitted):
                data = render(item.message)
                counts[item.message.message_type.name] += 1
                if writer is not None:
                    writer.message(item.message, data)
                if sink is not None:
                    sink(item.message, data)
            else:
                truth.add(item.truth, writer)
        if writer is not None:
            writer.finish(truth, counts)
    finally:
        if writer is not None:
            writer.close()
    return truth.summary(config, counts)


class _Truth:
    """Counts of the ground truth (the records themselves go straight to disk)."""

    def __init__(self) -> None:
        self.cases = 0
        self.toewijzingen = 0
        self.statuses: Counter[str] = Counter()
        self.anomalies: Counter[str] = Counter()
        self.open: Counter[str] = Counter()
        self.resolved: Counter[str] = Counter()
        self.duplicates = 0

    def add(self, truth: CaseTruth, writer: _Writer | None) -> None:
        self.cases += 1
        self.toewijzingen += len(truth.toewijzingen)
        self.statuses.update(t.status for t in truth.toewijzingen)
        self.anomalies.update(truth.anomalies)
        for m in truth.mismatches:
            (self.open if m.status == "open" else self.resolved)[m.code] += 1
        self.duplicates += len(truth.duplicates)
        if writer is not None:
            writer.truth(truth)

    def summary(self, config: GeneratorConfig, counts: Counter[str]) -> dict[str, Any]:
        return {
            "config": config.as_dict(),
            "messages": sum(counts.values()),
            "by_type": dict(sorted(counts.items())),
            "cases": self.cases,
            "toewijzingen": self.toewijzingen,
            "statuses": dict(sorted(self.statuses.items())),
            "anomalies": {k: self.anomalies[k] for k in ANOMALY_KINDS if self.anomalies[k]},
            "mismatches": {
                "open": dict(sorted(self.open.items())),
                "resolved": dict(sorted(self.resolved.items())),
            },
            "duplicates": self.duplicates,
        }


class _Writer:
    """Message files, manifest.jsonl and expected.json (assembled from two spool files)."""

    def __init__(self, config: GeneratorConfig, out: Path) -> None:
        self.config = config
        self.out = out
        self._root = f"{out}{os.sep}"
        (out / MESSAGES).mkdir(parents=True, exist_ok=True)
        self.manifest = (out / "manifest.jsonl").open("w", encoding="utf-8")
        self._mismatches_path = out / ".expected-mismatches.jsonl.tmp"
        self._toewijzingen_path = out / ".expected-toewijzingen.jsonl.tmp"
        self._duplicates_path = out / ".expected-duplicates.jsonl.tmp"
        self.mismatches = self._mismatches_path.open("w", encoding="utf-8")
        self.toewijzingen = self._toewijzingen_path.open("w", encoding="utf-8")
        self.duplicates = self._duplicates_path.open("w", encoding="utf-8")
        self._names: dict[int, str] = {}  # seq -> file, only while a case is open

    def message(self, message: Planned, data: bytes) -> None:
        name = file_name(message)
        # os.open/os.write: a million files, and the buffered file object costs more than
        # the write itself.
        fd = os.open(self._root + name, _CREATE, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        line: dict[str, Any] = {
            "file": name,
            "type": message.message_type.name,
            "sender": message.sender,
            "receiver": message.receiver,
            "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(message.sent_at)),
            "identificatie": message.identificatie,
            "dagtekening": message.dagtekening.isoformat(),
        }
        if message.anomaly:
            line["anomaly"] = message.anomaly
        if message.duplicate_of is not None:
            line["duplicate_of"] = file_name(message.duplicate_of)
        self.manifest.write(json.dumps(line) + "\n")

    def truth(self, truth: CaseTruth) -> None:
        for m in truth.mismatches:
            record = {
                "code": m.code,
                "status": m.status,
                "gemeente": m.gemeente,
                "aanbieder": m.aanbieder,
                "toewijzingnummer": m.toewijzingnummer,
                "bsn": m.bsn,
                "anomaly": m.anomaly,
                "messages": [_name(seq, short) for seq, short, _ in m.messages],
                "identificaties": [ident for _, _, ident in m.messages],
            }
            self.mismatches.write(json.dumps(record) + "\n")
        for t in truth.toewijzingen:
            self.toewijzingen.write(json.dumps(t.as_json()) + "\n")
        for dup, original in truth.duplicates:
            record = {"file": _name(*dup), "duplicate_of": _name(*original), "rule": "TR056"}
            self.duplicates.write(json.dumps(record) + "\n")

    def finish(self, truth: _Truth, counts: Counter[str]) -> None:
        for spool in (self.mismatches, self.toewijzingen, self.duplicates):
            spool.close()
        head = {
            "format": FORMAT,
            "as_of": self.config.as_of.isoformat(),
            "not_started_days": self.config.not_started_days,
            "semantics": "docs/generator.md#ground-truth",
            "summary": truth.summary(self.config, counts),
        }
        with (self.out / "expected.json").open("w", encoding="utf-8") as f:
            text = json.dumps(head, indent=2)
            f.write(text[: text.rindex("}")].rstrip() + ",\n")
            for n, (key, path) in enumerate(
                (
                    ("mismatches", self._mismatches_path),
                    ("toewijzingen", self._toewijzingen_path),
                    ("duplicates", self._duplicates_path),
                )
            ):
                f.write(f'  "{key}": [')
                _copy_lines(path, f)
                f.write("\n  ]" + (",\n" if n < 2 else "\n"))
                path.unlink()
            f.write("}\n")

    def close(self) -> None:
        for handle in (self.manifest, self.mismatches, self.toewijzingen, self.duplicates):
            handle.close()


def _name(seq: int, short: str) -> str:
    return f"{MESSAGES}/{seq:08d}-{short}.xml"


def _copy_lines(path: Path, out: IO[str]) -> None:
    """The JSON lines of a spool file as array elements, one per line."""
    first = True
    with path.open(encoding="utf-8") as spool:
        for line in spool:
            out.write(("\n    " if first else ",\n    ") + line.rstrip("\n"))
            first = False


def _with_store(config: GeneratorConfig, out: Path | None, url: str) -> dict[str, Any]:
    """Generate and ingest every message into the store at `url` as it is generated."""
    from adapters.bootstrap import open_hub
    from hub.settings import HubSettings
    from hub.validation import Validator

    received = [dt.datetime(1970, 1, 1, tzinfo=dt.UTC)]
    statuses: Counter[str] = Counter()
    pending: list[tuple[int, bytes]] = []

    def sink(message: Planned, data: bytes) -> None:
        pending.append((message.sent_at, data))

    def submissions() -> Iterator[tuple[int, bytes]]:
        # The ingest clock reads `received`, set just before each message is handed over,
        # so every message is stamped with its simulated arrival time.
        for sent_at, data in pending:
            received[0] = moment(sent_at)
            yield sent_at, data
        pending.clear()

    with open_hub(
        HubSettings(store=url), validator=Validator(today=config.as_of), clock=lambda: received[0]
    ) as hub:

        def flushing_sink(message: Planned, data: bytes) -> None:
            sink(message, data)
            if len(pending) >= hub.settings.batch_size:
                for _, result in hub.ingest.ingest_many(submissions()):
                    statuses[result.status] += 1

        summary = write_run(config, out, flushing_sink)
        for _, result in hub.ingest.ingest_many(submissions()):
            statuses[result.status] += 1
    summary["store"] = {"url": url, "results": dict(sorted(statuses.items()))}
    return summary


def _print_summary(summary: dict[str, Any], out: Path | None) -> None:
    by_type = ", ".join(f"{n:,} {t}" for t, n in summary["by_type"].items())
    mismatches = summary["mismatches"]
    n_open, n_resolved = sum(mismatches["open"].values()), sum(mismatches["resolved"].values())
    print(
        f"generated {summary['messages']:,} messages ({by_type}) for {summary['cases']:,} "
        f"cases in {summary['seconds']:.1f}s ({summary['messages_per_second']:,} messages/s)"
    )
    print(
        f"{sum(summary['anomalies'].values()):,} anomalies; expected mismatches: {n_open:,} "
        f"open, {n_resolved:,} resolved; {summary['duplicates']:,} duplicate message(s); "
        f"ground truth as of {summary['config']['as_of']}"
    )
    if out is not None:
        print(f"written to {out}/ ({MESSAGES}/, manifest.jsonl, expected.json)")
    if "store" in summary:
        results = ", ".join(f"{n:,} {s}" for s, n in summary["store"]["results"].items())
        print(f"ingested into {summary['store']['url']}: {results}")
