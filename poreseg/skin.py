"""The skin region in which pores are analysed, from a face parsing label map.

Pores are looked for on the skin of the face and on the nose only, away from everything whose edges,
hairs or lashes look like dark dots (eyes, brows, lips, mouth, hair, occluders, the background) and
away from the nostrils, which are large dark holes at the bottom of the nose.
"""
from __future__ import annotations

import cv2
import numpy as np

from poreseg.classes import BACKGROUND, BODY, BROW, EYE, FACIAL_FEATURES, HAIR, LIPS, MOUTH, NOSE, OCCLUDER, SKIN

ANALYSED = (SKIN, NOSE)
KEPT_AWAY_FROM = (BACKGROUND, BROW, EYE, LIPS, MOUTH, HAIR, BODY, OCCLUDER)
# Lashes, stray brow hairs and stubble reach a few millimetres past the parser's borders; callers with
# a face scale use this margin (margin_px = MARGIN_MM / mm_per_px).
MARGIN_MM = 3.0
# The nostrils fill about the bottom quarter of the nose label (bridge to nostrils) along the face's downward
# direction; the margin then keeps the dark holes and the alar creases out, the nose tip in.
NOSTRIL_SHARE = 0.25
# The face reaches this far past its facial-feature box (brows to mouth), in box sides: the forehead
# above, the chin below, the cheeks to the sides. Skin labels beyond (neck, shoulders, hands, stray
# labels in the hair) are not part of the face analysis.
FACE_REACH = {"up": 0.9, "down": 0.6, "sideways": 0.4}
# Percentiles of the feature pixels that bound the feature box, so stray feature labels do not stretch it.
FEATURE_BOX_PERCENTILES = (0.5, 99.5)


def skin_region(labels: np.ndarray, margin_px: float) -> np.ndarray:
    """HxW bool: skin and nose, at least ``margin_px`` from every other class, the nostrils and the image
    border, within the face around the facial features."""
    labels = np.asarray(labels, np.uint8)
    kept_away = np.isin(labels, KEPT_AWAY_FROM) | nostrils(labels)
    # distanceTransform measures to the nearest zero pixel; a zero border ring keeps filters off the edge.
    clear = np.pad(~kept_away, 1).astype(np.uint8)
    distance = cv2.distanceTransform(clear, cv2.DIST_L2, cv2.DIST_MASK_5)[1:-1, 1:-1]
    return np.isin(labels, ANALYSED) & (distance > margin_px) & face_area(labels)


def face_down(labels: np.ndarray) -> np.ndarray:
    """Unit vector (x, y) pointing from the eyes towards the mouth; straight down if they are not labelled."""
    eyes, mouth = np.argwhere(labels == EYE), np.argwhere(np.isin(labels, (LIPS, MOUTH)))
    if len(eyes) == 0 or len(mouth) == 0:
        return np.array([0.0, 1.0])
    direction = (mouth.mean(0) - eyes.mean(0))[::-1]
    length = float(np.hypot(*direction))
    return direction / length if length > 0 else np.array([0.0, 1.0])


def nostrils(labels: np.ndarray) -> np.ndarray:
    """HxW bool: the bottom ``NOSTRIL_SHARE`` of the nose label along the face's downward direction."""
    ys, xs = np.nonzero(labels == NOSE)
    out = np.zeros(labels.shape, bool)
    if len(ys) == 0:
        return out
    depth = np.stack([xs, ys], 1) @ face_down(labels)
    cut = depth.max() - NOSTRIL_SHARE * (depth.max() - depth.min())
    out[ys[depth >= cut], xs[depth >= cut]] = True
    return out


def face_area(labels: np.ndarray) -> np.ndarray:
    """HxW bool: the facial-feature box grown by ``FACE_REACH``; everywhere when no feature is labelled."""
    ys, xs = np.nonzero(np.isin(labels, FACIAL_FEATURES))
    area = np.zeros(labels.shape, bool)
    if len(ys) == 0:
        area[:] = True
        return area
    (y0, y1), (x0, x1) = np.percentile(ys, FEATURE_BOX_PERCENTILES), np.percentile(xs, FEATURE_BOX_PERCENTILES)
    side = max(y1 - y0, x1 - x0)
    top, bottom = int(y0 - FACE_REACH["up"] * side), int(np.ceil(y1 + FACE_REACH["down"] * side))
    left, right = int(x0 - FACE_REACH["sideways"] * side), int(np.ceil(x1 + FACE_REACH["sideways"] * side))
    area[max(0, top):max(0, bottom + 1), max(0, left):max(0, right + 1)] = True
    return area
