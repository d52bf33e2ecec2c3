"""Where the config is: the nearest wrangler-like.toml (or a real wrangler.toml / wrangler.jsonc), and the
`.dev.vars` beside it."""

from __future__ import annotations

from pathlib import Path

CONFIG_NAMES = ("wrangler-like.toml", "wrangler.toml", "wrangler.jsonc", "wrangler.json")
DEV_VARS = ".dev.vars"


def find_config(start: Path | None = None) -> Path | None:
    """The nearest config file in `start` (default: the working directory) or a parent folder."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        for name in CONFIG_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None
