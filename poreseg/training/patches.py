"""Training patches of real skin for the pore networks: cut at the scale inference works at, rotated,
flipped and photometrically jittered, mildly enough that pores stay visible and labels stay true."""
from __future__ import annotations

import cv2
import numpy as np

from poreseg.classes import IGNORE
from poreseg.pores.segment import working_scale
from poreseg.pores.synth import jpeg_copy

PATCH_PX = 128
SCALE_RANGE = (0.7, 1.4)
ROTATION_SD_DEG = 10.0


def skin_jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mild photometric changes that keep pores visible, so the labels stay true."""
    warmth = rng.uniform(-0.08, 0.08)
    x = np.clip(rgb.astype(np.float32) / 255.0 * rng.uniform(0.75, 1.25), 0, 1) ** rng.uniform(0.8, 1.25)
    x = x * np.float32([1 + warmth, 1, 1 - warmth])
    if rng.random() < 0.25:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 0.7))
    if rng.random() < 0.4:
        x = x + rng.normal(0, rng.uniform(0.003, 0.02), x.shape).astype(np.float32)
    out = np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8)
    return jpeg_copy(out, int(rng.integers(60, 95))) if rng.random() < 0.3 else out


def random_patch(rgb: np.ndarray, labels: np.ndarray, pore_px: float, centre: tuple[int, int],
                 rng: np.random.Generator, size: int = PATCH_PX) -> tuple[np.ndarray, np.ndarray]:
    """A patch around ``centre`` (y, x) at the scale ``PoreSegmenter`` works at (native, or resized when
    pores are large or small) times SCALE_RANGE, rotated and maybe flipped; IGNORE off the photo."""
    cy, cx = centre
    scale = working_scale(pore_px) * np.exp(rng.uniform(*np.log(SCALE_RANGE)))
    matrix = cv2.getRotationMatrix2D((float(cx), float(cy)), rng.normal(0, ROTATION_SD_DEG), scale)
    matrix[:, 2] += (size / 2 - cx, size / 2 - cy)
    if rng.random() < 0.5:
        matrix = np.array([[-1.0, 0, size], [0, 1, 0]]) @ np.vstack([matrix, [0, 0, 1]])
    view = cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    label = cv2.warpAffine(labels, matrix, (size, size), flags=cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=IGNORE)
    return view, label
