"""Prometheus metrics (`GET /cdn-cgi/emu/metrics`), with prometheus_client.

Counters come from the ledger at scrape time, so they equal it by construction (and survive restarts, and
cover every emulator writing to the same ledger): requests by model, door and outcome; failures by code; cost in
USD and neurons by model and door; billed usage by model, door and quantity (`{"audio-ms": ...}`, `{"request":
...}`). Live state comes from the gauges the service hands over: queue depth and models loaded; and this module
keeps latency histograms of inference and of the wait for an inference slot (this process only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..money import ZERO, from_pico
from .ledger import BILLED
from .neurons import Plan

if TYPE_CHECKING:
    from .ledger import Ledger

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """One registry per service: the ledger collector, live gauges, and the latency histograms.

    `ledger` (None: metering is off) and `plan` give the counters; `queue_depth` and `models_loaded` are read
    at each scrape."""

    def __init__(
        self,
        ledger: Ledger | None,
        plan: Plan,
        queue_depth: Callable[[], float],
        models_loaded: Callable[[], float],
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.inference_seconds = Histogram(
            "workers_ai_emu_inference_seconds",
            "Time of each inference request, by model (this process)",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_seconds = Histogram(
            "workers_ai_emu_queue_wait_seconds",
            "Time waiting for a free inference slot (this process)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ledger, self.plan = ledger, plan
        self.queue_depth, self.models_loaded = queue_depth, models_loaded
        self.registry.register(_LedgerCollector(self))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LedgerCollector(Collector):
    """The counters, read from the ledger at each scrape, and the gauges, read from `metrics`' callables."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        requests = CounterMetricFamily(
            "workers_ai_emu_requests", "Inference requests in the ledger", labels=["model", "door", "outcome"]
        )
        failures = CounterMetricFamily(
            "workers_ai_emu_failures", "Failed inference requests, by Cloudflare code", labels=["code"]
        )
        cost = CounterMetricFamily(
            "workers_ai_emu_cost_usd", "List-price cost recorded in the ledger (USD)", labels=["model", "door"]
        )
        neurons = CounterMetricFamily(
            "workers_ai_emu_neurons", "Neurons the recorded cost stands for", labels=["model", "door"]
        )
        usage = CounterMetricFamily(
            "workers_ai_emu_usage",
            "Billed usage recorded in the ledger, by quantity (request, audio-ms, ...)",
            labels=["model", "door", "quantity"],
        )
        if self.metrics.ledger is not None:
            with self.metrics.ledger.snapshot() as db:
                rows = db.all(
                    "SELECT model, source, outcome, COUNT(*), SUM(cost_pico)"
                    " FROM requests GROUP BY model, source, outcome"
                )
                inexact_rows = db.all("SELECT model, source, cost FROM requests WHERE cost_pico IS NULL")
                used = db.all(
                    f"SELECT model, source, u.key, SUM(CAST(u.value AS BIGINT)) FROM requests, {db.usage_each} AS u"
                    f" WHERE {BILLED} GROUP BY model, source, u.key"
                )
            spent: dict[tuple[str, str], Decimal] = {}
            by_code: dict[str, int] = {}
            for model, door, cost_text in inexact_rows:  # costs too fine for pico-dollars, added exactly
                spent[(model, door)] = spent.get((model, door), ZERO) + Decimal(cost_text)
            for model, door, outcome, count, pico in rows:
                requests.add_metric([model, door, outcome], count)
                if outcome != "ok":
                    code = outcome.partition(":")[2]
                    by_code[code] = by_code.get(code, 0) + count
                # exact: integer pico-dollars summed by the database
                spent[(model, door)] = spent.get((model, door), ZERO) + from_pico(pico or 0)
            for code, count in sorted(by_code.items()):
                failures.add_metric([code], count)
            for (model, door), usd in sorted(spent.items()):
                cost.add_metric([model, door], float(usd))
                neurons.add_metric([model, door], float(self.metrics.plan.neurons(usd)))
            for model, door, quantity, amount in sorted(used):
                usage.add_metric([model, door, str(quantity)], int(amount))
        yield from (requests, failures, cost, neurons, usage)
        yield GaugeMetricFamily(
            "workers_ai_emu_queue_depth", "Inferences running or waiting for a slot", value=self.metrics.queue_depth()
        )
        yield GaugeMetricFamily(
            "workers_ai_emu_models_loaded",
            "Models with a loaded onnxruntime session",
            value=self.metrics.models_loaded(),
        )
