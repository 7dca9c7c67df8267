"""Pores rendered into patches of the training photos, with their exact masks as labels: a label source that
needs no human and, unlike DoGPore's coarse labels, marks faint pores as pores.

Rendered into pore-free patches (``render_pool``), they are the diagnostic upper bound
(``synthetic_ceiling``) and may be a share of PS-Net's batches (``train psnet --synthetic-share``).
Rendered into the real patches as they are (``pores_rendered_into``), they are PS-Net's positives with
``train psnet --rendered-pores``.
"""
from __future__ import annotations

from typing import Iterator

import cv2
import numpy as np
import torch

from poreseg.classes import IGNORE, STRUCTURE
from poreseg.pores.segment import prepare_input
from poreseg.pores.synth import SynthSample, pore_free_base, render_pores
from poreseg.training.patches import PATCH_PX, random_patch, skin_jitter
from poreseg.training.pore_patches import PorePhoto

RENDER_PX = 3 * PATCH_PX // 2  # rendered at native scale, wide enough for most scales and rotations
MIN_REGION_COVER = 0.9
# Rendering takes longer than a training step: a pool of renders is drawn once and each is cut, scaled,
# rotated and jittered afresh every time it is used (about 16 times in 2000 steps).
POOL = 2000


def windows(photo: PorePhoto) -> np.ndarray:
    """Top-left corners (y, x) of the RENDER_PX windows that lie mostly inside the photo's region."""
    cover = cv2.boxFilter(photo.region.astype(np.float32), -1, (RENDER_PX, RENDER_PX), borderType=cv2.BORDER_CONSTANT)
    half = RENDER_PX // 2
    ys, xs = np.nonzero(cover[half:photo.region.shape[0] - half + 1, half:photo.region.shape[1] - half + 1]
                        >= MIN_REGION_COVER)
    return np.stack([ys, xs], axis=1)


def render_pool(photos: list[PorePhoto], count: int, rng: np.random.Generator) -> list[SynthSample]:
    corners = [windows(photo) for photo in photos]
    usable = [i for i, c in enumerate(corners) if len(c)]
    pool = []
    for i in rng.choice(usable, count):
        y0, x0 = corners[i][rng.integers(len(corners[i]))]
        window = photos[i].rgb[y0:y0 + RENDER_PX, x0:x0 + RENDER_PX]
        pool.append(render_pores(pore_free_base(window, photos[i].pore_px), rng, photos[i].pore_px))
    return pool


def synthetic_patch(pool: list[SynthSample], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A patch (uint8 RGB, labels 1 pore / 0 not) cut afresh from a random render of ``pool``."""
    sample = pool[int(rng.integers(len(pool)))]
    return random_patch(sample.rgb, sample.mask.astype(np.uint8), sample.pore_px, (RENDER_PX // 2, RENDER_PX // 2),
                        rng)


def pores_rendered_into(rgb: np.ndarray, labels: np.ndarray, pore_px: float,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A training patch (uint8 RGB, coarse labels) with pores rendered into it as it is, and its new labels:
    1 on the rendered pores, the coarse labels' STRUCTURE pixels (no pore), IGNORE elsewhere, since the
    patch's own pores are unknown.

    Why not a pore-free base: a network trained on pores rendered into pore-free skin finds real pores at
    the shipped network's density, but given any real skin as negative it learns to tell renders from
    real skin (its density on held-out faces fell from 13 to 2 pores per cm2), because the pore-free base
    flattens every dark detail. Rendered into the real patch, pores and structures share every texture
    cue, and what is left to learn is their shape. Measured (900 steps, against the shipped network):
    structures 11.0 -> 4.1 false detections per cm2 at 14.7 (13.3) pores per cm2 on held-out faces, but it
    marks almost nothing on the palest, faintest skin of the 15 cm close-up (6.3 pores per cm2 on its
    face, shipped 12.8): the renderer draws no pore fainter than 3 grey levels, where people mark pores of
    about 1.8. Not adopted."""
    sample = render_pores(rgb, rng, pore_px)
    structure = labels == STRUCTURE
    out = np.full(labels.shape, IGNORE, np.uint8)
    out[structure] = STRUCTURE
    out[sample.mask & ~structure & (labels != IGNORE)] = 1
    out[sample.mask & structure] = IGNORE  # a pore drawn over a hair or a brow: neither
    return sample.rgb, out


def synthetic_batches(photos: list[PorePhoto], batch_size: int, seed: int) -> Iterator:
    rng = np.random.default_rng(seed)
    pool = render_pool(photos, POOL, rng)
    while True:
        patches = [synthetic_patch(pool, rng) for _ in range(batch_size)]
        xs = [torch.from_numpy(prepare_input(skin_jitter(view, rng))) for view, _ in patches]
        yield torch.cat(xs), torch.from_numpy(np.stack([label for _, label in patches]))
