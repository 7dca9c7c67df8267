"""Portrait segmentation: the probability map's contract and plausibility, its edge refinement, and the
checked loading of weight files."""
from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import poreseg
from conftest import REPO_ROOT, requires_weights
from poreseg import weights
from poreseg.imageio import load_image
from poreseg.overlays import portrait_cutout
from poreseg.portrait import guided_filter, person_alpha
from poreseg.weights import WeightsError, load_state

needs_portrait = requires_weights("portrait")


def resized(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    shrink = width * height < rgb.shape[0] * rgb.shape[1]
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


@pytest.fixture(scope="module")
def london_portrait() -> np.ndarray:
    """A centred head and shoulders on a plain grey backdrop."""
    return load_image(REPO_ROOT / "examples" / "005_03.jpg")


@pytest.fixture(scope="module")
def london_probability(london_portrait) -> np.ndarray:
    return poreseg.segment_portrait(london_portrait)


@needs_portrait
@pytest.mark.parametrize("height, width", [(500, 700), (1500, 2000), (1600, 1100)])
def test_probability_map_at_non_square_input_size(london_portrait, height, width):
    probability = poreseg.segment_portrait(resized(london_portrait, height, width))
    assert probability.shape == (height, width)
    assert probability.dtype == np.float32
    assert 0.0 <= probability.min() and probability.max() <= 1.0


@needs_portrait
def test_the_network_looks_at_two_sizes_and_averages_its_evidence(london_portrait):
    from poreseg.portrait import DETAIL_SIZE, INPUT_SIZE, PortraitSegmenter
    segmenter = PortraitSegmenter.shared()
    both = segmenter.coarse(london_portrait)
    detail, whole = (segmenter.evidence_at(london_portrait, size) for size in (DETAIL_SIZE, INPUT_SIZE))
    assert both.shape == detail.shape and whole.shape[0] < detail.shape[0]
    enlarged = cv2.resize(whole, detail.shape[::-1], interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(both, 1 / (1 + np.exp(-(enlarged + detail) / 2)), atol=1e-5)
    assert np.abs(detail - enlarged).max() > 1  # the two looks differ, so the mean is not either alone


@needs_portrait
def test_image_centre_is_person(london_probability):
    h, w = london_probability.shape
    assert london_probability[h // 2, w // 2] > 0.5


@needs_portrait
def test_top_corners_are_background(london_probability):
    side = london_probability.shape[1] // 20
    assert london_probability[:side, :side].max() < 0.5
    assert london_probability[:side, -side:].max() < 0.5


@needs_portrait
def test_person_fraction_is_plausible(london_probability):
    fraction = (london_probability > 0.5).mean()
    assert 0.2 < fraction < 0.9, fraction


# --- cut-outs of the examples -----------------------------------------------------------------------

CUTOUTS = REPO_ROOT / "test-output" / "cutouts"
# Issue 14 is not solved for these: the shipped network keeps part of the background. Strict, so that the
# network that fixes them makes these fail until they are taken off the list.
KNOWN_GHOSTS = {"lisa1": "part of the wall clock behind her shows", "lisa_15cm": "the door behind her shows"}
# Background that the outer tenths beside the head miss, chosen by eye on the examples: boxes as shares of
# the photo's width and height (x0, y0, x1, y1).
BACKGROUND_BOXES = {"lisa1": [(0.82, 0.0, 1.0, 0.35)],  # the wall clock right of her hair
                    "lisa_15cm": [(0.1, 0.0, 0.22, 0.6)]}  # the door left of her head
EXAMPLES = [pytest.param(path, id=path.stem, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GHOSTS[path.stem]))
            if path.stem in KNOWN_GHOSTS else pytest.param(path, id=path.stem)
            for path in sorted((REPO_ROOT / "examples").glob("*.jpg"))]


def on_checkerboard(rgba: np.ndarray, square: int = 32) -> np.ndarray:
    """The cut-out over a grey checkerboard, as image viewers show transparency: a ghost is easy to see."""
    h, w = rgba.shape[:2]
    ys, xs = np.mgrid[:h, :w]
    board = np.where(((ys // square) + (xs // square)) % 2 == 0, 200, 120).astype(np.float32)[..., None]
    alpha = rgba[..., 3:].astype(np.float32) / 255
    return (rgba[..., :3] * alpha + board * (1 - alpha) + 0.5).astype(np.uint8)


@needs_portrait
@pytest.mark.parametrize("path", EXAMPLES)
def test_example_cutout_has_no_background_ghost(path):
    """Writes the cut-out of every example (RGBA as the dashboard's, and over a checkerboard to look at)
    to test-output/cutouts/. Beside the head (the outer tenth of each side, down to 40% of the height:
    grey backdrop, wall and clock, door and tiles) and in the example's BACKGROUND_BOXES the cut-out is
    fully transparent; the centre of the photo is opaque; and the semi-transparent edge is a thin band,
    not a haze."""
    rgb = load_image(path)
    cutout = portrait_cutout(rgb, person_alpha(poreseg.segment_portrait(rgb)))
    CUTOUTS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(cutout).save(CUTOUTS / f"{path.stem}.png")
    Image.fromarray(on_checkerboard(cutout)).save(CUTOUTS / f"{path.stem}_checkerboard.png")
    alpha = cutout[..., 3]
    h, w = alpha.shape
    beside_head = np.concatenate([alpha[:int(0.4 * h), :w // 10], alpha[:int(0.4 * h), -(w // 10):]], axis=1)
    assert (beside_head > 0).mean() < 0.002, f"{(beside_head > 0).mean():.2%} of the background beside the head shows"
    for x0, y0, x1, y1 in BACKGROUND_BOXES.get(path.stem, []):
        box = alpha[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)]
        assert (box > 0).mean() < 0.002, f"{(box > 0).mean():.2%} of the background box {(x0, y0, x1, y1)} shows"
    assert alpha[h // 2, w // 2] == 255
    semi_transparent = ((alpha > 0) & (alpha < 255)).mean()
    assert semi_transparent < 0.03, f"{semi_transparent:.1%} of the cut-out is semi-transparent"


# Boxes (x0, y0, x1, y1 as shares of the photo's sides) on the person's clothes, chosen by eye: besides
# every example's chest (the middle third across, the last 15% down), lisa1's grey top, whose folds and
# stripes a network can take for background.
PERSON_BOXES = {"lisa1": [(0.03, 0.75, 0.4, 1.0)]}


@needs_portrait
@pytest.mark.parametrize("path", sorted((REPO_ROOT / "examples").glob("*.jpg")), ids=lambda p: p.stem)
def test_example_cutout_keeps_the_clothes_whole(path):
    """No hole of background shows through the clothes: the chest and the example's PERSON_BOXES are opaque."""
    rgb = load_image(path)
    alpha = person_alpha(poreseg.segment_portrait(rgb))
    h, w = alpha.shape
    for x0, y0, x1, y1 in [(1 / 3, 0.85, 2 / 3, 1.0), *PERSON_BOXES.get(path.stem, [])]:
        box = alpha[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)]
        opaque = (box == 255).mean()
        assert opaque > 0.99, f"{1 - opaque:.1%} of the clothes box {(x0, y0, x1, y1)} is not opaque"


# --- guided filter --------------------------------------------------------------------------------------

def test_guided_filter_keeps_a_constant_map_constant():
    guide = np.random.default_rng(0).random((60, 80), dtype=np.float32)
    source = np.full((60, 80), 0.7, np.float32)
    np.testing.assert_allclose(guided_filter(guide, source, radius=4, eps=1e-3), 0.7, atol=1e-4)


def test_guided_filter_preserves_a_step_edge_aligned_with_the_image_edge():
    guide = np.full((60, 80), 0.2, np.float32)
    guide[:, 40:] = 0.8
    source = (guide > 0.5).astype(np.float32)
    filtered = guided_filter(guide, source, radius=4, eps=1e-3)
    assert filtered[:, :40].max() < 0.1
    assert filtered[:, 40:].min() > 0.9


# --- weight loading -------------------------------------------------------------------------------------

def test_missing_weights_name_the_path(tmp_path):
    path = tmp_path / "missing.pt"
    with pytest.raises(WeightsError, match=re.escape(str(path))):
        load_state("face_parser", path)


def test_corrupted_weights_file(tmp_path):
    path = tmp_path / "corrupted.pt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(WeightsError):
        load_state("face_parser", path)


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    """A weights directory holding ``x.pt``, a valid checkpoint with an empty state dict."""
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    torch.save({"model": {}}, tmp_path / "x.pt")
    return tmp_path


def test_weights_matching_their_model_card_load(weights_dir):
    (weights_dir / "x.md").write_text(f"sha256: {weights.sha256(weights_dir / 'x.pt')}\n")
    assert load_state("x") == {}


def test_weights_not_matching_their_model_card_sha256(weights_dir):
    wrong = "0123456789abcdef" * 4
    (weights_dir / "x.md").write_text(f"# x\n\nsha256: {wrong}\n")
    with pytest.raises(WeightsError, match=wrong):
        load_state("x")
