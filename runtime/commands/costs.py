"""`workers-ai-emu costs`: what the recorded inference traffic cost, from the ledger, as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "costs",
        help="report inference costs from the ledger (totals, breakdowns, projection)",
        description="Report what the recorded inference requests cost. Reads "
        "<state_dir>/ledger.sqlite3; dates are UTC.",
    )
    p.add_argument("--config", type=Path, default=None, help="wrangler-like.toml (default: found from here)")
    p.add_argument(
        "--since",
        default=None,
        metavar="WHEN",
        help="only requests at or after this ISO date or datetime (e.g. 2024-05-01, 2024-05-01T12:00Z)",
    )
    p.add_argument(
        "--until",
        default=None,
        metavar="WHEN",
        help="only requests before this datetime; a bare date includes that whole day",
    )
    p.add_argument(
        "--by",
        choices=("model", "day", "route", "source", "weights"),
        default="model",
        help="breakdown dimension (default: model)",
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..metering.ledger import Ledger, LedgerError
    from ..metering.report import ReportError, budget_status, report_json

    settings = args.settings
    path = settings.state_dir / "ledger.sqlite3"
    try:
        ledger = Ledger(path) if path.exists() else Ledger(":memory:")  # no ledger yet: an empty report
    except LedgerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        data = report_json(
            ledger, args.since, args.until, args.by, budget_status(ledger, settings.emulator.budget_usd_per_day)
        )
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        ledger.close()
    if args.format == "json":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    elif args.format == "csv":
        write_csv(data)
    else:
        print_table(data, path)
    return 0


def write_csv(data: dict[str, Any]) -> None:
    """One row per breakdown key, then a TOTAL row: easy to paste into a spreadsheet."""
    by = data["by"]
    fields = [by, "requests", "billed_requests", "errors", "cache_hits", "cost_usd", "mean_latency_ms"]
    out = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
    out.writeheader()
    for row in data["breakdown"]:
        out.writerow({k: row[k] for k in fields})
    out.writerow(
        {
            by: "TOTAL",
            "requests": data["requests"],
            "billed_requests": data["billed_requests"],
            "errors": data["errors"],
            "cache_hits": data["cache_hits"],
            "cost_usd": data["total_usd"],
            "mean_latency_ms": data["mean_latency_ms"],
        }
    )


def _latency(ms: float | None) -> str:
    return "—" if ms is None else f"{ms:,.1f} ms"


def print_table(data: dict[str, Any], path: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    # Piped output has no width to respect: keep long model names and costs whole instead of rich's 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    by = data["by"]
    window = f"{data['since'] or 'first request'} → {data['until'] or 'now'} (UTC)"
    table = Table(title=f"Inference costs by {by}", caption=window, title_justify="left", caption_justify="left")
    table.add_column(by.capitalize(), overflow="fold", min_width=12)
    for name in ("Requests", "Billed", "Errors", "Cached"):
        table.add_column(name, justify="right")
    table.add_column("Cost (USD)", justify="right", no_wrap=True)
    table.add_column("Latency", justify="right", no_wrap=True)
    for row in data["breakdown"]:
        table.add_row(
            str(row[by] if row[by] is not None else "—"),
            f"{row['requests']:,}",
            f"{row['billed_requests']:,}",
            f"{row['errors']:,}",
            f"{row['cache_hits']:,}",
            f"${row['cost_usd']}",
            _latency(row["mean_latency_ms"]),
        )
    table.add_section()
    table.add_row(
        "Total",
        f"{data['requests']:,}",
        f"{data['billed_requests']:,}",
        f"{data['errors']:,}",
        f"{data['cache_hits']:,}",
        f"${data['total_usd']}",
        _latency(data["mean_latency_ms"]),
        style="bold",
    )
    console.print(table)
    console.print(f"Ledger: {path}", style="dim", soft_wrap=True)
    projection = data["projection"]
    if projection["monthly_usd"] is not None:
        monthly = Decimal(projection["monthly_usd"]).quantize(Decimal("0.01"))
        console.print(
            f"Projected monthly cost: [bold]${monthly:,}[/bold] (total cost over the "
            f"{projection['span_seconds']:,} s from first to last request, × 30 days)"
        )
    else:
        console.print("Projected monthly cost: — (needs requests at two or more distinct times)")
    budget = data.get("budget")
    if budget:
        state = "[red]REACHED: requests get error 3036[/red]" if budget["exceeded"] else "[green]ok[/green]"
        console.print(
            f"Daily budget: ${budget['spent_today_usd']} of ${budget['budget_usd_per_day']} spent today (UTC) — {state}"
        )
