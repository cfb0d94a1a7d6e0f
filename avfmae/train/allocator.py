"""Hand the C allocator's free memory back to the operating system (glibc `malloc_trim`).

Between training steps the heap keeps the pages of the tensors the step freed; the next step's tensors, of other
sizes, do not fit all of them, so a process's resident memory creeps up by a fragment per step (measured: about
0.1 GiB over three base-size pre-training steps). Trimming once per optimiser step returns those pages, for about
30 ms per base-size step on CPU (docs/training.md, "Speed and memory"). A no-op where glibc is not the allocator.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


def release_free_memory() -> bool:
    """Return the heap's free pages to the OS; True when glibc did (it reports whether any were released)."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
