"""Usage in units, billing by unit: runtime/money.py, metering/units.py's cost_of and unit registry, the catalog's
`prices`, and every place that reports usage (the service's ledger rows, reports, CSV/table, metrics, listings)."""

from __future__ import annotations

import csv
import io
import random
from decimal import ROUND_HALF_UP, Decimal

import pytest
from api_support import PNG, make_service
from prometheus_client.parser import text_string_to_metric_families
from support import DETR

from runtime.catalog import Catalog, CatalogError
from runtime.listing import model_object
from runtime.metering import units
from runtime.metering.backends import open_ledger
from runtime.metering.ledger import LedgerRecord
from runtime.metering.metrics import Metrics
from runtime.metering.neurons import Plan
from runtime.metering.report import report_json
from runtime.metering.units import UNITS, Unit, cost_of, register_unit, usage_text
from runtime.money import PICO, ZERO, from_pico, parse_usd, to_pico, usd_text
from runtime.service import Caller

WHISPER = "@cf/openai/whisper"
TOKENS = {"million-input-tokens": Decimal("0.282"), "million-output-tokens": Decimal("0.827")}


def test_money_is_one_exact_definition():
    assert ZERO == 0 and PICO == Decimal(1).scaleb(-12)
    assert to_pico(Decimal("0.0000075")) == 7_500_000 and from_pico(7_500_000) == Decimal("0.0000075")
    assert to_pico(Decimal("1E-13")) is None and to_pico(Decimal(2**63) / 10**12) is None
    assert parse_usd(7.5e-06) == Decimal("0.0000075") and parse_usd("0.50") == Decimal("0.50")
    for bad, error in (
        (True, TypeError),
        ("cheap", TypeError),
        (None, TypeError),
        (-1, ValueError),
        ("NaN", ValueError),
    ):
        with pytest.raises(error):
            parse_usd(bad)
    assert [usd_text(Decimal(x)) for x in ("0", "7.5", "0.0000075", "1E-7")] == [
        "0.00",
        "7.50",
        "0.0000075",
        "0.0000001",
    ]


def test_cost_of_is_todays_two_formulas_exactly():
    # per request: price × 1, the price's own digits (the ledger text and x-emu-cost-usd stay as they were)
    for price in ("0.0000075", "0.00000251", "0", "0.000", "1E-14"):
        cost = cost_of({"request": Decimal(price)}, {"request": 1})
        assert str(cost) == str(Decimal(price))
    # per audio minute: round(price × ms / 60,000, 12), half up, to the representation
    rng = random.Random(7)
    for price in ("0.00045", "0.00051", "0", "0.0001", "0.000123456789"):
        p = Decimal(price)
        for ms in [1, 2, 3, 59_999, 60_000, 61_234, 90_500, 10**9] + [rng.randrange(1, 10**8) for _ in range(300)]:
            old = (p * ms / 60_000).quantize(PICO, rounding=ROUND_HALF_UP)
            assert str(cost_of({"audio-minute": p}, {"audio-ms": ms})) == str(old)
    assert str(cost_of({"audio-minute": Decimal("0.00045")}, {"audio-ms": 0})) == "0"  # no audio: nothing billed


def test_cost_of_sums_units_exactly_and_rounds_once():
    # 1,234 input and 567 output tokens: 0.282 × 1234 / 1e6 + 0.827 × 567 / 1e6 = 0.000347988 + 0.000468909
    assert cost_of(TOKENS, {"input-token": 1234, "output-token": 567}) == Decimal("0.000816897")
    # half a pico-dollar rounds up, once, on the sum (each term alone would round down to 0)
    halves = {"million-input-tokens": Decimal("0.0000005"), "million-output-tokens": Decimal("0.0000005")}
    assert cost_of(halves, {"input-token": 1, "output-token": 1}) == Decimal("1E-12")
    assert cost_of(halves, {"input-token": 1}) == Decimal("1E-12")  # exactly half: half-up
    assert cost_of(TOKENS, {"input-token": 1_000_000}) == Decimal("0.282")  # a missing quantity is 0
    assert cost_of(TOKENS, {}) == 0 and cost_of({}, {"request": 1}) == 0
    assert cost_of({"request": Decimal("0.1")}, {"request": 3}) == Decimal("0.3")  # never a float's 0.30000000000000004
    with pytest.raises(ValueError, match="unknown price unit 'per-fortnight'"):
        cost_of({"per-fortnight": Decimal(1)}, {"request": 1})
    with pytest.raises(ValueError, match="whole number"):
        cost_of({"request": Decimal(1)}, {"request": -1})


def test_a_task_registers_its_own_unit_and_the_catalog_accepts_it(monkeypatch):
    monkeypatch.setattr(units, "UNITS", dict(UNITS))  # registered for this test only
    import runtime.catalog as catalog_module

    monkeypatch.setattr(catalog_module, "UNITS", units.UNITS)
    characters = Unit("thousand-characters", "character", 1000, "per 1,000 characters")
    register_unit(characters)
    register_unit(characters)  # the same again: harmless
    with pytest.raises(ValueError, match="already registered"):
        register_unit(Unit("thousand-characters", "character", 1, "per character"))
    with pytest.raises(ValueError, match="'per'"):
        register_unit(Unit("none", "character", 0, "per nothing"))
    entry = Catalog.load([{"name": "@cf/x/tts", "task": "object-detection", "price": "0.02", "unit": characters.name}])
    tts = entry.get("@cf/x/tts")
    assert tts.prices == {"thousand-characters": Decimal("0.02")}
    assert cost_of(tts.prices, {"character": 1500}) == Decimal("0.03")
    assert model_object(tts)["properties"][1]["value"][0]["unit"] == "per 1,000 characters"


def test_catalog_prices_tables_and_the_short_form():
    catalog = Catalog.load(
        [
            {"name": "@cf/x/llm", "task": "image-classification", "prices": {k: str(v) for k, v in TOKENS.items()}},
            {"name": WHISPER, "price": "0.0005"},  # an override of the price keeps the entry's unit
            {"name": "@cf/x/free", "task": "image-classification"},
        ]
    )
    llm = catalog.get("@cf/x/llm")
    assert llm.prices == TOKENS and (llm.unit, llm.price) == ("million-input-tokens", Decimal("0.282"))
    whisper = catalog.get(WHISPER)
    assert whisper.prices == {"audio-minute": Decimal("0.0005")} and whisper.unit == "audio-minute"
    assert catalog.get(DETR).prices == {"request": Decimal("0.0000075")}
    assert Catalog.load().get(WHISPER).prices == {"audio-minute": Decimal("0.00045")}
    assert catalog.get("@cf/x/free").prices == {"request": Decimal(0)}
    assert [p["unit"] for p in model_object(llm)["properties"][1]["value"]] == [
        "per M input tokens",
        "per M output tokens",
    ]


@pytest.mark.parametrize(
    "table, key, problem",
    [
        ({"prices": {"per-fortnight": "1", "per-decade": "2"}}, "prices", "unknown price units 'per-decade', 'per-f"),
        ({"prices": {"request": "cheap"}}, "prices", "prices.request 'cheap' is not a number"),
        ({"prices": {"request": "-1"}}, "prices", "prices.request must be a non-negative number"),
        ({"prices": {}}, "prices", "'prices' must be a table"),
        ({"prices": "0.1"}, "prices", "'prices' must be a table"),
        ({"prices": {"request": "1"}, "price": "1"}, "prices", "either 'prices' or 'price' and 'unit'"),
        ({"price": "1", "unit": "fortnight"}, "unit", "'unit' must be one of request, audio-minute, million-in"),
        ({"price": "free"}, "price", "price 'free' is not a number"),
    ],
)
def test_bad_prices_are_catalog_errors_naming_their_key(table, key, problem):
    with pytest.raises(CatalogError) as info:
        Catalog.load([{"name": "@cf/x/m", "task": "image-classification", **table}], where="cfg")
    assert info.value.key == key and info.value.index == 0 and problem in info.value.problem


def test_the_config_points_at_a_bad_prices_table(tmp_path):
    from runtime.config import load_settings
    from runtime.errors import ConfigError

    config = tmp_path / "wrangler-like.toml"
    config.write_text(
        'name = "w"\n[ai]\nbinding = "AI"\n\n[[ai.models]]\nname = "@cf/x/m"\ntask = "image-classification"\n'
        'prices = { per-fortnight = "1" }\n'
    )
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert str(info.value).startswith(f"{config}:8: ai.models[1].prices: unknown price unit 'per-fortnight'")


def test_listings_say_each_models_unit():
    catalog = Catalog.load()
    price = {e.name: model_object(e)["properties"][1]["value"] for e in catalog}
    assert price[WHISPER] == [{"unit": "per audio minute", "price": 0.00045, "currency": "USD"}]
    assert price[DETR] == [{"unit": "per inference request", "price": 0.0000075, "currency": "USD"}]


def test_the_service_writes_usage_and_reports_metrics_and_csv_sum_it(tmp_path, capsys):
    service = make_service(tmp_path)
    try:
        outcome = service.run_sync(DETR, PNG, caller=Caller(source="cli", use_cache=True))
        cached = service.run_sync(DETR, PNG, caller=Caller(source="cli", use_cache=True))
        assert (outcome.usage, outcome.cost) == ({"request": 1}, service.catalog.get(DETR).price)
        assert (cached.usage, cached.cost, cached.cached) == ({"request": 1}, 0, True)
        with pytest.raises(Exception):  # noqa: B017 - any refusal: it is metered with no usage
            service.run_sync(DETR, b"not an image", caller=Caller(source="cli"))
        service.ledger.record(
            LedgerRecord("speech", "rest", WHISPER, Decimal("0.00045"), Decimal("0.000459255000"), 1.0, "ok",
                         usage={"audio-ms": 61_234})
        )  # fmt: skip
        rows = service.ledger.rows_after(0)
        assert [r["usage"] for r in rows] == [{"request": 1}, {"request": 1}, None, {"audio-ms": 61_234}]

        data = report_json(service.ledger)
        assert data["usage"] == {"audio-ms": 61_234, "request": 1}  # billed usage: the cache hit is not billed
        by_model = {m["model"]: m for m in data["by_model"]}
        assert by_model[DETR]["usage"] == {"request": 1} and by_model[DETR]["audio_minutes"] == 0
        assert by_model[WHISPER]["usage"] == {"audio-ms": 61_234} and by_model[WHISPER]["audio_minutes"] == 1.0206
        assert all("usage" in t for t in data["timeline"])

        from runtime.commands.costs import print_table, write_csv

        write_csv(data)
        table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        assert {r["model"]: (r["usage:request"], r["usage:audio-ms"]) for r in table} == {
            WHISPER: ("0", "61234"),
            DETR: ("1", "0"),
            "TOTAL": ("1", "61234"),
        }
        print_table(data, "here")
        assert "61,234 audio-ms" in capsys.readouterr().out
        assert usage_text({"request": 2, "audio-ms": 61_234}) == "61,234 audio-ms, 2 request"

        metrics = Metrics(service.ledger, Plan(), queue_depth=lambda: 2, models_loaded=lambda: 1).render().decode()
        samples = {s.name: s for f in text_string_to_metric_families(metrics) for s in f.samples}
        used = {
            (s.labels["model"], s.labels["door"], s.labels["quantity"]): s.value
            for f in text_string_to_metric_families(metrics)
            for s in f.samples
            if s.name == "workers_ai_emu_usage_total"
        }
        assert used == {(DETR, "cli", "request"): 1, (WHISPER, "rest", "audio-ms"): 61_234}
        assert samples["workers_ai_emu_queue_depth"].value == 2 and samples["workers_ai_emu_models_loaded"].value == 1
    finally:
        service.close()


def test_metering_off_still_renders_metrics():
    text = Metrics(None, Plan(), queue_depth=lambda: 0, models_loaded=lambda: 0).render().decode()
    assert "workers_ai_emu_queue_depth 0.0" in text and "workers_ai_emu_usage_total{" not in text


def test_the_speech_usage_is_billed_per_minute_through_the_ledger(ledger_target):
    ledger = open_ledger(ledger_target)
    whisper = Catalog.load().get(WHISPER)
    for i, ms in enumerate((61_234, 90_500, 1)):
        usage = {"audio-ms": ms}
        ledger.record(LedgerRecord(f"s{i}", "rest", WHISPER, whisper.price, cost_of(whisper.prices, usage), 1.0, "ok",
                                   usage=usage))  # fmt: skip
    data = report_json(ledger)
    assert data["usage"] == {"audio-ms": 151_735} and data["audio_minutes"] == round(151_735 / 60_000, 4)
    assert Decimal(data["total_usd"]) == Decimal("0.00045") * 151_735 / 60_000  # exact: no rounding was needed
    ledger.close()
