"""`python -m runtime dev` as a user runs it: a subprocess serving the example Worker on a free loopback port."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from support import DETR, FIXTURE_MODELS, ROOT, DevServer, make_service
from worker_support import IMAGE

from runtime.service import Caller


def test_dev_serves_the_example_worker_and_logs_each_request(tmp_path: Path) -> None:
    cfg = tmp_path / "wrangler-like.toml"
    cfg.write_text(f"""
name = "dev-test"
main = "{ROOT / "worker" / "entry.py"}"

[ai]
binding = "AI"

[[ai.models]]
name = "{DETR}"
path = "{FIXTURE_MODELS / "detr"}"

[[ai.models]]
name = "@cf/microsoft/resnet-50"

[vars]
PAGE_TITLE = "Dev test page"

[emulator]
state_dir = "state"
auto_pull = false
reload = false
""")
    dev = DevServer("--config", str(cfg), cwd=ROOT, log=tmp_path / "dev.log", ready="/", timeout_s=60)
    url = dev.base
    try:
        page = httpx.get(f"{url}/", timeout=5)
        assert page.status_code == 200
        assert "<canvas" in page.text and "Dev test page" in page.text and "<script src" not in page.text

        image = IMAGE.read_bytes()
        raw = httpx.post(f"{url}/", content=image, timeout=60)
        form = httpx.post(f"{url}/", files={"image": ("x.png", image, "image/png")}, timeout=60)
        bad = httpx.post(f"{url}/", content=b"not an image", timeout=60)
        rest = httpx.post(f"{url}/client/v4/accounts/a/ai/run/{DETR}", content=image, timeout=60)
    finally:
        output = dev.stop()

    service = make_service(tmp_path / "expected")
    expected = service.run_sync(DETR, image, caller=Caller(source="cli")).result
    price = str(service.catalog.get(DETR).price)
    service.close()
    assert raw.status_code == 200, raw.text
    assert raw.json() == {"model": DETR, "detections": expected}
    assert form.json() == raw.json()
    assert bad.status_code == 400 and bad.json()["error"].startswith("5006: ")

    lines = output.splitlines()
    standins = [line for line in lines if line.startswith("stand-ins answer")]
    assert len(standins) == 1, output  # one line, for the configured model without weights; DETR is mapped
    assert "@cf/microsoft/resnet-50 by stand-in:squeezenet" in standins[0] and DETR not in standins[0]
    assert "workers-ai-emu models pull @cf/microsoft/resnet-50" in standins[0]
    assert "Traceback" not in output
    assert any(f"Ready on {url}" in line for line in lines), output
    assert any(" GET / 200 " in line for line in lines), output
    logged = [line for line in lines if " POST / 200 " in line]
    assert len(logged) == 2 and all(f"AI {DETR}" in line and f"${price}" in line for line in logged), output
    assert any(" POST / 400 " in line and "error 5006" in line for line in lines), output
    assert rest.status_code == 200  # the REST door's inferences are logged the same way as the binding's
    assert any(
        f" POST /client/v4/accounts/a/ai/run/{DETR} 200 " in line and f"AI {DETR}" in line and f"${price}" in line
        for line in lines
    ), output


def test_dev_reports_a_config_error_in_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "wrangler-like.toml"
    cfg.write_text('name = "x"\n[emulator]\nport = "high"\n')
    done = subprocess.run(
        [sys.executable, "-m", "runtime", "dev", "--config", str(cfg)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {cfg}:3: emulator.port: must be an integer, not a string ('high')"


def test_dev_workers_serves_one_port_from_several_processes_sharing_the_ledger(tmp_path: Path) -> None:
    cfg = tmp_path / "wrangler-like.toml"
    cfg.write_text(f"""
name = "dev-workers"
main = "{ROOT / "worker" / "entry.py"}"

[[ai.models]]
name = "{DETR}"
path = "{FIXTURE_MODELS / "detr"}"

[emulator]
state_dir = "state"
auto_pull = false
reload = false
""")
    dev = DevServer("--config", str(cfg), "--workers", "2", cwd=ROOT, log=tmp_path / "dev.log")
    proc, url = dev.proc, dev.base
    image = IMAGE.read_bytes()
    try:
        children = subprocess.run(["ps", "--ppid", str(proc.pid), "-o", "pid="], capture_output=True, text=True)
        answers = [httpx.post(f"{url}/", content=image, timeout=60) for _ in range(12)]
        costs = httpx.get(f"{url}/cdn-cgi/emu/costs", timeout=30).json()
    finally:
        output = dev.stop()
    assert len(children.stdout.split()) >= 2, output  # the supervisor's server processes
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert costs["requests"] == 12 and costs["billed_requests"] == 12  # one ledger for both processes
    assert "2 server processes" in output and "Traceback" not in output
