"""These tests serve the speech example's Worker (transcribe/wrangler-like.toml), not the rootdir's detection
Worker: the plugin's `emulator_for` makes the session's `emu` for another config."""

import sys
from pathlib import Path

from runtime.pytest_plugin import emulator_for

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests"))  # speech_support: spoken test sentences (espeak-ng)

emu = emulator_for(HERE.parent / "wrangler-like.toml")
