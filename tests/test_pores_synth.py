"""Synthetic pores: reproducible, ground truth consistent with the rendering, pore-free bases."""
from __future__ import annotations

import cv2
import numpy as np

from poreseg.pores import synth
from poreseg.pores.dog import dog_pores

PORE_PX = 4.0
SIZE = 160


def textured_skin(seed: int = 0, level: float = 160.0) -> np.ndarray:
    """Skin-coloured patch with a fine bright micro-relief and noise, and no pores (HxWx3 uint8)."""
    rng = np.random.default_rng(seed)
    relief = np.maximum(cv2.GaussianBlur(rng.standard_normal((SIZE, SIZE)).astype(np.float32), (0, 0), 1.5), 0)
    grey = level + 40 * relief + rng.normal(0, 1.5, (SIZE, SIZE)).astype(np.float32)
    return np.clip(grey[..., None] * np.array([1.1, 0.95, 0.85], np.float32), 0, 255).astype(np.uint8)


def sample(seed: int, base: np.ndarray | None = None) -> synth.SynthSample:
    return synth.render_pores(textured_skin() if base is None else base, np.random.default_rng(seed), PORE_PX)


def count_pores(rgb: np.ndarray) -> int:
    mask = dog_pores(rgb, np.ones(rgb.shape[:2], bool), PORE_PX).mask
    return cv2.connectedComponents(mask.astype(np.uint8))[0] - 1


def test_sample_contract():
    s = sample(0)
    assert s.rgb.dtype == np.uint8 and s.rgb.shape == (SIZE, SIZE, 3)
    assert s.mask.dtype == bool and s.mask.shape == (SIZE, SIZE)
    assert s.centres.dtype == np.float32 and s.centres.ndim == 2 and s.centres.shape[1] == 2
    assert s.pore_px == PORE_PX
    assert len(s.centres) > 0
    assert (s.centres >= 0).all() and (s.centres[:, 0] < SIZE).all() and (s.centres[:, 1] < SIZE).all()


def test_same_seed_same_sample_and_other_seeds_differ():
    a, b, c = sample(3), sample(3), sample(4)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.mask, b.mask) and np.array_equal(a.centres, b.centres)
    assert not np.array_equal(a.rgb, c.rgb)


def test_mask_and_centres_describe_the_same_pores():
    for seed in range(4):
        s = sample(seed)
        count, labels = cv2.connectedComponents(s.mask.astype(np.uint8), connectivity=8)
        near_mask = cv2.dilate(s.mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        xs, ys = s.centres[:, 0].astype(int), s.centres[:, 1].astype(int)
        assert near_mask[ys, xs].all()  # every pore in the truth has mask pixels at its centre
        # every mask component belongs to a pore of the truth (no mask from faint, excluded pores)
        near_a_centre = set()
        for x, y in zip(xs, ys):
            near_a_centre.update(np.unique(labels[max(0, y - 2):y + 3, max(0, x - 2):x + 3]).tolist())
        assert set(range(1, count)) <= near_a_centre


def test_pores_darken_the_image_where_the_mask_is():
    base = textured_skin()
    s = sample(5, base)
    grey = cv2.cvtColor(s.rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    base_grey = cv2.cvtColor(base, cv2.COLOR_RGB2GRAY).astype(np.float32)
    change = grey / np.maximum(base_grey, 1) - 1
    assert np.median(change[s.mask]) < -0.03  # MIN_VISIBLE_DEPTH
    far = ~cv2.dilate(s.mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert abs(np.median(change[far])) < 0.1  # only lighting and noise away from pores


def test_density_varies_between_samples():
    counts = [len(sample(seed).centres) for seed in range(12)]
    assert max(counts) > 2 * min(counts)


def test_nothing_visible_on_black_skin():
    """A pore must be seen to be in the truth: on nearly black skin no darkening reaches a few grey levels."""
    s = sample(1, textured_skin(level=6.0) // 4)
    assert len(s.centres) == 0 and not s.mask.any()


def test_pore_free_base_removes_pores_and_keeps_texture():
    skin = textured_skin(2)
    with_pores = sample(6, skin).rgb
    base = synth.pore_free_base(with_pores, PORE_PX)
    assert base.dtype == np.uint8 and base.shape == with_pores.shape
    assert count_pores(with_pores) >= 10
    assert count_pores(base) <= 0.2 * count_pores(with_pores)

    def fine_texture(rgb: np.ndarray) -> float:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return float(np.std(grey - cv2.GaussianBlur(grey, (0, 0), 2)))

    assert fine_texture(base) > 0.6 * fine_texture(skin)
    assert abs(float(base.mean()) - float(skin.mean())) < 0.1 * float(skin.mean())
