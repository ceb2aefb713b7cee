"""`iwmo-hub demo`: a month of traffic for three gemeenten, through the API, then serve it.

1. generates a month of realistic traffic (the generator, seeded: the same every run);
2. posts every message to `POST /v1/messages` of the real app, in process, each with its
   sender's token, stamped with its simulated arrival time (so the projection's time-judged
   mismatches come out as they would have on those days);
3. waits for the in-process projector and prints, per gemeente, what the API answers:
   arrangements by status and open mismatches by code, beside the generator's ground truth;
4. serves the API on the same embedded store and prints the docs URL, a demo token and a
   ready-made curl command (not with --no-serve).

Everything lives in one directory (default ./.iwmo-hub/demo), started afresh on every run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Final

from adapters.cli.common import EXIT_OK, EXIT_USAGE

HELP = "generate a month of traffic for 3 gemeenten, post it through the API, serve it"
DEMO_FILES: Final = ("events.db", "projections.db", "tokens.json")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("demo", help=HELP, description=f"{HELP}.")
    add = parser.add_argument
    add("--dir", type=Path, default=Path(".iwmo-hub/demo"), help="where the demo keeps its files")
    add("--gemeenten", type=int, default=3, help="municipalities (default 3)")
    add("--clients", type=int, default=1_000, help="clients (default 1000)")
    add("--months", type=int, default=1, help="months of traffic (default 1)")
    add("--seed", type=int, default=7, help="generator seed (default 7)")
    add("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    add("--port", type=int, default=8000, help="port to serve on (default 8000)")
    add("--no-serve", action="store_true", help="stop after the summary (tests, CI)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hub.generator import GeneratorConfig

    try:
        config = GeneratorConfig(
            gemeenten=args.gemeenten, clients=args.clients, months=args.months, seed=args.seed
        )
    except ValueError as e:
        print(f"iwmo-hub demo: {e}", file=sys.stderr)
        return EXIT_USAGE
    directory: Path = args.dir
    directory.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:  # only what an earlier demo made here
        for stale in directory.glob(name + "*"):
            stale.unlink()
    return _demo(args, config, directory)


def _demo(args: argparse.Namespace, config: Any, directory: Path) -> int:
    from adapters.cli.generate import write_run
    from adapters.http.auth import Party, TokenRegistry, add_entry, make_token
    from hub.generator import Planned
    from hub.generator.plan import moment

    started = time.perf_counter()
    messages: list[tuple[str, dt.datetime, bytes]] = []

    def collect(message: Planned, data: bytes) -> None:
        messages.append((message.sender, moment(message.sent_at), data))

    truth = write_run(config, None, collect)
    print(
        f"generated {len(messages):,} messages ({_counts(truth['by_type'])}) for"
        f" {config.gemeenten} gemeenten, {config.first_day} to {config.as_of}"
        f" ({time.perf_counter() - started:.1f}s)"
    )
    tokens_file = directory / "tokens.json"
    tokens: dict[str, str] = {}
    for party in ["operator", *sorted({_party_of(sender) for sender, _, _ in messages})]:
        token, entry = make_token(Party.parse(party), label="demo")
        add_entry(tokens_file, entry)
        tokens[party] = token
    registry = TokenRegistry.load(tokens_file)
    store = f"sqlite:{directory / 'events.db'}"
    projections = str(directory / "projections.db")
    summary = _post_all(messages, tokens, registry, store, projections, config)
    _print_summary(summary, truth)
    if args.no_serve:
        return EXIT_OK
    return _serve(args, registry, tokens, store, projections, config, sorted(summary))


def _party_of(sender: str) -> str:
    return f"gemeente:{sender}" if len(sender) == 4 else f"aanbieder:{sender}"


def _counts(by_type: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {t}" for t, n in by_type.items())


def _post_all(
    messages: list[tuple[str, dt.datetime, bytes]],
    tokens: dict[str, str],
    registry: Any,
    store: str,
    projections: str,
    config: Any,
) -> dict[str, dict[str, Any]]:
    """Post every message through the app; the API's answer per gemeente once projected."""
    from adapters.http.app import create_app
    from adapters.http.runtime import ServerConfig
    from hub.settings import HubSettings
    from hub.validation import Validator

    arrival = [dt.datetime.now(dt.UTC)]  # set to each message's arrival before its post
    server = ServerConfig(
        tokens=registry,
        settings=HubSettings(store=store),
        projections=projections,
        validator=Validator(today=config.as_of),  # judged on the run's last day, as generated
        clock=lambda: arrival[0],
        poll_seconds=0.2,
    )
    app = create_app(server)
    runtime = app.state.runtime
    runtime.start()
    try:
        if not runtime.wait_open(60):
            raise SystemExit(f"iwmo-hub demo: the event store did not open: {runtime.store_error}")
        return asyncio.run(_post_and_read(app, messages, tokens, arrival, config.as_of))
    finally:
        runtime.stop()


async def _post_and_read(
    app: Any,
    messages: list[tuple[str, dt.datetime, bytes]],
    tokens: dict[str, str],
    arrival: list[dt.datetime],
    as_of: dt.date,
) -> dict[str, dict[str, Any]]:
    import httpx

    outcomes: Counter[int] = Counter()
    started = time.perf_counter()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        for sender, received_at, data in messages:
            arrival[0] = received_at  # one at a time: each is stamped with its own arrival
            headers = {
                "Authorization": f"Bearer {tokens[_party_of(sender)]}",
                "Content-Type": "application/xml",
            }
            answer = await client.post("/v1/messages", content=data, headers=headers)
            outcomes[answer.status_code] += 1
        seconds = time.perf_counter() - started
        print(
            f"posted them to POST /v1/messages in {seconds:.1f}s"
            f" ({len(messages) / max(seconds, 1e-9):,.0f}/s): "
            + ", ".join(f"{n:,} x {status}" for status, n in sorted(outcomes.items()))
        )
        await _wait_projected(app.state.runtime)
        return {
            party.split(":")[1]: await _gemeente_view(client, tokens[party], party, as_of)
            for party in tokens
            if party.startswith("gemeente:")
        }


async def _wait_projected(runtime: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = runtime.projector_state
        if state.get("lag") == 0 and runtime.writer is not None and runtime.writer.waiting == 0:
            return
        await asyncio.sleep(0.1)
    raise SystemExit("iwmo-hub demo: the projector did not catch up in time")


async def _gemeente_view(client: Any, token: str, party: str, as_of: dt.date) -> dict[str, Any]:
    """Everything the API shows this gemeente, read page by page like a back-office would."""
    code = party.split(":")[1]
    headers = {"Authorization": f"Bearer {token}"}
    arrangements = await _all_pages(client, f"/v1/gemeenten/{code}/arrangements", headers, {})
    mismatches = await _all_pages(
        client, f"/v1/gemeenten/{code}/mismatches", headers, {"as_of": as_of.isoformat()}
    )
    return {
        "arrangements": Counter(a["status"] for a in arrangements),
        "aanbieders": len({a["aanbieder"] for a in arrangements}),
        "mismatches": Counter(m["code"] for m in mismatches),
    }


async def _all_pages(
    client: Any, url: str, headers: dict[str, str], params: dict[str, str]
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": "500", **({"cursor": cursor} if cursor else {})}
        answer = await client.get(url, headers=headers, params=query)
        answer.raise_for_status()
        page = answer.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def _print_summary(summary: dict[str, dict[str, Any]], truth: dict[str, Any]) -> None:
    print("\nper gemeente, as the API answers it:")
    for code, view in sorted(summary.items()):
        statuses = view["arrangements"]
        mismatches = view["mismatches"]
        print(
            f"  gemeente {code}: {sum(statuses.values()):,} arrangements with"
            f" {view['aanbieders']} aanbieders ({_counts(dict(sorted(statuses.items())))})"
        )
        shown = _counts(dict(sorted(mismatches.items()))) or "none"
        print(f"    open mismatches: {sum(mismatches.values())} ({shown})")
    expected = truth["mismatches"]["open"]
    found = sum(sum(v["mismatches"].values()) for v in summary.values())
    print(
        f"  all gemeenten: {found} open mismatches; the generator injected"
        f" {sum(expected.values())} ({_counts(expected) or 'none'})"
    )


def _serve(
    args: argparse.Namespace,
    registry: Any,
    tokens: dict[str, str],
    store: str,
    projections: str,
    config: Any,
    gemeenten: list[str],
) -> int:
    import uvicorn

    from adapters.http import logs
    from adapters.http.app import create_app
    from adapters.http.runtime import ServerConfig
    from hub.settings import HubSettings

    code = gemeenten[0]
    token = tokens[f"gemeente:{code}"]
    base = f"http://{args.host}:{args.port}"
    print(f"\nserving the API on {base} (Ctrl-C to stop); docs: {base}/docs")
    print(f"demo token of gemeente {code} (all demo tokens' hashes: {args.dir}/tokens.json):")
    print(f"  {token}")
    print("try:")
    print(
        f"  curl -s -H 'Authorization: Bearer {token}'"
        f" '{base}/v1/gemeenten/{code}/mismatches?as_of={config.as_of}'"
    )
    print(
        f"  curl -s -H 'Authorization: Bearer {token}'"
        f" '{base}/v1/gemeenten/{code}/arrangements?limit=5'"
    )
    sys.stdout.flush()
    logs.configure("warning")
    app = create_app(
        ServerConfig(tokens=registry, settings=HubSettings(store=store), projections=projections)
    )
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    return EXIT_OK
