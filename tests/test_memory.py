"""Freed C-heap memory goes back to the system after a model loads (runtime/inference/memory.py)."""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from runtime.inference import memory, session
from runtime.inference.memory import release_freed_memory
from tests.onnx_const import constant_model  # a tiny real ONNX model

glibc_only = pytest.mark.skipif(
    memory._malloc_trim() is None, reason="malloc_trim is glibc's; this C library has none (nothing to release)"
)


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@glibc_only
def test_free_heap_pages_are_returned_to_the_system() -> None:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    block = 16 * 1024  # below the mmap threshold: these live in the heap, as onnxruntime's loading temporaries do
    blocks = [libc.malloc(block) for _ in range(6000)]  # ~94 MiB
    for b in blocks:
        ctypes.memset(b, 1, block)
    fence = libc.malloc(block)  # keeps the freed blocks below the heap's top, so free() alone cannot shrink it
    for b in blocks:
        libc.free(b)
    before = resident_bytes()
    assert release_freed_memory() is True
    after = resident_bytes()
    libc.free(fence)
    assert before - after > 64 * 1024 * 1024, (before, after)


def test_without_glibc_it_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    memory._malloc_trim.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    try:
        assert memory._malloc_trim() is None
        assert release_freed_memory() is False
    finally:
        memory._malloc_trim.cache_clear()


def test_loading_a_session_releases_what_loading_freed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(session, "release_freed_memory", lambda: calls.append(True) or True)
    path = tmp_path / "m.onnx"
    path.write_bytes(constant_model("x", [1], "y", np.ones(3)))
    loaded = session.open_session(path, 1)
    assert [i.name for i in loaded.get_inputs()] == ["x"] and calls == [True]
