"""`iwmo-hub status`: each projection's position and lag, the log's end, intake per gemeente."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from adapters.bootstrap import event_mapper, open_log
from adapters.cli.common import EXIT_OK, EXIT_USAGE, add_format_option
from adapters.cli.project import EXIT_STORE, UsageProblem, settings_of
from hub.errors import HubError
from hub.records import EVENTS, REJECTED
from projections.store import ENV_VAR as PROJECTIONS_ENV
from projections.store import ProjectionStore, default_path
from replay.status import Status, intake_counts, lag

HELP = "show how far each projection is behind the event log, and intake per gemeente"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "status",
        help=HELP,
        description=f"{HELP}: the log's end position, each projection store's position and"
        " lag (in records, and in seconds the oldest unfolded record has waited), and the"
        " number of accepted and rejected messages per gemeente.",
    )
    parser.add_argument(
        "--store", metavar="URL", default=None, help="the event store (as `ingest --store`)"
    )
    parser.add_argument(
        "--projections", metavar="PATH", action="append", default=None,
        help=f"a projection store (repeat for several; default: ${PROJECTIONS_ENV}, else"
        " ./.iwmo-hub/projections.db)",
    )  # fmt: skip
    add_format_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        log = open_log(settings_of(args))
    except (UsageProblem, ValueError) as e:
        print(f"iwmo-hub status: {e}", file=sys.stderr)
        return EXIT_USAGE
    except HubError as e:
        print(f"iwmo-hub status: {e}", file=sys.stderr)
        return EXIT_STORE
    try:
        status = Status(log.end_position(EVENTS), log.end_position(REJECTED))
        for path in args.projections or [default_path()]:
            if not Path(path).exists():
                print(f"iwmo-hub status: no projection store at {path}", file=sys.stderr)
                continue
            with ProjectionStore(path) as store:
                status.projections.append(lag(log, path, store.position()))
        status.accepted, status.rejected = intake_counts(log, event_mapper())
    except HubError as e:
        print(f"iwmo-hub status: {e}", file=sys.stderr)
        return EXIT_STORE
    finally:
        log.close()
    if args.format == "json":
        json.dump(status.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_text(status)
    return EXIT_OK


def _print_text(status: Status) -> None:
    data = status.as_dict()
    print(f"event log end: {data['log_end'] or 'start'} ({data['log_records']:,} records);"
          f" dead letters end: {data['rejected_end'] or 'start'}")  # fmt: skip
    for p in status.projections:
        print(f"projection {p.path}: position {p.position or 'start'}, {p.events:,} records"
              f" behind, {p.seconds:,.1f}s lag")  # fmt: skip
    if not status.projections:
        print("no projection store")
    print(f"{'GEMEENTE':<10} {'ACCEPTED':>10} {'REJECTED':>10}")
    for g in data["gemeenten"]:  # type: ignore[attr-defined]
        print(f"{g['gemeente']:<10} {g['accepted']:>10,} {g['rejected']:>10,}")
