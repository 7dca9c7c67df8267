"""Re-derive the pore score's references (``poreseg.metrics.REFERENCE_*``) from a pore method's counts.

    python -m poreseg.training.calibrate_score [--data ../shared/data] [--method psnet|dog]

Every MST-E portrait (all Monk skin-tone levels) is analysed like the app does; of those whose pores are
measured on a millimetre scale, the whole-face pore density and area fraction are collected. A reference
is REFERENCE_OVER_MEDIAN times the median, so the median face scores 100 * 2 ** (-1 / 1.5) = 63 (Good),
the score ranks a face among typical faces as the default method (PS-Net) sees them. The script prints
the distribution, the references to copy into ``poreseg/metrics.py`` and the scores the current ones give.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from poreseg.analysis import AnalysisError, AnalysisOptions, analyze
from poreseg.metrics import pore_score
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m poreseg.training.calibrate_score", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=datasets.DEFAULT_DATA_DIR)
    parser.add_argument("--method", choices=("psnet", "dog"), default="psnet")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    densities, fractions = face_measurements(args.data, args.method)
    if len(densities) == 0:
        raise SystemExit(f"calibrate_score: no MST-E portrait of {args.data} was measured on a mm scale")
    density_ref = REFERENCE_OVER_MEDIAN * float(np.median(densities))
    fraction_ref = REFERENCE_OVER_MEDIAN * float(np.median(fractions))
    print(f"{args.method}: {len(densities)} MST-E faces measured on a mm scale")
    for p in PERCENTILES:
        d, f = float(np.percentile(densities, p)), float(np.percentile(fractions, p))
        print(f"  {p}th percentile: density {d:.2f}/cm2, area fraction {f:.3%}")
    print(f"references: REFERENCE_DENSITY_PER_CM2 = {density_ref:.2f}, REFERENCE_AREA_FRACTION = {fraction_ref:.5f}")
    scores = [pore_score(d, f) for d, f in zip(densities, fractions)]
    print("scores with the references now in poreseg/metrics.py: "
          + ", ".join(f"{p}th percentile {np.percentile(scores, p):.0f}" for p in PERCENTILES))


if __name__ == "__main__":
    main()
