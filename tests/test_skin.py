"""The pore region and the face's scale from a label map (synthetic label maps; one real close-up)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import REPO_ROOT, requires_weights
from poreseg.classes import BACKGROUND, BROW, EYE, HAIR, LIPS, NOSE, SKIN
from poreseg.pores import scale
from poreseg.skin import MARGIN_MM, nostrils, skin_region

MARGIN = 12


def face_labels(eye_distance: int = 200, size: int = 600) -> np.ndarray:
    """A frontal face drawn with the parser's classes: skin oval, hair on top, brows, eyes, nose, lips."""
    labels = np.full((size, size), BACKGROUND, np.uint8)
    cx, cy = size // 2, size // 2
    cv2.ellipse(labels, (cx, cy), (int(0.8 * eye_distance), int(1.1 * eye_distance)), 0, 0, 360, SKIN, -1)
    cv2.ellipse(labels, (cx, cy - int(1.0 * eye_distance)), (int(0.8 * eye_distance), int(0.3 * eye_distance)),
                0, 180, 360, HAIR, -1)
    def at(dx: float, dy: float) -> tuple[int, int]:
        return int(cx + dx * eye_distance), int(cy + dy * eye_distance)

    def axes(a: float, b: float) -> tuple[int, int]:
        return int(a * eye_distance), int(b * eye_distance)

    for side in (-0.5, 0.5):
        cv2.ellipse(labels, at(side, -0.3), axes(0.175, 0.04), 0, 0, 360, BROW, -1)
        cv2.ellipse(labels, at(side, -0.175), axes(0.15, 0.06), 0, 0, 360, EYE, -1)
    cv2.ellipse(labels, at(0, 0.05), axes(0.14, 0.3), 0, 0, 360, NOSE, -1)
    cv2.ellipse(labels, at(0, 0.55), axes(0.25, 0.075), 0, 0, 360, LIPS, -1)
    return labels


def distance_to(labels: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    away = (~np.isin(labels, classes)).astype(np.uint8)
    return cv2.distanceTransform(away, cv2.DIST_L2, cv2.DIST_MASK_5)


def test_region_is_skin_and_nose_away_from_features():
    labels = face_labels()
    region = skin_region(labels, MARGIN)
    assert region.dtype == bool and region.shape == labels.shape
    assert np.isin(labels[region], (SKIN, NOSE)).all()
    assert distance_to(labels, (EYE, BROW, LIPS, HAIR, BACKGROUND))[region].min() > MARGIN
    # The upper nose is analysed, its bottom (nostrils) is not.
    nose = labels == NOSE
    assert region[nose].mean() > 0.4
    assert not (region & nostrils(labels)).any()
    rows = np.nonzero(nose)[0]
    assert not region[rows.max() - 5, labels.shape[1] // 2]


def test_larger_margin_gives_a_smaller_region():
    labels = face_labels()
    small, large = skin_region(labels, 2 * MARGIN), skin_region(labels, MARGIN)
    assert small.sum() < large.sum() and not (small & ~large).any()


def test_skin_far_below_the_face_is_not_analysed():
    labels = face_labels(size=900)
    labels[820:, 300:600] = SKIN  # a hand or a neck far below the chin
    region = skin_region(labels, MARGIN)
    assert not region[820:].any()
    assert region[:600].any()


def test_no_face_features_means_skin_minus_margin():
    labels = np.full((100, 100), SKIN, np.uint8)
    labels[:, :10] = HAIR
    region = skin_region(labels, 5)
    assert region[50, 50] and not region[50, 14] and not region[2, 50]  # hair margin, image border


def test_eye_distance_gives_millimetres_per_pixel():
    labels = face_labels(eye_distance=630, size=1400)
    (xl, yl), (xr, yr) = scale.eye_centres(labels)
    assert xl < xr and abs(xr - xl - 630) < 1 and abs(yl - yr) < 1
    assert scale.mm_per_px_from_labels(labels) == pytest.approx(0.1, rel=0.01)
    assert scale.pore_px_from_mm_per_px(0.1) == pytest.approx(scale.TYPICAL_PORE_MM / 0.1)


def test_one_eye_or_a_stray_speck_gives_no_scale():
    labels = face_labels()
    labels[(labels == EYE) & (np.arange(labels.shape[1]) > labels.shape[1] // 2)] = SKIN  # profile: one eye
    assert scale.eye_centres(labels) is None
    labels[520:526, 200:206] = EYE  # an eye-coloured speck by the chin is no second eye
    assert scale.eye_centres(labels) is None
    assert scale.mm_per_px_from_labels(labels) is None


@requires_weights("face_parser")
def test_scale_from_the_eyes_matches_the_scale_of_the_skin_itself():
    """On the close-up example, the pore size expected from the eye distance and the one estimated from a
    cheek crop's own dark blobs (what segment_pores does without a face) agree within a factor of 1.6."""
    import torch

    from poreseg import parse_face
    from poreseg.imageio import load_image

    rgb = load_image(REPO_ROOT / "examples" / "lisa_15cm.jpg")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the parser is small; extra threads only wait for busy cores
    try:
        labels = parse_face(rgb).labels
    finally:
        torch.set_num_threads(threads)
    mm_per_px = scale.mm_per_px_from_labels(labels)
    assert mm_per_px is not None and 0.1 < mm_per_px < 0.3
    from_eyes = scale.pore_px_from_mm_per_px(mm_per_px)
    (x, y), _ = scale.eye_centres(labels)
    distance = 63.0 / mm_per_px
    cx, cy = int(x), int(y + 0.7 * distance)
    region = skin_region(labels, MARGIN_MM / mm_per_px)[cy - 150:cy + 150, cx - 150:cx + 150]
    assert region.mean() > 0.5
    from_skin = scale.estimate_pore_px(rgb[cy - 150:cy + 150, cx - 150:cx + 150], region)
    assert 1 / 1.6 < from_skin / from_eyes < 1.6
