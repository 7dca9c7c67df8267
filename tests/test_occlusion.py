"""Synthetic glasses of the parser's training occlusion (poreseg.training.occlusion)."""
from __future__ import annotations

import numpy as np

from poreseg.classes import EYE, OCCLUDER, SKIN
from poreseg.training.occlusion import EYE_RINGS, paste_glasses

SIZE = 240
EYES = ((80.0, 100.0), (160.0, 100.0))  # eye centres on the image's left and right: 80 px apart


def face() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A skin-coloured square with two eyes, and the face-mesh landmarks paste_glasses reads."""
    rgb = np.full((SIZE, SIZE, 3), (200, 160, 140), np.uint8)
    labels = np.full((SIZE, SIZE), SKIN, np.uint8)
    landmarks = np.zeros((478, 2), np.float32)
    for (x, y), (a, b, _, _), iris in zip(EYES, EYE_RINGS, (468, 473)):
        labels[int(y) - 4:int(y) + 5, int(x) - 10:int(x) + 11] = EYE
        landmarks[a], landmarks[b], landmarks[iris] = (x - 12, y), (x + 12, y), (x, y)
    return rgb, labels, landmarks


def test_glasses_frame_every_eye_and_leave_the_rest_of_the_face_skin():
    lens_centres = set()
    for seed in range(24):
        rgb, labels, landmarks = face()
        paste_glasses(rgb, labels, landmarks, np.random.default_rng(seed))
        occluded = labels == OCCLUDER
        assert occluded.any()
        for x, y in EYES:
            # A rim surrounds each eye: a ray from its centre to the left, right, up and down meets the frame.
            cx, cy = int(x), int(y)
            assert occluded[cy, :cx].any() and occluded[cy, cx:].any()
            assert occluded[:cy, cx].any() and occluded[cy:, cx].any()
            lens_centres.add(int(labels[cy, cx]))
        # Far from the eyes the face is untouched: the chin and the forehead's top stay skin.
        assert (labels[200:, :] == SKIN).all() and (labels[:30, :] == SKIN).all()
    # Clear lenses keep the eye behind them; sunglasses hide it.
    assert lens_centres == {EYE, OCCLUDER}
