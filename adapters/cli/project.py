"""`iwmo-hub project [--follow]`: fold the event store into the projection store.

Also the shared plumbing of the read commands (`arrangements`, `mismatches`): the `--store`
and `--projections` options and the automatic catch-up they do before answering.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import pydantic

from adapters.bootstrap import event_mapper, open_log, open_source, source_of
from adapters.cli.common import EXIT_OK, EXIT_USAGE
from adapters.live_projections import LiveProjections
from adapters.store_url import ENV_VAR as STORE_ENV
from adapters.store_url import SqliteStore, parse_store_url
from hub.errors import HubError, StoreError, StoreUnavailable
from hub.ingest import IngestResult
from hub.messagetypes import MessageType
from hub.retour import technical_retour
from hub.settings import HubSettings
from projections.projector import DEFAULT_BATCH, PARALLEL_FROM, Progress, Projector
from projections.retours import retour_for
from projections.store import ENV_VAR as PROJECTIONS_ENV
from projections.store import ProjectionStore, default_path

HELP = "fold the event store into the projection store (arrangements and mismatches)"
EXIT_STORE = 3


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help=f"the event store: sqlite:PATH or kafka://HOST:PORT (default: ${STORE_ENV}, "
        "else sqlite:./.iwmo-hub/events.db)",
    )
    parser.add_argument(
        "--projections",
        metavar="PATH",
        default=None,
        help=f"the projection store, a SQLite file (default: ${PROJECTIONS_ENV}, "
        "else ./.iwmo-hub/projections.db)",
    )


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "project",
        help=HELP,
        description=f"{HELP}. Resumes from the position saved in the projection store; "
        "with --follow keeps folding new events until interrupted (Ctrl-C or SIGTERM).",
    )
    add_store_options(parser)
    parser.add_argument("--follow", action="store_true", help="keep running and fold new events")
    parser.add_argument(
        "--poll",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="with --follow: how long to wait when there is nothing new (default: 1)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH,
        metavar="N",
        help=f"records folded per transaction (default: {DEFAULT_BATCH})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        choices=(0, 1),
        default=None,
        help="1: read and decode the event log in a second process and, for a file store,"
        " write the projection store in a third; 0: all in this one (default: 1 for a backlog"
        f" of {PARALLEL_FROM:,} records or more, on a machine with more than one core)",
    )
    parser.set_defaults(run=run)


def settings_of(args: argparse.Namespace) -> HubSettings:
    """The hub settings with `--store` (if given) over the environment."""
    try:
        return HubSettings(store=args.store) if args.store else HubSettings()
    except pydantic.ValidationError as e:
        raise UsageProblem(f"invalid setting: {e.errors()[0]['msg']}") from e


def open_projections(args: argparse.Namespace) -> ProjectionStore:
    return ProjectionStore(args.projections or default_path())


def projector(
    settings: HubSettings, store: ProjectionStore, batch_size: int, workers: int | None = None
) -> Projector:
    """A projector from the configured event store (the caller closes `projector.log`); a
    long backlog is read and decoded in a second process (see `--workers`)."""
    if workers is None and (os.cpu_count() or 1) < 2:
        workers = 0  # a second process only competes for the one core
    source = source_of(settings)
    log = open_log(settings)
    try:
        return Projector(
            log,
            store,
            event_mapper().to_event,
            source=source,
            batch_size=batch_size,
            reader=None if workers == 0 else functools.partial(open_source, settings),
            parallel_from=PARALLEL_FROM if workers is None else 0,
        )
    except BaseException:
        log.close()
        raise


def catch_up(args: argparse.Namespace, store: ProjectionStore, command: str) -> None:
    """Fold what is new before a read command answers; a store that cannot be reached only
    earns a warning, and the answer is what the projection store held."""
    settings = settings_of(args)
    try:
        config = parse_store_url(settings.store)
    except ValueError as e:
        raise UsageProblem(str(e)) from e
    if isinstance(config, SqliteStore) and not _exists(config.path):
        return  # nothing was ever ingested here; do not create an empty event store
    try:
        folding = projector(settings, store, DEFAULT_BATCH)
        try:
            folding.catch_up()
        finally:
            folding.log.close()
    except StoreUnavailable as e:
        print(f"iwmo-hub {command}: warning: could not catch up ({e});"
              " showing the projection as last saved", file=sys.stderr)  # fmt: skip


def _exists(path: str) -> bool:
    return path == ":memory:" or Path(path).exists()


class UsageProblem(Exception):
    """A bad option value (exit 2)."""


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1 or args.poll <= 0:
        print("iwmo-hub project: --batch-size and --poll must be positive", file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = settings_of(args)
        parse_store_url(settings.store)
    except (UsageProblem, ValueError) as e:
        print(f"iwmo-hub project: {e}", file=sys.stderr)
        return EXIT_USAGE
    live = LiveProjections(args.projections or default_path())
    try:
        store = live.get()
    except StoreError as e:
        print(f"iwmo-hub project: {e}", file=sys.stderr)
        return EXIT_STORE
    try:
        folding = projector(settings, store, args.batch_size, args.workers)
    except ValueError as e:
        live.close()
        print(f"iwmo-hub project: {e}", file=sys.stderr)
        return EXIT_USAGE
    except HubError as e:
        live.close()
        print(f"iwmo-hub project: {e}", file=sys.stderr)
        return EXIT_STORE
    following = _Following(folding)
    try:
        if args.follow:
            done = _follow(following, live, args, settings)
        else:
            done = folding.catch_up(on_batch=_report_batch)
    except HubError as e:
        print(f"iwmo-hub project: {e}", file=sys.stderr)
        return EXIT_STORE
    finally:
        following.current.log.close()
        live.close()
    print(
        f"folded {done.folded:,} events ({done.records:,} records) in {done.seconds:.1f}s"
        f" ({done.rate:,.0f} records/s); position {done.position or 'start'}"
    )
    return EXIT_OK


def _report_batch(progress: Progress) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\rfolded {progress.records:,} records ({progress.rate:,.0f}/s)")
        sys.stderr.flush()


class _Following:
    """The projector a follow loop uses now (replaced after a swap), for the final close."""

    def __init__(self, current: Projector) -> None:
        self.current = current


def _follow(
    following: _Following, live: LiveProjections, args: argparse.Namespace, settings: HubSettings
) -> Progress:
    """Fold new events until SIGINT/SIGTERM. After `replay --swap` replaced the projection
    store, go on in the new file from its own checkpoint (nothing missed, nothing twice)."""
    stop = threading.Event()

    def stop_on(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, stop_on) for s in (signal.SIGINT, signal.SIGTERM)}
    total = Progress(position=following.current.store.position())
    try:
        while not stop.is_set():
            if live.swapped():
                following.current.log.close()
                store = live.get()
                following.current = projector(settings, store, args.batch_size, args.workers)
                print(
                    f"iwmo-hub project: {live.path} was swapped; following the new store from"
                    f" its position {store.position() or 'start'}",
                    file=sys.stderr,
                )
            done = following.current.catch_up()
            total.records += done.records
            total.folded += done.folded
            total.batches += done.batches
            total.seconds += done.seconds
            total.position = done.position if done.records else total.position
            if not done.records:
                stop.wait(args.poll)
        return total
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def write_retours(
    settings: HubSettings,
    projections: str | None,
    results: Sequence[tuple[Path, IngestResult]],
    directory: Path,
    received_at: dt.datetime,
) -> list[Path]:
    """Write the retour of every ingested file into `directory` as `<name>.<WMO30x>.xml`: for a
    stored message the projection's retour (RetourCodes on every class, cross-message codes
    at receipt; the projection catches up first), for a rejected one the intake's header-level
    retour. Subfolders below the files' common folder are kept, so equal names never collide.
    For `iwmo-hub ingest --retour-dir`. Returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    parents = [str(path.resolve().parent) for path, _ in results]
    common = Path(os.path.commonpath(parents)) if parents else Path()
    written = []
    with ProjectionStore(projections or default_path()) as store:
        folding = projector(settings, store, DEFAULT_BATCH)
        try:
            folding.catch_up()
        finally:
            folding.log.close()
        for path, result in results:
            if result.message_id is None or result.message_type is None:
                continue
            content = path.read_bytes()
            if result.stored:
                xml = retour_for(store, content, result.message_id, received_at)
            else:
                xml = technical_retour(content, result.message_id, received_at, result.errors)
            if xml is None:
                continue
            kind = MessageType.from_name(result.message_type).retour.name
            relative = path.resolve().parent.relative_to(common)
            target = directory / relative / f"{path.stem}.{kind}.xml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(xml)
            written.append(target)
    return written
