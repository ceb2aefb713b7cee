"""The hub's settings: one class, read from `IWMO_HUB_*` environment variables and overrides.

    HubSettings()                               # environment, then defaults
    HubSettings(store="kafka://k1:9092")        # an explicit value (a --store option) wins

| Setting | Environment | Default |
|---|---|---|
| store | IWMO_HUB_STORE | sqlite:./.iwmo-hub/events.db |
| kafka_prefix | IWMO_HUB_KAFKA_PREFIX | iwmo-hub (a `?prefix=` in the URL wins) |
| kafka_timeout_ms | IWMO_HUB_KAFKA_TIMEOUT_MS | 15000 (a `?timeout_ms=` in the URL wins) |
| kafka_compression | IWMO_HUB_KAFKA_COMPRESSION | none |
| batch_size | IWMO_HUB_BATCH_SIZE | 200 messages per append |
| workers | IWMO_HUB_WORKERS | 0: validate in the ingesting process |
| max_failed_batches | IWMO_HUB_MAX_FAILED_BATCHES | 3 failed appends in a row, then give up |
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The embedded store under the working directory (as `adapters.store_url.DEFAULT_STORE`).
DEFAULT_STORE: Final = "sqlite:./.iwmo-hub/events.db"


class HubSettings(BaseSettings):
    """Where events are stored and how ingest batches and waits."""

    model_config = SettingsConfigDict(env_prefix="IWMO_HUB_", extra="ignore", frozen=True)

    store: str = Field(
        default=DEFAULT_STORE,
        description="event store URL: sqlite:PATH or kafka://HOST:PORT[,HOST:PORT][?options]",
    )
    kafka_prefix: str = Field(
        default="iwmo-hub", min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$"
    )
    kafka_timeout_ms: int = Field(
        default=15_000, ge=100, le=600_000, description="longest wait for the broker, per operation"
    )
    kafka_compression: Literal["none", "gzip"] = "none"
    batch_size: int = Field(default=200, ge=1, le=10_000, description="messages per append")
    workers: int = Field(
        default=0, ge=0, le=64, description="processes that validate and encode; 0 = in the caller"
    )
    max_failed_batches: int = Field(default=3, ge=1, le=1_000)

    @field_validator("store")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        return value or DEFAULT_STORE
