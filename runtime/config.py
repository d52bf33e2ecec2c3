"""Placeholder loader (the Worker runtime issue replaces it): reads wrangler-like.toml into Settings."""

from __future__ import annotations

import tomllib
from pathlib import Path

from .errors import ConfigError
from .settings import Settings

CONFIG_NAMES = ("wrangler-like.toml", "wrangler.toml")


def find_config(start: Path | None = None) -> Path | None:
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        for name in CONFIG_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def load_settings(path: Path | None = None) -> Settings:
    path = path or find_config()
    if path is None:
        return Settings()
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: {e}") from None
    settings = Settings(config_path=Path(path).resolve())
    for table in data.get("ai", {}).get("models", []):
        table = dict(table)
        if "path" in table:
            table["path"] = (settings.root / table["path"]).resolve()
        settings.models.append(table)
    return settings
