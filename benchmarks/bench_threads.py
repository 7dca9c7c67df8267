"""Intra-op threads per network, in the mode the app runs them: 1 against 2 threads.

    python benchmarks/bench_threads.py [--runs 21]

The app imports poreseg before torch (OpenMP threads then wait passively, poreseg/__init__.py) and runs
each analysis on one of Gradio's worker threads; so does this benchmark. Per network, its input as the
pipeline gives it: the face parser and the portrait network on a 256x256 view, PS-Net with its
Monte-Carlo draws on one 768 px tile, as the pipeline runs it, and on STACKED_TILES tiles in one pass,
as it did before issue 15. Calls alternate between the thread counts so that both see the same
background load; the medians and their ratio are printed, with the load average (on a busy machine a
second thread mostly waits for a core).
poreseg.inference.SMALL_NETWORK_THREADS is chosen from these numbers.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import poreseg  # noqa: E402, F401  (before torch: it sets OpenMP's passive wait policy, read as torch loads)
import numpy as np  # noqa: E402
import torch  # noqa: E402

from poreseg.parsing import FaceParser, normalise  # noqa: E402
from poreseg.pores.segment import TILE_CORE_MAX, TILE_MARGIN, PoreSegmenter  # noqa: E402
from poreseg.portrait import PortraitSegmenter  # noqa: E402

THREAD_COUNTS = (1, 2)
STACKED_TILES = 3  # tiles per PS-Net pass before issue 15


def networks() -> dict[str, tuple[Callable[[], object], int]]:
    """Name -> (one call as the pipeline makes it, how many of them per timed run's share)."""
    parser, portrait, psnet = FaceParser(), PortraitSegmenter(), PoreSegmenter()
    view = normalise(np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8))
    tile = TILE_CORE_MAX + 2 * TILE_MARGIN

    def tiles(count: int) -> torch.Tensor:
        return torch.randn(count, 3, tile, tile).contiguous(memory_format=torch.channels_last)

    one, stacked = tiles(1), tiles(STACKED_TILES)
    return {"face parser, 256 px view": (lambda: parser.net(view), 1),
            "portrait, 256 px view": (lambda: portrait.net(view), 1),
            f"PS-Net, 1 tile of {tile} px": (lambda: psnet.net.predict(one, psnet.samples), 1 / 3),
            f"PS-Net, {STACKED_TILES} tiles of {tile} px in one pass":
                (lambda: psnet.net.predict(stacked, psnet.samples), 1 / 8)}


def time_threads(call: Callable[[], object], runs: int) -> dict[int, float]:
    """Median milliseconds of ``call`` per thread count, the counts alternating."""
    times: dict[int, list[float]] = {count: [] for count in THREAD_COUNTS}
    for count in THREAD_COUNTS:  # warm-up: oneDNN prepares its kernels on the first call
        torch.set_num_threads(count)
        call()
    for _ in range(runs):
        for count in THREAD_COUNTS:
            torch.set_num_threads(count)
            start = time.perf_counter()
            call()
            times[count].append((time.perf_counter() - start) * 1e3)
    return {count: statistics.median(values) for count, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="timed calls per thread count of the small networks")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    rows = []

    def measure() -> None:  # on a worker thread, as Gradio runs the analysis
        with torch.inference_mode():
            for name, (call, share) in networks().items():
                rows.append((name, time_threads(call, max(3, round(args.runs * share)))))

    worker = threading.Thread(target=measure)
    worker.start()
    worker.join()
    print(f"torch {torch.__version__}, OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
          f"{os.cpu_count()} CPUs, load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end\n")
    print("| network | 1 thread p50 ms | 2 threads p50 ms | 2 threads / 1 thread |")
    print("|---|---|---|---|")
    for name, medians in rows:
        print(f"| {name} | {medians[1]:.1f} | {medians[2]:.1f} | {medians[2] / medians[1]:.2f} |")


if __name__ == "__main__":
    main()
