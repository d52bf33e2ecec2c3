"""The files a Hub pull fetches and the facts they are checked against: names, sizes and digests (sha256 for
LFS files, the git blob id for others), and how a verified file is placed into a model folder."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..entry import ModelEntry
from ..tasks import task_of

REQUIRED = ("config.json",)
CONFIG_FILES = ("config.json", "preprocessor_config.json")


def files_for(entry: ModelEntry, variant: str) -> list[str]:
    """The files a pull fetches for `entry` with ONNX `variant`, as its task names them (optional ones may be
    missing from the repository)."""
    return task_of(entry).weight_files(entry, variant)


def optional(entry: ModelEntry, name: str) -> bool:
    """Whether the pull may skip `name` when the repository does not have it."""
    return name in task_of(entry).optional_files()


MANIFEST = ".workers-ai-emu.json"  # written last: its presence means every file it lists was verified
CHUNK = 1 << 20
SHA256 = re.compile(r"^[0-9a-f]{64}$")
SHA1 = re.compile(r"^[0-9a-f]{40}$")


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def git_blob_sha1(path: Path) -> str:
    """The git object id of a file (what the Hub reports as `blobId` for files not in LFS)."""
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Expected:
    """What the Hub says a file is: its size and a digest (sha256 for LFS files, else the git blob sha1)."""

    name: str
    size: int | None = None
    sha256: str | None = None
    git_sha1: str | None = None


def place(blob: Path, dest: Path) -> None:
    """Link (or copy) a verified cache blob into the model folder under a temporary name, then rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        try:
            os.link(blob, tmp)
        except OSError:
            shutil.copyfile(blob, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
