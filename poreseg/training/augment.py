"""Photometric augmentation shared by the segmentation trainings (geometry is each task's own)."""
from __future__ import annotations

import cv2
import numpy as np


def photometric(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lighting, colour, blur, noise and JPEG changes of a uint8 RGB image."""
    x = rgb.astype(np.float32) / 255.0
    x = x ** rng.uniform(0.6, 1.5)  # exposure curve
    x = x * rng.uniform(0.6, 1.3) + rng.uniform(-0.08, 0.08)
    x = x * rng.uniform(0.85, 1.15, 3)  # white balance
    if rng.random() < 0.3:  # a light gradient across the face
        ramp = np.linspace(rng.uniform(0.5, 1.0), rng.uniform(1.0, 1.4), x.shape[1], dtype=np.float32)
        x = x * (ramp[None, :, None] if rng.random() < 0.5 else ramp[::-1][None, :, None])
    grey = x.mean(-1, keepdims=True)
    x = grey + (x - grey) * (0.0 if rng.random() < 0.05 else rng.uniform(0.6, 1.4))
    if rng.random() < 0.25:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.5, 2.0))
    if rng.random() < 0.3:
        x = x + rng.normal(0, rng.uniform(0.005, 0.04), x.shape).astype(np.float32)
    out = np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, encoded = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        out = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return out
