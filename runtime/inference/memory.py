"""Giving freed memory back to the operating system after a model loads.

Loading an ONNX model parses the whole protobuf, optimises the graph and pre-packs the weights; the temporary
copies are freed afterwards, but glibc's allocator keeps most of them in its heaps, so the server's resident size
stays hundreds of megabytes above what the sessions hold. `malloc_trim` returns those free pages. Nothing else is
tuned: a lower mmap threshold also shrank the heaps, but made every large request body page-fault on arrival
(docs/benchmarks.md, "Memory").
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none (macOS, musl, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_freed_memory() -> bool:
    """Return the C heaps' free pages to the system; True when something was released."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
