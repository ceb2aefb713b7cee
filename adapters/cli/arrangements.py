"""`iwmo-hub arrangements --gemeente CODE`: where each toewijzing of a gemeente stands."""

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

HELP = "list a gemeente's arrangements: each toewijzing, its status and its history"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "arrangements",
        help=HELP,
        description=f"{HELP}. Folds new events from the event store first (see `project`).",
    )
    parser.add_argument(
        "--gemeente", required=True, metavar="CODE", help="gemeente code (4 digits)"
    )
    parser.add_argument("--aanbieder", metavar="AGB", help="only this aanbieder (AGB code)")
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="as the messages received by the end of that day made them (includes history)",
    )
    parser.add_argument(
        "--history", action="store_true", help="include every version, start and stop"
    )
    parser.add_argument(
        "--show-bsn", action="store_true", help="show the full BSN (masked by default)"
    )
    parser.add_argument(
        "--no-catch-up", action="store_true", help="answer from the projection store as it is"
    )
    add_format_option(parser)
    add_store_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        with open_projections(args) as store:
            if not args.no_catch_up:
                catch_up(args, store, "arrangements")
            found = queries.arrangements(
                store,
                args.gemeente,
                args.aanbieder,
                as_of=args.as_of,
                history=args.history,
                show_bsn=args.show_bsn,
            )
    except UsageProblem as e:
        print(f"iwmo-hub arrangements: {e}", file=sys.stderr)
        return EXIT_USAGE
    except HubError as e:
        print(f"iwmo-hub arrangements: {e}", file=sys.stderr)
        return EXIT_STORE
    if args.format == "json":
        json.dump(found, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _print_text(found, args.show_bsn)
    return EXIT_OK


def _product(a: dict[str, Any]) -> str:
    p = a["product"]
    if p is None:
        return "-"
    return str(p["code"] or p["categorie"])


def _print_text(found: list[dict[str, Any]], show_bsn: bool) -> None:
    if not found:
        print("no arrangements")
        return
    header = ("AANBIEDER", "TOEWIJZING", "BSN", "STATUS", "PRODUCT", "INGANG", "EINDE", "REDEN")
    rows = [
        (
            a["aanbieder"],
            str(a["toewijzingnummer"]),
            a["bsn"] if show_bsn else a["bsn_masked"],
            a["status"],
            _product(a),
            a["ingangsdatum"],
            a["einddatum"] or "-",
            a["reden_wijziging"] or "-",
        )
        for a in found
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"{len(found)} arrangement(s)")
