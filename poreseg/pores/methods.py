"""The pore methods by name: PS-Net (the network, the default) and DoGPore (the classical detector).

A method has a name (``"psnet"``, ``"dog"``: reports, the API, ``--method``), a label for people, the
reference its pore score is judged against (poreseg.metrics.pore_score), and a function that segments
pores inside a region at a known pore size. ``segment_pores``, ``AnalysisOptions``, the command line
and the dashboard all read METHODS; nothing else spells the names.

This module imports neither ONNX Runtime nor the networks (the command line reads it for ``--help``): a
method's segmentation is imported when it first runs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from poreseg.metrics import ScoreReference

if TYPE_CHECKING:
    from poreseg.pores.segment import PoreResult

MethodName = Literal["psnet", "dog"]
DEFAULT_METHOD: MethodName = "psnet"


@dataclass(frozen=True)
class PoreMethod:
    name: MethodName
    label: str  # for people: the dashboard's choice, the status line
    description: str  # one line, for --help
    # Pore score reference: 1.5 times the median of what this method finds on the 61 MST-E portraits
    # measured on a mm scale (see below).
    reference: ScoreReference
    # (rgb, region, pore_px, mm_per_px) -> PoreResult: pores inside ``region`` (HxW bool) of an HxWx3
    # uint8 photo whose pores are about ``pore_px`` wide.
    segment: Callable[[np.ndarray, np.ndarray, float, float | None], PoreResult]


def _psnet_pores(rgb: np.ndarray, region: np.ndarray, pore_px: float, mm_per_px: float | None) -> PoreResult:
    from poreseg.pores.segment import PoreSegmenter
    return PoreSegmenter.shared()(rgb, region, pore_px, mm_per_px)


def _dog_pores(rgb: np.ndarray, region: np.ndarray, pore_px: float, mm_per_px: float | None) -> PoreResult:
    from poreseg.pores.dog import dog_pores_in_box
    from poreseg.pores.segment import PoreMaps, PoreResult, bounding_box
    x0, y0, x1, y1 = box = bounding_box(region)
    found = dog_pores_in_box(rgb, region, pore_px, box)
    maps = PoreMaps(found.response, np.zeros(found.response.shape, np.float32), (x0, y0), region.shape)
    return PoreResult(maps.in_frame(found.mask & region[y0:y1, x0:x1]), maps, mm_per_px, "dog", pore_px,
                      np.zeros((0, 2), np.int32))


# Flament et al. (2015, Clin Cosmet Investig Dermatol 8:85-93) measure visible pores (>= 250 um) on the
# cheeks of 2,585 women as a density (N/cm2) and the share of skin they cover, and find both vary
# several-fold between ethnic groups. There is no accepted norm for whole-face photos, and what a
# detector counts depends on its sensitivity, so each method has its own references: 1.5 times the median
# of what that method finds on the 61 MST-E portraits measured on a mm scale (all skin tones;
# python -m poreseg.training.calibrate_score --method psnet dog). The median face then scores 63 (Good)
# whichever method is chosen: a relative cosmetic indication, not a clinical grade.
#   psnet: density 15.7 per cm2 at the median (8.67-27.1 from the 10th to the 90th percentile),
#          area fraction 5.18% (2.40-8.58%); 58 faces measured.
#   dog:   density 8.24 per cm2 at the median (1.35-13.9), area fraction 2.40% (0.51-3.75%). PS-Net's
#          threshold is chosen on pores rendered as densely as people mark them (about 24 per cm2 on a
#          close-up), so it finds nearly twice what DoGPore's surest detections are.
# Re-derive the references whenever a detector or its weights change.
METHODS: dict[str, PoreMethod] = {method.name: method for method in (
    PoreMethod("psnet", "PS-Net", "the trained pore network (needs weights/psnet.onnx)",
               ScoreReference(density_per_cm2=23.6, area_fraction=0.078), _psnet_pores),
    PoreMethod("dog", "DoGPore", "the difference-of-Gaussians detector, no training",
               ScoreReference(density_per_cm2=12.4, area_fraction=0.036), _dog_pores),
)}


def check_method(name: str) -> str:
    """``name`` if it is a method's; ValueError naming the methods otherwise."""
    if name not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {name!r}")
    return name
