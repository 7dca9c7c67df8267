"""The face stage against MediaPipe face mesh, on the same photos in the same run.

    python benchmarks/bench_peer.py [--repeats 15] [--venv .venv-train]

What a user would pick instead of poreseg's face parsing is MediaPipe's face mesh (468 landmarks, the
open-source VISIA-style analysers' face stage). It is a training-time dependency only (it needs numpy<2;
``requirements-train.txt``), so it runs in the training virtual environment, in a worker process that
this script starts and feeds the photos to; it is never imported by poreseg. The photos are those of
benchmarks/bench_pipeline.py (a 1350x1800 portrait and a 12 MP photo), handed over decoded (``.npy``), so
that both time the same pixels and no JPEG decoding. poreseg: ``parse_face`` (find pass, two crop passes,
labels pasted back at full size), as the pipeline runs it. MediaPipe: ``FaceMesh(static_image_mode=True)``
with its defaults (one face, no iris refinement) on the whole photo, timed around ``process``. Calls
alternate between the two so that both see the same background load; each is warmed up first. The
medians and their ratio are printed with the issue 15 targets (face parsing <= 4x MediaPipe at 12 MP,
goal <= 2x).

Create the environment once: ``python -m venv .venv-train && .venv-train/bin/pip install -r
requirements-train.txt``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import poreseg  # noqa: E402, F401  (before onnxruntime: it switches ONNX Runtime's telemetry off)

from benchmarks.bench_pipeline import benchmark_photos  # noqa: E402
from poreseg.parsing import parse_face  # noqa: E402

TARGETS = (4.0, 2.0)  # issue 15: face parsing / MediaPipe face mesh at 12 MP (floor, goal)

# Runs in the training environment: answers each .npy path on its input with the seconds ``process``
# took and whether it found a face.
MEDIAPIPE_WORKER = """
import json, sys, time
import numpy as np
import mediapipe
mesh = mediapipe.solutions.face_mesh.FaceMesh(static_image_mode=True)
print("ready", flush=True)
for line in sys.stdin:
    rgb = np.load(line.strip())
    start = time.perf_counter()
    result = mesh.process(rgb)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "face": result.multi_face_landmarks is not None}), flush=True)
"""


class MediaPipeWorker:
    """MediaPipe face mesh in the training environment's interpreter; a context manager."""

    def __init__(self, python: Path):
        self.process = subprocess.Popen([str(python), "-c", MEDIAPIPE_WORKER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit("MediaPipe did not start in the training environment (see its error above)")

    def __call__(self, photo: Path) -> float:
        self.process.stdin.write(f"{photo}\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        if not answer["face"]:
            raise SystemExit(f"MediaPipe found no face in {photo.name}: its time would not be a face stage's")
        return answer["seconds"]

    def __enter__(self) -> MediaPipeWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.process.stdin.close()
        self.process.wait()


def parse_seconds(rgb: np.ndarray) -> float:
    start = time.perf_counter()
    parsing = parse_face(rgb)
    seconds = time.perf_counter() - start
    if parsing.faces_found == 0:
        raise SystemExit("poreseg found no face: its time would not be a face stage's")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per photo and method (default 15)")
    parser.add_argument("--venv", type=Path, default=REPO / ".venv-train",
                        help="the training virtual environment with mediapipe (default .venv-train)")
    args = parser.parse_args()
    python = args.venv / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{python} not found: create it with python -m venv {args.venv} && "
                         f"{args.venv}/bin/pip install -r requirements-train.txt")
    load_before = os.getloadavg()[0]
    photos = benchmark_photos()
    rows = []
    with tempfile.TemporaryDirectory(prefix="poreseg-peer-") as folder, MediaPipeWorker(python) as mediapipe:
        for name, rgb in photos.items():
            path = Path(folder) / f"{name}.npy"
            np.save(path, rgb)
            parse_seconds(rgb), mediapipe(path)  # warm-up
            ours, theirs = [], []
            for _ in range(args.repeats):
                ours.append(parse_seconds(rgb))
                theirs.append(mediapipe(path))
            rows.append((name, statistics.median(ours), statistics.median(theirs)))

    print(f"{args.repeats} timed calls per photo and method after one warm-up, alternating; {os.cpu_count()} CPUs, "
          f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end\n")
    print("| photo | poreseg parse_face p50 ms | MediaPipe face mesh p50 ms | ratio |")
    print("|---|---|---|---|")
    for name, ours, theirs in rows:
        print(f"| {name} | {ours * 1e3:.1f} | {theirs * 1e3:.1f} | {ours / theirs:.2f}x |")
    ratio = rows[-1][1] / rows[-1][2]
    floor, goal = TARGETS
    verdict = "goal met" if ratio <= goal else "floor met" if ratio <= floor else "FLOOR NOT MET"
    print(f"\nFace parsing at 12 MP: {ratio:.2f}x MediaPipe face mesh (floor <= {floor:.0f}x, goal <= {goal:.0f}x: "
          f"{verdict})")


if __name__ == "__main__":
    main()
