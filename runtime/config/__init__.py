"""The Worker's config: wrangler-like.toml (or a real wrangler.toml / wrangler.jsonc) and `.dev.vars` into typed
Settings, with errors that name the file, the key and its line.

locate.py finds the file; keys.py says which keys are ours, which declare bindings (runtime/bindings/) and which
wrangler keys are accepted and ignored; source.py finds a key's line; load.py parses and builds the Settings.
"""

from __future__ import annotations

from .keys import AI_IGNORED, BINDING_KEYS, OUR_AI, OUR_TOP, WRANGLER_IGNORED
from .load import load_settings, parse_config, read_dev_vars
from .locate import CONFIG_NAMES, DEV_VARS, find_config
from .source import Source, without_comments

__all__ = [
    "AI_IGNORED",
    "BINDING_KEYS",
    "CONFIG_NAMES",
    "DEV_VARS",
    "OUR_AI",
    "OUR_TOP",
    "WRANGLER_IGNORED",
    "Source",
    "find_config",
    "load_settings",
    "parse_config",
    "read_dev_vars",
    "without_comments",
]
