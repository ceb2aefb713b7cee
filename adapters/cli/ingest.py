"""`iwmo-hub ingest PATH...`: validate messages and store them in the event log."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pydantic

from adapters.bootstrap import open_hub
from adapters.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    Progress,
    UsageError,
    add_format_option,
    iter_message_files,
)
from adapters.cli.project import write_retours
from adapters.store_url import parse_store_url
from hub.errors import StoreError
from hub.ingest import ACCEPTED, DUPLICATE, FAILED, REJECTED, IngestResult
from hub.settings import HubSettings
from hub.xmlsafe import MAX_MESSAGE_BYTES

#: The event store could not be reached or did not confirm what was sent.
EXIT_STORE: Final = 3
HELP = "validate iWmo 3.2 messages and store them, with their events, in the event log"
EPILOG = """\
Every accepted message becomes a MessageReceived event plus one event per product line;
every rejected one a MessageRejected on the dead-letter stream. A message already stored
(same message type, sender and BerichtIdentificatie, TR056) is reported as a duplicate.
A message is reported accepted only once the store has durably confirmed it.

exit status: 0 all accepted or duplicate, 1 some rejected, 2 usage error,
3 the event store was unavailable or did not confirm a batch (those files are "failed";
submitting them again is safe)."""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "ingest",
        help=HELP,
        description=f"{HELP}.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="message file or directory")
    parser.add_argument(
        "--store",
        metavar="URL",
        help="event store: sqlite:PATH or kafka://HOST:PORT[,HOST:PORT][?prefix=NAME]"
        " (default: $IWMO_HUB_STORE, else sqlite:./.iwmo-hub/events.db)",
    )
    add_format_option(parser)
    parser.add_argument(
        "--retour-dir",
        type=Path,
        metavar="DIR",
        help="write the retour of every message (302/306/308, <file>.<WMO30x>.xml) into DIR; "
        "stored messages are first folded into the projection store, whose cross-message "
        "codes the retours carry",
    )
    parser.add_argument(
        "--projections",
        metavar="PATH",
        help="the projection store used for --retour-dir (default: $IWMO_HUB_PROJECTIONS, "
        "else ./.iwmo-hub/projections.db)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help="messages per append (default: $IWMO_HUB_BATCH_SIZE, else 200)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes that validate while this one stores (default: $IWMO_HUB_WORKERS, else 0)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="list accepted files too (text format) and show the Kafka client's own log",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        files = list(iter_message_files(args.paths))
        settings = _settings(args)
    except UsageError as e:
        print(f"iwmo-hub ingest: {e}", file=sys.stderr)
        return EXIT_USAGE
    if not args.verbose:
        # kafka-python logs every refused connection; the results already name the broker.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    try:
        hub = open_hub(settings)
    except StoreError as e:
        print(f"iwmo-hub ingest: event store unavailable: {e}", file=sys.stderr)
        detail = f"event store unavailable: {e}"
        _finish(args, [(p, IngestResult(FAILED, None, None, detail=detail)) for p in files])
        return EXIT_STORE
    unreadable: list[tuple[Path, IngestResult]] = []
    results: list[tuple[Path, IngestResult]] = []
    received_at = dt.datetime.now(dt.UTC)
    progress = Progress(len(files), "ingesting")
    # Closing the results first lets an append under way finish before the store closes.
    with hub, contextlib.closing(hub.ingest.ingest_many(_contents(files, unreadable))) as stream:
        for path, result in stream:
            results.append((path, result))
            if args.format == "text" and (args.verbose or result.status != ACCEPTED):
                _print_result(path, result)
            progress.step()
    progress.close()
    for path, result in unreadable:
        if args.format == "text":
            _print_result(path, result)
    counts = _finish(args, results + unreadable)
    if args.retour_dir is not None:
        written = _write_retours(args, settings, results, received_at)
        if written is None:
            return EXIT_STORE
        if args.format == "text":
            print(f"{written} retour(s) written to {args.retour_dir}")
    if counts[FAILED] > len(unreadable):
        return EXIT_STORE
    if counts[REJECTED]:
        return EXIT_INVALID
    return EXIT_USAGE if unreadable else EXIT_OK


def _write_retours(
    args: argparse.Namespace,
    settings: HubSettings,
    results: list[tuple[Path, IngestResult]],
    received_at: dt.datetime,
) -> int | None:
    """Write the retours; how many, or None when the store failed while catching up."""
    try:
        return len(write_retours(settings, args.projections, results, args.retour_dir, received_at))
    except StoreError as e:
        print(
            f"iwmo-hub ingest: retours not written, event store unavailable: {e}", file=sys.stderr
        )
        return None


def _settings(args: argparse.Namespace) -> HubSettings:
    overrides = {
        name: value
        for name, value in (
            ("store", args.store),
            ("batch_size", args.batch_size),
            ("workers", args.workers),
        )
        if value is not None
    }
    try:
        settings = HubSettings(**overrides)
        parse_store_url(settings.store)
    except pydantic.ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'setting'}: {err['msg']}" for err in e.errors()
        )
        raise UsageError(f"invalid setting ({problems})") from e
    except ValueError as e:
        raise UsageError(str(e)) from e
    return settings


def _contents(
    files: list[Path], unreadable: list[tuple[Path, IngestResult]]
) -> Iterator[tuple[Path, bytes]]:
    """(path, bytes) per readable file, read lazily; at most OP179's limit plus one byte."""
    for path in files:
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_MESSAGE_BYTES + 1)
        except OSError as e:
            detail = f"cannot read the file: {e.strerror or e}"
            unreadable.append((path, IngestResult(FAILED, None, None, detail=detail)))
            continue
        yield path, data


def _print_result(path: Path, result: IngestResult) -> None:
    kind = result.message_type or "unknown type"
    if result.status == ACCEPTED:
        print(f"ACCEPTED   {path} ({kind}) {result.message_id}")
    elif result.status == DUPLICATE:
        print(f"DUPLICATE  {path} ({kind}): {result.detail}")
    elif result.status == REJECTED:
        print(f"REJECTED   {path} ({kind}): {len(result.errors)} error(s)")
    else:
        print(f"FAILED     {path} ({kind}): {result.detail}")
    for error in result.errors:
        line = f"line {error.line}" if error.line else "line ?"
        print(f"  {error.rule} [{error.retour_code}] {line} {error.path}: {error.message}")


def _finish(args: argparse.Namespace, results: list[tuple[Path, IngestResult]]) -> Counter[str]:
    """Print the JSON list or the text summary; the count of each status."""
    counts: Counter[str] = Counter(result.status for _, result in results)
    if args.format == "json":
        out = [{"file": str(path), **result.as_dict()} for path, result in results]
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(
            f"{len(results)} file(s): {counts[ACCEPTED]} accepted, {counts[REJECTED]} rejected,"
            f" {counts[DUPLICATE]} duplicate, {counts[FAILED]} failed"
        )
    return counts
