"""Intra-op threads per network, in the mode the app runs them: 1 against 2 threads.

    python benchmarks/bench_threads.py [--runs 21]

The app runs each analysis on one of Gradio's worker threads, and its networks in ONNX Runtime sessions
whose threads wait without spinning (poreseg.inference); so does this benchmark. Per network, its input
as the pipeline gives it: the face parser and the portrait network on a 256x256 view, PS-Net with its
Monte-Carlo draws on one 768 px tile. Each network gets one session per thread count; calls alternate
between them so that both see the same background load, and the medians and their ratio are printed,
with the load average (on a busy machine a second thread mostly waits for a core).
poreseg.inference.SMALL_NETWORK_THREADS is chosen from these numbers.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import poreseg  # noqa: E402, F401  (before onnxruntime: it switches ONNX Runtime's telemetry off)
import onnxruntime  # noqa: E402

from poreseg.inference import ModelSession  # noqa: E402
from poreseg.parsing import FaceParser, normalise  # noqa: E402
from poreseg.pores.segment import TILE_CORE_MAX, TILE_MARGIN, PoreSegmenter  # noqa: E402
from poreseg.portrait import PortraitSegmenter  # noqa: E402

THREAD_COUNTS = (1, 2)


def sessions(session_class: type[ModelSession]) -> dict[int, ModelSession]:
    """One session of the shipped network per thread count (its other options as the app sets them)."""
    made = {}
    for count in THREAD_COUNTS:
        threaded = type(session_class.__name__, (session_class,), {"threads": count})
        made[count] = threaded.load()
    return made


def networks() -> dict[str, tuple[type[ModelSession], np.ndarray, float]]:
    """Name -> (session class, its input as the pipeline gives it, share of the timed runs)."""
    view = normalise(np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8))
    tile = TILE_CORE_MAX + 2 * TILE_MARGIN
    one_tile = np.random.default_rng(1).standard_normal((1, 3, tile, tile)).astype(np.float32)
    return {"face parser, 256 px view": (FaceParser, view, 1),
            "portrait, 256 px view": (PortraitSegmenter, view, 1),
            f"PS-Net, 1 tile of {tile} px": (PoreSegmenter, one_tile, 1 / 3)}


def time_threads(by_threads: dict[int, ModelSession], x: np.ndarray, runs: int) -> dict[int, float]:
    """Median milliseconds of a run per thread count, the counts alternating."""
    times: dict[int, list[float]] = {count: [] for count in THREAD_COUNTS}
    for session in by_threads.values():  # warm-up: the first run plans the memory
        session.run(x)
    for _ in range(runs):
        for count, session in by_threads.items():
            start = time.perf_counter()
            session.run(x)
            times[count].append((time.perf_counter() - start) * 1e3)
    return {count: statistics.median(values) for count, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="timed calls per thread count of the small networks")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    rows = []

    def measure() -> None:  # on a worker thread, as Gradio runs the analysis
        for name, (session_class, x, share) in networks().items():
            rows.append((name, time_threads(sessions(session_class), x, max(3, round(args.runs * share)))))

    worker = threading.Thread(target=measure)
    worker.start()
    worker.join()
    print(f"ONNX Runtime {onnxruntime.__version__}, {os.cpu_count()} CPUs, load average {load_before:.1f} at the "
          f"start, {os.getloadavg()[0]:.1f} at the end\n")
    print("| network | 1 thread p50 ms | 2 threads p50 ms | 2 threads / 1 thread |")
    print("|---|---|---|---|")
    for name, medians in rows:
        print(f"| {name} | {medians[1]:.1f} | {medians[2]:.1f} | {medians[2] / medians[1]:.2f} |")


if __name__ == "__main__":
    main()
