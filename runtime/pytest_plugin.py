"""The pytest plugin: test a Worker against real inference, real metering and Cloudflare's failures on demand.

Installed with the package (entry point `pytest11: workers_ai_emu`; `-p no:workers_ai_emu` turns it off).
Fixtures, all in-process (no socket, no port):
- `worker`: an `httpx.Client` bound to the Worker and the emulator's HTTP doors (`worker.post("/", ...)`,
  `worker.post("/client/v4/accounts/x/ai/run/@cf/...")`); `aworker` is the `httpx.AsyncClient` equivalent.
- `ai`: the Worker's `env.AI` binding (`await ai.run(model, inputs)`, or `ai.run_sync(...)` in a plain test),
  with what a test asserts (`ai.calls`, `ai.spent`) and Cloudflare's failures on demand (`ai.fail_next(3040)`,
  `ai.delay(2.0)`).
- `emu`: the emulator itself (settings, service, ledger, catalog), one per test session (`emulator_for(config)`
  makes one for another Worker's config, for a folder's conftest.py).
The config is the project's wrangler-like.toml (or wrangler.toml / wrangler.jsonc) in pytest's rootdir, or
`--emu-config FILE` / the ini option `emu_config`. Each session has its own temporary ledger; weights default to
the bundled stand-ins (`--emu-weights auto|real|stand-in`, or the ini option `emu_weights`).
Calls and faults never leak from one test to the next. Everything heavy is imported only when a fixture is used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

if TYPE_CHECKING:
    import httpx
    from starlette.testclient import TestClient

    from .service import InferenceService
    from .settings import Settings

WEIGHTS = ("auto", "real", "stand-in")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("workers-ai-emu", "Workers AI emulator (workers-ai-emu)")
    group.addoption(
        "--emu-config",
        metavar="FILE",
        default=None,
        help="the Worker's wrangler-like.toml, wrangler.toml or wrangler.jsonc "
        "(default: the ini option emu_config, else the one in the rootdir)",
    )
    group.addoption(
        "--emu-weights",
        choices=WEIGHTS,
        default=None,
        help="which weights answer in tests (default: the ini option emu_weights, else stand-in)",
    )
    parser.addini("emu_config", "the Worker's config file, relative to the rootdir (workers-ai-emu)")
    parser.addini(
        "emu_weights", "auto | real | stand-in: which weights answer in tests (workers-ai-emu)", default="stand-in"
    )


def pytest_configure(config: pytest.Config) -> None:
    """Tests import what Worker code imports (`from workers import InferenceUpstreamError, Response`)."""
    from .workers.shims import install_workers_module

    install_workers_module()


def find_config(config: pytest.Config) -> Path | None:
    """--emu-config, else the ini option emu_config (relative to the rootdir), else a config in the rootdir."""
    from .config import CONFIG_NAMES

    given = config.getoption("emu_config")
    if given:
        return Path(given).resolve()
    ini = config.getini("emu_config")
    if ini:
        return (Path(config.rootpath) / str(ini)).resolve()
    for name in CONFIG_NAMES:
        candidate = Path(config.rootpath) / name
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Call:
    """One inference, as the ledger recorded it."""

    model: str
    door: str  # binding | rest | hf | cli
    outcome: str  # "ok" or "error:<code>"
    cost: Decimal
    weights: str | None  # "real" or "stand-in:<name>" (None: no model ran)
    route: str | None
    request_id: str
    cache_hit: bool
    audio_ms: int | None = None  # speech: the billed audio duration in milliseconds
    usage: Mapping[str, int] | None = None  # what it used, by quantity: {"request": 1}, {"audio-ms": 61234}

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def code(self) -> int | None:
        """The Cloudflare error code of a failed call."""
        return None if self.ok else int(self.outcome.partition(":")[2])


class Emulator:
    """One emulator for the test session: settings, the inference service, the Worker host and the ASGI app."""

    def __init__(self, settings: Settings) -> None:
        from .host import WorkerHost
        from .http.accesslog import RequestLog
        from .http.app import create_app
        from .http.context import AppContext
        from .service import InferenceService

        self.settings = settings
        self.service: InferenceService = InferenceService.from_settings(settings)
        self.host = WorkerHost(settings, self.service, reload=False) if settings.main is not None else None
        self.app = RequestLog(create_app(AppContext(settings=settings, service=self.service, host=self.host)))

    @classmethod
    def start(cls, config_path: Path | None, state_dir: Path, weights: str) -> Emulator:
        from dataclasses import replace

        from .config import load_settings
        from .settings import Settings

        settings = load_settings(config_path) if config_path is not None else Settings()
        settings.emulator = replace(
            settings.emulator, state_dir=state_dir, weights=weights, reload=False, preload=False
        )
        return cls(settings)

    @property
    def ledger(self) -> Any:
        return self.service.ledger

    @property
    def catalog(self) -> Any:
        return self.service.catalog

    def close(self) -> None:
        if self.host is not None:
            asyncio.run(self.host.stop())
        self.service.close()


class AiProbe:
    """`env.AI` for a test: direct calls, the calls made since the test began, their cost, and faults."""

    def __init__(self, emu: Emulator) -> None:
        from .bindings.ai import AiBinding

        self._emu = emu
        host_env = emu.host.env if emu.host is not None else None
        name = emu.settings.ai_binding or "AI"
        binding = host_env.get(name) if host_env is not None else None
        self.binding: Any = binding if binding is not None else AiBinding(emu.service, emu.settings.name)
        self._mark = emu.ledger.newest_id() if emu.ledger is not None else 0

    async def run(self, model: str, inputs: Any, options: Any = None) -> Any:
        """`await env.AI.run(model, inputs)`, exactly as the Worker calls it (metered as the binding)."""
        return await self.binding.run(model, inputs, options)

    def run_sync(self, model: str, inputs: Any, options: Any = None) -> Any:
        """The same, from a plain (non-async) test."""
        return asyncio.run(self.binding.run(model, inputs, options))

    @property
    def calls(self) -> list[Call]:
        """Every inference since this test began, through any door, oldest first."""
        if self._emu.ledger is None:
            return []
        return [
            Call(
                model=str(r["model"]),
                door=str(r["source"]),
                outcome=str(r["outcome"]),
                cost=Decimal(str(r["cost"])),
                weights=None if r["weights"] is None else str(r["weights"]),
                route=None if r["route"] is None else str(r["route"]),
                request_id=str(r["request_id"]),
                cache_hit=bool(r["cache_hit"]),
                audio_ms=None if r.get("audio_ms") is None else int(str(r["audio_ms"])),
                usage=cast("Mapping[str, int] | None", r.get("usage")),
            )
            for r in self._emu.ledger.rows_after(self._mark)
        ]

    @property
    def spent(self) -> Decimal:
        """What this test's inferences cost, exactly (failures and cache hits at $0)."""
        return sum((c.cost for c in self.calls), Decimal("0"))

    def fail_next(self, code: int, times: int = 1, model: str | None = None) -> None:
        """The next `times` inferences (of `model`, or any) fail as Workers AI fails with `code`:
        3040 out of capacity, 3036 daily free allocation used up, 3007 timeout, 3008 aborted, 5006 bad input,
        5007 no such model. Through the binding they raise InferenceUpstreamError("<code>: <message>")."""
        from .faults import Rule

        self._emu.service.faults.add(Rule(code=code, times=times, model=model))

    def delay(self, seconds: float, times: int = 1, model: str | None = None) -> None:
        """The next `times` inferences (of `model`, or any) take `seconds` longer, to test a Worker's timeouts."""
        from .faults import Rule

        self._emu.service.faults.add(Rule(delay_s=seconds, times=times, model=model))

    def __getattr__(self, name: str) -> Any:  # the rest of env.AI (models(), ...)
        return getattr(self.binding, name)

    def __repr__(self) -> str:
        return f"<ai: env.AI of {self._emu.settings.name!r}, {len(self.calls)} calls this test>"


@pytest.fixture(scope="session")
def emu(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """The emulator for this test session (its own temporary ledger)."""
    from .errors import ConfigError

    weights = pytestconfig.getoption("emu_weights") or pytestconfig.getini("emu_weights") or "stand-in"
    if weights not in WEIGHTS:
        raise pytest.UsageError(f"emu_weights must be one of {', '.join(WEIGHTS)}, not {weights!r}")
    try:
        emulator = Emulator.start(find_config(pytestconfig), tmp_path_factory.mktemp("workers-ai-emu"), weights)
    except ConfigError as e:
        pytest.fail(f"workers-ai-emu: {e}", pytrace=False)
    try:
        yield emulator
    finally:
        emulator.close()


def emulator_for(config: str | Path, weights: str = "stand-in") -> Any:
    """An `emu` fixture for the Worker of another config file, for a project with several Workers: in the
    folder of that Worker's tests, `conftest.py` says `emu = emulator_for(Path(__file__).parent / "../wrangler.toml")`
    and the `worker`, `aworker` and `ai` fixtures of the tests there serve that Worker."""

    @pytest.fixture(scope="session")
    def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
        emulator = Emulator.start(Path(config).resolve(), tmp_path_factory.mktemp("workers-ai-emu"), weights)
        try:
            yield emulator
        finally:
            emulator.close()

    return emu


@pytest.fixture
def ai(emu: Emulator) -> Iterator[AiProbe]:
    """The Worker's env.AI binding, with this test's calls, cost and faults. Faults end with the test."""
    emu.service.faults.clear()
    probe = AiProbe(emu)
    try:
        yield probe
    finally:
        emu.service.faults.clear()


@pytest.fixture
def worker(ai: AiProbe, emu: Emulator) -> Iterator[TestClient]:
    """An httpx.Client bound to the Worker (and the REST and Hugging Face doors), in-process."""
    from starlette.testclient import TestClient

    # not entered as a context manager: the app's lifespan belongs to the session (the Worker host stays loaded)
    client = TestClient(emu.app, base_url="http://localhost", follow_redirects=False)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def aworker(ai: AiProbe, emu: Emulator) -> Iterator[httpx.AsyncClient]:
    """The httpx.AsyncClient equivalent of `worker`, for async tests (pytest-asyncio, or anyio's plugin)."""
    import httpx

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app), base_url="http://localhost")
    yield client
