"""Model folders on disk: where a catalog model's files are and whether they are complete (pulling them from
the Hugging Face Hub is hub.py; the files and their digests, hub_files.py).

A pulled model lives in `<state>/models/<source repo>` in the Hugging Face layout, with a manifest written last.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from ..entry import ModelEntry
from ..tasks import task_of
from .hub import HubPull
from .hub_files import MANIFEST, REQUIRED, git_blob_sha1, sha256_of
from .hub_progress import PullState

__all__ = ["MANIFEST", "ModelStore"]


class ModelStore(HubPull):
    """Finds model folders: the configured `path`, else `<state>/models/<source repo>`; pulls the latter."""

    def __init__(self, state_dir: Path, cache_dir: Path | None = None) -> None:
        self.root = Path(state_dir) / "models"
        self._cache_dir = cache_dir  # None: huggingface_hub's own cache (HF_HUB_CACHE / HF_HOME)
        self._pulls: dict[str, PullState] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # -- where files are -------------------------------------------------------------------------------------

    def folder_for(self, entry: ModelEntry) -> Path:
        if entry.path is not None:
            return entry.path
        return self.root / (entry.source or entry.name.lstrip("@")).replace(":", "_")

    def manifest(self, entry: ModelEntry) -> dict[str, Any] | None:
        try:
            data = json.loads((self.folder_for(entry) / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else None

    def is_complete(self, entry: ModelEntry) -> bool:
        folder = self.folder_for(entry)
        if entry.path is not None:
            if not all((folder / name).is_file() for name in REQUIRED):
                return False
            return task_of(entry).has_weights(folder, entry)
        manifest = self.manifest(entry)
        if manifest is None:
            return False
        files = manifest["files"]
        if "config.json" not in files or any(f"onnx/{name}" not in files for name in task_of(entry).onnx_names(entry)):
            return False
        for name, facts in files.items():
            path = folder / name
            try:
                if path.stat().st_size != int(facts.get("size", -1)):
                    return False
            except (OSError, ValueError, TypeError, AttributeError):
                return False
        return True

    def find(self, entry: ModelEntry) -> Path | None:
        return self.folder_for(entry) if self.is_complete(entry) else None

    def files_of(self, entry: ModelEntry) -> list[Path]:
        """The files a present model is made of (for sizes in `models list`)."""
        folder = self.folder_for(entry)
        manifest = self.manifest(entry) if entry.path is None else None
        if manifest is not None:
            return [folder / name for name in manifest["files"]]
        return task_of(entry).local_files(folder, entry)

    def size_on_disk(self, entry: ModelEntry) -> int | None:
        if not self.is_complete(entry):
            return None
        return sum(p.stat().st_size for p in self.files_of(entry))

    # -- pulling ---------------------------------------------------------------------------------------------

    def verify(self, entry: ModelEntry) -> list[str]:
        """Re-hash a pulled folder against its manifest; the problems found (empty: all good)."""
        manifest = self.manifest(entry)
        if manifest is None:
            return [f"{self.folder_for(entry)} has no manifest (not pulled, or the pull did not finish)"]
        problems = []
        folder = self.folder_for(entry)
        for name, facts in manifest["files"].items():
            path = folder / name
            if not path.is_file():
                problems.append(f"{name} is missing")
            elif facts.get("size") is not None and path.stat().st_size != facts["size"]:
                problems.append(f"{name} is {path.stat().st_size} bytes, expected {facts['size']}")
            elif facts.get("sha256") and sha256_of(path) != facts["sha256"]:
                problems.append(f"{name} does not match its sha256")
            elif not facts.get("sha256") and facts.get("git_sha1") and git_blob_sha1(path) != facts["git_sha1"]:
                problems.append(f"{name} does not match its git blob id")
        return problems

    # -- messages --------------------------------------------------------------------------------------------

    def missing_message(self, entry: ModelEntry) -> str:
        if entry.path is not None:
            return f"Model {entry.name}: folder {entry.path} is missing or incomplete (needs config.json and onnx/)"
        return (
            f"Model {entry.name} has no weights on disk: run `workers-ai-emu models pull {entry.name}` "
            f"or map it to a local folder with [[ai.models]] path = ... in wrangler-like.toml"
        )
