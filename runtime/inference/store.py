"""Model folders on disk: where a catalog model's files are, and whether they are complete."""

from __future__ import annotations

from pathlib import Path

from ..catalog import ModelEntry
from ..errors import ModelUnavailable

REQUIRED = ("config.json",)


class ModelStore:
    """Finds model folders: the configured `path`, else `<state>/models/<source repo>`."""

    def __init__(self, state_dir: Path) -> None:
        self.root = Path(state_dir) / "models"

    def folder_for(self, entry: ModelEntry) -> Path:
        if entry.path is not None:
            return entry.path
        return self.root / (entry.source or entry.name.lstrip("@")).replace(":", "_")

    def is_complete(self, entry: ModelEntry) -> bool:
        folder = self.folder_for(entry)
        if not all((folder / name).is_file() for name in REQUIRED):
            return False
        return any(p.is_file() for p in (folder / "onnx" / entry.variant, folder / "onnx" / "model.onnx",
                                          folder / "model.onnx"))

    def find(self, entry: ModelEntry) -> Path | None:
        return self.folder_for(entry) if self.is_complete(entry) else None

    def can_pull(self, entry: ModelEntry) -> bool:
        return entry.path is None and entry.source is not None

    def pull(self, entry: ModelEntry, progress: bool = False) -> Path:
        """Download the model's files; blocking. Raises ModelUnavailable with what to do instead."""
        raise ModelUnavailable(self.missing_message(entry))

    def missing_message(self, entry: ModelEntry) -> str:
        if entry.path is not None:
            return f"Model {entry.name}: folder {entry.path} is missing or incomplete (needs config.json and onnx/)"
        return (f"Model {entry.name} has no weights on disk: run `workers-ai-emu models pull {entry.name}` "
                f"or map it to a local folder with [[ai.models]] path = ... in wrangler-like.toml")
