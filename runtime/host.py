"""Runs the user's Worker module in-process: loads it, dispatches requests to it, and reloads it on edits.

Reloading re-imports only the Worker's own modules (those in the `main` module's folder), so the models already
loaded by the inference service stay loaded. A Worker that fails to import is reported, not fatal: the host keeps
the error and serves it until the files are fixed.
"""

from __future__ import annotations

import asyncio
import importlib.machinery
import importlib.util
import inspect
import linecache
import logging
import sys
import traceback
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .bindings.env import Env, make_env
from .limits import guard_process_exit
from .service import InferenceService
from .settings import Settings
from .workers import Context, Request, Response, WorkerEntrypoint
from .workers.entrypoint import WORKER_ENV
from .workers.shims import install_workers_module

log = logging.getLogger("workers-ai-emu")

RUNTIME_DIR = Path(__file__).resolve().parent
WATCHED_SUFFIXES = frozenset(
    {".py", ".html", ".htm", ".css", ".js", ".json", ".txt", ".toml", ".svg", ".jinja", ".j2", ".md"}
)
PROTECTED = frozenset({"workers", "runtime", "pyodide", "js"})


class WorkerLoadError(Exception):
    """The Worker module could not be imported (syntax error, import error, no handler); carries the traceback."""

    def __init__(self, message: str, details: str) -> None:
        super().__init__(message)
        self.details = details


class NotAResponse(Exception):
    """The Worker's handler returned something other than a workers.Response."""


class _NoBytecodeLoader(importlib.machinery.SourceFileLoader):
    """Compiles from source on every import: a .pyc keyed on whole-second mtimes could hide a quick edit."""

    def get_code(self, fullname: str) -> types.CodeType:
        return self.source_to_code(self.get_data(self.path), self.path)


class _WorkerFinder:
    """A meta-path finder for the Worker's own modules, so they load with _NoBytecodeLoader."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: frozenset[str] = frozenset()

    def refresh(self) -> None:
        self.names = frozenset(local_module_names(self.folder))

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path if path is not None else [str(self.folder)])
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return spec
        if not _inside(Path(spec.origin), self.folder):
            return None
        spec.loader = _NoBytecodeLoader(spec.name, spec.origin)
        return spec


def local_module_names(folder: Path) -> set[str]:
    """Top-level module names the Worker's folder provides (what `import x` would find there first)."""
    names: set[str] = set()
    try:
        children = list(folder.iterdir())
    except OSError:
        return names
    for child in children:
        if child.suffix == ".py" and child.stem.isidentifier():
            names.add(child.stem)
        elif child.is_dir() and child.name.isidentifier() and not child.name.startswith((".", "__")):
            if any(child.glob("*.py")):
                names.add(child.name)
    return names - PROTECTED - set(sys.stdlib_module_names)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder)
        return True
    except ValueError:
        return False


def user_traceback(exc: BaseException) -> str:
    """The traceback from the first frame outside the emulator (the Worker's code), as Python prints it."""
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not (filename.startswith("<frozen") or _inside(Path(filename), RUNTIME_DIR)):
            break
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


class WorkerHost:
    """One Worker: its module, its `env`, and the watcher that reloads it."""

    def __init__(self, settings: Settings, service: InferenceService, reload: bool | None = None) -> None:
        if settings.main is None:
            raise ValueError("WorkerHost needs settings.main (the Worker's module)")
        self.settings = settings
        self.main = Path(settings.main).resolve()
        self.folder = self.main.parent
        self.name = settings.name
        self.env: Env = make_env(service, settings)
        WORKER_ENV[0] = self.env  # `from workers import env`
        self.reload_enabled = settings.emulator.reload if reload is None else reload
        self.error: WorkerLoadError | None = None
        self.generation = 0  # how many times the Worker has been (re)loaded successfully
        self._handler: Callable[[Request, Context], Any] | None = None
        self._finder = _WorkerFinder(self.folder)
        self._module_name = self.main.stem if self.main.stem.isidentifier() else "worker_main"
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        install_workers_module()
        guard_process_exit()  # os._exit inside a Worker request raises instead of ending the emulator
        sys.meta_path.insert(0, self._finder)
        self.load()

    # --- loading ------------------------------------------------------------------------------------------

    def _purge(self) -> None:
        """Forget the Worker's previously imported modules (and same-named ones from elsewhere)."""
        local = self._finder.names | {self._module_name}
        for name, module in list(sys.modules.items()):
            if name.split(".")[0] in PROTECTED:
                continue
            file = getattr(module, "__file__", None)
            if name.split(".")[0] in local or (file and _inside(Path(file), self.folder)):
                del sys.modules[name]

    def load(self) -> bool:
        """(Re)import the Worker. On failure keep the error to serve it, and return False."""
        importlib.invalidate_caches()
        linecache.clearcache()
        self._finder.refresh()
        self._purge()
        folder = str(self.folder)
        if folder in sys.path:
            sys.path.remove(folder)
        sys.path.insert(0, folder)  # the main module's folder is on the path, as on Cloudflare
        try:
            module = self._import()
            self._handler = self._find_handler(module)
        except WorkerLoadError as e:
            self._fail(e)
            return False
        except (Exception, SystemExit) as e:  # noqa: BLE001 - anything the Worker's import raises is reported
            self._fail(
                WorkerLoadError(f"Worker {self.main.name} failed to load: {type(e).__name__}: {e}", user_traceback(e))
            )
            return False
        self.error = None
        self.generation += 1
        return True

    def _fail(self, error: WorkerLoadError) -> None:
        self.error = error
        self._handler = None
        log.error("%s\n%s", error, error.details.rstrip())

    def _import(self) -> types.ModuleType:
        loader = _NoBytecodeLoader(self._module_name, str(self.main))
        spec = importlib.util.spec_from_file_location(self._module_name, self.main, loader=loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[self._module_name] = module
        try:
            loader.exec_module(module)
        except BaseException:
            sys.modules.pop(self._module_name, None)
            raise
        return module

    def _find_handler(self, module: types.ModuleType) -> Callable[[Request, Context], Any]:
        default = getattr(module, "Default", None)
        if isinstance(default, type):
            if not issubclass(default, WorkerEntrypoint):
                raise WorkerLoadError(
                    f"{self.main.name}: class Default must extend workers.WorkerEntrypoint",
                    "Write `class Default(WorkerEntrypoint):` with `from workers import WorkerEntrypoint`.\n",
                )
            if not callable(getattr(default, "fetch", None)):
                raise WorkerLoadError(
                    f"{self.main.name}: class Default has no fetch() handler",
                    "Add `async def fetch(self, request):` returning a Response.\n",
                )
            env = self.env

            def call_entrypoint(request: Request, ctx: Context) -> Any:
                return default(ctx, env).fetch(request)  # type: ignore[attr-defined]  # the Worker's own method

            return call_entrypoint
        on_fetch = getattr(module, "on_fetch", None)
        if callable(on_fetch):
            count = _positional_count(on_fetch)
            env = self.env

            def call_on_fetch(request: Request, ctx: Context) -> Any:
                return on_fetch(*(request, env, ctx)[:count])

            return call_on_fetch
        raise WorkerLoadError(
            f"{self.main.name} has no fetch handler",
            "Define `class Default(WorkerEntrypoint)` with `async def fetch(self, request)`, "
            "or a module-level `async def on_fetch(request, env)`.\n",
        )

    # --- serving ------------------------------------------------------------------------------------------

    async def fetch(self, request: Request, ctx: Context) -> Response:
        """Call the Worker. Raises WorkerLoadError, NotAResponse, or whatever the Worker raised."""
        handler = self._handler
        if handler is None:
            raise self.error or WorkerLoadError("Worker is not loaded", "")
        result = handler(request, ctx)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, Response):
            raise NotAResponse(
                f"The Worker's fetch handler returned {_kind(result)}, not a Response. "
                f'Return one, e.g. `return Response.json(data)` or `return Response("text")` '
                f"(from workers import Response)."
            )
        return result

    # --- watching -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.reload_enabled and self._task is None:
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self._watch(), name="worker reloader")

    async def stop(self) -> None:
        if self._task is not None and self._stop is not None:
            self._stop.set()
            try:
                await asyncio.wait_for(self._task, 5)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)

    def _watch_filter(self) -> Callable[[Any, str], bool]:
        from watchfiles import DefaultFilter

        default = DefaultFilter()
        state = self.settings.state_dir.resolve()

        def accept(change: Any, path: str) -> bool:
            p = Path(path)
            return default(change, path) and p.suffix in WATCHED_SUFFIXES and not _inside(p, state)

        return accept

    async def _watch(self) -> None:
        from watchfiles import awatch

        assert self._stop is not None
        try:
            async for changes in awatch(
                self.folder,
                watch_filter=self._watch_filter(),
                stop_event=self._stop,
                debounce=300,
                step=50,
                recursive=True,
            ):
                names = sorted({Path(p).name for _, p in changes})
                if self.load():
                    log.info("reloaded the Worker (%s changed)", ", ".join(names))
        except Exception:  # noqa: BLE001 - a broken watcher must not take the server down
            log.exception("the file watcher stopped; the Worker will no longer reload on edits")


def _positional_count(func: Callable[..., Any]) -> int:
    """How many of (request, env, ctx) an on_fetch handler takes."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return 2
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 3
    count = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    return max(1, min(3, count))


def _kind(value: Any) -> str:
    if value is None:
        return "None (did the handler forget to `return`?)"
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"
