"""DoGPore on synthetic skin: finds rendered pores, ignores what only looks dark, adapts to lighting."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from poreseg.classes import FAINT, IGNORE, STRUCTURE
from poreseg.pores import dog as dog_module
from poreseg.pores import scale, synth
from poreseg.pores.dog import DogResult, coarse_labels, disc, dog_pores

PORE_PX = 4.0
SIZE = 192


def skin_patch(seed: int = 0, level: float = 150.0, noise: float = 2.0) -> np.ndarray:
    """Flat skin with sensor-like noise and a faint, smooth micro-relief (HxWx3 uint8)."""
    rng = np.random.default_rng(seed)
    relief = cv2.GaussianBlur(rng.standard_normal((SIZE, SIZE)).astype(np.float32), (0, 0), 3) * 12
    grey = level + relief + noise * rng.standard_normal((SIZE, SIZE)).astype(np.float32)
    colour = np.array([1.0, 0.8, 0.7], np.float32)  # skin-like: red above green above blue
    return np.clip(grey[..., None] * colour / colour.mean(), 0, 255).astype(np.uint8)


def rendered(seed: int = 1) -> synth.SynthSample:
    return synth.render_pores(skin_patch(seed), np.random.default_rng(seed), PORE_PX)


def whole() -> np.ndarray:
    return np.ones((SIZE, SIZE), bool)


def found_centres(mask: np.ndarray, centres: np.ndarray) -> float:
    """Share of ``centres`` (x, y) that lie in or within a pixel of a mask component."""
    near = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    xs, ys = centres[:, 0].astype(int), centres[:, 1].astype(int)
    return float(near[ys, xs].mean())


def components(mask: np.ndarray) -> int:
    return cv2.connectedComponents(mask.astype(np.uint8))[0] - 1


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_finds_rendered_pores_and_little_else():
    sample = rendered()
    assert len(sample.centres) >= 15
    result = dog_pores(sample.rgb, whole(), PORE_PX)
    # Rendered as densely as hand-marked pores (here one per 97 px2): touching pores merge, and a few are
    # too faint for any detector (the earlier z = 2 / 4%-darker settings found 63%).
    assert found_centres(result.mask, sample.centres) >= 0.7
    count, labels = cv2.connectedComponents(result.mask.astype(np.uint8))
    near_truth = cv2.dilate(sample.mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    true_components = set(np.unique(labels[near_truth & result.mask]))
    # Precision on components: DoGPore trades some for recall, as the hand labels ask (issue 11).
    assert len(true_components) >= 0.8 * (count - 1)


def test_result_contract():
    sample = rendered()
    region = whole()
    region[:, : SIZE // 2] = False
    result = dog_pores(sample.rgb, region, PORE_PX)
    assert isinstance(result, DogResult) and result.pore_px == PORE_PX
    assert result.mask.dtype == bool and result.mask.shape == region.shape
    assert result.response.dtype == np.float32 and result.response.shape == region.shape
    assert 0 <= result.response.min() and result.response.max() <= 1
    assert not result.mask[~region].any() and not result.response[~region].any()
    assert result.mask.any()


def test_an_analysis_skips_the_training_labels_and_finds_the_same_pores():
    sample = rendered()
    full, lean = dog_pores(sample.rgb, whole(), PORE_PX), dog_pores(sample.rgb, whole(), PORE_PX, training_labels=False)
    assert (lean.mask == full.mask).all() and (lean.response == full.response).all()
    assert lean.faint is None and np.array_equal(lean.structures, full.structures)


def test_empty_region_gives_nothing():
    result = dog_pores(skin_patch(), np.zeros((SIZE, SIZE), bool), PORE_PX)
    assert not result.mask.any() and not result.response.any()


# Pores real skin has in a patch: hand-marked, one per 292 px2 (issue 11).
REAL_PORES_PER_PATCH = SIZE * SIZE / 292


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flat_skin_has_almost_no_pores(seed):
    """DoGPore seeds at z = 1.5 to find faint pores, so a rare blob of the micro-relief passes: a few in a
    patch where real skin has over a hundred pores."""
    assert components(dog_pores(skin_patch(seed), whole(), PORE_PX).mask) <= 0.05 * REAL_PORES_PER_PATCH


@pytest.mark.parametrize("seed", [3, 4, 5])
@pytest.mark.parametrize("level", [25, 60])
def test_dark_flat_skin_noise_is_rarely_a_pore(seed, level):
    """Sensor noise of 3 grey levels on dark skin: the skin's contrast is mostly noise there, and only the
    noise test (NOISE_SIGNIFICANCE) keeps noise blobs from being seeded at z = 1.5."""
    found = components(dog_pores(skin_patch(seed, level=level, noise=3), whole(), PORE_PX).mask)
    assert found <= 0.05 * REAL_PORES_PER_PATCH


def test_noise_estimate_ignores_shading():
    """The noise estimate sees the sensor noise, not the skin's smooth micro-relief."""
    lum = dog_module.luminance(skin_patch(3, level=60, noise=3))
    assert 2.5 <= dog_module.noise_sigma(lum, whole()) <= 3.6


def test_specular_highlight_and_its_rim_are_not_pores():
    image = skin_patch().astype(np.float32)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for cx, cy, radius in ((60, 60, 10), (130, 120, 3), (140, 50, 2)):  # a shine and two glints
        glow = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius ** 2))
        image += 200 * glow[..., None]
    result = dog_pores(np.clip(image, 0, 255).astype(np.uint8), whole(), PORE_PX)
    assert components(result.mask) == 0


def test_no_pores_reported_on_or_beside_clipped_skin():
    """Overexposed pale skin: where the red channel clips, the skin's brightness is unknown and the dark
    gaps between clipped patches are not reliable pores."""
    sample = rendered()
    image = sample.rgb.astype(np.float32)
    image[:, SIZE // 2:, 0] *= 1.7  # the right half's red channel clips on every pore-free pixel
    image = np.clip(image, 0, 255).astype(np.uint8)
    clipped = cv2.dilate((image.max(axis=2) == 255).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    result = dog_pores(image, whole(), PORE_PX)
    assert result.mask[:, : SIZE // 2].any()
    assert not (result.mask & clipped).any()


def test_gap_between_bright_bumps_is_not_a_pore():
    """Skin inside a ring of bright bumps (papules, sheen on relief) looks dark next to them but is not
    darker than the skin. DoGPore seeds faint pores (z = 1.5), so where the micro-relief beneath a gap
    happens to be dark, one of the nine may pass."""
    image = skin_patch(7).astype(np.float32)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    gaps = [(cx, cy) for cy in range(32, SIZE, 64) for cx in range(32, SIZE, 64)]
    for cx, cy in gaps:
        for angle in np.linspace(0, 2 * np.pi, 5, endpoint=False):
            bx, by = cx + 1.25 * PORE_PX * np.cos(angle), cy + 1.25 * PORE_PX * np.sin(angle)
            image += 25 * np.exp(-((xx - bx) ** 2 + (yy - by) ** 2) / (2 * 1.5 ** 2))[..., None]
    mask = dog_pores(np.clip(image, 0, 255).astype(np.uint8), whole(), PORE_PX).mask
    near_gap = cv2.dilate(mask.astype(np.uint8), disc(2 * PORE_PX + 1)).astype(bool)
    assert sum(near_gap[cy, cx] for cx, cy in gaps) <= 1


def test_dark_specks_of_a_pixel_or_two_are_not_pores():
    """At the smallest pore sizes a pore is a few pixels; one or two dark pixels are dust or noise."""
    rng = np.random.default_rng(8)
    image = skin_patch(8, level=180, noise=1.0).astype(np.float32)
    for y, x in rng.integers(4, SIZE - 4, (40, 2)):
        image[y, x:x + 1 + rng.integers(0, 2)] *= 0.7
    assert components(dog_pores(image.astype(np.uint8), whole(), 2.5).mask) == 0


def test_thin_dark_line_is_not_pores():
    """Nothing is found on or beside a hair or a wrinkle (the skin around them has its own rare blobs)."""
    image = skin_patch()
    lines = np.zeros((SIZE, SIZE), np.uint8)
    for (start, end, width), colour in ((((20, 40), (170, 150), 1), (90, 72, 63)),
                                        (((30, 160), (170, 170), 2), (110, 88, 77))):
        cv2.line(image, start, end, colour, width, cv2.LINE_AA)  # a hair, then a wrinkle
        cv2.line(lines, start, end, 255, width, cv2.LINE_AA)
    beside = cv2.dilate((lines > 0).astype(np.uint8), disc(2 * PORE_PX + 1)).astype(bool)
    assert not (dog_pores(image, whole(), PORE_PX).mask & beside).any()


def test_moles_are_not_pores():
    image = skin_patch().astype(np.float32)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    # A soft mole three pore diameters across at half depth, and a sharp one six across.
    image *= 1 - 0.35 * np.exp(-((xx - 50) ** 2 + (yy - 50) ** 2) / (2 * (1.2 * PORE_PX) ** 2))[..., None]
    image = np.clip(image, 0, 255).astype(np.uint8)
    cv2.circle(image, (130, 130), int(3 * PORE_PX), (70, 50, 40), -1, cv2.LINE_AA)
    assert components(dog_pores(cv2.GaussianBlur(image, (0, 0), 1.0), whole(), PORE_PX).mask) == 0


def test_same_pores_under_other_exposure_and_a_lighting_gradient():
    sample = rendered()
    original = dog_pores(sample.rgb, whole(), PORE_PX).mask
    darker = (sample.rgb.astype(np.float32) * 0.7).astype(np.uint8)
    ramp = np.linspace(0.65, 1.35, SIZE, dtype=np.float32)[None, :, None]
    graded = np.clip(sample.rgb.astype(np.float32) * ramp, 0, 255).astype(np.uint8)
    # The faintest rendered pores sit at the seed threshold, so a few flip under a 2x lighting ramp.
    assert iou(original, dog_pores(darker, whole(), PORE_PX).mask) >= 0.8
    assert iou(original, dog_pores(graded, whole(), PORE_PX).mask) >= 0.75


def test_coarse_labels_are_confident_pores_and_clear_skin():
    sample = rendered()
    region = whole()
    region[:, :20] = False
    result = dog_pores(sample.rgb, region, PORE_PX)
    labels = coarse_labels(result, region)
    assert labels.dtype == np.uint8 and set(np.unique(labels)) <= {0, 1, FAINT, STRUCTURE, IGNORE}
    assert (labels[~region] == IGNORE).all()
    assert (labels == 1).any() and not ((labels == 1) & ~result.mask).any()
    # Background is confident only away from every detected pore.
    near_pore = cv2.dilate(result.mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert not ((labels == 0) & near_pore).any()
    assert (labels == 0).mean() > 0.2
    # Positives sit on real pores.
    assert sample.mask[labels == 1].mean() > 0.7


@pytest.mark.parametrize("pore_px", [3.0, 6.0])
def test_pore_size_estimated_from_the_skin(pore_px):
    image = synth.render_pores(skin_patch(4, noise=1.0), np.random.default_rng(4), pore_px).rgb
    estimate = scale.estimate_pore_px(image, whole())
    assert 1 / 1.4 < estimate / pore_px < 1.4


def test_coarse_labels_never_call_a_faint_blob_skin():
    """A blob too faint for DoGPore (below its seed) may still be a pore a person marks: a soft target, never a
    confident negative (issue 11: the old labels called 44% of hand-marked pores 'no pore')."""
    image = skin_patch(9, noise=0.5).astype(np.float32)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    image *= 1 - 0.035 * np.exp(-((xx - 96) ** 2 + (yy - 96) ** 2) / (2 * (PORE_PX / 2.5) ** 2))[..., None]
    result = dog_pores(np.clip(image, 0, 255).astype(np.uint8), whole(), PORE_PX)
    labels = coarse_labels(result, whole())
    assert not result.mask[90:103, 90:103].any()  # too faint to be detected ...
    centre = labels[94:99, 94:99]
    assert (centre == FAINT).any() and not (centre == 0).any()  # ... so a soft target, never a confident negative
    assert (labels == 0).mean() > 0.2  # while clear skin stays a confident negative


def test_coarse_labels_teach_long_dark_lines_as_no_pore():
    image = skin_patch()
    cv2.line(image, (20, 40), (170, 150), (90, 72, 63), 1, cv2.LINE_AA)  # a hair
    result = dog_pores(image, whole(), PORE_PX)
    labels = coarse_labels(result, whole())
    on_hair = np.zeros((SIZE, SIZE), np.uint8)
    cv2.line(on_hair, (30, 47), (160, 143), 1, 1)
    assert result.structures[on_hair > 0].mean() > 0.5
    assert (labels[on_hair > 0] == STRUCTURE).mean() > 0.5


def test_coarse_labels_cover_each_pore_with_an_ignored_rim():
    sample = rendered()
    result = dog_pores(sample.rgb, whole(), PORE_PX)
    labels = coarse_labels(result, whole())
    assert ((labels == 1) == result.mask).all()
    rim = cv2.dilate(result.mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~result.mask
    assert (labels[rim] == IGNORE).all()
