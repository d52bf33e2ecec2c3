"""Figures for the pytest plugin (not a test): session start-up, per-test overhead, one `worker.post`.

    .venv/bin/python bench/bench_plugin.py

Runs pytest in subprocesses on a temporary project holding the example Worker's config and code:
- session start-up: a session with one trivial test using `emu` minus the same session without the plugin's
  fixtures (pytest's own start-up), median of 5;
- per-test overhead: 200 trivial tests using `worker` and `ai` vs 200 plain ones, per test;
- `worker.post` of the cats image (the example Worker, stand-in detector), median and p90 of 100 in one test.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATS = ROOT / "tests" / "fixtures" / "images" / "cats-640x480.jpg"


def run(project: Path, *args: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    elapsed = time.perf_counter() - t0
    assert done.returncode == 0, done.stdout + done.stderr
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        shutil.copy(ROOT / "wrangler-like.toml", project / "wrangler-like.toml")
        shutil.copytree(ROOT / "worker", project / "worker", ignore=shutil.ignore_patterns("__pycache__", "tests"))
        (project / "test_plain.py").write_text("def test_plain():\n    pass\n")
        (project / "test_session.py").write_text("def test_session(emu):\n    assert emu.service\n")
        (project / "test_many_plain.py").write_text(
            "import pytest\n@pytest.mark.parametrize('i', range(200))\ndef test_p(i):\n    pass\n"
        )
        (project / "test_many_fixtures.py").write_text(
            "import pytest\n@pytest.mark.parametrize('i', range(200))\ndef test_f(i, worker, ai):\n    pass\n"
        )
        (project / "test_post.py").write_text(f"""
import json, statistics, time
IMAGE = open({str(CATS)!r}, "rb").read()
def test_post(worker):
    worker.post("/", content=IMAGE)  # warm
    times = []
    for _ in range(100):
        t0 = time.perf_counter()
        r = worker.post("/", content=IMAGE)
        times.append(time.perf_counter() - t0)
        assert r.status_code == 200
    times.sort()
    open("post.json", "w").write(json.dumps({{"median_ms": statistics.median(times) * 1000,
                                              "p90_ms": times[89] * 1000}}))
""")
        plain = statistics.median(run(project, "test_plain.py") for _ in range(5))
        session = statistics.median(run(project, "test_session.py") for _ in range(5))
        many_plain = statistics.median(run(project, "test_many_plain.py") for _ in range(3))
        many_fixtures = statistics.median(run(project, "test_many_fixtures.py") for _ in range(3))
        run(project, "test_post.py")
        post = json.loads((project / "post.json").read_text())
    figures = {
        "pytest_alone_s": round(plain, 3),
        "plugin_session_startup_s": round(session - plain, 3),
        "per_test_overhead_ms": round((many_fixtures - many_plain) / 200 * 1000, 2),
        "worker_post_cats_median_ms": round(post["median_ms"], 1),
        "worker_post_cats_p90_ms": round(post["p90_ms"], 1),
    }
    print(
        f"pytest alone {plain:.2f} s · plugin session start-up +{session - plain:.2f} s · per-test overhead "
        f"{figures['per_test_overhead_ms']} ms · worker.post(cats.jpg) median {post['median_ms']:.1f} ms, "
        f"p90 {post['p90_ms']:.1f} ms ({os.cpu_count()} cores, stand-in detector)"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
