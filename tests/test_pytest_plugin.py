"""The pytest plugin, tested as its users use it: a temporary project (its own Worker, config and tests) run by
pytest in a subprocess, with the plugin found through the package's pytest11 entry point."""

from __future__ import annotations

import pytest
from support import FIXTURES

CATS = FIXTURES / "images" / "cats-640x480.jpg"
DETR = "@cf/facebook/detr-resnet-50"

WORKER = """
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        try:
            found = await self.env.AI.run("@cf/facebook/detr-resnet-50", {"image": list(await request.bytes())})
        except Exception as e:
            return Response.json({"error": str(e)}, status=502)
        return Response.json({"labels": [d["label"] for d in found]})
"""

CONFIG = """
name = "plugin-project"
main = "src/entry.py"
[ai]
binding = "AI"
"""

TESTS = f'''
import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from workers import InferenceUpstreamError

IMAGE = Path({str(CATS)!r}).read_bytes()
DETR = "{DETR}"


def test_a_cat_is_detected(worker, ai):
    r = worker.post("/", content=IMAGE)
    assert r.status_code == 200 and "cat" in r.json()["labels"]
    assert [(c.model, c.door, c.outcome, c.weights) for c in ai.calls] == [
        (DETR, "binding", "ok", "stand-in:yolox-nano")]


def test_wrong_detection_fails(worker):
    assert "giraffe" in worker.post("/", content=IMAGE).json()["labels"]


def test_fail_next_gives_cloudflares_error(ai):
    ai.fail_next(3040)
    with pytest.raises(InferenceUpstreamError) as info:
        ai.run_sync(DETR, {{"image": list(IMAGE)}})
    assert str(info.value) == "3040: Capacity temporarily exceeded, please try again."
    assert [c.code for c in ai.calls] == [3040] and ai.spent == 0


@pytest.mark.anyio
async def test_await_ai_run_and_aworker(ai, aworker):
    direct = await ai.run(DETR, {{"image": list(IMAGE)}})
    r = await aworker.post("/", content=IMAGE)
    assert [d["label"] for d in direct] == r.json()["labels"]


def test_the_worker_sees_a_fault_and_rest_gets_the_envelope(worker, ai):
    ai.fail_next(3036, times=2)
    assert worker.post("/", content=IMAGE).json()["error"].startswith("3036: You have used up your daily free")
    rest = worker.post(f"/client/v4/accounts/x/ai/run/{{DETR}}", content=IMAGE)
    assert rest.status_code == 429 and rest.json()["errors"][0]["code"] == 3036


def test_spent_equals_the_ledger(worker, ai, emu):
    for _ in range(3):
        worker.post("/", content=IMAGE)
    worker.post("/hf-inference/models/facebook/detr-resnet-50", content=IMAGE)
    db = sqlite3.connect(emu.ledger.path)
    ids = tuple(c.request_id for c in ai.calls)
    total = sum(Decimal(c) for (c,) in db.execute(
        f"SELECT cost FROM requests WHERE request_id IN ({{','.join('?' * len(ids))}})", ids))
    assert len(ids) == 4 and ai.spent == total == 4 * emu.catalog.get(DETR).price


def test_isolation_first_leaves_a_fault_behind(ai):
    ai.fail_next(3040, times=5)
    ai.delay(30)


def test_isolation_second_sees_no_calls_and_no_fault(ai, worker):
    assert ai.calls == []
    r = worker.post("/", content=IMAGE)
    assert r.status_code == 200
    assert [c.outcome for c in ai.calls] == ["ok"]


@pytest.fixture
def anyio_backend():
    return "asyncio"
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", **{"wrangler-like": CONFIG})
    (pytester.path / "src").mkdir()
    (pytester.path / "src" / "entry.py").write_text(WORKER)
    pytester.makepyfile(test_worker=TESTS)
    return pytester


def test_the_plugin_runs_a_projects_worker_tests(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-p", "anyio")
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(["*test_wrong_detection_fails*"])
    assert "giraffe" in result.stdout.str()


def test_options_name_another_config_and_weights(pytester: pytest.Pytester) -> None:
    (pytester.path / "elsewhere").mkdir()
    (pytester.path / "elsewhere" / "wrangler.toml").write_text('name = "named"\n[emulator]\nmax_queue = 7\n')
    pytester.makepyfile(
        test_opts=f'''
def test_config_and_weights(emu, ai):
    assert emu.settings.name == "named" and emu.settings.emulator.max_queue == 7
    assert emu.settings.emulator.weights == "auto"
    assert emu.settings.emulator.state_dir != emu.settings.root / ".emu"  # a temporary ledger per session
    out = ai.run_sync("{DETR}", {{"image": list(open({str(CATS)!r}, "rb").read())}})
    assert any(d["label"] == "cat" for d in out)
'''
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--emu-config", "elsewhere/wrangler.toml", "--emu-weights", "auto"
    )
    result.assert_outcomes(passed=1)
    pytester.makeini("[pytest]\nemu_config = elsewhere/wrangler.toml\nemu_weights = stand-in\n")
    pytester.makepyfile(
        test_opts="""
def test_ini(emu):
    assert emu.settings.name == "named" and emu.settings.emulator.weights == "stand-in"
"""
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_plugin_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_off="def test_uses_worker(worker):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:workers_ai_emu")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'worker' not found*"])
