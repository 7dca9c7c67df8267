"""Person-mask scores shared by the portrait trainer's validation lines and the evaluation tables."""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from poreseg.training import datasets


def dataset_iou(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> float:
    """IoU of (truth, predicted) boolean masks pooled over all pairs: large people weigh more than small."""
    inter = union = 0
    for truth, predicted in pairs:
        inter += np.count_nonzero(truth & predicted)
        union += np.count_nonzero(truth | predicted)
    return float(inter / max(union, 1))


def person_iou(segment: Callable[[np.ndarray], np.ndarray], samples: list[datasets.Sample]) -> float:
    """Dataset-level person IoU of ``segment`` (rgb -> probability) thresholded at 0.5 against human masks."""
    def pairs():
        for sample in samples:
            rgb = datasets.read_rgb(sample.image)
            yield datasets.read_label(sample.person_mask, rgb.shape[:2]) > 0, segment(rgb) >= 0.5
    return dataset_iou(pairs())
