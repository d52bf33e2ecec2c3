"""The bundled stand-in weights: a fresh clone answers offline with real detections, always marked as stand-ins.

Nothing here reads ../shared: the stand-ins come from the package, the image is a committed fixture.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
from api_support import HeldStore, make_service
from support import DETR, FIXTURE_MODELS, FIXTURES, RESNET, ROOT, free_port, running_server

from runtime.catalog import Catalog
from runtime.http.app import create_app
from runtime.http.context import AppContext
from runtime.metering.backends import open_ledger
from runtime.service import InferenceService
from runtime.settings import EmulatorSettings, Settings
from runtime.tasks import all_tasks

CATS = FIXTURES / "images" / "cats-640x480.jpg"  # COCO val2017 #39769 (two cats), as JPEG


def offline_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp / "hf"), HOME=str(tmp / "home"))
    return env


def labels(detections: list[dict]) -> list[str]:
    return [d["label"] for d in detections]


def test_the_package_carries_both_stand_ins_with_their_licences() -> None:
    for standin in (t.standin for t in all_tasks() if t.standin is not None):
        if standin.name == "pocketsphinx":  # a dependency carrying its own model (NOTICE.md), not a folder here
            continue
        folder = standin.folder
        assert (folder / "onnx" / "model.onnx").stat().st_size > 1_000_000
        assert json.loads((folder / "config.json").read_text())["id2label"]
        assert "Source:" in (folder / "README.md").read_text()
    notice = (ROOT / "runtime" / "standins" / "NOTICE.md").read_text()
    assert "Apache License 2.0" in notice and "MIT License" in notice


def test_a_fresh_clone_serves_the_example_worker_offline_from_the_stand_ins(tmp_path: Path) -> None:
    """`dev` with the repo's own config and Worker, no ../shared, HF_HUB_OFFLINE=1, an empty Hub cache."""
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copy(ROOT / "wrangler-like.toml", clone / "wrangler-like.toml")
    shutil.copytree(ROOT / "worker", clone / "worker", ignore=shutil.ignore_patterns("__pycache__", "tests"))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime", "dev", "--port", str(port), "--no-reload"],
        cwd=clone,
        env=offline_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    image = CATS.read_bytes()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(f"{base}/cdn-cgi/emu/ready", timeout=5)
                if ready.status_code == 200:
                    break
                assert ready.status_code == 503 and ready.json()["status"] == "loading"
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "dev was not ready within 60 s"
            time.sleep(0.1)
        assert ready.json()["models"][DETR] == {"weights": "stand-in:yolox-nano", "state": "loaded"}
        worker = httpx.post(f"{base}/", content=image, timeout=60)
        rest = httpx.post(f"{base}/client/v4/accounts/x/ai/run/{DETR}", content=image, timeout=60)
        hf = httpx.post(f"{base}/hf-inference/models/facebook/detr-resnet-50", content=image, timeout=60)
        health = httpx.get(f"{base}/cdn-cgi/emu/health", timeout=5)
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert worker.status_code == 200, worker.text
    assert "cat" in labels(worker.json()["detections"])
    assert worker.headers["x-emu-weights"] == "stand-in:yolox-nano"
    assert rest.status_code == 200 and "cat" in labels(rest.json()["result"])
    assert rest.headers["x-emu-weights"] == "stand-in:yolox-nano"
    assert rest.json()["result"] == worker.json()["detections"]  # the same inference, through another door
    assert hf.status_code == 200 and hf.headers["x-emu-weights"] == "stand-in:yolox-nano"
    assert health.status_code == 200

    lines = output.splitlines()
    start = [line for line in lines if line.startswith("stand-ins answer")]
    assert len(start) == 1 and f"{DETR} by stand-in:yolox-nano" in start[0], output
    assert f"workers-ai-emu models pull {DETR}" in start[0]
    assert any(" POST / 200 " in line and "[stand-in:yolox-nano]" in line for line in lines), output
    assert "Traceback" not in output

    db = sqlite3.connect(clone / ".emu" / "ledger.sqlite3")
    rows = db.execute("SELECT source, weights, cost FROM requests ORDER BY id").fetchall()
    price = str(Catalog.load().get(DETR).price)
    assert rows == [
        ("binding", "stand-in:yolox-nano", price),
        ("rest", "stand-in:yolox-nano", price),
        ("hf", "stand-in:yolox-nano", price),
    ]
    costs = subprocess.run(
        [sys.executable, "-m", "runtime", "costs", "--by", "weights", "--format", "json"],
        cwd=clone,
        env=offline_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert costs.returncode == 0, costs.stderr
    by_weights = json.loads(costs.stdout)["breakdown"]
    assert [(g["weights"], g["requests"]) for g in by_weights] == [("stand-in:yolox-nano", 3)]


def service_with(tmp_path: Path, weights: str, models: list[dict] | None = None) -> InferenceService:
    return InferenceService(
        Catalog.load(models or []),
        open_ledger(tmp_path / "ledger.sqlite3"),
        EmulatorSettings(state_dir=tmp_path, weights=weights, intra_op_threads=1),
    )


def test_stand_in_mode_answers_even_where_real_weights_are_on_disk(tmp_path: Path) -> None:
    mapped = [{"name": DETR, "path": str(FIXTURE_MODELS / "detr")}]
    real = service_with(tmp_path / "auto", "auto", mapped)
    standin = service_with(tmp_path / "standin", "stand-in", mapped)
    image = CATS.read_bytes()
    from_real = real.run_sync(DETR, image, {"threshold": 0.0})
    from_standin = standin.run_sync(DETR, image)
    assert from_real.weights == "real" and from_standin.weights == "stand-in:yolox-nano"
    assert "cat" in labels(from_standin.result) and from_standin.result != from_real.result
    # Workers AI's object-detection schema: score, label, integer box corners
    for d in from_standin.result:
        assert set(d) == {"score", "label", "box"} and set(d["box"]) == {"xmin", "ymin", "xmax", "ymax"}
        assert all(isinstance(v, int) for v in d["box"].values()) and 0.5 <= d["score"] <= 1  # DETR's threshold
    assert [r["weights"] for r in standin.ledger.latest(5)] == ["stand-in:yolox-nano"]
    real.close()
    standin.close()


def test_the_classifier_stand_in_answers_in_the_classifier_schema(tmp_path: Path) -> None:
    svc = service_with(tmp_path, "stand-in")
    outcome = svc.run_sync(RESNET, CATS.read_bytes(), {"top_k": 3})
    assert outcome.weights == "stand-in:squeezenet"
    assert [set(r) for r in outcome.result] == [{"label", "score"}] * 3
    assert outcome.result[0]["label"] == "Egyptian cat" and outcome.result[0]["score"] > 0.9  # ImageNet's label
    assert outcome.cost == svc.catalog.get(RESNET).price
    svc.close()


def test_ready_is_503_until_the_preloaded_models_are_loaded(tmp_path: Path) -> None:
    store = HeldStore(tmp_path)  # the real weights "arrive" when released
    svc = make_service(tmp_path, store=store, weights="real")
    app = create_app(AppContext(settings=Settings(emulator=svc.settings), service=svc, preload=[DETR]))
    with running_server(app) as base:
        waiting = httpx.get(f"{base}/cdn-cgi/emu/ready")
        assert waiting.status_code == 503
        assert waiting.json() == {"status": "loading", "models": {DETR: {"weights": "real", "state": "loading"}}}
        assert httpx.get(f"{base}/cdn-cgi/emu/health").status_code == 200  # alive all along
        store.release.set()
        deadline = time.monotonic() + 30
        while (ready := httpx.get(f"{base}/cdn-cgi/emu/ready")).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert ready.json()["models"][DETR] == {"weights": "real", "state": "loaded"}
    svc.close()


def test_the_cli_run_answers_offline_from_the_stand_in(tmp_path: Path) -> None:
    """What a new user types first, outside any project, offline, with an empty cache."""
    done = subprocess.run(
        [sys.executable, "-m", "runtime", "run", DETR, str(CATS)],
        cwd=tmp_path,
        env=offline_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "cat" in labels(json.loads(done.stdout))
    assert "stand-in:yolox-nano" in done.stderr and f"models pull {DETR}" in done.stderr


def test_a_wheel_built_from_the_repo_carries_and_serves_the_stand_ins(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("workers_ai_emu-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for standin in ("yolox-nano", "squeezenet-fp16"):
        for part in ("onnx/model.onnx", "config.json", "preprocessor_config.json", "README.md"):
            assert f"runtime/standins/{standin}/{part}" in names
    assert "runtime/standins/NOTICE.md" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    target = next(Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    env = offline_env(tmp_path)
    # the dependencies come from the test venv's site-packages; the package itself only from the wheel
    installed = tmp_path / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(installed), str(wheel)],
        check=True,
        timeout=300,
    )
    env["PYTHONPATH"] = f"{installed}{os.pathsep}{target}"
    where = subprocess.run(
        [str(python), "-c", "import runtime; print(runtime.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.stdout.strip().startswith(str(installed)), where.stdout + where.stderr
    done = subprocess.run(
        [str(python), "-m", "runtime", "run", DETR, str(CATS)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "cat" in labels(json.loads(done.stdout)) and "stand-in:yolox-nano" in done.stderr
