"""The one call path: every call is validated, maybe cached, run off the event loop, and metered exactly once."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import pytest
from support import DETR, FIXTURE_MODELS, FIXTURES, RESNET, make_service

from runtime.catalog import Catalog
from runtime.errors import BadInput, BudgetExceeded, ModelLoading, NoSuchModel, OutOfCapacity
from runtime.inference.store import ModelStore
from runtime.metering.backends import open_ledger
from runtime.service import Caller, InferenceService
from runtime.settings import EmulatorSettings
from runtime.tasks import load_model

IMAGE = (FIXTURES / "images" / "wide-400x100.png").read_bytes()


def rows(service: InferenceService) -> list[tuple]:
    return service.ledger._db.execute(
        "SELECT source, model, cost, cache_hit, outcome FROM requests ORDER BY id"
    ).fetchall()


def test_result_equals_the_model_and_is_billed_at_the_catalog_price(tmp_path):
    service = make_service(tmp_path)
    outcome = service.run_sync(DETR, {"image": list(IMAGE)}, {"threshold": 0.3}, Caller(source="rest"))
    model = load_model(FIXTURE_MODELS / "detr")
    assert outcome.result == model.predict(IMAGE, model.family.check_params({"threshold": 0.3}))
    assert outcome.cost == Decimal("0.0000075") and not outcome.cached
    assert rows(service) == [("rest", DETR, "0.0000075", 0, "ok")]


@pytest.mark.parametrize("name", ["wide-400x100.png", "large-1600x1200.jpg"])  # the large one converts off-loop
def test_raw_bytes_and_uint8_arrays_give_the_same_result(tmp_path, name):
    service = make_service(tmp_path)
    data = (FIXTURES / "images" / name).read_bytes()
    assert service.run_sync(RESNET, data).result == service.run_sync(RESNET, {"image": list(data)}).result
    with pytest.raises(BadInput):
        service.run_sync(RESNET, {"image": list(data) + [256]})


def test_failures_are_recorded_and_cost_nothing(service):
    with pytest.raises(NoSuchModel):
        service.run_sync("@cf/nobody/nothing", IMAGE)
    with pytest.raises(BadInput):
        service.run_sync(DETR, b"not an image")
    with pytest.raises(BadInput):
        service.run_sync(DETR, IMAGE, {"top_k": 2})
    assert rows(service) == [
        ("cli", "@cf/nobody/nothing", "0", 0, "error:5007"),
        ("cli", DETR, "0", 0, "error:5006"),
        ("cli", DETR, "0", 0, "error:5006"),
    ]


def test_cache_hits_are_answered_from_memory_and_not_billed(service):
    caller = lambda: Caller(source="hf", use_cache=True)  # noqa: E731
    first = service.run_sync(DETR, IMAGE, {}, caller())
    second = service.run_sync(DETR, IMAGE, {}, caller())
    other = service.run_sync(DETR, IMAGE, {"threshold": 0.9}, caller())
    assert second.cached and second.result == first.result and second.cost == 0
    assert not other.cached
    assert [r[2:4] for r in rows(service)] == [("0.0000075", 0), ("0", 1), ("0.0000075", 0)]


def test_daily_budget_stops_billable_requests(tmp_path):
    service = make_service(tmp_path, budget_usd_per_day=Decimal("0.000015"))
    service.run_sync(DETR, IMAGE)
    service.run_sync(DETR, IMAGE)
    with pytest.raises(BudgetExceeded) as info:
        service.run_sync(DETR, IMAGE)
    assert info.value.code == 3036 and info.value.status == 429
    assert service.budget_status()["exceeded"] is True


def test_the_event_loop_stays_responsive_and_the_queue_is_bounded(tmp_path):
    service = make_service(tmp_path, max_concurrent_inferences=1, max_queue=1)
    service.pool.get_sync(service.catalog.get(DETR))
    gate = threading.Event()
    real_infer = service.pool._loaded.get(DETR).infer

    def slow_infer(*args, **kwargs):
        # The gate is opened by a coroutine on the event loop: if inference ran on the loop, it never opens.
        if not gate.wait(5):
            raise RuntimeError("the event loop was blocked while inference ran")
        return real_infer(*args, **kwargs)

    service.pool._loaded.get(DETR).infer = slow_infer  # hold the one slot busy: scaffolding, not a stand-in

    async def scenario():
        running = [asyncio.create_task(service.run(DETR, IMAGE)) for _ in range(2)]
        await asyncio.sleep(0.2)
        ticks = 0
        for _ in range(5):  # the loop keeps running other work while both inferences are pending
            await asyncio.sleep(0.01)
            ticks += 1
        assert not any(t.done() for t in running)
        with pytest.raises(OutOfCapacity):
            await service.run(DETR, IMAGE)
        gate.set()
        done = await asyncio.gather(*running)
        return ticks, done

    ticks, done = asyncio.run(scenario())
    assert ticks == 5 and all(d.result == done[0].result for d in done)


def test_decoding_and_preprocessing_happen_outside_the_inference_slot(tmp_path):
    """While one request holds the only inference slot, the next ones are decoded and pre-processed on the
    preparation threads: a bad image is refused at once, and a good one waits for the slot already prepared."""
    service = make_service(tmp_path, max_concurrent_inferences=1, max_queue=4)
    service.pool.get_sync(service.catalog.get(DETR))
    loaded = service.pool._loaded.get(DETR)
    gate = threading.Event()
    real_infer, real_prepare = loaded.infer, loaded.prepare
    prepared_on: list[str] = []
    inferred_on: list[str] = []

    def held_infer(*args, **kwargs):
        inferred_on.append(threading.current_thread().name)
        if not gate.wait(5):
            raise RuntimeError("never released")
        return real_infer(*args, **kwargs)

    def watched_prepare(*args, **kwargs):
        prepared_on.append(threading.current_thread().name)
        return real_prepare(*args, **kwargs)

    loaded.infer, loaded.prepare = held_infer, watched_prepare  # scaffolding around the real methods

    async def scenario():
        first = asyncio.create_task(service.run(DETR, IMAGE))
        while not inferred_on:
            await asyncio.sleep(0.01)
        with pytest.raises(BadInput) as info:  # decoded while the slot is held: refused without waiting for it
            await asyncio.wait_for(service.run(DETR, b"not an image at all"), 2)
        second = asyncio.create_task(service.run(DETR, IMAGE))
        for _ in range(200):
            if len(prepared_on) == 3:
                break
            await asyncio.sleep(0.01)
        prepared_before_release = len(prepared_on)
        still_one_in_slot = len(inferred_on)
        gate.set()
        results = await asyncio.gather(first, second)
        return info.value, prepared_before_release, still_one_in_slot, results

    error, prepared_before_release, still_one_in_slot, results = asyncio.run(scenario())
    assert error.code == 5006
    assert prepared_before_release == 3 and still_one_in_slot == 1
    assert all(name.startswith("prepare") for name in prepared_on)
    assert all(name.startswith("inference") for name in inferred_on) and len(inferred_on) == 2
    assert results[0].result == results[1].result
    outcomes = sorted(row["outcome"] for row in service.ledger.latest())
    assert outcomes == ["error:5006", "ok", "ok"], outcomes


class GatedStore(ModelStore):
    """A store whose 'download' waits for the test to release it."""

    def __init__(self, state_dir, folder):
        super().__init__(state_dir)
        self.release, self.folder = threading.Event(), folder

    def find(self, entry):
        return self.folder if self.release.is_set() else None

    def can_pull(self, entry):
        return True

    def pull(self, entry, progress=False):
        self.release.wait(10)
        return self.folder


def test_a_loading_model_answers_503_to_impatient_callers_and_waits_for_patient_ones(tmp_path):
    store = GatedStore(tmp_path, FIXTURE_MODELS / "detr")
    catalog = Catalog.load()
    service = InferenceService(
        catalog, open_ledger(tmp_path / "l.sqlite3"), EmulatorSettings(state_dir=tmp_path, weights="real"), store=store
    )

    async def scenario():
        with pytest.raises(ModelLoading) as info:
            await service.run(DETR, IMAGE, None, Caller(source="hf", wait_for_model=False))
        assert info.value.estimated_time > 0 and info.value.hf_status == 503
        patient = asyncio.create_task(service.run(DETR, IMAGE, None, Caller(source="binding")))
        await asyncio.sleep(0.2)
        assert not patient.done()
        store.release.set()
        return await patient

    assert asyncio.run(scenario()).cost == Decimal("0.0000075")
