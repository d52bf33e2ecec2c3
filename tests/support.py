"""Test helpers: paths to fixtures and ../shared, a real uvicorn server on a free loopback port, and `dev` as a
user runs it (a child process)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
FIXTURE_MODELS = FIXTURES / "models"
# ../shared beside the checkout; WORKERS_AI_EMU_SHARED points elsewhere (make mutate runs the tests from mutants/)
SHARED = Path(os.environ.get("WORKERS_AI_EMU_SHARED") or ROOT.parent / "shared")
CATS = SHARED / "images" / "coco-000000039769-cats.png"

# The catalog names the tests use (one place)
DETR = "@cf/facebook/detr-resnet-50"
RESNET = "@cf/microsoft/resnet-50"
VIT = "google/vit-base-patch16-224"


def fixture_catalog() -> Any:
    """The catalog with DETR, ResNet and ViT mapped to the small fixture models of the same families."""
    from runtime.catalog import Catalog

    return Catalog.load(
        [
            {"name": DETR, "path": str(FIXTURE_MODELS / "detr")},
            {"name": RESNET, "path": str(FIXTURE_MODELS / "resnet")},
            {"name": VIT, "path": str(FIXTURE_MODELS / "vit")},
        ]
    )


def make_service(state_dir: Path, store: Any = None, ledger: str | None = None, **settings: Any) -> Any:
    """The real InferenceService over the fixture catalog, its state in `state_dir`, its ledger there too (SQLite)
    or at `ledger` (a SQLite path or a PostgreSQL URL)."""
    from runtime.metering.backends import open_ledger
    from runtime.service import InferenceService
    from runtime.settings import EmulatorSettings

    return InferenceService(
        fixture_catalog(),
        open_ledger(ledger or state_dir / "ledger.sqlite3"),
        EmulatorSettings(state_dir=state_dir, **settings),
        store=store,
    )


def need_shared(path: Path = CATS) -> Path:
    """Skip (with the reason) when ../shared, which a user's fresh clone lacks, is not beside the repo."""
    if not path.exists():
        pytest.skip(f"needs {path} (../shared is not beside this checkout)")
    return path


@contextlib.contextmanager
def running_server(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` with a real uvicorn on a free port in a background thread; yields the base URL."""
    sock = socket.socket(
        socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )  # proto set: asyncio then sets TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    from runtime.http.serving import uvicorn_options

    config = uvicorn.Config(app, log_level="warning", lifespan="on", **uvicorn_options())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevServer:
    """`python -m runtime dev ARGS --port P` in a child process, waited for until `ready` answers 200.

    Its output goes to `log` (a file, not a pipe: a busy server would fill a pipe nobody reads and stall)."""

    def __init__(
        self,
        *args: str,
        cwd: Path,
        log: Path,
        env: dict[str, str] | None = None,
        ready: str = "/cdn-cgi/emu/health",
        timeout_s: float = 90,
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "runtime", "dev", *args, "--port", str(self.port)],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{self.base}{ready}", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"dev exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"dev was not ready within {timeout_s:.0f} s:\n{self.output()[-3000:]}")
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> str:
        """Terminate it (SIGTERM, as Ctrl-C would) and return everything it printed."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.output()
