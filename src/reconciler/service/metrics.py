"""The service's Prometheus metrics, every one named ``reconciler_...``, in a registry of the
service's own (two services in one process, as in the tests, count apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from reconciler.errors import ReconcilerError
from reconciler.runtime.base import Applied


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "reconciler_http_requests",
            "HTTP requests answered, by route and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "reconciler_http_request_seconds",
            "How long requests took to answer, by route",
            ["route"],
            registry=r,
        )
        self.operations = Counter(
            "reconciler_operations",
            "Writes of batches, by action and outcome (applied, replayed, refused)",
            ["action", "outcome"],
            registry=r,
        )
        self.lock_waits = Counter(
            "reconciler_lock_waits",
            "Requests for the apply lock answered with another holder",
            registry=r,
        )
        self.sendings = Counter(
            "reconciler_engine_sendings",
            "Sendings the engine started, finished, skipped or cancelled, by outcome",
            ["outcome"],
            registry=r,
        )
        self.drift = Gauge(
            "reconciler_drift_campaigns",
            "Campaigns whose live version was written outside the reconciler, at the last "
            "snapshot served",
            registry=r,
        )

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def applied(self, action: str, result: Applied | ReconcilerError) -> None:
        if isinstance(result, ReconcilerError):
            outcome = "refused"
        else:
            outcome = "replayed" if result.replayed else "applied"
        self.operations.labels(action, outcome).inc()

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
