"""`iwmo-hub rejected list|show ID|redrive ID...`: the dead-letter stream of rejected messages."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from adapters.bootstrap import open_hub, payload_codec
from adapters.cli.common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, add_format_option
from adapters.cli.project import EXIT_STORE, UsageProblem, settings_of
from hub.errors import HubError
from replay.deadletters import Rejection, find, message_type_name, redrive, rejections

HELP = "rejected submissions: list them, show one with every error, submit them again"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "rejected",
        help=HELP,
        description=f"{HELP}. BSNs are masked. A redrive submits the exact bytes again through"
        " the ingest service and records its outcome as a RedriveRecorded event.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every rejection with a summary of its errors",
                                 description="Every rejection, oldest first.")  # fmt: skip
    listing.add_argument("--gemeente", metavar="CODE", help="only rejections about this gemeente")
    listing.add_argument(
        "--open", action="store_true", help="only rejections no redrive has resolved"
    )
    show = actions.add_parser(
        "show",
        help="one rejection with every error and its redrives",
        description="One rejection with every error (BSNs masked).",
    )
    show.add_argument("id", metavar="ID", help="its id (or a unique prefix of 8+ characters)")
    again = actions.add_parser(
        "redrive", help="submit rejections again through the ingest service",
        description="Submit rejected messages again (after a schema or rule fix, say); each"
        " outcome is recorded as an event. Exit status 1 if any is rejected again or fails.",
    )  # fmt: skip
    again.add_argument("ids", nargs="+", metavar="ID", help="rejection ids (or prefixes)")
    for sub_parser in (listing, show, again):
        sub_parser.add_argument(
            "--store", metavar="URL", default=None, help="the event store (as `ingest --store`)"
        )
        add_format_option(sub_parser)
    parser.set_defaults(run=run)


def _fail(message: str, code: int) -> int:
    print(f"iwmo-hub rejected: {message}", file=sys.stderr)
    return code


def _emit(form: str, data: object, text: str) -> None:
    if form == "json":
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(text)


def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_of(args)
        hub = open_hub(settings)
    except (UsageProblem, ValueError) as e:
        return _fail(str(e), EXIT_USAGE)
    except HubError as e:
        return _fail(str(e), EXIT_STORE)
    try:
        avro = payload_codec()
        found = rejections(hub.log, avro)
        if args.action == "list":
            chosen = [r for r in found if not args.gemeente or r.gemeente == args.gemeente]
            chosen = [r for r in chosen if not args.open or r.outcome != "resolved"]
            _emit(args.format, [r.summary() for r in chosen], _list_text(chosen))
            return EXIT_OK
        if args.action == "show":
            [one] = find(found, [args.id])
            _emit(args.format, one.details(), _show_text(one))
            return EXIT_OK
        chosen = find(found, args.ids)
        results = []
        for rejection, result in redrive(hub.log, chosen, hub.ingest.ingest, avro=avro):
            results.append({"id": rejection.id, **result.as_dict()})
            if args.format == "text":
                rules = ", ".join(sorted({e.rule for e in result.errors}))
                print(f"{rejection.id}: {result.status} {result.message_id or ''}"
                      f"{f' ({rules})' if rules else ''}")  # fmt: skip
        if args.format == "json":
            _emit("json", results, "")
        bad = any(r["status"] in ("rejected", "failed") for r in results)
        return EXIT_INVALID if bad else EXIT_OK
    except LookupError as e:
        return _fail(str(e), EXIT_USAGE)
    except HubError as e:
        return _fail(str(e), EXIT_STORE)
    finally:
        hub.close()


def _list_text(chosen: list[Rejection]) -> str:
    if not chosen:
        return "no rejected messages"
    lines = [f"{'ID':<36}  {'RECEIVED':<25}  {'GEMEENTE':<8}  {'TYPE':<6}  {'ERRORS':>6}  "
             f"{'OUTCOME':<8}  RULES"]  # fmt: skip
    for r in chosen:
        s = r.summary()
        lines.append(
            f"{r.id:<36}  {s['received_at']!s:<25}  {r.gemeente:<8}  "
            f"{message_type_name(r.event.message_type):<6}  {s['errors']!s:>6}  {r.outcome:<8}  "
            f"{', '.join(s['rules'])}"  # type: ignore[arg-type]
        )
    lines.append(f"{len(chosen)} rejected message(s)")
    return "\n".join(lines)


def _show_text(r: Rejection) -> str:
    d = r.details()
    keys = ("id", "received_at", "gemeente", "message_type", "sender", "receiver",
            "identificatie", "dagtekening", "size_bytes", "outcome")  # fmt: skip
    lines = [f"{key}: {'-' if d[key] is None else d[key]}" for key in keys]
    lines.append("errors:")
    for e in d["error_list"]:  # type: ignore[attr-defined]
        where = f" line {e['line']}" if e["line"] else ""
        lines.append(f"  {e['rule']} [{e['retour_code']}] {e['path']}{where}: {e['message']}")
    for x in d["redrives"]:  # type: ignore[attr-defined]
        lines.append(f"redriven {x['redriven_at']}: {x['status']} {x['message_id'] or ''}")
    return "\n".join(lines)
