"""Choosing the store by URL or environment: `sqlite:PATH` (default) or `kafka://HOST:PORT`."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from adapters.sqlite_log import SqliteEventLog
from adapters.store_url import (
    DEFAULT_STORE,
    ENV_VAR,
    KafkaStore,
    SqliteStore,
    open_store,
    parse_store_url,
    store_url,
)
from hub.errors import StoreUnavailable
from hub.records import EVENTS, StreamPosition


def test_explicit_beats_environment_beats_default() -> None:
    assert store_url(None, {}) == DEFAULT_STORE == "sqlite:./.iwmo-hub/events.db"
    assert store_url(None, {ENV_VAR: "  "}) == DEFAULT_STORE
    assert store_url(None, {ENV_VAR: "kafka://k:9092"}) == "kafka://k:9092"
    assert store_url("sqlite:x.db", {ENV_VAR: "kafka://k:9092"}) == "sqlite:x.db"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:./.iwmo-hub/events.db", "./.iwmo-hub/events.db"),
        ("sqlite:events.db", "events.db"),
        ("sqlite:///var/lib/hub/events.db", "/var/lib/hub/events.db"),
        ("sqlite::memory:", ":memory:"),
    ],
)
def test_sqlite_urls(url: str, path: str) -> None:
    assert parse_store_url(url) == SqliteStore(path)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("kafka://127.0.0.1:9092", KafkaStore(("127.0.0.1:9092",))),
        ("kafka://k1:9092,k2:9093/", KafkaStore(("k1:9092", "k2:9093"))),
        ("kafka://broker", KafkaStore(("broker:9092",))),
        ("kafka://[::1]:19092", KafkaStore(("[::1]:19092",))),
        (
            "kafka://k:9092?prefix=acc-hub&timeout_ms=500&partitions=12&replication_factor=3",
            KafkaStore(
                ("k:9092",), prefix="acc-hub", timeout_ms=500, partitions=12, replication_factor=3
            ),
        ),
    ],
)
def test_kafka_urls(url: str, expected: KafkaStore) -> None:
    assert parse_store_url(url) == expected


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("postgres://db/hub", "unknown store"),
        ("events.db", "unknown store"),
        ("sqlite:", "no file path"),
        ("kafka://", "no Kafka broker"),
        ("kafka://k:99999", "valid port"),
        ("kafka://k:nine", "valid port"),
        ("kafka://:9092", "no host"),
        ("kafka://k:9092/topics", "no path"),
        ("kafka://k:9092?acks=1", "unknown option"),
        ("kafka://k:9092?partitions=0", "positive"),
        ("kafka://[::1:9092", "IPv6"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_store_url(url)


def test_the_environment_opens_the_embedded_store(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "events.db"
    with open_store(None, {ENV_VAR: f"sqlite:{path}"}) as log:
        assert isinstance(log, SqliteEventLog)
        assert log.end_position(EVENTS) == StreamPosition()
    assert path.is_file()


def test_a_kafka_url_whose_broker_is_unreachable_fails_in_time() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=re.escape(f"127.0.0.1:{port}")):
        open_store(f"kafka://127.0.0.1:{port}?timeout_ms=1000", {})
    assert time.monotonic() - started < 10
