"""`workers-ai-emu dev`: serve the Worker and the APIs on http://127.0.0.1:8787, reloading the Worker on edits."""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..service import InferenceService
    from ..settings import Settings

MODEL_NAME = re.compile(r"""["'](@cf/[\w.\-/]+|[\w.\-]+/[\w.\-]+)["']""")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dev", help="serve the Worker (main in wrangler-like.toml) and the APIs locally")
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="wrangler-like.toml, wrangler.toml or wrangler.jsonc (default: found from here upwards)",
    )
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port to listen on (default 8787)")
    p.add_argument("--no-reload", action="store_true", help="do not reload the Worker when its files change")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="server processes on the one port, sharing the ledger (default: [emulator] workers, 1)",
    )
    p.set_defaults(func=main)


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    root = logging.getLogger("workers-ai-emu")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def models_in_use(settings: Settings, service: InferenceService) -> list[str]:
    """The models the user configured, plus catalog models the Worker's source names."""
    names = [str(m.get("name")) for m in settings.models]
    if settings.main is not None:
        for file in sorted(Path(settings.main).parent.rglob("*.py")):
            try:
                text = file.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            names += [n for n in MODEL_NAME.findall(text) if n in service.catalog]
    return list(dict.fromkeys(names))


def missing_weights(settings: Settings, service: InferenceService) -> list[str]:
    """What to tell at start about models in use whose real weights are not on disk.

    With stand-ins (weights auto or stand-in): one line naming what answers instead and how to get the real
    weights. With weights = "real": one line per missing model.
    """
    standins: list[str] = []
    names: list[str] = []
    lines: list[str] = []
    for name in models_in_use(settings, service):
        entry = service.catalog.get(name)
        standin = service.pool.standin_for(entry)
        if standin is not None:
            standins.append(f"{name} by {standin.label}")
            names.append(name)
        elif service.pool.status(entry) == "missing":
            lines.append(f"missing weights: {service.store.missing_message(entry)}")
    if standins:
        mode = settings.emulator.weights
        if mode == "stand-in":
            how = '([emulator] weights = "stand-in"; set it to "auto" to use real weights when on disk)'
        elif settings.emulator.auto_pull and not os.environ.get("HF_HUB_OFFLINE"):
            how = "until their real weights are pulled in the background"
        else:
            how = (
                f"until their real weights are on disk: `workers-ai-emu models pull {' '.join(names)}` where the"
                " Hugging Face Hub is reachable, or [[ai.models]] path = ... (docs/models.md)"
            )
        lines.insert(0, f"stand-ins answer (marked x-emu-weights: stand-in:...): {'; '.join(standins)} {how}")
    return lines


WORKER_ARGS_ENV = "WORKERS_AI_EMU_DEV_ARGS"  # how `dev --workers N` hands its options to each server process


def build_app(settings: Settings) -> tuple[Any, InferenceService]:
    """The whole ASGI app of `dev` (Worker + APIs + request log) over a new service."""
    from ..host import WorkerHost
    from ..http.accesslog import RequestLog
    from ..http.app import create_app
    from ..http.context import AppContext
    from ..service import InferenceService

    service = InferenceService.from_settings(settings)
    host = WorkerHost(settings, service) if settings.main is not None else None
    preload = models_in_use(settings, service) if settings.emulator.preload else []
    app = RequestLog(create_app(AppContext(settings=settings, service=service, host=host, preload=preload)))
    return app, service


def apply_args(settings: Settings, host: str | None, port: int | None, no_reload: bool, workers: int | None) -> None:
    if host:
        settings.emulator.host = host
    if port is not None:
        settings.emulator.port = port
    if no_reload:
        settings.emulator.reload = False
    if workers is not None:
        settings.emulator.workers = workers


def worker_app() -> Any:
    """The app factory each server process of `dev --workers N` calls (uvicorn imports it by name): the same
    settings as the parent, read again from the same config file, with its own service over the shared ledger."""
    from ..config import load_settings
    from ..settings import default_threads

    options = json.loads(os.environ[WORKER_ARGS_ENV])
    setup_logging()
    settings = load_settings(options["config"])
    apply_args(settings, options["host"], options["port"], options["no_reload"], options["workers"])
    if settings.emulator.intra_op_threads == default_threads():  # not set by the user: share the cores out
        settings.emulator.intra_op_threads = max(1, default_threads() // settings.emulator.workers)
    app, service = build_app(settings)
    atexit.register(service.close)
    return app


def main(args: argparse.Namespace) -> int:
    import uvicorn

    from ..http.serving import uvicorn_options

    setup_logging()
    settings = args.settings
    apply_args(settings, args.host, args.port, args.no_reload, args.workers)
    if settings.emulator.workers > 1:
        return serve_workers(args, settings)
    app, service = build_app(settings)

    where = settings.config_path or "no config file found (defaults)"
    print(f"workers-ai-emu dev · config {where}", flush=True)
    if settings.main is not None:
        binding = f"env.{settings.ai_binding}" if settings.ai_binding else "no AI binding"
        rel = _relative(Path(settings.main), settings.root)
        print(
            f"Worker {settings.name!r} from {rel} · {binding} · vars {', '.join(settings.vars) or '-'} · "
            f"secrets {', '.join(sorted(settings.secrets)) or '-'}",
            flush=True,
        )
    else:
        print("No `main` in the config: serving only the APIs (Cloudflare REST and Hugging Face).", flush=True)
    for line in missing_weights(settings, service):
        print(line, flush=True)
    warn_if_exposed(settings)
    url = base_url(settings)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                print(f"Ready on {url} · dashboard {url}/cdn-cgi/emu/dashboard", flush=True)

    config = uvicorn.Config(
        app,
        host=settings.emulator.host,
        port=settings.emulator.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        **uvicorn_options(),
    )
    server = Server(config)
    try:
        server.run()
    finally:
        service.close()
    return 0 if server.started else 1


def serve_workers(args: argparse.Namespace, settings: Settings) -> int:
    """N server processes accepting on one socket (uvicorn's supervisor, which restarts one that dies), each with
    its own service and models, all writing the one ledger (SQLite in WAL mode, or PostgreSQL)."""
    import uvicorn

    from ..http.serving import uvicorn_options

    n = settings.emulator.workers
    where = settings.config_path or "no config file found (defaults)"
    print(f"workers-ai-emu dev · config {where} · {n} server processes", flush=True)
    warn_if_exposed(settings)
    os.environ[WORKER_ARGS_ENV] = json.dumps(
        {
            "config": str(settings.config_path) if settings.config_path else None,
            "host": settings.emulator.host,
            "port": settings.emulator.port,
            "no_reload": not settings.emulator.reload,
            "workers": n,
        }
    )
    url = base_url(settings)
    print(f"Starting {n} processes on {url} · dashboard {url}/cdn-cgi/emu/dashboard", flush=True)
    uvicorn.run(
        "runtime.commands.dev:worker_app",
        factory=True,
        host=settings.emulator.host,
        port=settings.emulator.port,
        workers=n,
        log_level="warning",
        access_log=False,
        lifespan="on",
        **uvicorn_options(),
    )
    return 0


def base_url(settings: Settings) -> str:
    url_host = settings.emulator.host if ":" not in settings.emulator.host else f"[{settings.emulator.host}]"
    return f"http://{url_host}:{settings.emulator.port}"


def warn_if_exposed(settings: Settings) -> None:
    if settings.emulator.host not in ("127.0.0.1", "localhost", "::1"):
        if settings.emulator.api_token:
            print(f"warning: listening on {settings.emulator.host}, reachable from other machines", flush=True)
        else:
            print(
                f"WARNING: listening on {settings.emulator.host} WITHOUT an api_token: anyone who can reach this "
                "machine can run your Worker and inference, and read your costs. Set [emulator] api_token, or "
                'keep host = "127.0.0.1".',
                file=sys.stderr,
                flush=True,
            )


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
