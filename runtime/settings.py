"""Typed settings: what `config/` reads from wrangler-like.toml, and what the rest of the emulator uses.

Each `[emulator]` key is declared once, below, as a field of `EmulatorSettings` with its type and range (a
checker), default and doc. From that one declaration come the config parsing and its errors (`config/`), the
"did you mean" hints, the reference table in docs/workers.md (`docs_table()`, checked by a test) and the
defaults of the classes that take these values. Adding a key means adding one field here, and using it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from .checks import BOOLEAN, FAULTS, LEDGER, PATH, STRING, USD, Check, choice, integer, number

__all__ = ["BOOLEAN", "FAULTS", "LEDGER", "PATH", "STRING", "USD", "Check", "choice", "integer", "number"]


def setting(
    default: Any = MISSING,
    *,
    check: Check,
    doc: str,
    factory: Callable[[], Any] | None = None,
    shown: str | None = None,
) -> Any:
    """One `[emulator]` key: its default (or default factory), checker and doc (`shown`: the docs' default)."""
    meta = {"check": check, "doc": doc, "shown": shown}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def default_threads() -> int:
    return os.cpu_count() or 1


@dataclass
class EmulatorSettings:
    host: str = setting("127.0.0.1", check=STRING, doc="Address to listen on. Anything but loopback prints a warning.")
    port: int = setting(8787, check=integer(0, 65535), doc="Port (wrangler's).")
    state_dir: Path = setting(Path(".emu"), check=PATH, doc="Ledger and pulled models.")
    api_token: str | None = setting(
        None,
        check=STRING,
        doc="When set, the REST and Hugging Face APIs require "
        "`Authorization: Bearer <token>` (the Worker is not affected).",
    )
    budget_usd_per_day: Decimal | None = setting(
        None, check=USD, doc="Inferences fail with 3036 once the day's spend reaches it."
    )
    auto_pull: bool = setting(True, check=BOOLEAN, doc="Pull a missing catalog model on first use.")
    intra_op_threads: int = setting(
        check=integer(1), factory=default_threads, shown="CPU count", doc="onnxruntime threads per inference."
    )
    max_concurrent_inferences: int = setting(
        1, check=integer(1), doc="Inferences running at once (onnxruntime already spreads one run over all cores)."
    )
    prepare_threads: int = setting(
        check=integer(1),
        factory=default_threads,
        shown="CPU count",
        doc="Threads that decode and pre-process images outside the inference slot (one request's decode overlaps "
        "another's inference).",
    )
    max_queue: int = setting(64, check=integer(0), doc="Waiting inferences beyond this get 3040.")
    queue_timeout_s: float = setting(60.0, check=number(0, strict=True), doc="Waiting longer for a slot gives 3007.")
    model_wait_s: float = setting(
        300.0, check=number(0), doc="How long the binding and REST API wait for a model being pulled/loaded."
    )
    cache_size: int = setting(256, check=integer(0), doc="Entries in the Hugging Face API's result cache.")
    max_body_bytes: int = setting(
        20 * 1024 * 1024,
        check=integer(1),
        shown="20 MiB",
        doc="Largest request body (the Worker's too: 413 beyond it).",
    )
    max_image_pixels: int = setting(
        50_000_000, check=integer(1), shown="50 000 000", doc="Larger images are refused (5006)."
    )
    max_audio_seconds: int = setting(
        1800,
        check=integer(1),
        doc="Longer audio is refused (5006) by the speech models, before it is decoded whole: 30 minutes by default.",
    )
    reload: bool = setting(True, check=BOOLEAN, doc="Reload the Worker when its files change.")
    weights: str = setting(
        "auto",
        check=choice("auto", "real", "stand-in"),
        doc=(
            "Which weights answer. `auto`: real weights when on disk, else the bundled stand-in while `auto_pull` "
            "fetches the real ones in the background. `real`: only real weights (wait for the pull, or 5007). "
            "`stand-in`: always the bundled stand-ins (fast, deterministic: for CI and tests)."
        ),
    )
    preload: bool = setting(
        True,
        check=BOOLEAN,
        doc=(
            "`dev` loads the models the Worker uses (its `[[ai.models]]` and the catalog names in its source) in the "
            "background at start; `/cdn-cgi/emu/ready` answers 200 once they are loaded."
        ),
    )
    neuron_price_usd_per_1000: Decimal = setting(
        Decimal("0.011"),
        check=USD,
        doc=("What Workers AI charges per 1,000 neurons, for the bill as Cloudflare computes it (`costs`)."),
    )
    free_neurons_per_day: int = setting(
        10_000,
        check=integer(0),
        doc=("Neurons free per UTC day on every plan; the bill counts only what is used beyond them."),
    )
    ledger: str | None = setting(
        None,
        check=LEDGER,
        shown="`<state_dir>/ledger.sqlite3`",
        doc=(
            "Where the ledger lives: a SQLite file path (relative to the config file), or a PostgreSQL URL "
            "`postgresql://user@host:5432/db` that many emulators share (docs/costs.md). Keep the password out of "
            "the file with `PGPASSWORD` or `~/.pgpass`."
        ),
    )
    instance: str | None = setting(
        None,
        check=STRING,
        shown="the host name",
        doc="This emulator's name on the ledger rows it writes (`costs --instance` filters a shared ledger by it).",
    )
    workers: int = setting(
        1, check=integer(1, 64), doc="Server processes `dev` runs on one port, sharing one ledger (`dev --workers`)."
    )
    faults: list[dict[str, Any]] = setting(
        check=FAULTS,
        factory=list,
        shown="none",
        doc=(
            "`[[emulator.faults]]`: Cloudflare's failures on demand (`model`, `code`, `rate`, `seed`, `times`, "
            "`delay_s`); see docs/testing.md."
        ),
    )


def instance_name(emulator: EmulatorSettings) -> str:
    """The instance id written on ledger rows: `[emulator] instance`, else the host name."""
    return emulator.instance or socket.gethostname()


EMULATOR_FIELDS = {f.name: f for f in fields(EmulatorSettings)}


def default_of(name: str) -> Any:
    """The declared default of an `[emulator]` key (for the defaults of classes that take its value)."""
    f = EMULATOR_FIELDS[name]
    if f.default is MISSING:
        return f.default_factory()  # type: ignore[operator]  # a field without a default has a factory
    return f.default


def docs_table() -> str:
    """The `[emulator]` reference table of docs/workers.md, from the declarations above."""
    rows = ["| Key | Type | Default | Meaning |", "| --- | --- | --- | --- |"]
    for f in fields(EmulatorSettings):
        meta = f.metadata
        shown = meta["shown"]
        if shown is None:
            value = default_of(f.name)
            shown = "none" if value is None else f"`{str(value).lower() if isinstance(value, bool) else value}`"
        rows.append(f"| `{f.name}` | {meta['check'].label} | {shown} | {meta['doc']} |")
    return "\n".join(rows)


@dataclass(frozen=True)
class BindingConfig:
    """A binding the config declares, as runtime/bindings/ parsed it (a binding may subclass it for its fields)."""

    type: str  # the binding's name in the registry (runtime/bindings/__init__.py): "ai", "kv", ...
    key: str  # the wrangler key declaring it: "ai", "kv_namespaces", ...
    name: str | None  # the `env` attribute; None: the declaration puts nothing on env (a queue consumer)
    where: str = ""  # "file:line" of the declaration ("" for the defaults)
    about: str = ""  # what a declaration without an env name is, for messages


@dataclass
class Settings:
    config_path: Path | None = None
    name: str = "worker"
    main: Path | None = None  # absolute path of the Worker's main module, None = APIs only
    compatibility_date: str | None = None
    bindings: list[BindingConfig] = field(default_factory=lambda: [BindingConfig("ai", "ai", "AI")])  # no config
    cpu_ms: int = 30_000  # wrangler's [limits] cpu_ms: the Worker's CPU time per request (runtime/limits.py)
    vars: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)  # [[ai.models]] tables, paths made absolute
    emulator: EmulatorSettings = field(default_factory=EmulatorSettings)
    catalog: Any = None  # the Catalog built (and checked) once while loading the config; None: build on use

    @property
    def ai_binding(self) -> str | None:
        """The AI binding's `env` attribute (`[ai] binding`); None without an `[ai]` table."""
        return next((b.name for b in self.bindings if b.type == "ai"), None)

    @property
    def root(self) -> Path:
        return self.config_path.parent if self.config_path else Path.cwd()

    @property
    def state_dir(self) -> Path:
        d = self.emulator.state_dir
        return d if d.is_absolute() else self.root / d

    @property
    def ledger_target(self) -> str | Path:
        """The ledger to open: a PostgreSQL URL, or the SQLite file (`<state_dir>/ledger.sqlite3` by default)."""
        given = self.emulator.ledger
        if not given:
            return self.state_dir / "ledger.sqlite3"
        if given.startswith(("postgresql://", "postgres://")):
            return given
        path = Path(given).expanduser()
        return path if path.is_absolute() else self.root / path
