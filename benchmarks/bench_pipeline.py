"""End-to-end time of ``poreseg.analyze`` on a 1350x1350 portrait and a 4000x3000 photo, stage by stage.

    python benchmarks/bench_pipeline.py [--repeats 5] [--threads 2] [--method psnet|dog] [--profile 0]
                                        [--baseline [REVISION]]

The photos: ``examples/005_03.jpg`` (Face Research Lab London Set, 1350x1350, a face about 200 px
between the eyes) as it is, and the same portrait enlarged (bicubic) by 3000/1350 to fill the height of a
4000x3000 canvas whose sides continue the studio backdrop (edge pixels repeated): a 12 MP photo of a
face about 440 px between the eyes, as a phone takes it from arm's length. The enlarged skin has no
finer detail than the original, which does not matter here: time depends on the pixel counts and the
size of the analysed region, not on what the pixels show. This portrait's pores pass the quality gate
(not every example's do); a run where the gate skips the pore stage stops with an error rather than
time a shorter pipeline.

Models are loaded once and each pipeline gets one warm-up call per photo before the timed calls. Per
stage the p50 of ``Analysis.timings`` is printed, then their sum and the p50 of the wall clock around
``analyze`` (the goal's measure), and the process CPU time over all threads, to tell work from
waiting. On a machine shared with busy processes, OpenMP's default spin-waiting made 2-thread calls
20x slower than 1-thread ones (measured in November 2026 beside two training runs: 16 s instead of
0.8 s on the 1350 px portrait; 0.6 s with OMP_WAIT_POLICY=PASSIVE), so the load average and the wait
policy are printed with the numbers. ``--method`` defaults to psnet when weights/psnet.pt exists, else
dog. Cold start is a fresh interpreter that imports poreseg and loads every network the way the app
does before it serves (``dashboard.warm_up``); weight files are then in the page cache, so a
first start after boot reads the disk on top.

``--baseline`` also times the pipeline as it was at REVISION (default: BASELINE_REVISION, the last one
before the speed work of issue 5), its code and weights taken from git into a temporary folder and run
in a worker process; its calls alternate with this tree's, so both see the same background load, and
the ratios optimised/baseline are printed. Absolute times on a shared machine drift by a factor of two
from one minute to the next: the ratios measured in one run are what to compare.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import poreseg  # noqa: E402, F401  (before torch: it sets OpenMP's passive wait policy, read as torch loads)
import torch  # noqa: E402

from poreseg.analysis import Analysis, AnalysisOptions, analyze  # noqa: E402
from poreseg.imageio import load_image  # noqa: E402
from dashboard.warm_up import warm_up  # noqa: E402
from poreseg.weights import WEIGHTS_DIR  # noqa: E402

PORTRAIT = REPO / "examples" / "005_03.jpg"
PHOTO_SIZE = (4000, 3000)  # width, height: 12 MP
GOALS_S = {"1350x1350": 1.0, "4000x3000": 3.0}  # issue 5, p50 of the wall clock on 2 cores
COLD_START_GOAL_S = 5.0  # issue 5: import + model load
BASELINE_REVISION = "0f056a6"  # the last revision before the speed work of issue 5

# Run in a fresh interpreter, so that nothing is imported or loaded yet.
COLD_START_SCRIPT = """
import json, sys, time
start = time.perf_counter()
import poreseg, torch
torch.set_num_threads(int(sys.argv[1]))
try:
    from dashboard.warm_up import warm_up
except ImportError:  # a revision before the dashboard package (the baseline)
    from poreseg.views import warm_up
imported = time.perf_counter()
warm_up()
print(json.dumps({"import": imported - start, "load": time.perf_counter() - imported}))
"""

# The baseline's worker, run in the baseline's tree: analyses the photo named on each line of its input
# and answers with one JSON line. Only the API every revision has: analyze, AnalysisOptions, warm_up.
WORKER_SCRIPT = """
import json, sys, time
import numpy as np
import poreseg, torch
torch.set_num_threads(int(sys.argv[1]))
from poreseg.analysis import AnalysisOptions, analyze
try:
    from dashboard.warm_up import warm_up
except ImportError:  # a revision before the dashboard package (the baseline)
    from poreseg.views import warm_up
warm_up()
options = AnalysisOptions(method=sys.argv[2])
photos = dict(np.load(sys.argv[3]))
print("ready", flush=True)
for line in sys.stdin:
    rgb = photos[line.strip()]
    wall, cpu = time.perf_counter(), time.process_time()
    analysis = analyze(rgb, options)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({"wall": wall, "cpu": cpu, "timings": analysis.timings,
                      "pores_measured": analysis.pores_measured, "warnings": analysis.warnings}), flush=True)
"""


@dataclass
class Call:
    """What the benchmark keeps of one call of ``analyze``."""

    wall: float
    cpu: float  # process CPU time, all threads
    timings: dict[str, float]  # Analysis.timings, incl. "total"
    pores_measured: bool
    warnings: list[str]


Pipeline = Callable[[str], Call]  # analyses the photo of that name


class InProcess:
    """``analyze`` of this tree, in this process."""

    def __init__(self, photos: dict[str, np.ndarray], method: str):
        self.photos, self.options = photos, AnalysisOptions(method=method)
        self.last: dict[str, Analysis] = {}  # the last result per photo, to describe what was measured

    def __call__(self, name: str) -> Call:
        wall, cpu = time.perf_counter(), time.process_time()
        analysis = analyze(self.photos[name], self.options)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        self.last[name] = analysis
        return Call(wall, cpu, analysis.timings, analysis.pores_measured, analysis.warnings)


class Baseline:
    """``analyze`` as it was at a git revision (code and weights), in a worker process; a context manager
    that removes its temporary tree."""

    def __init__(self, revision: str, photos: dict[str, np.ndarray], method: str, threads: int):
        self.folder = tempfile.TemporaryDirectory(prefix="poreseg-baseline-")
        self.tree = Path(self.folder.name)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", revision, "poreseg", "weights"],
                                 check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(self.tree, filter="data")
        np.savez(self.tree / "photos.npz", **photos)
        self.worker = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, str(threads), method, "photos.npz"],
                                       cwd=self.tree, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.worker.stdout.readline().strip() != "ready":
            raise SystemExit(f"the baseline worker at {revision} did not start (see its error above)")

    def __call__(self, name: str) -> Call:
        self.worker.stdin.write(name + "\n")
        self.worker.stdin.flush()
        answer = self.worker.stdout.readline()
        if not answer:
            raise SystemExit("the baseline worker stopped (see its error above)")
        return Call(**json.loads(answer))

    def __enter__(self) -> "Baseline":
        return self

    def __exit__(self, *exc) -> None:
        self.worker.stdin.close()
        self.worker.wait()
        self.folder.cleanup()


@dataclass
class PipelineTimes:
    """Seconds per timed call of one pipeline on one photo."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # process CPU time, all threads
    stages: dict[str, list[float]] = field(default_factory=dict)  # Analysis.timings, incl. "total"

    def add(self, call: Call) -> None:
        self.wall.append(call.wall)
        self.cpu.append(call.cpu)
        for stage, seconds in call.timings.items():
            self.stages.setdefault(stage, []).append(seconds)

    def stage_p50(self, stage: str) -> float | None:
        """None for a stage that did not run (density without a mm scale, simulate without a product)."""
        return statistics.median(self.stages[stage]) if stage in self.stages else None


def time_pipelines(pipelines: Sequence[Pipeline], name: str, repeats: int) -> list[PipelineTimes]:
    """Times of each pipeline on the photo ``name`` after one warm-up call each. Calls alternate between
    the pipelines so that all see the same background load, which on a shared machine drifts more than
    the differences worth measuring."""
    for pipeline in pipelines:
        pore_stage_ran("warm-up", pipeline(name))
    times = [PipelineTimes() for _ in pipelines]
    for _ in range(repeats):
        for pipeline, out in zip(pipelines, times):
            out.add(pore_stage_ran("timed call", pipeline(name)))
    return times


def pore_stage_ran(call: str, result: Call) -> Call:
    if not result.pores_measured:
        raise SystemExit(f"{call}: the quality gate skipped the pore stage ({'; '.join(result.warnings)}); "
                         "timing a pipeline without it would flatter the result")
    return result


def phone_photo(portrait: np.ndarray, size: tuple[int, int] = PHOTO_SIZE) -> np.ndarray:
    """The portrait enlarged to the canvas height and centred, its edge pixels repeated sideways."""
    width, height = size
    side = height * portrait.shape[1] // portrait.shape[0]
    enlarged = cv2.resize(portrait, (side, height), interpolation=cv2.INTER_CUBIC)
    left = (width - side) // 2
    return cv2.copyMakeBorder(enlarged, 0, 0, left, width - side - left, cv2.BORDER_REPLICATE)


def cold_start(threads: int, tree: Path = REPO) -> dict[str, float]:
    """Seconds from launching a fresh interpreter to all networks loaded ("process"), and inside it
    the imports and the model loading, for the poreseg of ``tree``."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", COLD_START_SCRIPT, str(threads)], cwd=tree, check=True,
                          capture_output=True, text=True)
    return {"process": time.perf_counter() - start, **json.loads(done.stdout.splitlines()[-1])}


def print_profile(pipeline: InProcess, name: str, entries: int) -> None:
    """cProfile of one warm call: the functions with the most time of their own (torch operators show
    as built-in methods). Profiling slows Python-heavy code more than numpy, OpenCV and torch calls."""
    profile = cProfile.Profile()
    profile.runcall(pipeline, name)
    pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(entries)


def p50(values: list[float]) -> float:
    return statistics.median(values)


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_table(results: dict[str, list[PipelineTimes]], labels: list[str]) -> None:
    """One column per photo and pipeline (this tree, then the baseline if it ran) and a row per stage."""
    columns = [(name, label, times) for name, per_pipeline in results.items()
               for label, times in zip(labels, per_pipeline)]
    stages = list(dict.fromkeys(s for _, _, times in columns for s in times.stages if s != "total"))
    print("| Stage | " + " | ".join(f"{name} {label} p50 s" for name, label, _ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for stage in stages:
        print(f"| {stage} | " + " | ".join(seconds(t.stage_p50(stage)) for _, _, t in columns) + " |")
    print("| sum of stages | " + " | ".join(seconds(t.stage_p50("total")) for _, _, t in columns) + " |")
    print("| **end-to-end (wall)** | " + " | ".join(f"**{p50(t.wall):.3f}**" for _, _, t in columns) + " |")
    print("| CPU, all threads | " + " | ".join(f"{p50(t.cpu):.3f}" for _, _, t in columns) + " |")


def main() -> None:
    trained = (WEIGHTS_DIR / "psnet.pt").exists()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per photo (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--method", choices=("psnet", "dog"), default="psnet" if trained else "dog",
                        help="pore method (default psnet when weights/psnet.pt exists, else dog)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also print the N top cProfile entries of one call on the 1350x1350 portrait")
    parser.add_argument("--baseline", nargs="?", const=BASELINE_REVISION, metavar="REVISION",
                        help=f"also time the pipeline at this git revision (default {BASELINE_REVISION}, before "
                             "the speed work) and print the ratios")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    load_before = os.getloadavg()[0]
    cold = {"this tree": cold_start(args.threads)}
    psnet_problem = warm_up()
    if args.method == "psnet" and psnet_problem:
        raise SystemExit(f"--method psnet: {psnet_problem}")
    portrait = load_image(PORTRAIT)
    photos = {"1350x1350": portrait, "4000x3000": phone_photo(portrait)}
    this_tree = InProcess(photos, args.method)
    pipelines: list[Pipeline] = [this_tree]
    labels = ["this tree"]
    with contextlib.ExitStack() as stack:
        if args.baseline:
            baseline = stack.enter_context(Baseline(args.baseline, photos, args.method, args.threads))
            cold["baseline"] = cold_start(args.threads, baseline.tree)
            pipelines.append(baseline)
            labels.append("baseline")
        results = {name: time_pipelines(pipelines, name, args.repeats) for name in photos}

    for name, analysis in this_tree.last.items():
        scale = "no mm scale" if analysis.mm_per_px is None else f"{analysis.mm_per_px:.3f} mm/px"
        print(f"{name}: eye distance {analysis.frame.eye_distance_px:.0f} px, {scale}, "
              f"analysed region {analysis.region.sum() / 1e6:.2f} MP, pore diameter {analysis.pore_px:.1f} px")
    print(f"\n{args.repeats} timed calls per photo after one warm-up, {args.threads} threads, method {args.method}, "
          f"torch {torch.__version__}"
          + (f"; baseline: revision {args.baseline}, its calls alternating with these" if args.baseline else ""))
    # Other work on the machine slows every threaded operation down, by how much depends on how OpenMP
    # threads wait for each other: say how busy the machine was and which wait policy ran.
    print(f"machine: {os.cpu_count()} CPUs, load average {load_before:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end; this process at nice {os.nice(0)}, "
          f"OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'unset')}\n")
    print_table(results, labels)

    print()
    for name, (times, *baseline_times) in results.items():
        wall = p50(times.wall)
        stages = [s for s in times.stages if s != "total"]
        slowest = sorted(stages, key=times.stage_p50, reverse=True)[:2]
        versus = ""
        if baseline_times:
            before = p50(baseline_times[0].wall)
            versus = f"; {wall / before:.2f}x the baseline's {before:.2f} s"
        print(f"Goal {name} p50 <= {GOALS_S[name]:.0f} s: {'PASS' if wall <= GOALS_S[name] else 'FAIL'} "
              f"({wall:.2f} s{versus}; slowest stages {' and '.join(slowest)})")
    for label, times in cold.items():
        print(f"Cold start, {label} (fresh process to models loaded) <= {COLD_START_GOAL_S:.0f} s: "
              f"{'PASS' if times['process'] <= COLD_START_GOAL_S else 'FAIL'} ({times['process']:.2f} s: imports "
              f"{times['import']:.2f} s, model load {times['load']:.2f} s)")

    if args.profile:
        print(f"\ncProfile of one call on the 1350x1350 portrait, top {args.profile} by own time:")
        print_profile(this_tree, "1350x1350", args.profile)


if __name__ == "__main__":
    main()
