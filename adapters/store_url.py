"""Choose the event store from one setting: `--store URL` or `$IWMO_HUB_STORE`.

    sqlite:PATH                          embedded SQLite file (the default: ./.iwmo-hub/events.db)
    sqlite::memory:                      throw-away, in this process only
    kafka://HOST:PORT[,HOST:PORT...][?prefix=iwmo-hub&timeout_ms=15000&partitions=6
                                       &replication_factor=1]

Nothing else in the code changes with the store: callers get an `EventLog`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl

from hub.eventlog import EventLog

ENV_VAR: Final = "IWMO_HUB_STORE"
DEFAULT_STORE: Final = "sqlite:./.iwmo-hub/events.db"
DEFAULT_KAFKA_PORT: Final = 9092
_FORMS = "expected sqlite:PATH or kafka://HOST:PORT[,HOST:PORT][?prefix=NAME]"
_KAFKA_OPTIONS = frozenset({"prefix", "timeout_ms", "partitions", "replication_factor"})


@dataclass(frozen=True)
class SqliteStore:
    """The embedded store: a SQLite file (or ':memory:')."""

    path: str

    def open(self) -> EventLog:
        from adapters.sqlite_log import SqliteEventLog

        return SqliteEventLog(self.path)


@dataclass(frozen=True)
class KafkaStore:
    """A Kafka cluster: bootstrap servers and the options the URL's query gave."""

    servers: tuple[str, ...]
    prefix: str | None = None
    timeout_ms: int | None = None
    partitions: int | None = None
    replication_factor: int | None = None

    def open(self) -> EventLog:
        # Imported here so the embedded default never loads kafka-python.
        from adapters.kafka_log import DEFAULT_PREFIX, DEFAULT_TIMEOUT_MS, KafkaEventLog

        return KafkaEventLog(
            list(self.servers),
            prefix=self.prefix or DEFAULT_PREFIX,
            timeout_ms=self.timeout_ms or DEFAULT_TIMEOUT_MS,
            partitions={"events": self.partitions} if self.partitions else None,
            replication_factor=self.replication_factor or 1,
        )


StoreConfig = SqliteStore | KafkaStore


def store_url(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The URL to use: `--store` if given, else $IWMO_HUB_STORE, else the embedded default."""
    if explicit:
        return explicit
    env = os.environ if environ is None else environ
    return env.get(ENV_VAR, "").strip() or DEFAULT_STORE


def parse_store_url(url: str) -> StoreConfig:
    """The store a URL names; a ValueError says what is wrong with it."""
    text = url.strip()
    if text.startswith("sqlite:"):
        path = text.removeprefix("sqlite:")
        if path.startswith("//"):  # sqlite:///abs/path and sqlite://rel/path read as paths too
            path = path[2:]
        if not path:
            raise ValueError(f"store {url!r} has no file path; {_FORMS}")
        return SqliteStore(path)
    if text.startswith("kafka://"):
        return _parse_kafka(url, text.removeprefix("kafka://"))
    raise ValueError(f"unknown store {url!r}; {_FORMS}")


def open_store(url: str | None = None, environ: Mapping[str, str] | None = None) -> EventLog:
    """Open the event log the configuration names (see `store_url`)."""
    return parse_store_url(store_url(url, environ)).open()


def _parse_kafka(url: str, rest: str) -> KafkaStore:
    hosts, _, query = rest.partition("?")
    hosts = hosts.rstrip("/")
    if "/" in hosts:
        raise ValueError(f"store {url!r}: a Kafka URL has no path; {_FORMS}")
    servers = tuple(_server(url, h.strip()) for h in hosts.split(",") if h.strip())
    if not servers:
        raise ValueError(f"store {url!r} names no Kafka broker; {_FORMS}")
    options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    unknown = set(options) - _KAFKA_OPTIONS
    if unknown:
        raise ValueError(
            f"store {url!r}: unknown option(s) {', '.join(sorted(unknown))};"
            f" known: {', '.join(sorted(_KAFKA_OPTIONS))}"
        )
    return KafkaStore(
        servers=servers,
        prefix=options.get("prefix") or None,
        timeout_ms=_positive(url, options, "timeout_ms"),
        partitions=_positive(url, options, "partitions"),
        replication_factor=_positive(url, options, "replication_factor"),
    )


def _server(url: str, host_port: str) -> str:
    """'host:port' with the port checked ('[::1]:9092' for IPv6); 9092 when left out."""
    if host_port.startswith("["):
        host, sep, port = host_port[1:].partition("]")
        if not sep or (port and not port.startswith(":")):
            raise ValueError(f"store {url!r}: bad IPv6 broker address {host_port!r}")
        port = port[1:]
        host = f"[{host}]"
    else:
        host, _, port = host_port.rpartition(":") if ":" in host_port else (host_port, "", "")
    if not host or host == "[]":
        raise ValueError(f"store {url!r}: broker {host_port!r} has no host")
    if not port:
        return f"{host}:{DEFAULT_KAFKA_PORT}"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"store {url!r}: broker {host_port!r} has no valid port")
    return f"{host}:{int(port)}"


def _positive(url: str, options: Mapping[str, str], name: str) -> int | None:
    value = options.get(name)
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"store {url!r}: {name} must be a positive whole number, got {value!r}")
    return int(value)
