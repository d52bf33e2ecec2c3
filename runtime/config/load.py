"""Reads wrangler-like.toml (or a real wrangler.toml / wrangler.jsonc) and `.dev.vars` into typed Settings.

Errors name the file, the key and its line (source.py finds it), because a config mistake should be fixed in
seconds, not debugged. Which keys mean what is keys.py; where the file is, locate.py.
"""

from __future__ import annotations

import io
import re
import tomllib
from pathlib import Path
from typing import Any

import json5

from ..bindings import all_kinds
from ..catalog import Catalog, CatalogError
from ..errors import ConfigError
from ..limits import MAX_CPU_MS
from ..settings import EMULATOR_FIELDS, EmulatorSettings, Settings
from .keys import KNOWN_TOP, OUR_TOP
from .locate import DEV_VARS, find_config
from .source import Source, describe


def read_dev_vars(path: Path) -> dict[str, str]:
    """KEY=value lines (optional `export`, quotes, # comments), read with python-dotenv as wrangler reads them.

    Values are secrets: an error names the line, never its value.
    """
    from dotenv.parser import parse_stream

    secrets: dict[str, str] = {}
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (the value is not shown: it may be a secret)") from None
    for binding in parse_stream(io.StringIO(text, newline=None)):  # newline=None: \r\n and \r read as \n
        if binding.error or (binding.key is not None and binding.value is None):
            raise ConfigError(
                f"{path}:{binding.original.line}: expected KEY=value (the value is not shown: it may be a secret)"
            )
        if binding.key is not None and binding.value is not None:
            secrets[binding.key] = binding.value
    return secrets


def parse_config(path: Path) -> tuple[dict[str, Any], Source]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte {e.start})") from None
    is_json = path.suffix in (".json", ".jsonc")
    source = Source(path, text, is_json)
    try:
        data = json5.loads(text) if is_json else tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    except ValueError as e:  # json5: "<string>:LINE Unexpected ... at column N"
        m = re.match(r"<string>:(\d+) (.*)", str(e))
        where = f"{path}:{m.group(1)}" if m else str(path)
        raise ConfigError(f"{where}: invalid JSON: {m.group(2) if m else e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be an object")
    return data, source


def load_settings(path: Path | str | None = None) -> Settings:
    """Settings from `path`, or from the nearest config file; defaults (APIs only) when there is none."""
    path = Path(path) if path is not None else find_config()
    if path is None:
        return Settings()
    path = path.resolve()
    data, source = parse_config(path)
    settings = Settings(config_path=path)

    for key in data:
        if key not in KNOWN_TOP:
            raise source.unknown((key,), OUR_TOP)

    def want(keys: tuple[str | int, ...], value: Any, kind: type, label: str) -> Any:
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise source.error(keys, f"must be {label}, not {describe(value)}")
        return value

    if "name" in data:
        settings.name = want(("name",), data["name"], str, "a string")
    if "compatibility_date" in data:
        date = want(("compatibility_date",), data["compatibility_date"], str, "a string")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
            raise source.error(("compatibility_date",), f"must be a date like 2025-01-31, not {date!r}")
        settings.compatibility_date = date
    if "main" in data:
        main = want(("main",), data["main"], str, "a string (the Worker's Python module)")
        try:
            main_path = (settings.root / main).resolve()
        except (UnicodeEncodeError, ValueError):  # a lone surrogate or a NUL: no file can have that name
            raise source.error(("main",), f"{main!r} is not a file name") from None
        if main_path.suffix != ".py":
            raise source.error(("main",), f"{main!r} is not a Python module (.py); the emulator runs Python Workers")
        if not main_path.is_file():
            raise source.error(("main",), f"file {main_path} does not exist")
        settings.main = main_path

    settings.bindings = []
    for kind in all_kinds():  # each binding kind parses the entries under its wrangler key
        if data.get(kind.key) is not None:
            settings.bindings += kind.parse(data[kind.key], source)

    ai = data.get("ai")
    if ai is not None:  # [[ai.models]]: the emulator's additions to the catalog
        models = ai.get("models", [])
        want(("ai", "models"), models, list, "an array of tables ([[ai.models]])")
        for i, table in enumerate(models):
            want(("ai", "models", i), table, dict, "a table")
            table = dict(table)
            if "path" in table:
                p = want(("ai", "models", i, "path"), table["path"], str, "a string (a folder)")
                table["path"] = (settings.root / Path(p).expanduser()).resolve()
            settings.models.append(table)
        try:
            settings.catalog = Catalog.load(settings.models, where=str(path))
        except CatalogError as e:
            raise _catalog_error(source, e) from None

    if "vars" in data:
        settings.vars = dict(want(("vars",), data["vars"], dict, "a table"))

    limits = data.get("limits")
    if limits is not None:  # wrangler's [limits]: cpu_ms is emulated (runtime/limits.py); others are accepted
        want(("limits",), limits, dict, "a table")
        if "cpu_ms" in limits:
            cpu_ms = want(("limits", "cpu_ms"), limits["cpu_ms"], int, "an integer (milliseconds)")
            if not 1 <= cpu_ms <= MAX_CPU_MS:
                raise source.error(("limits", "cpu_ms"), f"must be from 1 to {MAX_CPU_MS}, not {cpu_ms}")
            settings.cpu_ms = cpu_ms

    emu = data.get("emulator")
    if emu is not None:
        want(("emulator",), emu, dict, "a table")
        values: dict[str, Any] = {}
        for key, value in emu.items():
            declared = EMULATOR_FIELDS.get(key)
            if declared is None:
                raise source.unknown(("emulator", key), list(EMULATOR_FIELDS))
            values[key] = source.check(("emulator", key), value, declared.metadata["check"])
        settings.emulator = EmulatorSettings(**values)

    dev_vars = path.parent / DEV_VARS
    if dev_vars.is_file():
        settings.secrets = read_dev_vars(dev_vars)
    return settings


def _catalog_error(source: Source, error: CatalogError) -> ConfigError:
    """Point a catalog error about the user's `[[ai.models]]` #index (and key) at its line."""
    if error.index is None:
        return error
    keys: tuple[str | int, ...] = ("ai", "models", error.index) + ((error.key,) if error.key else ())
    return source.error(keys, error.problem, None if error.key else ("ai", "models", error.index, "name"))
