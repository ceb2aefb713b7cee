"""Prometheus metrics of one API process, in a registry of its own (one per app)."""

from __future__ import annotations

from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# The *_created series double the output and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class Metrics:
    """Messages by type and outcome, latencies, batch sizes, projection and index lag."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "iwmo_hub_messages",
            "Messages posted, by message type and outcome "
            "(accepted, duplicate, rejected, failed, forbidden, too_large, unsupported_type)",
            ["message_type", "outcome"],
            registry=r,
        )
        self.intake_seconds = Histogram(
            "iwmo_hub_intake_seconds",
            "Time from request to answer of POST /v1/messages, by outcome",
            ["outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "iwmo_hub_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "iwmo_hub_http_request_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.append_batch = Histogram(
            "iwmo_hub_append_batch_messages",
            "Messages per append of the batching writer",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
            registry=r,
        )
        self.append_seconds = Histogram(
            "iwmo_hub_append_seconds",
            "Duration of one batched commit (TR056 check and durable append)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.projection_lag = Gauge(
            "iwmo_hub_projection_lag_records",
            "Records on the events stream the projection store has not folded yet",
            registry=r,
        )
        self.index_lag = Gauge(
            "iwmo_hub_message_index_lag_records",
            "Records on the log the message status index has not read yet",
            registry=r,
        )
        self.store_up = Gauge(
            "iwmo_hub_store_up", "1 when the event store answered the last request", registry=r
        )

    def batch(self, size: int, seconds: float) -> None:
        self.append_batch.observe(size)
        self.append_seconds.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
