"""Scores of the parser (FASSEG classes, face masks) and of person masks, shared by the trainers'
validation lines and the evaluation tables (``evaluate``)."""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from poreseg.classes import BACKGROUND, BODY, BROW, EYE, HAIR, LIPS, MOUTH, NOSE, OCCLUDER, SKIN
from poreseg.training import datasets

FASSEG_CLASSES = ("background", "skin", "hair", "eyes", "nose", "mouth")
# Our class id -> FASSEG class id (brows count as hair there; clothes and occluders as background).
TO_FASSEG = np.zeros(256, np.uint8)
TO_FASSEG[[BACKGROUND, BODY, OCCLUDER]] = 0
TO_FASSEG[SKIN] = 1
TO_FASSEG[[HAIR, BROW]] = 2
TO_FASSEG[EYE] = 3
TO_FASSEG[NOSE] = 4
TO_FASSEG[[LIPS, MOUTH]] = 5


def confusion(truth: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    return np.bincount(truth.ravel().astype(np.int64) * classes + predicted.ravel(),
                       minlength=classes * classes).reshape(classes, classes)


def iou_per_class(matrix: np.ndarray) -> np.ndarray:
    tp = np.diag(matrix).astype(np.float64)
    union = matrix.sum(0) + matrix.sum(1) - tp
    return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


def fasseg_table(parse: Callable[[np.ndarray], np.ndarray], samples: list[datasets.Sample]) -> dict[str, float]:
    """Per-class IoU and 6-class mIoU (dataset-level confusion) of ``parse`` (rgb -> our labels)."""
    matrix = np.zeros((6, 6), np.int64)
    for sample in samples:
        rgb = datasets.read_rgb(sample.image)
        truth = datasets.read_label(sample.fasseg_labels, rgb.shape[:2])
        matrix += confusion(truth, TO_FASSEG[parse(rgb)], 6)
    ious = iou_per_class(matrix)
    return {**{name: float(v) for name, v in zip(FASSEG_CLASSES, ious)}, "mIoU": float(np.nanmean(ious))}


def facemask_table(parse: Callable[[np.ndarray], np.ndarray], samples: list[datasets.Sample]) -> dict[str, float]:
    """How the parser sees the face-mask pixels of MaskedFace: occluder IoU and share called skin."""
    inter = union = mask_pixels = as_skin = 0
    for sample in samples:
        rgb = datasets.read_rgb(sample.image)
        truth = datasets.read_label(sample.facemask_labels, rgb.shape[:2]) == 2
        labels = parse(rgb)
        predicted = labels == OCCLUDER
        inter += (truth & predicted).sum()
        union += (truth | predicted).sum()
        mask_pixels += truth.sum()
        as_skin += (truth & (labels == SKIN)).sum()
    return {"occluder IoU": inter / max(union, 1), "mask pixels called skin": as_skin / max(mask_pixels, 1)}


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
