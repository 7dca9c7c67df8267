"""Freed memory given back to the system, so that a server's resident memory follows its load.

An analysis of a large photo allocates a few hundred MB of arrays and frees them. glibc's malloc keeps
freed memory for reuse: arrays up to its mmap threshold, which it raises up to 32 MB as large blocks are
freed, come from heaps ("arenas") that it rarely shrinks, and a server that runs requests on many
threads gets one arena per thread (up to 8 per core). Under load the app's resident memory then grew to
several GB while Python's own allocations stayed flat (issue 13). Here, once per process: at most
MAX_ARENAS arenas; and after each request, malloc_trim hands back what the heaps hold free. Memory is
also freed outside requests, when a closed tab's or an expired dashboard session is dropped: without
another request nothing gave it back, and a server left idle after a busy spell stayed at its busy size
(benchmarks/load.py --dashboard); release_freed_memory_every trims in the background for that. (A fixed
1 MB mmap threshold gave back even more, but made an analysis 2x slower: every large array then starts
as fresh pages the kernel must zero.) Elsewhere than on glibc (macOS, Windows, musl) all are no-ops.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from functools import cache

MAX_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter, from glibc's malloc.h


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
    """Set the arena limit (call before the server's threads start); True when it took effect."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, MAX_ARENAS))


def release_freed_memory() -> None:
    """Give the memory the heaps hold free back to the system (after a request)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def release_freed_memory_every(seconds: float) -> threading.Event:
    """Call release_freed_memory every ``seconds`` from now on, in a daemon thread (none off glibc), until
    the returned event is set."""
    stop = threading.Event()
    if _glibc() is not None:
        def loop():
            while not stop.wait(seconds):
                release_freed_memory()

        threading.Thread(target=loop, name="poreseg-release-memory", daemon=True).start()
    return stop
