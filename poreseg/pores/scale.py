"""How large a pore is in pixels: from the face's scale (eye distance) or from the skin texture itself.

Pore detection is scale-aware: every filter size follows the expected pore diameter in pixels. A face
gives the scale through the distance between the eye centres, which is about the same in all adults;
a close-up of skin with no face gives it through the size of its own dark blobs.
"""
from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from poreseg.classes import EYE, NOSE
from poreseg.pores.dog import INNER_SIGMA, MIN_SIGMA_PX, OUTER_SIGMA, blur, luminance

# Mean adult interpupillary distance (Dodgson 2004, "Variation and extrema of human interpupillary
# distance": 63 mm, most adults within 54-74 mm).
EYE_DISTANCE_MM = 63.0
# Expected diameter of a visible facial pore. The pores people see are enlarged follicle openings of
# about 0.25-0.6 mm: Flament et al. 2015 ("Facial skin pores: a multiethnic study", Clin Cosmet Investig
# Dermatol 8:85-93) count cheek pores from 250 um up, the size at which automatic counts agree with
# experts' visual scores, and dermoscopic studies with a Robo Skin Analyzer class visible pores as
# 0.1-0.6 mm2 in area (about 0.35-0.9 mm across). Checked on the mste portraits: with 0.5 mm, the scale from the eye distance and the
# characteristic size of the cheeks' own dark blobs (estimate_pore_px) agree to a median ratio of 1.07,
# 90% of cheek crops within a factor of 1.6; visible pits there are 3-6 px at 0.08-0.18 mm per pixel.
# The pores people mark by hand on a real close-up (issue 11) have a median equivalent diameter 1.15
# times what 0.5 mm predicts there, so the expected diameter is 0.575 mm.
TYPICAL_PORE_MM = 0.575

# An eye pair is believed only when it looks like one: the smaller eye at least this share of the
# larger one's area (a closed or far-turned eye is labelled much smaller than an open one), ...
MIN_EYE_AREA_RATIO = 0.01
# ... the centres this many (larger) eye widths apart (an open eye is about half the eye distance wide,
# less when the face turns, and foreshortening shrinks the distance with it) ...
EYE_DISTANCE_IN_EYE_WIDTHS = (1.4, 8.0)
# ... the line through them within this angle of horizontal (tilted heads, not lying ones) ...
MAX_EYE_AXIS_DEGREES = 40.0
# ... and the nose, when labelled, between them along that line.
NOSE_BETWEEN_EYES = (0.1, 0.9)
EYE_CANDIDATES = 4
# The feature box is found on the parser's label grid, up to about four photo pixels per label at 12 MP:
# it is widened by this share of its side so that an eye on its edge is not cut.
FACE_BOX_PAD = 0.05

# Candidate pore diameters of the image-based estimate, a quarter octave apart; below the lowest, the
# band's inner Gaussian would be narrower than a pixel can resolve.
DIAMETER_RANGE_PX = (MIN_SIGMA_PX / INNER_SIGMA, 24.0)
DIAMETER_STEP = 2 ** 0.25
# A blob counts for the estimate when its response is this many times the RMS of the bright side.
BLOB_Z = 3.0
# The estimate reads at most this square window of the region (around its middle): enough pores.
ESTIMATE_WINDOW_PX = 1024


def eye_centres(labels: np.ndarray, face_box: tuple[int, int, int, int] | None = None,
                ) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """Centres (x, y) of the two eyes in a label map, image-left eye first; None without a believable pair.

    ``face_box`` (x0, y0, x1, y1: the parsed face's feature box, FaceParsing.face_box) limits the search to
    that face. In a photo of several faces the eyes and noses of all would otherwise mix: the nose's
    centre would fall between the faces, so that no face's own eyes would pass as a pair.
    """
    left_edge = top_edge = 0
    if face_box is not None:
        x0, y0, x1, y1 = face_box
        pad = int(np.ceil(FACE_BOX_PAD * max(x1 - x0, y1 - y0)))
        left_edge, top_edge = max(0, x0 - pad), max(0, y0 - pad)
        labels = labels[top_edge:y1 + pad, left_edge:x1 + pad]
    count, _, stats, centroids = cv2.connectedComponentsWithStats((labels == EYE).astype(np.uint8))
    candidates = sorted(range(1, count), key=lambda i: -stats[i, cv2.CC_STAT_AREA])[:EYE_CANDIDATES]
    nose = np.argwhere(labels == NOSE)[:, ::-1].mean(0) if (labels == NOSE).any() else None
    for a_rank, a in enumerate(candidates):
        for b in candidates[a_rank + 1:]:
            if _believable_pair(stats[a], stats[b], centroids[a], centroids[b], nose):
                left, right = sorted((centroids[a], centroids[b]), key=lambda c: c[0])
                return ((float(left[0]) + left_edge, float(left[1]) + top_edge),
                        (float(right[0]) + left_edge, float(right[1]) + top_edge))
    return None


def _believable_pair(stats_a: np.ndarray, stats_b: np.ndarray, centre_a: np.ndarray, centre_b: np.ndarray,
                     nose: np.ndarray | None) -> bool:
    area_a, area_b = stats_a[cv2.CC_STAT_AREA], stats_b[cv2.CC_STAT_AREA]
    if min(area_a, area_b) < MIN_EYE_AREA_RATIO * max(area_a, area_b):
        return False
    axis = centre_b - centre_a
    distance = float(np.hypot(*axis))
    eye_width = max(stats_a[cv2.CC_STAT_WIDTH], stats_b[cv2.CC_STAT_WIDTH])
    if not EYE_DISTANCE_IN_EYE_WIDTHS[0] * eye_width <= distance <= EYE_DISTANCE_IN_EYE_WIDTHS[1] * eye_width:
        return False
    if np.degrees(np.arctan2(abs(axis[1]), abs(axis[0]))) > MAX_EYE_AXIS_DEGREES:
        return False
    if nose is not None:
        along = float(np.dot(nose - centre_a, axis)) / distance ** 2
        if not NOSE_BETWEEN_EYES[0] <= along <= NOSE_BETWEEN_EYES[1]:
            return False
    return True


def mm_per_px_from_labels(labels: np.ndarray, face_box: tuple[int, int, int, int] | None = None) -> float | None:
    """Millimetres per pixel at the face, from the eye distance; None when the eyes are not both seen.
    ``face_box``: only that face's eyes (see eye_centres)."""
    centres = eye_centres(labels, face_box)
    if centres is None:
        return None
    (xa, ya), (xb, yb) = centres
    return EYE_DISTANCE_MM / float(np.hypot(xb - xa, yb - ya))


def pore_px_from_mm_per_px(mm_per_px: float) -> float:
    """Expected visible pore diameter in pixels at this scale."""
    return TYPICAL_PORE_MM / mm_per_px


def estimate_pore_px(rgb: np.ndarray, region: np.ndarray) -> float:
    """Expected pore diameter in pixels from the skin itself (close-ups of skin, where no eyes give the
    scale): the median characteristic diameter of the dark blobs inside ``region``.

    Lindeberg's automatic scale selection with DoGPore's own band: a blob's characteristic diameter is the
    one at which the band answers most strongly at the blob's centre (a maximum over space and over the
    neighbouring diameters). The band spans the same ratio of scales at every diameter, so the responses
    compare across diameters. Only blobs that stand out (``BLOB_Z``) count, so sensor noise does not.
    Raises ValueError when the region is empty or no dark blob stands out in it (the scale cannot be
    read from skin that shows no texture).
    """
    region = np.asarray(region, bool)
    if not region.any():
        raise ValueError("estimate_pore_px needs a non-empty region")
    diameters = DIAMETER_RANGE_PX[0] * DIAMETER_STEP ** np.arange(
        int(np.log(DIAMETER_RANGE_PX[1] / DIAMETER_RANGE_PX[0]) / np.log(DIAMETER_STEP)) + 1)
    rows, cols = window_around_middle(region, ESTIMATE_WINDOW_PX)
    pad = int(np.ceil(3 * OUTER_SIGMA * diameters[-1]))
    box = (slice(max(0, rows.start - pad), rows.stop + pad), slice(max(0, cols.start - pad), cols.stop + pad))
    lum = luminance(np.asarray(rgb)[box])
    inside = np.zeros(region.shape, bool)
    inside[rows, cols] = region[rows, cols]
    inside = inside[box]
    responses = band_responses(lum, diameters)
    counts = []
    smaller, response = next(responses), next(responses)
    for larger in responses:
        bright_rms = np.sqrt(2 * np.mean(np.minimum(response[inside], 0) ** 2))
        blobs = (inside & (response >= cv2.dilate(response, np.ones((3, 3), np.uint8)))
                 & (response > smaller) & (response >= larger) & (response > BLOB_Z * bright_rms))
        counts.append(int(blobs.sum()))
        smaller, response = response, larger
    if sum(counts) == 0:
        raise ValueError("estimate_pore_px found no dark blobs in the region")
    return float(diameters[1 + int(np.searchsorted(np.cumsum(counts), sum(counts) / 2))])


def band_responses(lum: np.ndarray, diameters: np.ndarray) -> Iterator[np.ndarray]:
    """DoGPore's band (``band_pass``) of ``lum`` at each of ``diameters`` in turn. Diameters a quarter octave
    apart and a band of two octaves (OUTER_SIGMA / INNER_SIGMA = 4) share blurs: the outer one of a
    diameter is the inner one of the diameter eight steps larger, so each blur is made once (22 instead
    of 28 over the estimate's range) and kept only until that diameter has used it."""
    blurs: dict[float, np.ndarray] = {}
    for diameter in diameters:
        inner = blurs.pop(round(INNER_SIGMA * diameter, 6), None)
        if inner is None:
            inner = blur(lum, INNER_SIGMA * diameter)
        outer = blur(lum, OUTER_SIGMA * diameter)
        blurs[round(OUTER_SIGMA * diameter, 6)] = outer
        yield outer - inner


def window_around_middle(region: np.ndarray, side: int) -> tuple[slice, slice]:
    """The region's bounding box, or where it is larger than ``side``, the ``side`` square around the region
    pixel nearest to the region's centroid."""
    ys, xs = np.nonzero(region)
    if ys.max() - ys.min() < side and xs.max() - xs.min() < side:
        return slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
    nearest = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))
    h, w = region.shape
    top = int(np.clip(ys[nearest] - side // 2, 0, max(0, h - side)))
    left = int(np.clip(xs[nearest] - side // 2, 0, max(0, w - side)))
    return slice(top, top + side), slice(left, left + side)
