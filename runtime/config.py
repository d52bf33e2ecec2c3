"""Reads wrangler-like.toml (or a real wrangler.toml / wrangler.jsonc) and `.dev.vars` into typed Settings.

Errors name the file, the key and its line, because a config mistake should be fixed in seconds, not debugged.
tomllib and json report no positions for valid-but-wrong values, so lines are found by scanning the text.
"""

from __future__ import annotations

import difflib
import io
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import json5

from .catalog import Catalog, CatalogError
from .errors import ConfigError
from .limits import MAX_CPU_MS
from .settings import EMULATOR_FIELDS, EmulatorSettings, Settings

CONFIG_NAMES = ("wrangler-like.toml", "wrangler.toml", "wrangler.jsonc", "wrangler.json")
DEV_VARS = ".dev.vars"

OUR_TOP = ("name", "main", "compatibility_date", "ai", "vars", "limits", "emulator")
OUR_AI = ("binding", "models")
# Keys wrangler knows that the emulator has no use for: accepted and ignored, so a real wrangler.toml loads.
WRANGLER_IGNORED = frozenset(
    {
        "$schema",
        "account_id",
        "alias",
        "analytics_engine_datasets",
        "assets",
        "base_dir",
        "browser",
        "build",
        "compatibility_flags",
        "compliance_region",
        "containers",
        "d1_databases",
        "data_blobs",
        "define",
        "dev",
        "dispatch_namespaces",
        "durable_objects",
        "env",
        "find_additional_modules",
        "first_party_worker",
        "hyperdrive",
        "images",
        "jsx_factory",
        "jsx_fragment",
        "keep_vars",
        "kv_namespaces",
        "legacy_env",
        "logfwdr",
        "logpush",
        "migrations",
        "minify",
        "mtls_certificates",
        "no_bundle",
        "node_compat",
        "observability",
        "pipelines",
        "placement",
        "preserve_file_names",
        "python_modules",
        "queues",
        "r2_buckets",
        "ratelimits",
        "route",
        "routes",
        "rules",
        "secrets_store_secrets",
        "send_email",
        "services",
        "site",
        "tail_consumers",
        "text_blobs",
        "triggers",
        "tsconfig",
        "unsafe",
        "upload_source_maps",
        "usage_model",
        "vectorize",
        "version_metadata",
        "wasm_modules",
        "worker_loaders",
        "workers_dev",
        "workflows",
        "preview_urls",
        "send_metrics",
        "secrets",
        "unsafe_hello_world",
        "streaming_tail_consumers",
    }
)
AI_IGNORED = frozenset({"remote", "experimental_remote", "staging"})


# --- finding lines -----------------------------------------------------------------------------------------


_TOML_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _toml_key_re(key: str) -> re.Pattern[str]:
    return re.compile(r"^\s*(?:\"%s\"|'%s'|%s)\s*(=|\.)" % ((re.escape(key),) * 3))


@dataclass
class Source:
    """The config text, to point at the line of a key (1-based), or None when it cannot be found."""

    path: Path
    text: str
    is_json: bool

    def line_of(self, *keys: str | int) -> int | None:
        """The key's line; else its closest enclosing key's line (inline tables, missing keys)."""
        while keys:
            if isinstance(keys[-1], str):
                line = self._json_line(keys) if self.is_json else self._toml_line(keys)
                if line is not None:
                    return line
            keys = keys[:-1]
        return None

    def _toml_line(self, keys: tuple[str | int, ...]) -> int | None:
        # keys such as ("emulator", "port") or ("ai", "models", 1, "path"): walk headers, count array tables.
        names = [k for k in keys if isinstance(k, str)]
        index = next((k for k in keys if isinstance(k, int)), None)
        table, leaf = names[:-1], names[-1]
        dotted_key = re.compile(r"^\s*%s\s*=" % r"\s*\.\s*".join(re.escape(k) for k in names))
        lines = self.text.splitlines()
        current: list[str] = []
        counts: dict[str, int] = {}
        as_table: int | None = None  # the key names a table itself, e.g. [emulatr]
        parent: int | None = None  # the header of the table that should hold the key
        for n, line in enumerate(lines, 1):
            m = _TOML_HEADER.match(line)
            if m:
                current = [p.strip().strip("\"'") for p in m.group(2).split(".")]
                if m.group(1) == "[[":
                    counts[".".join(current)] = counts.get(".".join(current), -1) + 1
                here = index is None or counts.get(".".join(current)) == index
                if current == names and here and as_table is None:
                    as_table = n
                if current == table and here and parent is None:
                    parent = n
                continue
            here = index is None or counts.get(".".join(current)) == index
            if current == table and here and _toml_key_re(leaf).match(line):
                return n
            if not current and len(names) > 1 and dotted_key.match(line):
                return n  # dotted keys at the top level: emulator.port = 1
        return as_table or parent

    def _json_line(self, keys: tuple[str | int, ...]) -> int | None:
        text, pos, found = without_comments(self.text), 0, None
        for key in keys:
            if isinstance(key, int):
                element = _json_element(text, pos, key)
                if element is None:
                    return None
                pos = found = element
                continue
            m = re.compile(r'"%s"\s*:' % re.escape(key)).search(text, pos)
            if m is None:
                return None
            pos, found = m.end(), m.start()
        return None if found is None else text.count("\n", 0, found) + 1

    def error(self, keys: tuple[str | int, ...], problem: str) -> ConfigError:
        line = self.line_of(*keys)
        dotted = _dotted(keys)
        where = f"{self.path}:{line}" if line else f"{self.path}"
        return ConfigError(f"{where}: {dotted}: {problem}")


def _json_element(text: str, pos: int, index: int) -> int | None:
    """Offset of the index-th element of the array starting at or after `pos` (strings skipped)."""
    start = text.find("[", pos)
    if start < 0:
        return None
    depth, count, i, n = 0, 0, start + 1, len(text)
    element_start: int | None = None
    while i < n:
        c = text[i]
        if c == '"':
            if depth == 0 and element_start is None:
                element_start = i
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if depth == 0 and element_start is None and not c.isspace() and c not in ",]":
            element_start = i
        if c in "[{":
            depth += 1
        elif c in "]}":
            if depth == 0:
                break
            depth -= 1
        elif c == "," and depth == 0:
            if count == index:
                return element_start
            count, element_start = count + 1, None
        i += 1
    return element_start if count == index else None


def _dotted(keys: tuple[str | int, ...]) -> str:
    out = ""
    for k in keys:
        out += f"[{k + 1}]" if isinstance(k, int) else (f".{k}" if out else k)
    return out


def _unknown(source: Source, keys: tuple[str | int, ...], known: tuple[str, ...] | list[str]) -> ConfigError:
    close = difflib.get_close_matches(str(keys[-1]), list(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(known)})"
    return source.error(keys, f"unknown key{hint}")


# --- JSONC -------------------------------------------------------------------------------------------------


def without_comments(text: str) -> str:
    """wrangler.jsonc without its // and /* */ comments, line numbers kept: only to find a key's line (json5
    parses the file)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


# --- .dev.vars ---------------------------------------------------------------------------------------------


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


# --- loading -----------------------------------------------------------------------------------------------


def find_config(start: Path | None = None) -> Path | None:
    """The nearest config file in `start` (default: the working directory) or a parent folder."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        for name in CONFIG_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


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
        if key in OUR_TOP:
            continue
        if key not in WRANGLER_IGNORED:
            raise _unknown(source, (key,), list(OUR_TOP))

    def want(keys: tuple[str | int, ...], value: Any, kind: type, label: str) -> Any:
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise source.error(keys, f"must be {label}, not {_describe(value)}")
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
        main_path = (settings.root / main).resolve()
        if main_path.suffix != ".py":
            raise source.error(("main",), f"{main!r} is not a Python module (.py); the emulator runs Python Workers")
        if not main_path.is_file():
            raise source.error(("main",), f"file {main_path} does not exist")
        settings.main = main_path

    ai = data.get("ai")
    if ai is not None:
        want(("ai",), ai, dict, "a table")
        for key in ai:
            if key not in OUR_AI and key not in AI_IGNORED:
                raise _unknown(source, ("ai", key), list(OUR_AI))
        if "binding" in ai:
            binding = want(("ai", "binding"), ai["binding"], str, "a string")
            if not binding.isidentifier():
                raise source.error(("ai", "binding"), f"{binding!r} is not a valid attribute name for env")
            settings.ai_binding = binding
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
    else:
        settings.ai_binding = None

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
                raise _unknown(source, ("emulator", key), list(EMULATOR_FIELDS))
            try:
                values[key] = declared.metadata["check"](value)
            except TypeError as e:
                raise source.error(("emulator", key), f"must be {e}, not {_describe(value)}") from None
            except ValueError as e:
                raise source.error(("emulator", key), f"must be {e}, not {value!r}") from None
        settings.emulator = EmulatorSettings(**values)

    dev_vars = path.parent / DEV_VARS
    if dev_vars.is_file():
        settings.secrets = read_dev_vars(dev_vars)
    return settings


def _describe(value: Any) -> str:
    kind = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)
    shown = repr(value)
    return f"{kind} ({shown})" if len(shown) <= 40 and not isinstance(value, (dict, list)) else kind


def _catalog_error(source: Source, error: CatalogError) -> ConfigError:
    """Point a catalog error about the user's `[[ai.models]]` #index (and key) at its line."""
    if error.index is None:
        return error
    keys: tuple[str | int, ...] = ("ai", "models", error.index) + ((error.key,) if error.key else ())
    line = source.line_of(*keys) if error.key else source.line_of("ai", "models", error.index, "name")
    where = f"{source.path}:{line}" if line else str(source.path)
    return ConfigError(f"{where}: {_dotted(keys)}: {error.problem}")
