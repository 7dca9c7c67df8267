"""Re-derive the pore score's references (``poreseg.pores.methods.METHODS``) from each pore method's counts.

    python -m poreseg.training.calibrate_score [--data ../shared/data] [--method psnet dog] [--threads 2]

Every MST-E portrait (all Monk skin-tone levels) is analysed like the app does, with each chosen method
(both by default); of those whose pores are measured on a millimetre scale, the whole-face pore density
and area fraction are collected. A method's reference is REFERENCE_OVER_MEDIAN times its medians, so its
median face scores 100 * 2 ** (-1 / 1.5) = 63 (Good): the score ranks a face among typical faces as that
method sees them, whichever method is chosen. For each method the script prints the distribution, the
reference to copy into ``poreseg/pores/methods.py`` and the scores the reference now there gives.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from poreseg.analysis import AnalysisError, AnalysisOptions, analyze
from poreseg.metrics import ScoreReference, pore_score
from poreseg.pores.methods import METHODS
from poreseg.training import datasets

REFERENCE_OVER_MEDIAN = 1.5
PERCENTILES = (10, 50, 90)


def face_measurements(data_dir: Path, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Whole-face density (per cm2) and area fraction of every MST-E portrait measured on a mm scale."""
    densities, fractions = [], []
    for source in datasets.pore_sources(data_dir, "all"):
        if not source.key.startswith("mste/"):
            continue
        try:
            analysis = analyze(datasets.read_rgb(source.image), AnalysisOptions(method=method))
        except AnalysisError:
            continue
        face = analysis.metrics.face
        if analysis.pores_measured and face.density_per_cm2 is not None:
            densities.append(face.density_per_cm2)
            fractions.append(face.area_fraction)
    return np.array(densities), np.array(fractions)


def calibrated_reference(densities: np.ndarray, fractions: np.ndarray) -> ScoreReference:
    """The reference at which the median face (median density and area fraction) scores 63."""
    return ScoreReference(density_per_cm2=REFERENCE_OVER_MEDIAN * float(np.median(densities)),
                          area_fraction=REFERENCE_OVER_MEDIAN * float(np.median(fractions)))


def method_summary(method: str, densities: np.ndarray, fractions: np.ndarray) -> str:
    """The distribution of one method's faces, its calibrated reference and the scores of the current one."""
    reference = calibrated_reference(densities, fractions)
    lines = [f"{method}: {len(densities)} MST-E faces measured on a mm scale"]
    for p in PERCENTILES:
        d, f = float(np.percentile(densities, p)), float(np.percentile(fractions, p))
        lines.append(f"  {p}th percentile: density {d:.2f}/cm2, area fraction {f:.3%}")
    lines.append(f'  reference of "{method}": ScoreReference(density_per_cm2={reference.density_per_cm2:.3g}, '
                 f"area_fraction={reference.area_fraction:.2g}),")
    current = METHODS[method].reference
    scores = [pore_score(d, f, current) for d, f in zip(densities, fractions)]
    lines.append(f"  scores with the reference now in poreseg/pores/methods.py ({current.density_per_cm2:g}/cm2, "
                 f"{current.area_fraction:.3%}): "
                 + ", ".join(f"{p}th percentile {np.percentile(scores, p):.0f}" for p in PERCENTILES))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m poreseg.training.calibrate_score", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=datasets.DEFAULT_DATA_DIR)
    parser.add_argument("--method", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for method in args.method:
        densities, fractions = face_measurements(args.data, method)
        if len(densities) == 0:
            raise SystemExit(f"calibrate_score: no MST-E portrait of {args.data} was measured on a mm scale")
        print(method_summary(method, densities, fractions), flush=True)


if __name__ == "__main__":
    main()
