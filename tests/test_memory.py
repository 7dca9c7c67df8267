"""Freed memory goes back to the system (poreseg.memory), on glibc."""
from __future__ import annotations

import subprocess
import sys

import pytest

# In a fresh process: 60 arrays of 4 MB allocated and freed on other threads, as Gradio's workers do;
# resident memory afterwards, relative to before, with and without poreseg.memory.
PROBE = """
import sys, threading
import numpy as np
from poreseg import memory

def rss():
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmRSS:"))

if sys.argv[1] == "limited":
    assert memory.limit_retained_memory()
before = rss()

def work():
    kept = [np.ones(1 << 19) for _ in range(60)]  # 4 MB each, under glibc's dynamic mmap threshold once raised
    del kept[::2]
    np.ones(40 << 20, np.uint8)  # a large one freed: glibc raises its mmap threshold
    kept.clear()

for _ in range(4):
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
if sys.argv[1] == "limited":
    memory.release_freed_memory()
print((rss() - before) / 2 ** 20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_arrays_are_given_back():
    def grown_mb(mode: str) -> float:
        out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
        return float(out.stdout)

    plain = grown_mb("plain")
    if plain < 20:
        pytest.skip(f"this glibc gave the probe's memory back by itself ({plain:.1f} MB kept): nothing to show")
    assert grown_mb("limited") < 20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_memory_is_given_back_in_the_background_too(monkeypatch):
    """Memory freed outside a request (a closed tab's session) is given back without another request."""
    import threading

    from poreseg import memory

    trims = threading.Semaphore(0)
    monkeypatch.setattr(memory, "release_freed_memory", trims.release)
    stop = memory.release_freed_memory_every(0.01)
    try:
        assert all(trims.acquire(timeout=5) for _ in range(3))
    finally:
        stop.set()
