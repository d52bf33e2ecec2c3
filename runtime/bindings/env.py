"""`env` for the Worker: its bindings (built by their kinds, runtime/bindings/), [vars] and secrets."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..settings import BindingConfig, Settings
from ..workers.web import js_value
from . import kind_named
from .base import EnvContext
from .unemulated import NotEmulated, Unavailable

if TYPE_CHECKING:
    from ..service import InferenceService

log = logging.getLogger("workers-ai-emu")


class Env:
    """`env`: bindings, [vars] and secrets as attributes (`env.AI`, `env.GREETING`) and items (`env["AI"]`).

    A binding declared but not emulated is there, but touching it raises BindingNotEmulated, which says so."""

    __slots__ = ("__dict__", "_Env__unavailable")

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__unavailable = {k: v for k, v in values.items() if isinstance(v, Unavailable)}
        self.__dict__.update({k: v for k, v in values.items() if not isinstance(v, Unavailable)})

    def __getattr__(self, name: str) -> Any:  # only names not in __dict__ (patch_env's values are)
        if name.startswith("__") and name.endswith("__") or name == "_Env__unavailable":
            raise AttributeError(f"'Env' object has no attribute {name!r}", name=name, obj=self)
        unavailable = self.__unavailable.get(name)
        if unavailable is not None:
            raise unavailable.error()
        raise AttributeError(self._no_such(name), name=name, obj=self)

    def _no_such(self, name: str) -> str:
        names = sorted(self._names())
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        has = f"it has {', '.join(names)}" if names else "the config declares no bindings, vars or secrets"
        return f"env has no binding, var or secret named {name!r}{hint}: {has}"

    def _names(self) -> set[str]:
        return {*self.__dict__, *self.__unavailable}

    def __getitem__(self, name: str) -> Any:
        try:
            return self.__dict__[name]
        except KeyError:
            if name in self.__unavailable:
                raise self.__unavailable[name].error() from None
            raise KeyError(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self.__dict__ or name in self.__unavailable

    def get(self, name: str, default: Any = None) -> Any:
        if name not in self.__dict__ and name in self.__unavailable:
            raise self.__unavailable[name].error()
        return self.__dict__.get(name, default)

    def __repr__(self) -> str:  # never show values: some are secrets
        return f"<Env {', '.join(sorted(self._names()))}>"


def make_env(service: InferenceService, settings: Settings) -> Env:
    """The Worker's env: [vars], then secrets, then each binding's object (warning once about unemulated ones)."""
    values: dict[str, Any] = {**{k: js_value(v) for k, v in settings.vars.items()}, **settings.secrets}
    context = EnvContext(service=service, worker=settings.name, settings=settings)
    for config in settings.bindings:
        if config.name is not None:
            values[config.name] = kind_named(config.type).build(config, context)
    warn_unemulated(settings.bindings)
    return Env(values)


def warn_unemulated(configs: Sequence[BindingConfig]) -> None:
    """One warning per wrangler key whose bindings are not emulated, naming what it declares."""
    by_key: dict[str, list[BindingConfig]] = {}
    for config in configs:
        if not kind_named(config.type).emulated:
            by_key.setdefault(config.key, []).append(config)
    for declared in by_key.values():
        kind = kind_named(declared[0].type)
        assert isinstance(kind, NotEmulated)
        log.warning("%s", kind.warning(declared))
