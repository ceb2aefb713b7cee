"""`iwmo-hub replay --into PATH`: rebuild the projections from the event log (time travel with
--until, a live replacement with --swap)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import json
import os
import sys
from pathlib import Path
from typing import Any

from adapters.bootstrap import event_mapper, open_log, open_source, source_of
from adapters.cli.common import EXIT_OK, EXIT_USAGE, add_format_option
from adapters.cli.project import EXIT_STORE, UsageProblem, settings_of
from hub.errors import HubError
from hub.records import EVENTS, StreamPosition
from projections.projector import DEFAULT_BATCH, PARALLEL_FROM, Projector
from projections.store import ENV_VAR as PROJECTIONS_ENV
from projections.store import ProjectionStore, default_path
from replay.digest import digest
from replay.progress import ProgressLine
from replay.rebuild import RebuildResult, is_fresh, rebuild, until_timestamp, window_size
from replay.swap import SwapResult, catch_up_and_swap

HELP = "rebuild the projections from the first event into a fresh projection store"


def _moment(text: str) -> dt.datetime:
    """An ISO 8601 moment; a date means its start in UTC, no zone means UTC."""
    value = text.strip()
    if len(value) == 10:
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), dt.UTC)
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "replay",
        help=HELP,
        description=f"{HELP}. Shows a progress line on stderr and a summary with a content"
        " digest of the views (equal digests: equal views). --until stops at a moment (the"
        " state as it stood then); --swap catches the new store up with the live end of the"
        " log and switches --projections over to it atomically, while intake goes on.",
    )
    parser.add_argument(
        "--store", metavar="URL", default=None, help="the event store (as `ingest --store`)"
    )
    parser.add_argument(
        "--into", metavar="PATH", help="the new projection store (a file that does not exist)"
    )
    parser.add_argument(
        "--from", dest="start", metavar="POSITION", type=StreamPosition.parse,
        help="start at this log position (partition:offset[,...]) instead of the first event",
    )  # fmt: skip
    parser.add_argument("--gemeente", metavar="CODE", help="only this gemeente's events")
    until = parser.add_mutually_exclusive_group()
    until.add_argument(
        "--until", metavar="TIMESTAMP", type=_moment,
        help="stop before the first event received at or after this moment (ISO 8601; UTC"
        " when no zone is given)",
    )  # fmt: skip
    until.add_argument(
        "--until-position", metavar="POSITION", type=StreamPosition.parse,
        help="stop before this log position (partition:offset[,...])",
    )  # fmt: skip
    parser.add_argument(
        "--swap", action="store_true",
        help="catch up with the live log end, then point --projections at the new store",
    )  # fmt: skip
    parser.add_argument(
        "--projections", metavar="PATH", default=None,
        help=f"with --swap: the live projection store path readers use (default:"
        f" ${PROJECTIONS_ENV}, else ./.iwmo-hub/projections.db)",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH, metavar="N",
        help=f"records folded per transaction (default: {DEFAULT_BATCH})",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, choices=(0, 1), default=None,
        help="1: read and decode in a second process and write the new store in a third;"
        f" 0: all in this one (default: 1 from {PARALLEL_FROM:,} records on, with more than"
        " one core)",
    )  # fmt: skip
    add_format_option(parser)
    parser.set_defaults(run=run)


def _fail(message: str, code: int) -> int:
    print(f"iwmo-hub replay: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        return _fail("--batch-size must be positive", EXIT_USAGE)
    if args.swap and (args.gemeente or args.until or args.until_position or args.start):
        return _fail("--swap rebuilds everything: no --from, --gemeente or --until", EXIT_USAGE)
    live = Path(args.projections or default_path())
    if args.into:
        into = Path(args.into)
    elif args.swap:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        into = live.with_name(f"{live.stem}-{stamp}.db")
    else:
        return _fail("say where to rebuild: --into PATH (or --swap)", EXIT_USAGE)
    if into.exists() and into.stat().st_size > 0:
        return _fail(f"{into} exists; replay builds a fresh projection store", EXIT_USAGE)
    try:
        settings = settings_of(args)
        source = source_of(settings)
    except (UsageProblem, ValueError) as e:
        return _fail(str(e), EXIT_USAGE)
    workers = args.workers
    if workers is None and (os.cpu_count() or 1) < 2:
        workers = 0
    reader = None if workers == 0 else functools.partial(open_source, settings)
    try:
        log = open_log(settings)
    except HubError as e:
        return _fail(str(e), EXIT_STORE)
    try:
        with ProjectionStore(into) as store:
            if not is_fresh(store):
                return _fail(f"{into} already holds a projection", EXIT_USAGE)
            until = args.until_position
            if args.until is not None:
                until = until_timestamp(log, args.until)
            line = ProgressLine(window_size(log, args.start, until), "replay")
            try:
                result = rebuild(
                    log, store, event_mapper().to_event, source=source, start=args.start,
                    until=until, gemeente=args.gemeente, batch_size=args.batch_size,
                    reader=reader, on_batch=line,
                    parallel_from=PARALLEL_FROM if workers is None else 0,
                )  # fmt: skip
                swapped = None
                if args.swap:
                    projector = Projector(
                        log, store, event_mapper().to_event, source=source,
                        batch_size=args.batch_size,
                    )  # fmt: skip
                    swapped = catch_up_and_swap(projector, log, live, on_batch=line)
                    # The summary describes the store as switched to, caught up.
                    result = dataclasses.replace(
                        result, position=store.position(), digest=digest(store)
                    )
            finally:
                line.close()
            end = log.end_position(EVENTS)
    except ValueError as e:
        return _fail(str(e), EXIT_USAGE)
    except HubError as e:
        return _fail(str(e), EXIT_STORE)
    finally:
        log.close()
    _summary(args.format, into, result, swapped, end)
    return EXIT_OK


def _summary(
    form: str, into: Path, result: RebuildResult, swapped: SwapResult | None, end: StreamPosition
) -> None:
    if form == "json":
        out: dict[str, Any] = {"into": str(into), **result.as_dict(), "log_end": str(end)}
        if swapped is not None:
            out["swap"] = {
                "live": swapped.live,
                "target": swapped.target,
                "previous": swapped.previous,
                "caught_up_records": swapped.caught_up,
            }
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    print(
        f"rebuilt {into} from {result.records:,} events ({result.folded:,} folded into the"
        f" views) in {result.seconds:.1f}s ({result.rate:,.0f} events/s); position"
        f" {result.position or 'start'} (log end {end or 'start'})"
    )
    print(f"digest {result.digest}")
    if swapped is not None:
        print(
            f"swapped: {swapped.live} -> {swapped.target} (was {swapped.previous or 'nothing'});"
            f" {swapped.caught_up:,} records caught up during the rebuild"
        )
