"""`iwmo-hub validate PATH...`: one verdict per file, XSD and iWmo rules."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from adapters.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    Progress,
    UsageError,
    add_format_option,
    iter_message_files,
)
from hub.validation import ValidationResult, Validator
from hub.xmlsafe import MAX_MESSAGE_BYTES, too_large

HELP = "validate iWmo 3.2 messages (files or directories) against the XSDs and the rules"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "validate",
        help=HELP,
        description=(
            f"{HELP}. Exit status: 0 when every file is valid, 1 when any is invalid, "
            "2 on a usage error."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="message file or directory")
    add_format_option(parser)
    parser.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="the date rules such as TR135 (not in the future) judge against (default: today)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        files = list(iter_message_files(args.paths))
    except UsageError as e:
        print(f"iwmo-hub validate: {e}", file=sys.stderr)
        return EXIT_USAGE
    validator = Validator(today=args.today)
    progress = Progress(len(files), "validating")
    verdicts = []
    for path in files:
        verdicts.append((path, _check_file(validator, path)))
        progress.step()
    progress.close()
    if args.format == "json":
        json.dump([_as_json(path, result) for path, result in verdicts], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_text(verdicts)
    return EXIT_OK if all(result.valid for _, result in verdicts) else EXIT_INVALID


def _check_file(validator: Validator, path: Path) -> ValidationResult:
    size = path.stat().st_size
    if size > MAX_MESSAGE_BYTES:
        # Refuse without reading the file into memory.
        return ValidationResult(None, (too_large(size),))
    return validator.check(path.read_bytes())


def _as_json(path: Path, result: ValidationResult) -> dict[str, Any]:
    return {
        "file": str(path),
        "message_type": result.message_type.name if result.message_type else None,
        "valid": result.valid,
        "errors": [error.as_dict() for error in result.errors],
    }


def _print_text(verdicts: list[tuple[Path, ValidationResult]]) -> None:
    for path, result in verdicts:
        kind = result.message_type.name if result.message_type else "unknown type"
        if result.valid:
            print(f"VALID    {path} ({kind})")
            continue
        print(f"INVALID  {path} ({kind}): {len(result.errors)} error(s)")
        for error in result.errors:
            line = f"line {error.line}" if error.line else "line ?"
            print(f"  {error.rule} [{error.retour_code}] {line} {error.path}: {error.message}")
    invalid = sum(1 for _, r in verdicts if not r.valid)
    print(f"{len(verdicts)} file(s): {len(verdicts) - invalid} valid, {invalid} invalid")
