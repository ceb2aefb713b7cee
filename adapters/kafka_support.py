"""Kafka plumbing for the event log: error translation, topic creation, client lifetimes.

Everything kafka-python raises leaves through `translate`: not reaching a broker, timeouts and
too few in-sync replicas become `StoreUnavailable` (retrying later can work); what a broker
refuses outright becomes `StoreError`. Both name the bootstrap address.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import kafka.errors as kerrors
from kafka.net.compat import KafkaNetClient

from hub.errors import StoreError, StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


class QuietSelector(selectors.DefaultSelector):
    """The platform's default selector, whose `get_key` raises a plain KeyError for a file
    object it does not hold.

    kafka-python registers its socket for every wait by asking `get_key` first and catching
    the KeyError; the standard library formats the socket's repr into that error (two system
    calls and string formatting, twice), which was about a sixth of the producer thread's CPU
    under HTTP load. Passed to every client as its `selector`.
    """

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        table = getattr(self, "_fd_to_key", None)
        lookup = getattr(self, "_fileobj_lookup", None)
        if table is None or lookup is None:  # a selector without these internals
            return super().get_key(fileobj)
        if self.get_map() is None:
            raise RuntimeError("Selector is closed")
        key: selectors.SelectorKey | None = table.get(lookup(fileobj))
        if key is None:
            raise KeyError("file object is not registered")
        return key


def topic_configs(replication_factor: int, max_record_bytes: int) -> dict[str, str]:
    """Topic settings for a system of record: keep everything, never lose an acknowledged write."""
    return {
        "cleanup.policy": "delete",
        "retention.ms": "-1",  # events are the source of truth: never expire them
        "retention.bytes": "-1",
        # With 3 replicas an acknowledged write survives losing a broker; 1 or 2 cannot do that.
        "min.insync.replicas": str(max(1, min(2, replication_factor - 1))),
        "unclean.leader.election.enable": "false",
        "message.timestamp.type": "CreateTime",  # the hub stamps the time of receipt
        "max.message.bytes": str(max_record_bytes),
    }


def translate(error: BaseException, action: str, *, where: str, timeout_ms: int) -> StoreError:
    """The hub error for a kafka-python (or socket) error raised while trying to `action`."""
    if isinstance(error, StoreError):
        return error
    if isinstance(error, kerrors.RetriableError | kerrors.BrokerNotAvailableError | OSError):
        return StoreUnavailable(
            f"Kafka at {where} did not {action} within {timeout_ms} ms: {error}"
        )
    return StoreError(f"Kafka at {where}: could not {action}: {error}")


@contextlib.contextmanager
def kafka_errors(action: str, *, where: str, timeout_ms: int) -> Iterator[None]:
    """Translate kafka-python and socket errors raised inside the block (`raise ... from`)."""
    try:
        yield
    except (kerrors.KafkaError, OSError) as e:
        raise translate(e, action, where=where, timeout_ms=timeout_ms) from e


def retrying(call: Callable[[], T], action: str, *, where: str, timeout_ms: int) -> T:
    """`call()`, retried while it fails with a retriable error (a group coordinator that is
    still loading, a leader being elected) until `timeout_ms` has passed."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        try:
            return call()
        except kerrors.RetriableError as e:
            if time.monotonic() >= deadline:
                raise translate(e, action, where=where, timeout_ms=timeout_ms) from e
            time.sleep(0.1)
        except (kerrors.KafkaError, OSError) as e:
            raise translate(e, action, where=where, timeout_ms=timeout_ms) from e


class _ClientTracker:
    """Remembers the network clients kafka-python creates: a constructor that fails (broker
    unreachable) leaves its I/O thread running, and only its client can stop it."""

    def __init__(self) -> None:
        self.clients: list[Any] = []

    def __call__(self, **configs: Any) -> Any:
        client = KafkaNetClient(**configs)
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            with contextlib.suppress(Exception):
                client.close()
        self.clients.clear()


def connect(cls: Callable[..., T], config: Mapping[str, Any], *, where: str, timeout_ms: int) -> T:
    """A kafka-python client (admin, producer, consumer), or a translated error with nothing
    left running."""
    tracker = _ClientTracker()
    try:
        return cls(**config, kafka_client=tracker)
    except (kerrors.KafkaError, OSError) as e:
        tracker.close()
        raise translate(e, "connect", where=where, timeout_ms=timeout_ms) from e


def ensure_topics(
    admin: Any,
    partitions: Mapping[str, int],
    configs: Mapping[str, str],
    *,
    replication_factor: int,
    timeout_ms: int,
) -> dict[str, list[int]]:
    """Create the missing topics explicitly and wait for their leaders; every topic's partitions.

    An existing topic is used as it is: changing its partition count would move keys to other
    partitions and break each gemeente's order, so a mismatch is only logged.
    """
    names = list(partitions)
    existing = set(admin.list_topics())
    missing = {
        topic: {
            "num_partitions": count,
            "replication_factor": replication_factor,
            "configs": dict(configs),
        }
        for topic, count in partitions.items()
        if topic not in existing
    }
    if missing:
        result = admin.create_topics(missing, timeout_ms=timeout_ms, raise_errors=False)
        for topic in result["topics"]:
            error = kerrors.for_code(topic["error_code"])
            # Another hub process may have created it a moment ago; that is fine.
            if error not in (kerrors.NoError, kerrors.TopicAlreadyExistsError):
                raise error(f"{topic['name']}: {topic.get('error_message')}")
        log.info("created topics %s", ", ".join(sorted(missing)))
    admin.wait_for_topics(names, timeout_ms=timeout_ms)
    found = {
        t["name"]: sorted(p["partition_index"] for p in t["partitions"])
        for t in admin.describe_topics(names)
    }
    for topic, count in partitions.items():
        if len(found[topic]) != count:
            log.warning(
                "topic %s has %d partitions, not the configured %d; using the topic as it is",
                topic,
                len(found[topic]),
                count,
            )
    return {topic: found[topic] for topic in names}
