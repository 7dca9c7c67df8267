"""Freed memory given back to the system, so that a server's resident memory follows its load.

An analysis of a large photo allocates a few hundred MB of arrays and frees them. glibc's malloc keeps
freed memory for reuse: arrays up to its mmap threshold, which it raises up to 32 MB as large blocks are
freed, come from heaps ("arenas") that it rarely shrinks, and a server that runs requests on many
threads gets one arena per thread (up to 8 per core). Under load the app's resident memory then grew to
several GB while Python's own allocations stayed flat (issue 13). Here, once per process: a fixed mmap
threshold (every array of MMAP_THRESHOLD_BYTES or more is its own mapping, unmapped when freed) and at
most MAX_ARENAS arenas; and after each request, malloc_trim hands back what the heaps hold free.
Elsewhere than on glibc (macOS, Windows, musl) both are no-ops.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache

MMAP_THRESHOLD_BYTES = 1 << 20
MAX_ARENAS = 2
# mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


@cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim, libc.mallopt  # noqa: B018  (musl has neither)
    except (OSError, AttributeError):
        return None
    return libc


def limit_retained_memory() -> bool:
    """Set the fixed mmap threshold and the arena limit (call before the server's threads start); True
    when it took effect."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(libc.mallopt(_M_ARENA_MAX, MAX_ARENAS))


def release_freed_memory() -> None:
    """Give the memory the heaps hold free back to the system (after a request)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
