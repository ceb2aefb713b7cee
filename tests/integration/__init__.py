"""Integration tests against real services (a real Apache Kafka broker, no mocks)."""

from __future__ import annotations

from typing import Protocol


class KafkaBroker(Protocol):
    """What the `kafka_broker` fixture yields: a real single-node broker the session owns."""

    @property
    def bootstrap(self) -> str:
        """The client bootstrap address, "127.0.0.1:PORT"; the same after a restart."""
        ...

    def start(self, port: int | None = None, timeout: float = 90.0) -> int:
        """Start it again on the same ports and data; returns the new PID."""
        ...

    def stop(self, timeout: float = 30.0, kill: bool = False) -> bool:
        """SIGTERM it (SIGKILL with `kill`, to simulate a crash); False if it was not running."""
        ...

    def pid(self) -> int | None:
        """The broker's PID while it runs, else None."""
        ...

    def answers_metadata(self, timeout: float = 5.0) -> bool:
        """Whether it answers a metadata request now."""
        ...
