"""Helpers for the HTTP API tests: parties with tokens, an app on a store, a live server.

parties = Parties.make()                     # a token for each role used by the tests
with running_app(config_for(tmp_path, parties)) as api:
    api.post(xml, "gemeente:0153")           # in process, through httpx's ASGITransport
with live_server(tmp_path, parties) as url:  # `iwmo-hub serve` on a free loopback port
    httpx.post(url + "/v1/messages", ...)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from adapters.http.app import create_app
from adapters.http.auth import Party, TokenEntry, TokenRegistry, add_entry, make_token
from adapters.http.runtime import ServerConfig
from hub.settings import HubSettings

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
BIN = Path(sys.executable).parent
T = TypeVar("T")

#: The samples' parties (Afzender 0153 and 96683836) and one stranger of each kind.
GEMEENTE = "gemeente:0153"
AANBIEDER = "aanbieder:96683836"
OTHER_GEMEENTE = "gemeente:0363"
OTHER_AANBIEDER = "aanbieder:12345678"
OPERATOR = "operator"
ROLES = (GEMEENTE, AANBIEDER, OTHER_GEMEENTE, OTHER_AANBIEDER, OPERATOR)


def sample(name: str) -> bytes:
    """A file of samples/ by name ('valid/01-wmo301-toewijzing.xml')."""
    return (SAMPLES / name).read_bytes()


WMO301 = "valid/01-wmo301-toewijzing.xml"
WMO305 = "valid/02-wmo305-start.xml"
WMO307 = "valid/03-wmo307-stop.xml"
INVALID_301 = "invalid/wmo301-bsn-fails-11-proef.xml"
TRUNCATED_305 = "invalid/wmo305-truncated.xml"


@dataclass(frozen=True)
class Parties:
    """A token per role, and the registry that knows their hashes."""

    tokens: dict[str, str]
    registry: TokenRegistry

    @classmethod
    def make(cls, roles: tuple[str, ...] = ROLES) -> Parties:
        tokens, entries = {}, []
        for role in roles:
            party = Party.parse(role)
            token, entry = make_token(party)
            tokens[role] = token
            entries.append(TokenEntry(party, bytes.fromhex(entry["sha256"])))
        return cls(tokens, TokenRegistry(entries))

    def write(self, path: Path) -> Path:
        """A tokens file with the hashes of these tokens (as `serve --tokens` reads it)."""
        for entry in self.registry.entries:
            add_entry(path, {"party": str(entry.party), "sha256": entry.digest.hex()})
        return path

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def xml(self, role: str) -> dict[str, str]:
        return {**self.auth(role), "Content-Type": "application/xml"}


def config_for(tmp_path: Path, parties: Parties, **overrides: Any) -> ServerConfig:
    """A server config on a SQLite store and projection store under `tmp_path`."""
    values: dict[str, Any] = {
        "tokens": parties.registry,
        "settings": HubSettings(store=f"sqlite:{tmp_path / 'events.db'}"),
        "projections": str(tmp_path / "projections.db"),
        "poll_seconds": 0.05,
        "retry_after": 7,
    }
    values.update(overrides)
    return ServerConfig(**values)


class Api:
    """The app in process: requests go through httpx's ASGITransport on a private loop."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.runtime = app.state.runtime
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        transport = httpx.ASGITransport(app=app)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://hub.test")

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(60)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.run(self.client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.run(self.client.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def wait_projected(self, timeout: float = 30.0) -> None:
        """Until the in-process projector has folded everything stored so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.runtime.projector_state
            if state.get("lag") == 0 and state.get("error") is None and self.runtime.hub:
                end = self.runtime.hub.log.end_position("events")
                if state.get("position") == str(end):
                    return
            time.sleep(0.02)
        raise AssertionError(f"projector did not catch up: {self.runtime.projector_state}")


@contextlib.contextmanager
def running_app(config: ServerConfig, *, wait_open: bool = True) -> Iterator[Api]:
    """The app with its runtime started (and the store open unless told not to wait)."""
    app = create_app(config)
    api = Api(app)
    api.runtime.start()
    try:
        if wait_open:
            assert api.runtime.wait_open(30), api.runtime.store_error
        yield api
    finally:
        api.close()
        api.runtime.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@contextlib.contextmanager
def live_server(
    tmp_path: Path,
    parties: Parties,
    *extra: str,
    store: str | None = None,
    env: dict[str, str] | None = None,
    ready_path: str = "/healthz",
) -> Iterator[str]:
    """`iwmo-hub serve` in a subprocess on a free 127.0.0.1 port; yields its base URL."""
    port = free_port()
    tokens = parties.write(tmp_path / "tokens.json")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("IWMO_HUB_")}
    environ.update(env or {})
    command = [
        str(BIN / "iwmo-hub"),
        "serve",
        "--port",
        str(port),
        "--tokens",
        str(tokens),
        "--store",
        store or f"sqlite:{tmp_path / 'events.db'}",
        "--projections",
        str(tmp_path / "projections.db"),
        *extra,
    ]
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=environ
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_listening(url + ready_path, process, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _wait_listening(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log_path.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server did not answer in time: {log_path.read_text(errors='replace')}")


def server_log(tmp_path: Path) -> str:
    return (tmp_path / "server.log").read_text(encoding="utf-8", errors="replace")
