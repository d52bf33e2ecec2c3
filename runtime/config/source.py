"""The config text, to point at the line of a key: tomllib and json5 report no positions for valid-but-wrong
values, so lines are found by scanning the text. Errors read `file:line: dotted.key: problem`."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..settings import Check

Keys = tuple[str | int, ...]  # a value's place: ("ai", "models", 1, "path")


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

    def where(self, *keys: str | int) -> str:
        """`file:line` of the key (or of its closest enclosing key), else the file."""
        line = self.line_of(*keys)
        return f"{self.path}:{line}" if line else f"{self.path}"

    def error(self, keys: Keys, problem: str, at: Keys | None = None) -> ConfigError:
        """`file:line: dotted.key: problem`; the line is `at`'s when given (a sibling of a missing key)."""
        return ConfigError(f"{self.where(*(keys if at is None else at))}: {dotted(keys)}: {problem}")

    def check(self, keys: Keys, value: Any, check: Check) -> Any:
        """The value converted by a settings checker (runtime/settings.py), or the error saying what it must be."""
        try:
            return check(value)
        except TypeError as e:
            raise self.error(keys, f"must be {e}, not {describe(value)}") from None
        except ValueError as e:
            raise self.error(keys, f"must be {e}, not {value!r}") from None

    def unknown(self, keys: Keys, known: Sequence[str]) -> ConfigError:
        close = difflib.get_close_matches(str(keys[-1]), list(known), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(known)})"
        return self.error(keys, f"unknown key{hint}")


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


def dotted(keys: tuple[str | int, ...]) -> str:
    out = ""
    for k in keys:
        out += f"[{k + 1}]" if isinstance(k, int) else (f".{k}" if out else k)
    return out


def describe(value: Any) -> str:
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
