"""Prometheus metrics (`GET /cdn-cgi/emu/metrics`), with prometheus_client.

Counters come from the ledger at scrape time, so they equal it by construction (and survive restarts, and
cover every emulator writing to the same ledger): requests by model, door and outcome; failures by code; cost in
USD and neurons by model and door. Live state comes from the service: queue depth, models loaded, and latency
histograms of inference and of the wait for an inference slot (this process only).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .ledger import from_pico
from .neurons import Plan

if TYPE_CHECKING:
    from ..service import InferenceService

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """One registry per service: the ledger collector, live gauges, and the latency histograms."""

    def __init__(self, service: InferenceService) -> None:
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
        self.registry.register(_LedgerCollector(service))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LedgerCollector(Collector):
    def __init__(self, service: InferenceService) -> None:
        self.service = service

    def collect(self) -> Iterator[Any]:
        service = self.service
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
        plan = Plan.of(service.settings)
        if service.ledger is not None:
            with service.ledger.snapshot() as db:
                rows = db.all(
                    "SELECT model, source, outcome, COUNT(*), SUM(cost_pico)"
                    " FROM requests GROUP BY model, source, outcome"
                )
                inexact_rows = db.all("SELECT model, source, cost FROM requests WHERE cost_pico IS NULL")
            spent: dict[tuple[str, str], Decimal] = {}
            by_code: dict[str, int] = {}
            for model, door, cost_text in inexact_rows:  # costs too fine for pico-dollars, added exactly
                spent[(model, door)] = spent.get((model, door), Decimal(0)) + Decimal(cost_text)
            for model, door, outcome, count, pico in rows:
                requests.add_metric([model, door, outcome], count)
                if outcome != "ok":
                    code = outcome.partition(":")[2]
                    by_code[code] = by_code.get(code, 0) + count
                # exact: integer pico-dollars summed by the database
                spent[(model, door)] = spent.get((model, door), Decimal(0)) + from_pico(pico or 0)
            for code, count in sorted(by_code.items()):
                failures.add_metric([code], count)
            for (model, door), usd in sorted(spent.items()):
                cost.add_metric([model, door], float(usd))
                neurons.add_metric([model, door], float(plan.neurons(usd)))
        yield from (requests, failures, cost, neurons)
        yield GaugeMetricFamily(
            "workers_ai_emu_queue_depth", "Inferences running or waiting for a slot", value=service.slots.pending
        )
        yield GaugeMetricFamily(
            "workers_ai_emu_models_loaded",
            "Models with a loaded onnxruntime session",
            value=service.pool.loaded_count(),
        )
