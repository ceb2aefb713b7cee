"""`iwmo-hub revalidate`: which stored messages would the current (or candidate) rules reject?"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from adapters.bootstrap import event_mapper, open_log
from adapters.cli.common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, add_format_option
from adapters.cli.project import EXIT_STORE, UsageProblem, settings_of
from hub.errors import HubError
from replay.revalidate import Report, load_rules, revalidate, validators

HELP = "run every stored message through the current schemas and rules (the log is unchanged)"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "revalidate",
        help=HELP,
        description=f"{HELP}. Reports per gemeente and message type which accepted messages"
        " would now be rejected and why. Each message is judged as of the day it was received"
        " unless --today is given. Exit status 1 when any message would be rejected.",
    )
    parser.add_argument(
        "--store", metavar="URL", default=None, help="the event store (as `ingest --store`)"
    )
    parser.add_argument(
        "--rules", metavar="VERSION", default="current",
        help="'current' (default), or package.module:attribute naming a RuleRegistry to try",
    )  # fmt: skip
    parser.add_argument(
        "--today", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
        help="judge date-dependent rules at this day (default: each message's receipt day)",
    )  # fmt: skip
    parser.add_argument("--gemeente", metavar="CODE", help="only this gemeente's messages")
    add_format_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        rules = load_rules(args.rules)
        settings = settings_of(args)
        log = open_log(settings)
    except (UsageProblem, ValueError) as e:
        print(f"iwmo-hub revalidate: {e}", file=sys.stderr)
        return EXIT_USAGE
    except HubError as e:
        print(f"iwmo-hub revalidate: {e}", file=sys.stderr)
        return EXIT_STORE
    try:
        report = revalidate(
            log, event_mapper(), validators(rules, args.today), gemeente=args.gemeente
        )
    except HubError as e:
        print(f"iwmo-hub revalidate: {e}", file=sys.stderr)
        return EXIT_STORE
    finally:
        log.close()
    if args.format == "json":
        json.dump(report.as_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _print_text(report)
    return EXIT_INVALID if report.findings else EXIT_OK


def _print_text(report: Report) -> None:
    rejected = report.rejected()
    print(f"{'GEMEENTE':<9} {'TYPE':<7} {'CHECKED':>8} {'WOULD REJECT':>13}")
    for (gemeente, kind), checked in sorted(report.checked.items()):
        print(f"{gemeente:<9} {kind:<7} {checked:>8,} {rejected[(gemeente, kind)]:>13,}")
    for finding in report.findings:
        print(
            f"\n{finding.gemeente} {finding.message_type} {finding.hub_message_id}"
            f" ({finding.identificatie}, received {finding.received_at})"
        )
        for rule, code, path, message in finding.errors:
            print(f"  {rule} [{code}] {path}: {message}")
    print(f"\n{len(report.findings):,} of {report.total:,} stored message(s) would be rejected")
