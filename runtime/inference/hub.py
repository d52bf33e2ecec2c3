"""Pulling a model from the Hugging Face Hub into its folder, verified (the folder store is store.py).

Files come through `huggingface_hub` (so `HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_OFFLINE` and its cache apply), are
checked against the Hub's size and sha256 (LFS) or git blob id, then linked into the folder under a temporary
name and renamed. A manifest written last is what makes a pulled folder count as present, so an interrupted
pull never does.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..entry import ModelEntry
from ..errors import ModelUnavailable
from .hub_files import (
    CONFIG_FILES,
    MANIFEST,
    REQUIRED,
    SHA1,
    SHA256,
    Expected,
    files_for,
    git_blob_sha1,
    optional,
    place,
    sha256_of,
)
from .hub_progress import PullState, bar_class, progress_bars

# store.py and the tests import these from here
__all__ = [
    "CONFIG_FILES",
    "MANIFEST",
    "REQUIRED",
    "HubPull",
    "PullState",
    "files_for",
    "git_blob_sha1",
    "offline",
    "sha256_of",
]


def _endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def _cache_dir() -> str | None:
    """huggingface_hub's cache, from the environment at call time (its own constants are read once at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None


def offline() -> bool:
    """huggingface_hub's offline mode (HF_HUB_OFFLINE), as it reads it."""
    from huggingface_hub import constants

    return bool(constants.is_offline_mode())


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300] + ("…" if len(text) > 300 else "")


class HubPull:
    """The pulling half of ModelStore (store.py): fetch, verify and place a catalog model's files.

    Uses the store's `folder_for`, `manifest` and `is_complete`."""

    root: Path
    _cache_dir: Path | None
    _pulls: dict[str, PullState]
    _locks: dict[str, threading.Lock]
    _guard: threading.Lock

    # provided by ModelStore (store.py)
    def folder_for(self, entry: ModelEntry) -> Path:
        raise NotImplementedError

    def manifest(self, entry: ModelEntry) -> dict[str, Any] | None:
        raise NotImplementedError

    def is_complete(self, entry: ModelEntry) -> bool:
        raise NotImplementedError

    def missing_message(self, entry: ModelEntry) -> str:
        raise NotImplementedError

    @property
    def cache_dir(self) -> str | None:
        return str(self._cache_dir) if self._cache_dir is not None else _cache_dir()

    def can_pull(self, entry: ModelEntry) -> bool:
        return entry.path is None and entry.source is not None

    def estimated_time(self, entry: ModelEntry) -> float | None:
        """Seconds until a pull in progress is done and loaded; None when none is running or its size is unknown."""
        state = self._pulls.get(entry.name)
        if state is None or state.total is None:
            return None
        return state.estimated_time()

    def _lock_for(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def pull(
        self,
        entry: ModelEntry,
        progress: bool = False,
        variant: str | None = None,
        force: bool = False,
        on_start: Callable[[PullState], None] | None = None,
    ) -> Path:
        """Download the model's files; blocking, idempotent. Raises ModelUnavailable saying what to do instead."""
        if not self.can_pull(entry):
            raise ModelUnavailable(self.missing_message(entry))
        variant = variant or entry.variant
        wanted = entry if variant == entry.variant else _with_variant(entry, variant)
        from huggingface_hub.utils import WeakFileLock

        with self._lock_for(entry.name):
            if not force and self.is_complete(wanted):
                return self.folder_for(entry)
            lock_path = self.root / ".locks" / (str(entry.source).replace("/", "--") + ".lock")
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            state = PullState()
            if on_start is not None:
                on_start(state)
            self._pulls[entry.name] = state
            try:
                with WeakFileLock(lock_path):  # another process (a CLI pull beside `dev`) may be pulling it too
                    if not force and self.is_complete(wanted):
                        return self.folder_for(entry)
                    return self._pull(entry, variant, state, progress, force)
            finally:
                self._pulls.pop(entry.name, None)

    def _pull(self, entry: ModelEntry, variant: str, state: PullState, progress: bool, force: bool) -> Path:
        names = files_for(entry, variant)
        if offline():
            return self._from_cache(entry, names, variant)
        expected, commit = self._expected(entry, names, variant)
        state.total = sum(e.size or 0 for e in expected)
        folder = self.folder_for(entry)
        folder.mkdir(parents=True, exist_ok=True)
        quiet = os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS", "").lower() in ("1", "true", "yes", "on")
        bars = progress_bars(entry, state) if progress and not quiet else None
        try:
            placed: dict[str, dict[str, Any]] = {}
            for exp in expected:
                cached = self._download(entry, exp.name, commit, state, force)
                placed[exp.name] = self._verify_and_place(entry, exp, cached, folder)
        finally:
            if bars is not None:
                bars.stop()
        self._write_manifest(entry, folder, placed, commit)
        return folder

    def _expected(self, entry: ModelEntry, names: list[str], variant: str) -> tuple[list[Expected], str | None]:
        from huggingface_hub import HfApi

        source = str(entry.source)
        try:
            info = HfApi(endpoint=_endpoint()).model_info(source, revision=entry.revision, files_metadata=True)
        except Exception as e:  # noqa: BLE001 - every failure becomes one line saying what to do
            raise ModelUnavailable(self._hub_error(entry, e)) from None
        siblings = {s.rfilename: s for s in (info.siblings or [])}
        missing = [n for n in names if n.startswith("onnx/") and n not in siblings]
        if missing:
            onnx_name = missing[0]
            variants = sorted(
                n.removeprefix("onnx/") for n in siblings if n.startswith("onnx/") and n.endswith(".onnx")
            )
            raise ModelUnavailable(
                f"Hub repository {source} has no {onnx_name} (variants there: "
                f"{', '.join(variants) or 'none'}); choose one with --variant or `variant =`"
            )
        if "config.json" not in siblings:
            raise ModelUnavailable(
                f"Hub repository {source} has no config.json, so it is not in the Hugging Face "
                f"layout this emulator reads"
            )
        expected = []
        for name in names:
            sibling = siblings.get(name)
            if sibling is None:
                continue  # optional files (preprocessor_config.json) the repository lacks
            lfs = sibling.lfs
            expected.append(
                Expected(
                    name=name,
                    size=(lfs.size if lfs is not None else sibling.size),
                    sha256=(lfs.sha256 if lfs is not None else None),
                    git_sha1=(sibling.blob_id if lfs is None else None),
                )
            )
        return expected, getattr(info, "sha", None)

    def _download(self, entry: ModelEntry, name: str, commit: str | None, state: PullState, force: bool) -> Path:
        from huggingface_hub import hf_hub_download

        try:
            path = hf_hub_download(
                str(entry.source),
                name,
                revision=commit,
                cache_dir=self.cache_dir,
                endpoint=_endpoint(),
                tqdm_class=bar_class(state),
                force_download=force,
            )
        except Exception as e:  # noqa: BLE001
            raise ModelUnavailable(self._hub_error(entry, e, name)) from None
        return Path(path)

    def _verify_and_place(self, entry: ModelEntry, exp: Expected, cached: Path, folder: Path) -> dict[str, Any]:
        """Check the cached file against the Hub's facts; a bad file is deleted from the cache and refused."""
        blob = cached.resolve()
        size = blob.stat().st_size
        problem = None
        digest = None
        if exp.size is not None and size != exp.size:
            problem = f"is {size} bytes, the Hub says {exp.size} (truncated or corrupt download)"
        elif exp.sha256 is not None:
            digest = sha256_of(blob)
            if digest != exp.sha256.lower():
                problem = f"has sha256 {digest[:16]}…, the Hub says {exp.sha256[:16]}… (corrupt download)"
        elif exp.git_sha1 is not None:
            got = git_blob_sha1(blob)
            if got != exp.git_sha1.lower():
                problem = f"has git id {got[:12]}…, the Hub says {exp.git_sha1[:12]}… (corrupt download)"
        if problem is not None:
            for bad in (cached, blob):
                try:
                    bad.unlink()
                except OSError:
                    pass
            raise ModelUnavailable(
                f"Model {entry.name}: {entry.source}/{exp.name} {problem}; the file was "
                f"deleted, run `workers-ai-emu models pull {entry.name}` again"
            )
        place(blob, folder / exp.name)
        return {"size": size, "sha256": digest or exp.sha256, "git_sha1": exp.git_sha1}

    def _from_cache(self, entry: ModelEntry, names: list[str], variant: str) -> Path:
        """Offline: take the files from huggingface_hub's cache if a previous download left them there."""
        from huggingface_hub import hf_hub_download

        found: dict[str, Path] = {}
        for name in names:
            try:
                found[name] = Path(
                    hf_hub_download(str(entry.source), name, cache_dir=self.cache_dir, local_files_only=True)
                )
            except Exception:  # noqa: BLE001 - absent from the cache
                if not optional(entry, name):
                    raise ModelUnavailable(self.offline_message(entry)) from None
        folder = self.folder_for(entry)
        folder.mkdir(parents=True, exist_ok=True)
        placed = {}
        for name, cached in found.items():
            blob_name = cached.resolve().name  # the cache names blobs by sha256 (LFS) or git blob id
            exp = Expected(
                name,
                sha256=blob_name if SHA256.match(blob_name) else None,
                git_sha1=blob_name if SHA1.match(blob_name) else None,
            )
            placed[name] = self._verify_and_place(entry, exp, cached, folder)
        self._write_manifest(entry, folder, placed, None)
        return folder

    def _write_manifest(
        self, entry: ModelEntry, folder: Path, placed: dict[str, dict[str, Any]], commit: str | None
    ) -> None:
        old = self.manifest(entry) or {}
        files = {**(old.get("files") or {}), **placed}
        data = {
            "source": entry.source,
            "commit": commit or old.get("commit"),
            "files": files,
            "pulled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        tmp = folder / f"{MANIFEST}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(tmp, folder / MANIFEST)

    def offline_message(self, entry: ModelEntry) -> str:
        return (
            f"Model {entry.name} is not on disk and HF_HUB_OFFLINE is set, so {entry.source} cannot be "
            f"downloaded: unset HF_HUB_OFFLINE and run `workers-ai-emu models pull {entry.name}` where there "
            f"is network, or map it to a local folder with [[ai.models]] path = ... in wrangler-like.toml"
        )

    def _hub_error(self, entry: ModelEntry, error: BaseException, name: str | None = None) -> str:
        from huggingface_hub import errors as hf

        what = f"{entry.source}/{name}" if name else str(entry.source)
        fix = (
            f"run `workers-ai-emu models pull {entry.name}` again, or map the model to a local folder with "
            f"[[ai.models]] path = ... in wrangler-like.toml"
        )
        if isinstance(error, hf.OfflineModeIsEnabled):
            return self.offline_message(entry)
        if isinstance(error, hf.GatedRepoError):
            return f"Model {entry.name}: {entry.source} is gated on the Hub: accept its terms and set HF_TOKEN"
        if isinstance(error, hf.RepositoryNotFoundError):
            return (
                f"Model {entry.name}: Hub repository {entry.source} not found at {_endpoint()} "
                f"(private? set HF_TOKEN); fix `source =` or map the model to a local folder with `path =`"
            )
        if isinstance(error, hf.RevisionNotFoundError) and entry.revision:
            return (
                f"Model {entry.name}: {entry.source} has no revision {entry.revision}; fix `revision =` in the catalog"
            )
        remote_missing = getattr(hf, "RemoteEntryNotFoundError", None) or hf.EntryNotFoundError
        if isinstance(error, (hf.RevisionNotFoundError, remote_missing)):
            return f"Model {entry.name}: {what} does not exist on the Hub ({_one_line(error)})"
        if isinstance(error, hf.HfHubHTTPError):
            status = getattr(getattr(error, "response", None), "status_code", "?")
            return f"Model {entry.name}: the Hub at {_endpoint()} answered HTTP {status} for {what}; {fix}"
        text = _one_line(error)
        if "Consistency check failed" in text or "should be of size" in text:
            return (
                f"Model {entry.name}: the download of {what} was cut short (size does not match the Hub's); "
                f"nothing was kept, run `workers-ai-emu models pull {entry.name}` again"
            )
        if (
            isinstance(error, (ConnectionError, TimeoutError, OSError))
            or "connect" in text.lower()
            or type(error).__module__.startswith(("httpx", "httpcore"))
        ):
            return (
                f"Model {entry.name}: cannot reach the Hugging Face Hub at {_endpoint()} to download "
                f"{entry.source} (no network?): connect and {fix}; HF_ENDPOINT may name a mirror"
            )
        return f"Model {entry.name}: downloading {what} failed ({type(error).__name__}: {text}); {fix}"


def _with_variant(entry: ModelEntry, variant: str) -> ModelEntry:
    from dataclasses import replace

    return replace(entry, variant=variant)
