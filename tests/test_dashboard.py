"""The dashboard in a real headless Chromium: loads offline with no console errors, shows the totals the JSON
endpoint reports, follows new requests while open, and shows the daily budget."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from metering_server import PRICED, PRICES, RESNET, TINY, make_app, metering_service
from support import running_server

from runtime.errors import BudgetExceeded, NoSuchModel
from runtime.service import Caller

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium; CI's .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[test]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


def open_dashboard(browser, base: str):
    """A page that records console errors and refuses every request that is not to the emulator itself."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    outside: list[str] = []

    def route(r) -> None:
        if r.request.url.startswith(base):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(f"{base}/cdn-cgi/emu/dashboard")
    page.wait_for_selector("body[data-loaded='1']", timeout=15000)
    return page, problems, outside


def in_thread(fn, *args):
    """Playwright's sync API keeps an event loop running in this thread, so the service runs in another."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def run(service, model: str, n: int, **caller) -> None:
    async def go() -> None:
        for _ in range(n):
            await service.run(model, TINY, None, Caller(**caller))

    in_thread(asyncio.run, go())


def test_dashboard_shows_the_json_totals_and_follows_new_requests(tmp_path, browser):
    service = metering_service(tmp_path, intra_op_threads=1)
    run(service, PRICED, 12, source="rest", route="/client/v4/accounts/a/ai/run/" + PRICED)
    run(service, RESNET, 7, source="binding", worker="demo", route="/classify")
    with pytest.raises(NoSuchModel):
        in_thread(service.run_sync, "@cf/no/such-model", TINY)
    with running_server(make_app(service)) as base:
        page, problems, outside = open_dashboard(browser, base)
        costs = httpx.get(f"{base}/cdn-cgi/emu/costs").json()
        assert Decimal(costs["total_usd"]) == 12 * PRICES[PRICED] + 7 * PRICES[RESNET]
        assert page.inner_text("#total-usd") == "$" + costs["total_usd"]
        assert page.inner_text("#requests") == str(costs["requests"]) == "20"
        assert page.inner_text("#billed") == str(costs["billed_requests"]) == "19"
        assert page.inner_text("#errors") == "1"
        # charts: one bar per model with spend, each labelled with the model's exact cost
        model_chart = page.inner_text("#model-chart")
        for m in costs["by_model"]:
            assert m["model"] in model_chart and "$" + m["cost_usd"] in model_chart
        assert page.locator("#model-chart rect.bar").count() == len(costs["by_model"])
        assert page.locator("#timeline-chart rect.bar").count() == len(costs["timeline"]) >= 1
        # the latest requests, newest first
        rows = page.locator("#latest tbody tr")
        assert rows.count() == 20
        first = rows.nth(0).inner_text()
        assert "@cf/no/such-model" in first and "error:5007" in first
        second = rows.nth(1).inner_text()
        assert RESNET in second and "binding" in second and "/classify" in second and "$0.00000251" in second
        assert page.locator("#budget-card").is_hidden()
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

        # while the page stays open, new requests show up on the next poll
        run(service, PRICED, 5, source="hf")
        after = httpx.get(f"{base}/cdn-cgi/emu/costs").json()
        assert after["requests"] == 25
        page.wait_for_function(
            "t => document.getElementById('total-usd').textContent === t", arg="$" + after["total_usd"], timeout=10000
        )
        assert page.inner_text("#requests") == "25"
        assert "hf" in page.locator("#latest tbody tr").nth(0).inner_text()
        assert problems == [] and outside == []
    service.close()


def test_dashboard_shows_the_budget_and_when_it_is_reached(tmp_path, browser):
    price = PRICES[PRICED]
    service = metering_service(tmp_path, budget_usd_per_day=4 * price)
    run(service, PRICED, 2, source="rest")
    with running_server(make_app(service)) as base:
        page, problems, _ = open_dashboard(browser, base)
        assert page.locator("#budget-card").is_visible()
        assert page.inner_text("#budget-spent") == "$0.000015"
        note = page.inner_text("#budget-note")
        assert "$0.00003" in note and re.search(r"50\.0% used", note)
        run(service, PRICED, 2, source="rest")
        with pytest.raises(BudgetExceeded):
            in_thread(service.run_sync, PRICED, TINY)
        page.wait_for_selector("#budget-card.exceeded", timeout=10000)
        assert "3036" in page.inner_text("#budget-note")
        assert page.inner_text("#budget-spent") == "$0.00003"
        assert problems == []
    service.close()


def test_dashboard_filters_a_shared_ledger_by_instance(tmp_path, browser):
    ledger = str(tmp_path / "team.sqlite3")
    east = metering_service(tmp_path / "east", ledger, intra_op_threads=1, instance="east")
    west = metering_service(tmp_path / "west", ledger, intra_op_threads=1, instance="west")
    run(east, PRICED, 3, source="rest")
    run(west, PRICED, 5, source="rest")
    with running_server(make_app(east)) as base:
        page, problems, outside = open_dashboard(browser, base)
        assert page.is_visible("#instance") and page.inner_text("#requests") == "8"  # the team's total
        page.select_option("#instance", "west")
        page.wait_for_function("() => document.getElementById('requests').textContent === '5'", timeout=10000)
        assert page.inner_text("#total-usd") == "$" + str(5 * PRICES[PRICED])
        page.select_option("#instance", "")
        page.wait_for_function("() => document.getElementById('requests').textContent === '8'", timeout=10000)
        assert problems == [] and outside == []
    west.close()
    east.close()
