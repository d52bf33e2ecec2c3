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
        description="Report what the recorded inference requests cost. Reads the ledger ([emulator] ledger: "
        "<state_dir>/ledger.sqlite3 by default, or a shared PostgreSQL database); dates are UTC.",
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
        choices=("model", "day", "route", "source", "weights", "instance"),
        default="model",
        help="breakdown dimension (default: model)",
    )
    p.add_argument(
        "--instance",
        default=None,
        metavar="NAME",
        help="only the rows this emulator instance wrote (a ledger shared by several; see --by instance)",
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    p.set_defaults(func=main)
    modes = p.add_subparsers(dest="mode", metavar="[project]")
    proj = modes.add_parser("project", help="what a steady daily volume costs per day and month, as Cloudflare bills")
    proj.add_argument("--requests-per-day", type=int, required=True, metavar="N", help="inference requests per day")
    proj.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="a model the requests go to (repeatable: split evenly); default: the ledger's observed mix",
    )
    proj.add_argument("--config", type=Path, default=None, help="wrangler-like.toml (default: found from here)")
    proj.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    proj.set_defaults(func=project_main)


def project_main(args: argparse.Namespace) -> int:
    """`costs project`: N requests a day, of the named models (split evenly) or in the ledger's observed mix."""
    from decimal import Decimal

    from ..catalog import Catalog
    from ..errors import EmuError
    from ..metering.backends import open_ledger
    from ..metering.ledger import LedgerError
    from ..metering.neurons import Plan, project
    from ..metering.report import build_report

    settings = args.settings
    n = args.requests_per_day
    if n < 0:
        print("error: --requests-per-day must be 0 or more", file=sys.stderr)
        return 2
    plan = Plan.of(settings.emulator)
    if args.model:
        catalog = settings.catalog or Catalog.load(settings.models)
        try:
            prices = [catalog.get(name).price for name in args.model]
        except EmuError as e:
            print(f"error: {e.message}", file=sys.stderr)
            return 2
        share, extra = divmod(n, len(prices))
        per_day = sum((p * (share + (1 if i < extra else 0)) for i, p in enumerate(prices)), Decimal(0))
        basis = f"{n:,} requests a day split evenly over {', '.join(args.model)}"
    else:
        target = settings.ledger_target
        if isinstance(target, Path) and not target.exists():
            print("error: the ledger is empty: name the models with --model", file=sys.stderr)
            return 2
        try:
            ledger = open_ledger(target)
        except LedgerError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        try:
            total = build_report(ledger).total
        finally:
            ledger.close()
        if total.billed_requests == 0:
            print(
                "error: the ledger has no billed requests to take a mix from: name the models with --model",
                file=sys.stderr,
            )
            return 2
        per_day = total.cost * n / total.billed_requests
        basis = f"{n:,} requests a day in the ledger's observed mix ({total.billed_requests:,} billed requests)"
    data = {"basis": basis, **project(per_day, n, plan)}
    if args.format == "json":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return 0
    print(f"Projection: {basis}")
    print(
        f"  per day:   ${data['per_day_list_usd']} at list price, ${data['per_day_bill_usd']} billed after "
        f"{plan.free_per_day:,} free neurons ({data['neurons_per_day']} neurons a day)"
    )
    print(
        f"  per month: ${data['per_month_list_usd']} at list price, ${data['per_month_bill_usd']} billed "
        f"({data['month_days']} days)"
    )
    return 0


def main(args: argparse.Namespace) -> int:
    from ..metering.backends import open_ledger
    from ..metering.ledger import LedgerError
    from ..metering.neurons import Plan
    from ..metering.report import ReportError, budget_status, report_json

    settings = args.settings
    target = settings.ledger_target
    try:  # no ledger file yet: an empty report
        ledger = open_ledger(":memory:" if isinstance(target, Path) and not target.exists() else target)
    except LedgerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        data = report_json(
            ledger,
            args.since,
            args.until,
            args.by,
            budget_status(ledger, settings.emulator.budget_usd_per_day),
            plan=Plan.of(settings.emulator),
            instance=args.instance,
        )
        where = ledger.describe() if isinstance(target, str) else str(target)
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
        print_table(data, where)
    return 0


def write_csv(data: dict[str, Any]) -> None:
    """One row per breakdown key, then a TOTAL row: easy to paste into a spreadsheet. After the fixed columns, one
    `usage:<quantity>` column per quantity billed in the window (`usage:request`, `usage:audio-ms`, ...)."""
    by = data["by"]
    fields = [by, "requests", "billed_requests", "errors", "cache_hits", "cost_usd", "mean_latency_ms", "audio_minutes"]
    quantities = sorted(data["usage"])
    out = csv.DictWriter(sys.stdout, fieldnames=fields + [f"usage:{q}" for q in quantities], lineterminator="\n")
    out.writeheader()
    for row in data["breakdown"]:
        out.writerow({**{k: row[k] for k in fields}, **{f"usage:{q}": row["usage"].get(q, 0) for q in quantities}})
    out.writerow(
        {
            by: "TOTAL",
            "requests": data["requests"],
            "billed_requests": data["billed_requests"],
            "errors": data["errors"],
            "cache_hits": data["cache_hits"],
            "cost_usd": data["total_usd"],
            "mean_latency_ms": data["mean_latency_ms"],
            "audio_minutes": data["audio_minutes"],
            **{f"usage:{q}": data["usage"][q] for q in quantities},
        }
    )


def _latency(ms: float | None) -> str:
    return "—" if ms is None else f"{ms:,.1f} ms"


def print_table(data: dict[str, Any], where: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..metering.units import usage_text

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
    used = bool(data.get("usage"))  # what the billed requests used, in each model's own units
    if used:
        table.add_column("Usage", justify="right")
    for row in data["breakdown"]:
        table.add_row(
            str(row[by] if row[by] is not None else "—"),
            f"{row['requests']:,}",
            f"{row['billed_requests']:,}",
            f"{row['errors']:,}",
            f"{row['cache_hits']:,}",
            f"${row['cost_usd']}",
            _latency(row["mean_latency_ms"]),
            *([usage_text(row["usage"]) or "—"] if used else []),
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
        *([usage_text(data["usage"])] if used else []),
        style="bold",
    )
    console.print(table)
    shown = f"Ledger: {where}"
    if data.get("instance"):
        shown += f" · instance {data['instance']} only"
    elif len(data.get("instances") or []) > 1:
        shown += f" · {len(data['instances'])} instances: {', '.join(data['instances'])}"
    console.print(shown, style="dim", soft_wrap=True)
    projection = data["projection"]
    if projection["monthly_usd"] is not None:
        monthly = Decimal(projection["monthly_usd"]).quantize(Decimal("0.01"))
        console.print(
            f"Projected monthly cost: [bold]${monthly:,}[/bold] (total cost over the "
            f"{projection['span_seconds']:,} s from first to last request, × 30 days)"
        )
    else:
        console.print("Projected monthly cost: — (needs a minute or more of traffic; or `costs project`)")
    bill = data["cloudflare_bill"]
    console.print(
        f"Cloudflare's bill: [bold]${bill['bill_usd']}[/bold] for ${bill['list_usd']} at list price "
        f"({bill['free_neurons_per_day']:,} neurons free per UTC day, then ${bill['neuron_price_usd_per_1000']} "
        f"per 1,000 neurons)"
    )
    for day in bill["days"][-7:]:
        console.print(
            f"  {day['day']}: {day['neurons']} neurons, {day['billable_neurons']} billable, ${day['bill_usd']}",
            style="dim",
        )
    budget = data.get("budget")
    if budget:
        state = "[red]REACHED: requests get error 3036[/red]" if budget["exceeded"] else "[green]ok[/green]"
        console.print(
            f"Daily budget: ${budget['spent_today_usd']} of ${budget['budget_usd_per_day']} spent today (UTC) — {state}"
        )
