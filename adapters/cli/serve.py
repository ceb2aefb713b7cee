"""`iwmo-hub serve`: the HTTP API (with the projector in the same process unless told not to).

iwmo-hub serve --make-token gemeente:0363      # prints a token once, adds its hash
iwmo-hub serve [--host 127.0.0.1] [--port 8000] [--no-projector] [--tokens FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Final

import pydantic

from adapters.cli.common import EXIT_OK, EXIT_USAGE
from adapters.store_url import parse_store_url
from hub.settings import HubSettings

HELP = "serve the HTTP API: intake of messages, retours, arrangements and mismatches"
TOKENS_ENV: Final = "IWMO_HUB_TOKENS"
DEFAULT_TOKENS: Final = "./.iwmo-hub/tokens.json"
EPILOG = f"""\
Tokens: every caller sends 'Authorization: Bearer TOKEN'. The tokens file (--tokens, else
${TOKENS_ENV}, else {DEFAULT_TOKENS}) holds only SHA-256 hashes; make a token with
'iwmo-hub serve --make-token PARTY' (PARTY: gemeente:CODE, aanbieder:AGB or operator), which
prints the token once and adds its hash to the tokens file.

The projector runs in this process unless --no-projector; then run 'iwmo-hub project
--follow' beside it (each can be scaled on its own on Kafka). Logs are JSON lines on stderr.
OpenAPI docs: http://HOST:PORT/docs"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help=HELP,
        description=f"{HELP}.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    add("--port", type=int, default=8000, help="port to listen on (default 8000)")
    add("--no-projector", action="store_true", help="do not fold the log in this process")
    add("--tokens", metavar="FILE", help=f"tokens file (default ${TOKENS_ENV}, {DEFAULT_TOKENS})")
    add("--store", metavar="URL", help="event store (default $IWMO_HUB_STORE, embedded SQLite)")
    add("--projections", metavar="PATH", help="projection store (default $IWMO_HUB_PROJECTIONS)")
    add(
        "--workers",
        type=int,
        metavar="N",
        help="processes that validate posted messages (default $IWMO_HUB_WORKERS, else 0: threads)",
    )
    add("--make-token", metavar="PARTY", help="create a token for PARTY, print it once, and exit")
    add("--label", default="", help="with --make-token: a note stored beside the hash")
    add("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    parser.set_defaults(run=run)


def tokens_path(args: argparse.Namespace) -> Path:
    return Path(args.tokens or os.environ.get(TOKENS_ENV, "").strip() or DEFAULT_TOKENS)


def run(args: argparse.Namespace) -> int:
    from adapters.http.auth import TokenRegistry

    path = tokens_path(args)
    if args.make_token:
        return _make_token(args.make_token, args.label, path)
    try:
        tokens = TokenRegistry.load(path)
    except ValueError as e:
        hint = "" if path.exists() else " (make one: iwmo-hub serve --make-token operator)"
        return _usage(f"{e}{hint}")
    if not 0 < args.port < 65536:
        return _usage("--port must be between 1 and 65535")
    try:
        overrides = {"store": args.store, "workers": args.workers}
        settings = HubSettings(**{k: v for k, v in overrides.items() if v is not None})
        parse_store_url(settings.store)
    except (pydantic.ValidationError, ValueError) as e:
        return _usage(f"invalid store: {e}")
    return serve(args, settings, tokens)


def serve(args: argparse.Namespace, settings: HubSettings, tokens: Any) -> int:
    import uvicorn

    from adapters.http import logs
    from adapters.http.app import create_app
    from adapters.http.runtime import ServerConfig
    from projections.store import default_path

    logs.configure(args.log_level)
    config = ServerConfig(
        tokens=tokens,
        settings=settings,
        projections=args.projections or default_path(),
        run_projector=not args.no_projector,
        workers=settings.workers,
    )
    app = create_app(config)
    print(
        f"iwmo-hub: serving on http://{args.host}:{args.port} (docs: /docs), store"
        f" {settings.store}, {len(tokens)} token(s),"
        f" projector {'off' if args.no_projector else 'in process'}",
        file=sys.stderr,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return EXIT_OK


def _make_token(text: str, label: str, path: Path) -> int:
    from adapters.http.auth import Party, add_entry, make_token

    try:
        party = Party.parse(text)
    except ValueError as e:
        return _usage(str(e))
    token, entry = make_token(party, label)
    path.parent.mkdir(parents=True, exist_ok=True)
    add_entry(path, entry)
    print(f"token for {party} (shown only now; the hub keeps its hash):")
    print(token)
    print(f"added to {path}: {entry}")
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"iwmo-hub serve: {message}", file=sys.stderr)
    return EXIT_USAGE
