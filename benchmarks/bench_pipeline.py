"""End-to-end time of ``poreseg.analyze`` on a 1350x1800 portrait and a 4000x3000 photo, stage by stage.

    python benchmarks/bench_pipeline.py [--repeats 5] [--threads N] [--method psnet|dog] [--profile 0]
                                        [--baseline [REVISION]]

The photos: ``examples/lisa_15cm.jpg`` (webmorphR.stim, CC0; a face close to the camera) enlarged
(bicubic) from 1152x1536 to 1350x1800, a portrait as a phone delivers it after resizing; and
``examples/005_03.jpg`` (Face Research Lab London Set, 1350x1350) enlarged by 3000/1350 to fill the height
of a 4000x3000 canvas whose sides continue the studio backdrop (edge pixels repeated): a 12 MP photo of a
face about 440 px between the eyes, as a phone takes it from arm's length. Enlarged skin has no finer
detail than the original, which does not matter here: time depends on the pixel counts and the size of
the analysed region, not on what the pixels show. Both pass the quality gate (the 1350 px London
portraits do not: their pores would be under 2 px); a run where the gate skips the pore stage stops with
an error rather than time a shorter pipeline.

Models are loaded once and each pipeline gets one warm-up call per photo before the timed calls. Per
stage the p50 of ``Analysis.timings`` is printed, then their sum and the p50 of the wall clock around
``analyze``, and the process CPU time over all threads, to tell work from waiting. The networks run
with the thread counts the app uses (``poreseg.inference``) unless ``--threads`` forces one count for
all. On a machine shared with busy processes, OpenMP's default spin-waiting made 2-thread calls 20x
slower than 1-thread ones (November 2026: 16 s instead of 0.8 s), so the load average and the wait
policy are printed with the numbers. ``--method`` defaults to psnet when weights/psnet.pt exists, else
dog.

Fresh processes (each tree's own): *cold start* is a new interpreter that imports ``poreseg.analysis``
and analyses the 1350x1800 portrait (networks load on first use, as in the command line and the app's
first request), timed from launch to the result (median of COLD_STARTS); *peak RSS* is the maximum
resident memory of a new interpreter that analyses the 4000x3000 photo once. The photos are handed over
decoded (``.npy``), so JPEG decoding is in neither.

``--baseline`` also times the pipeline as it was at REVISION (default: BASELINE_REVISION, the revision
the speed work of issue 15 is measured against), its code and weights taken from git into a temporary
folder and run in a worker process; its calls alternate with this tree's, so both see the same
background load, and the ratios this tree / baseline are printed. Absolute times on a shared machine
drift by a factor of two from one minute to the next: the ratios measured in one run are what to compare.
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

import poreseg  # noqa: E402, F401  (before onnxruntime: it switches ONNX Runtime's telemetry off)
import onnxruntime  # noqa: E402

from poreseg.analysis import Analysis, AnalysisOptions, analyze  # noqa: E402
from poreseg.imageio import load_image  # noqa: E402
from dashboard.warm_up import warm_up  # noqa: E402
from poreseg.inference import ModelSession  # noqa: E402
from poreseg.weights import WEIGHTS_DIR  # noqa: E402

PORTRAIT = REPO / "examples" / "005_03.jpg"  # the 12 MP photo's face
CLOSE_PORTRAIT = REPO / "examples" / "lisa_15cm.jpg"  # the 1350x1800 portrait's
PORTRAIT_SIZE = (1350, 1800)  # width, height
PHOTO_SIZE = (4000, 3000)  # width, height: 12 MP
BASELINE_REVISION = "bfa5228"  # main when issue 15 (speed) was filed
# Issue 15, same-run ratios this tree / baseline of the end-to-end p50 (floor, goal), and fresh-process
# limits: cold start to the first 1350 px result (seconds) and peak RSS of one 12 MP analysis (MB).
RATIO_TARGETS = {"1350x1800": (0.6, 0.35), "4000x3000": (0.6, 0.35)}
COLD_START_TARGETS_S = (1.6, 1.0)
PEAK_RSS_TARGETS_MB = (350.0, 250.0)
COLD_STARTS = 3  # fresh processes per tree; the median counts

# A fresh interpreter (in the tree to measure) that analyses one decoded photo: seconds from launch to
# its imports and to the result, and the peak resident memory. ``launched`` (time.time() of the parent
# just before it started the process) counts the interpreter's own start-up too.
FRESH_PROCESS_SCRIPT = """
import sys, time
launched = float(sys.argv[1])
import json
import numpy as np
from poreseg.analysis import AnalysisOptions, analyze
imported = time.time()
analysis = analyze(np.load(sys.argv[2]), AnalysisOptions(method=sys.argv[3]))
done = time.time()
# VmHWM, not getrusage's ru_maxrss: that keeps the peak of the parent process it was forked from.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"import": imported - launched, "result": done - launched, "peak_rss_mb": peak_kb / 1024}))
"""

# The baseline's worker, run in the baseline's tree: analyses the photo named on each line of its input
# and answers with one JSON line. Only the API every revision has: analyze, AnalysisOptions, warm_up.
WORKER_SCRIPT = """
import json, sys, time
import numpy as np
import poreseg, torch  # the baseline revision runs its networks in PyTorch
if sys.argv[1] != "app":
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

    def __init__(self, revision: str, photos: dict[str, np.ndarray], method: str, threads: int | None):
        self.folder = tempfile.TemporaryDirectory(prefix="poreseg-baseline-")
        self.tree = Path(self.folder.name)
        # The dashboard package (its warm_up) where the revision has one: later revisions import it from there.
        listed = subprocess.run(["git", "-C", str(REPO), "ls-tree", "--name-only", revision],
                                check=True, capture_output=True, text=True).stdout.split()
        parts = [part for part in ("poreseg", "weights", "dashboard") if part in listed]
        archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", revision, *parts],
                                 check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(self.tree, filter="data")
        np.savez(self.tree / "photos.npz", **photos)
        self.worker = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, str(threads or "app"), method,
                                        "photos.npz"], cwd=self.tree, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       text=True)
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


def benchmark_photos() -> dict[str, np.ndarray]:
    """The two photos by name (see the module docstring)."""
    close = cv2.resize(load_image(CLOSE_PORTRAIT), PORTRAIT_SIZE, interpolation=cv2.INTER_CUBIC)
    return {"1350x1800": close, "4000x3000": phone_photo(load_image(PORTRAIT))}


def fresh_process(tree: Path, photo: Path, method: str) -> dict:
    """One analysis of ``photo`` (.npy) in a new interpreter running the poreseg of ``tree``: seconds from
    launch to imports done and to the result, and peak RSS in MB (FRESH_PROCESS_SCRIPT)."""
    done = subprocess.run([sys.executable, "-c", FRESH_PROCESS_SCRIPT, repr(time.time()), str(photo), method],
                          cwd=tree, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


def fresh_processes(trees: dict[str, Path], photos: dict[str, Path], method: str) -> dict[str, dict[str, float]]:
    """Per tree: median cold start to the first 1350x1800 result (and its imports) over COLD_STARTS
    processes, and the peak RSS of one 4000x3000 analysis. The trees' processes alternate."""
    starts: dict[str, list[dict]] = {label: [] for label in trees}
    for _ in range(COLD_STARTS):
        for label, tree in trees.items():
            starts[label].append(fresh_process(tree, photos["1350x1800"], method))
    return {label: {"result": p50([s["result"] for s in starts[label]]),
                    "import": p50([s["import"] for s in starts[label]]),
                    "peak_rss_mb": fresh_process(tree, photos["4000x3000"], method)["peak_rss_mb"]}
            for label, tree in trees.items()}


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
    """One column per photo and pipeline (this tree, then the baseline if it ran) and a row per stage;
    with a baseline, a column of same-run ratios per photo."""
    stages = list(dict.fromkeys(s for per_pipeline in results.values() for times in per_pipeline
                                for s in times.stages if s != "total"))
    header, rows = ["Stage"], {stage: [stage] for stage in [*stages, "sum of stages", "**end-to-end (wall)**",
                                                            "CPU, all threads"]}
    for name, per_pipeline in results.items():
        header += [f"{name} {label} p50 s" for label in labels] + (["ratio"] if len(per_pipeline) > 1 else [])
        for row, values in rows.items():
            numbers = [column_value(times, row) for times in per_pipeline]
            values += [seconds(n) for n in numbers]
            if len(numbers) > 1:
                values.append("-" if None in numbers[:2] or not numbers[1] else f"{numbers[0] / numbers[1]:.2f}")
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---|" * (len(header) - 1))
    for values in rows.values():
        print("| " + " | ".join(values) + " |")


def column_value(times: PipelineTimes, row: str) -> float | None:
    if row == "sum of stages":
        return times.stage_p50("total")
    if row == "**end-to-end (wall)**":
        return p50(times.wall)
    if row == "CPU, all threads":
        return p50(times.cpu)
    return times.stage_p50(row)


def verdict(value: float, targets: tuple[float, float]) -> str:
    floor, goal = targets
    return "goal met" if value <= goal else "floor met" if value <= floor else "FLOOR NOT MET"


def main() -> None:
    trained = (WEIGHTS_DIR / "psnet.pt").exists()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per photo (default 5)")
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads for every network (default: the app's own settings)")
    parser.add_argument("--method", choices=("psnet", "dog"), default="psnet" if trained else "dog",
                        help="pore method (default psnet when weights/psnet.pt exists, else dog)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also print the N top cProfile entries of one call on the 1350x1800 portrait")
    parser.add_argument("--baseline", nargs="?", const=BASELINE_REVISION, metavar="REVISION",
                        help=f"also time the pipeline at this git revision (default {BASELINE_REVISION}) "
                             "and print the ratios")
    args = parser.parse_args()
    if args.threads:
        for session_class in ModelSession.__subclasses__():
            session_class.threads = args.threads

    load_before = os.getloadavg()[0]
    psnet_problem = warm_up()
    if args.method == "psnet" and psnet_problem:
        raise SystemExit(f"--method psnet: {psnet_problem}")
    photos = benchmark_photos()
    this_tree = InProcess(photos, args.method)
    pipelines: list[Pipeline] = [this_tree]
    trees = {"this tree": REPO}
    with contextlib.ExitStack() as stack:
        if args.baseline:
            baseline = stack.enter_context(Baseline(args.baseline, photos, args.method, args.threads))
            pipelines.append(baseline)
            trees["baseline"] = baseline.tree
        results = {name: time_pipelines(pipelines, name, args.repeats) for name in photos}
        photo_files = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="poreseg-photos-")))
        for name, rgb in photos.items():
            np.save(photo_files / f"{name}.npy", rgb)
        fresh = fresh_processes(trees, {name: photo_files / f"{name}.npy" for name in photos}, args.method)

    for name, analysis in this_tree.last.items():
        scale = "no mm scale" if analysis.face.mm_per_px is None else f"{analysis.face.mm_per_px:.3f} mm/px"
        print(f"{name}: eye distance {analysis.face.frame.eye_distance_px:.0f} px, {scale}, "
              f"analysed region {analysis.face.region.sum() / 1e6:.2f} MP, pore diameter {analysis.face.pore_px:.1f} px")
    threads = f"{args.threads} threads for every network" if args.threads else "the app's thread settings"
    print(f"\n{args.repeats} timed calls per photo after one warm-up, {threads}, method {args.method}, "
          f"ONNX Runtime {onnxruntime.__version__}"
          + (f"; baseline: revision {args.baseline}, its calls alternating with these" if args.baseline else ""))
    # Other work on the machine slows every threaded operation down, by how much depends on how OpenMP
    # threads wait for each other: say how busy the machine was and which wait policy ran.
    print(f"machine: {os.cpu_count()} CPUs, load average {load_before:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end; this process at nice {os.nice(0)}, "
          f"OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'unset')}\n")
    print_table(results, ["this tree", "baseline"][:len(pipelines)])

    print()
    for name, (times, *baseline_times) in results.items():
        wall = p50(times.wall)
        slowest = sorted((s for s in times.stages if s != "total"), key=times.stage_p50, reverse=True)[:2]
        line = f"{name}: {wall:.3f} s end to end (slowest stages {' and '.join(slowest)})"
        if baseline_times:
            ratio = wall / p50(baseline_times[0].wall)
            floor, goal = RATIO_TARGETS[name]
            line += (f"; {ratio:.2f}x the baseline's {p50(baseline_times[0].wall):.3f} s "
                     f"(floor <= {floor}x, goal <= {goal}x: {verdict(ratio, RATIO_TARGETS[name])})")
        print(line)
    for label, numbers in fresh.items():
        print(f"Cold start, {label}: {numbers['result']:.2f} s from launch to the first 1350x1800 result "
              f"(imports {numbers['import']:.2f} s; median of {COLD_STARTS}; floor <= {COLD_START_TARGETS_S[0]} s, "
              f"goal <= {COLD_START_TARGETS_S[1]} s: {verdict(numbers['result'], COLD_START_TARGETS_S)})")
        print(f"Peak RSS, {label}: {numbers['peak_rss_mb']:.0f} MB for one 4000x3000 analysis in a fresh process "
              f"(floor <= {PEAK_RSS_TARGETS_MB[0]:.0f} MB, goal <= {PEAK_RSS_TARGETS_MB[1]:.0f} MB: "
              f"{verdict(numbers['peak_rss_mb'], PEAK_RSS_TARGETS_MB)})")

    if args.profile:
        print(f"\ncProfile of one call on the 1350x1800 portrait, top {args.profile} by own time:")
        print_profile(this_tree, "1350x1800", args.profile)


if __name__ == "__main__":
    main()
