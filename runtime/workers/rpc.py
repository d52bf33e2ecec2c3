"""The `workers` module's bridges to JavaScript, as they behave when there is no JavaScript: the Worker runs in
CPython here, so Python values stay Python values and JavaScript modules cannot be imported."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from .entrypoint import WORKER_ENV


def python_to_rpc(value: Any) -> Any:
    """Values sent over Workers RPC; tuples and bytearrays cannot be sent, as on Cloudflare."""
    refuse_unsendable(value)
    return value


def python_from_rpc(value: Any) -> Any:
    return value


def refuse_unsendable(value: Any, budget: int = 65_536) -> None:
    """Cloudflare's SDK refuses tuples and bytearrays in values it sends over RPC (the AI binding's inputs too)
    with this TypeError. Large flat arrays (images as uint8 lists) are checked by their first items only."""
    if isinstance(value, (tuple, bytearray)):
        raise TypeError(f"{type(value)} cannot be sent over RPC.")
    if isinstance(value, dict):
        for v in value.values():
            refuse_unsendable(v, budget)
    elif isinstance(value, list):
        for v in value[:budget]:
            if not isinstance(v, (int, float, str)):
                refuse_unsendable(v, budget)


class _CloudflareWorkers:
    """What `import_from_javascript("cloudflare:workers")` gives here: the Worker's env and waitUntil."""

    @property
    def env(self) -> Any:
        return WORKER_ENV[0]

    @staticmethod
    def waitUntil(awaitable: Any) -> None:  # noqa: N802 - JavaScript's name
        from .entrypoint import wait_until

        wait_until(awaitable)


def import_from_javascript(module_name: str) -> Any:
    if module_name == "cloudflare:workers":
        return _CloudflareWorkers()
    raise ImportError(
        f"Failed to import '{module_name}': JavaScript modules are not available in workers-ai-emu, which runs the "
        "Worker in CPython (only 'cloudflare:workers' is emulated, for env and waitUntil)"
    )


@contextlib.contextmanager
def patch_env(d: dict[str, Any] | Sequence[tuple[str, Any]] | None = None, **values: Any) -> Iterator[None]:
    """Within the block, the Worker's env has these values (restored after), as Cloudflare's patch_env does."""
    env = WORKER_ENV[0]
    if env is None:
        raise RuntimeError("patch_env() needs a loaded Worker (its env)")
    changes = {**(dict(d) if d else {}), **values}
    missing = object()
    saved = {k: env.__dict__.get(k, missing) for k in changes}
    env.__dict__.update(changes)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is missing:
                env.__dict__.pop(k, None)
            else:
                env.__dict__[k] = v
