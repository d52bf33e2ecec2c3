"""Metering figures: ledger write rate, report time over many rows, and the daily-spend check on the hot path.

.venv/bin/python bench/bench_metering.py [ROWS]   (default 100000; uses a temporary folder)
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.metering.backends import open_ledger  # noqa: E402
from runtime.metering.ledger import LedgerRecord  # noqa: E402
from runtime.metering.report import ReportCache, build_report  # noqa: E402

MODELS = [("@cf/facebook/detr-resnet-50", Decimal("0.0000075")), ("@cf/microsoft/resnet-50", Decimal("0.00000251"))]
SOURCES = ("binding", "rest", "hf", "cli")


def timed(label: str, fn, repeat: int = 1):
    start = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    per = (time.perf_counter() - start) / repeat
    print(f"{label:<52} {per * 1000:10.3f} ms")
    return out


def main(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ledger = open_ledger(Path(tmp) / "ledger.sqlite3")
        start = time.perf_counter()
        for i in range(rows):
            model, price = MODELS[i % 2]
            ledger.record(
                LedgerRecord(
                    request_id=uuid.uuid4().hex,
                    source=SOURCES[i % 4],
                    model=model,
                    unit_price=price,
                    cost=price,
                    latency_ms=5.0,
                    outcome="ok",
                    route=f"/r{i % 7}",
                    usage={"request": 1},  # what the service writes for an answered image request
                )
            )
        took = time.perf_counter() - start
        print(
            f"record(): {rows} rows in {took:.2f} s = {rows / took:,.0f} rows/s "
            f"({took / rows * 1e6:.1f} µs per committed row)"
        )
        today = datetime.now(UTC).date().isoformat()
        for by in ("model", "day", "route", "source"):
            report = timed(f"build_report(by={by}) over {rows} rows", lambda: build_report(ledger, by=by), 3)
        print(f"  total ${report.total.cost} for {report.total.requests} requests")
        reports = ReportCache(ledger)
        reports.get()
        timed("ReportCache.get() with no new rows (dashboard poll)", reports.get, 100)
        ledger._spent.clear()
        timed("spent_on(today), first call (covering index scan)", lambda: ledger.spent_on(today))
        timed("spent_on(today), later calls (rows since last call)", lambda: ledger.spent_on(today), 1000)
        ledger.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
