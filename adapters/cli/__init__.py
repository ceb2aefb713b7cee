"""The `iwmo-hub` command line: one module per command, each thin over the hub's services."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from adapters.cli import arrangements as arrangements_cmd
from adapters.cli import demo as demo_cmd
from adapters.cli import generate as generate_cmd
from adapters.cli import ingest as ingest_cmd
from adapters.cli import mismatches as mismatches_cmd
from adapters.cli import project as project_cmd
from adapters.cli import rejected as rejected_cmd
from adapters.cli import replay as replay_cmd
from adapters.cli import revalidate as revalidate_cmd
from adapters.cli import serve as serve_cmd
from adapters.cli import status as status_cmd
from adapters.cli import validate as validate_cmd

COMMANDS = (
    validate_cmd,
    ingest_cmd,
    generate_cmd,
    project_cmd,
    arrangements_cmd,
    mismatches_cmd,
    serve_cmd,
    demo_cmd,
    replay_cmd,
    revalidate_cmd,
    rejected_cmd,
    status_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iwmo-hub",
        description="Event-sourced integration hub for iWmo 3.2 messages.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (`| head`) went away: stop quietly, as other command line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":
    sys.exit(main())
