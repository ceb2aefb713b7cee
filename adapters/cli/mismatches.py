"""`iwmo-hub mismatches`: what does not add up between toewijzingen and start/stop messages."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from adapters.cli.common import EXIT_OK, EXIT_USAGE, add_format_option
from adapters.cli.project import (
    EXIT_STORE,
    UsageProblem,
    add_store_options,
    catch_up,
    open_projections,
)
from hub.errors import HubError
from projections import queries
from projections.timed import DEFAULT_NOT_STARTED_DAYS, LOCAL

HELP = "list mismatches between what gemeenten assigned and what aanbieders report"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "mismatches",
        help=HELP,
        description=f"{HELP}. Folds new events from the event store first (see `project`).",
    )
    parser.add_argument("--gemeente", metavar="CODE", help="only this gemeente")
    parser.add_argument("--aanbieder", metavar="AGB", help="only this aanbieder (AGB code)")
    parser.add_argument(
        "--status",
        choices=queries.STATUSES,
        default="open",
        help="open (default), resolved, or all",
    )
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="judge at the end of this day (default: today); date-dependent flags such as"
        " ASSIGNMENT_NOT_STARTED use it",
    )
    parser.add_argument(
        "--not-started-days",
        type=int,
        default=DEFAULT_NOT_STARTED_DAYS,
        metavar="N",
        help="ASSIGNMENT_NOT_STARTED: days after the Ingangsdatum by which a start is due"
        f" (default: {DEFAULT_NOT_STARTED_DAYS})",
    )
    parser.add_argument(
        "--no-catch-up", action="store_true", help="answer from the projection store as it is"
    )
    add_format_option(parser)
    add_store_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.not_started_days < 0:
        print("iwmo-hub mismatches: --not-started-days must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    try:
        with open_projections(args) as store:
            if not args.no_catch_up:
                catch_up(args, store, "mismatches")
            found = queries.mismatches(
                store,
                gemeente=args.gemeente,
                aanbieder=args.aanbieder,
                status=args.status,
                as_of=args.as_of or dt.datetime.now(LOCAL).date(),  # receipt days are Dutch days
                not_started_days=args.not_started_days,
            )
    except UsageProblem as e:
        print(f"iwmo-hub mismatches: {e}", file=sys.stderr)
        return EXIT_USAGE
    except HubError as e:
        print(f"iwmo-hub mismatches: {e}", file=sys.stderr)
        return EXIT_STORE
    if args.format == "json":
        json.dump(found, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _print_text(found)
    return EXIT_OK


def _print_text(found: list[dict[str, Any]]) -> None:
    if not found:
        print("no mismatches")
        return
    for m in found:
        nummer = m["toewijzingnummer"] if m["toewijzingnummer"] is not None else "-"
        when = f"resolved {m['resolved_at']}" if m["status"] == "resolved" else "open"
        print(
            f"{m['code']:<26} {when:<10} gemeente {m['gemeente']} aanbieder {m['aanbieder']}"
            f" toewijzing {nummer} bsn {m['bsn_masked']}"
        )
        print(f"    {m['reason']}")
        print(f"    messages: {', '.join(m['message_ids'])}")
    counts: dict[str, int] = {}
    for m in found:
        counts[m["status"]] = counts.get(m["status"], 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"{len(found)} mismatch(es): {summary}")
