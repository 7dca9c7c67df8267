"""Pore segmentation API: input preparation, tiling, scale, the segment_pores contract and its errors.

Untrained networks stand in for weights/psnet.pt (``PoreSegmenter.from_net``), so that everything but
the quality of the masks is tested before training.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from conftest import requires_weights
from poreseg.imageio import load_image
from poreseg.models.psnet_net import PlainUNet, PSNet
from poreseg.parsing import FaceParsing
from poreseg.pores import segment
from poreseg.pores.dog import dog_pores
from poreseg.pores.scale import TYPICAL_PORE_MM
from poreseg.pores.segment import (PoreError, PoreResult, PoreSegmenter, prepare_input, segment_pores, sized_pores,
                                   split_at_peaks)

pytestmark = pytest.mark.usefixtures("one_thread_seeded")


def skin_with_pores(height: int = 120, width: int = 150, seed: int = 0) -> np.ndarray:
    """Uneven skin-coloured texture with dark dots of 3-4 px."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    lum = 160 + 20 * np.sin(xx / 37) + rng.normal(0, 2, (height, width))
    for cx, cy in rng.uniform((0, 0), (width, height), (height * width // 300, 2)):
        lum *= 1 - 0.25 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 1.3 ** 2))
    return np.clip(np.stack([lum * 1.1, lum * 0.85, lum * 0.7], -1), 0, 255).astype(np.uint8)


def calibrated(net: torch.nn.Module) -> torch.nn.Module:
    """An untrained network whose batch-norm statistics have seen skin, so that its features, and
    with them the spread of its Monte-Carlo draws, have realistic sizes."""
    net.train()
    with torch.no_grad():
        for seed in range(5):
            net(torch.from_numpy(prepare_input(skin_with_pores(96, 96, seed))))
    return net.eval()


@pytest.fixture
def untrained_default():
    """segment_pores' shared session, with an untrained PS-Net instead of weights/psnet.pt."""
    with PoreSegmenter.swapped(PoreSegmenter.from_net(calibrated(PSNet()))):
        yield


def test_prepare_input_shape_and_brightness_invariance():
    rgb = skin_with_pores()
    x = prepare_input(rgb)
    assert x.shape == (1, 3, *rgb.shape[:2]) and x.dtype == np.float32
    assert abs(float(x.mean())) < 0.5  # relative to the local level: centred whatever the exposure
    darker = prepare_input((rgb * 0.8).astype(np.uint8))
    assert float(np.abs(x - darker).mean()) < 0.1 * float(np.abs(x).mean())


def test_working_scale_brings_pores_within_what_the_network_learned():
    assert segment.working_scale(5.0) == 1.0
    assert segment.working_scale(2 * segment.MAX_PORE_PX) == pytest.approx(0.5)
    assert segment.working_scale(segment.MIN_WORKING_PORE_PX / 2) == pytest.approx(2.0)


@pytest.mark.parametrize("net_class", [PSNet, PlainUNet])
def test_tiles_match_one_pass(monkeypatch, net_class):
    rgb = skin_with_pores(200, 180)
    region = np.zeros(rgb.shape[:2], bool)
    region[20:190, 15:170] = True
    segmenter = PoreSegmenter.from_net(calibrated(net_class()))
    one_pass = segmenter(rgb, region, 4.0)
    monkeypatch.setattr(segment, "TILE_CORE_MAX", 48)  # 4x4 tiles
    tiled = segmenter(rgb, region, 4.0)
    # What lies beyond a tile's margin still counts a little, through the deep layers' reach.
    np.testing.assert_allclose(tiled.probability, one_pass.probability, atol=1e-3)
    np.testing.assert_allclose(tiled.uncertainty, one_pass.uncertainty, atol=1e-3)
    if net_class is PSNet:
        assert one_pass.uncertainty[region].mean() > 1e-3  # so the comparison above means something


def test_a_mirrored_photo_gives_the_mirrored_answer():
    """PS-Net's strided layers are not mirror-symmetric; averaging a pass with a pass over the mirror image is."""
    rgb = skin_with_pores(96, 128)
    region = np.ones(rgb.shape[:2], bool)
    segmenter = PoreSegmenter.from_net(calibrated(PSNet()))
    original = segmenter(rgb, region, 4.0)
    mirrored = segmenter(np.ascontiguousarray(rgb[:, ::-1]), region, 4.0)
    np.testing.assert_allclose(mirrored.probability[:, ::-1], original.probability, atol=1e-5)
    np.testing.assert_allclose(mirrored.uncertainty[:, ::-1], original.uncertainty, atol=1e-5)
    single = segmenter.run(prepare_input(rgb))[0, 0]
    assert float(np.abs(single - original.probability).max()) > 1e-3  # it did something


@pytest.mark.parametrize("pore_px", [4.0, 3.0])  # native, and enlarged to the working scale
def test_a_mirrored_region_off_the_network_grid_gives_the_mirrored_answer(monkeypatch, pore_px):
    """A region whose box is neither centred nor a multiple of the network's 16-pixel grid, in several
    tiles: mirrored, its tiles fall elsewhere on the skin, and the answer must still be the mirror image."""
    monkeypatch.setattr(segment, "TILE_CORE_MAX", 64)
    rgb = skin_with_pores(120, 170)
    region = np.zeros(rgb.shape[:2], bool)
    region[11:107, 13:150] = True
    segmenter = PoreSegmenter.from_net(calibrated(PSNet()))
    original = segmenter(rgb, region, pore_px)
    mirrored = segmenter(np.ascontiguousarray(rgb[:, ::-1]), np.ascontiguousarray(region[:, ::-1]), pore_px)
    np.testing.assert_allclose(mirrored.probability[:, ::-1], original.probability, atol=1e-4)
    np.testing.assert_allclose(mirrored.uncertainty[:, ::-1], original.uncertainty, atol=1e-4)
    assert original.probability[region].std() > 1e-3


def test_the_tiles_hand_their_working_memory_back_once_after_the_last(monkeypatch):
    """Handing ONNX Runtime's working memory back after every tile cost 40 of a tile's 56 ms; after the
    last one of a call, the memory is still handed back."""
    monkeypatch.setattr(segment, "TILE_CORE_MAX", 48)  # several tiles per pass
    segmenter = PoreSegmenter.from_net(calibrated(PSNet()))
    releases = []
    run = segmenter.run
    monkeypatch.setattr(segmenter, "run", lambda x, release=True: releases.append(release) or run(x, release))
    rgb = skin_with_pores(100, 130)
    segmenter(rgb, np.ones(rgb.shape[:2], bool), 4.0)
    assert len(releases) > 4 and releases[-1] and not any(releases[:-1])


def test_pieces_of_structures_are_not_pores():
    mask = np.zeros((40, 60), bool)
    mask[5:9, 5:9] = True  # a pore on its own
    mask[20:24, 30:34] = True  # a blob on a hair
    mask[30:33, 50:53] = True  # a blob beside it, touching nothing
    structures = np.zeros_like(mask)
    structures[23, 10:58] = True
    no_doubts = np.zeros(mask.shape, np.float32)
    kept = sized_pores(mask, no_doubts, 2.0, structures)[0]
    assert kept[5:9, 5:9].all() and kept[30:33, 50:53].all()
    assert not kept[20:24, 30:34].any() and kept.sum() == 16 + 9
    assert (sized_pores(mask, no_doubts, 2.0, np.zeros_like(mask))[0] == mask).all()


def _blobs(centres: list[tuple[float, float]], sigma: float = 3.0, size: int = 48) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    return sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2)) for x, y in centres).astype(np.float32)


def test_a_blob_of_touching_pores_is_cut_between_their_peaks_and_a_single_pore_stays_whole():
    probability = _blobs([(14, 20), (24, 20), (19, 29)])  # three pores 6 px wide, merged above 0.3
    merged = probability >= 0.3
    assert cv2.connectedComponents(merged.astype(np.uint8), connectivity=8)[0] - 1 == 1
    split = split_at_peaks(merged, probability, 6.0)
    count, ids = cv2.connectedComponents(split.astype(np.uint8), connectivity=8)
    assert count - 1 == 3  # apart even under 8-connectivity
    assert {ids[20, 14], ids[20, 24], ids[29, 19]} == {1, 2, 3}  # one piece per peak
    assert not (split & ~merged).any() and split.sum() > 0.85 * merged.sum()  # only the cut lines go
    single = _blobs([(20, 20)], sigma=4.0) >= 0.3
    np.testing.assert_array_equal(split_at_peaks(single, _blobs([(20, 20)], sigma=4.0), 6.0), single)
    # A mirrored blob is cut the mirrored way (the lines fall between pixels the same way on both sides).
    for centres in ([(14, 20), (23, 20), (19, 29)], [(13, 14), (21, 22), (30, 17)]):
        blobs = _blobs(centres)
        np.testing.assert_array_equal(split_at_peaks(blobs[:, ::-1] >= 0.3, np.ascontiguousarray(blobs[:, ::-1]), 6.0),
                                      split_at_peaks(blobs >= 0.3, blobs, 6.0)[:, ::-1])
    # A dark area many pores wide is left whole, however many peaks it holds (one distance map per peak
    # of a 2048 px blob once ran out of memory).
    yy, xx = np.mgrid[:400, :400].astype(np.float32)
    ripples = (0.6 + 0.2 * np.sin(xx / 2) * np.sin(yy / 2)).astype(np.float32)
    np.testing.assert_array_equal(split_at_peaks(ripples >= 0.3, ripples, 4.0), ripples >= 0.3)
    # Two peaks without a valley between them (a ridge that sags by 2%) are one pore.
    ridge = np.maximum(_blobs([(14, 20)]), _blobs([(26, 20)]))
    ridge[18:23, 14:27] = np.maximum(ridge[18:23, 14:27], 0.98)
    np.testing.assert_array_equal(split_at_peaks(ridge >= 0.3, ridge, 6.0), ridge >= 0.3)
    # Peaks closer than half a pore diameter belong to one pore.
    close = _blobs([(20, 20), (22, 20)])
    np.testing.assert_array_equal(split_at_peaks(close >= 0.3, close, 6.0), close >= 0.3)


def test_segmenter_leaves_the_network_training():
    net = PSNet()
    PoreSegmenter.from_net(net)
    assert all(m.training for m in net.modules())


@pytest.mark.parametrize("pore_px", [4.0, 20.0], ids=["native", "shrunk"])
def test_psnet_result_contract(untrained_default, pore_px):
    rgb = skin_with_pores()
    skin = np.zeros(rgb.shape[:2], np.uint8)
    skin[10:100, 20:140] = 255
    result = segment_pores(rgb, skin, mm_per_px=TYPICAL_PORE_MM / pore_px)
    assert isinstance(result, PoreResult) and result.method == "psnet"
    assert result.pore_px == pytest.approx(pore_px)
    assert result.mask.shape == rgb.shape[:2] and result.mask.dtype == bool
    for image in (result.probability, result.uncertainty):
        assert image.shape == rgb.shape[:2] and image.dtype == np.float32
        assert image.min() >= 0 and image.max() <= 1
    outside = skin == 0
    assert not result.mask[outside].any()
    assert not result.probability[outside].any() and not result.uncertainty[outside].any()
    candidates = split_at_peaks((result.probability >= 0.5) & ~outside, result.probability, pore_px)
    expected = sized_pores(candidates, result.uncertainty, pore_px, dog_pores(rgb, ~outside, pore_px).structures)[0]
    np.testing.assert_array_equal(result.mask, expected)
    assert result.uncertainty[~outside].max() > 0
    # The maps are kept in the region's box and placed in the frame when read.
    assert result.maps.probability.shape == (90, 120) and result.maps.origin == (20, 10)
    np.testing.assert_array_equal(result.probability[10:100, 20:140], result.maps.probability)


def test_dog_method_without_a_scale():
    rgb = skin_with_pores()
    skin = np.ones(rgb.shape[:2], bool)
    skin[:, :30] = False
    result = segment_pores(rgb, skin, method="dog")
    assert result.method == "dog" and result.mm_per_px is None
    assert 1.0 < result.pore_px < 10.0  # estimated from the dots themselves (3-4 px)
    assert result.mask.any() and not result.mask[:, :30].any()
    assert result.mask.dtype == bool and result.probability.dtype == np.float32
    assert not result.uncertainty.any()


def test_unknown_method_is_a_value_error():
    with pytest.raises(ValueError, match="psnet, dog"):
        segment_pores(skin_with_pores(), np.ones((120, 150), bool), method="unet")


@pytest.mark.parametrize(("skin", "message"), [(np.ones((60, 150), bool), "150x60 pixels but the image is 150x120"),
                                               (np.zeros((120, 150), bool), "empty")])
def test_bad_masks_are_pore_errors(skin, message):
    with pytest.raises(PoreError, match=message):
        segment_pores(skin_with_pores(), skin, method="dog")


def test_no_face_without_a_mask(monkeypatch):
    import poreseg.analysis  # segment_pores finds faces as an analysis does (analysis.find_face)
    monkeypatch.setattr(poreseg.analysis, "parse_face", lambda rgb: FaceParsing(np.zeros(rgb.shape[:2], np.uint8), None, 0))
    with pytest.raises(PoreError, match="no face"):
        segment_pores(skin_with_pores(), method="dog")


@requires_weights("face_parser")
def test_face_photo_gets_its_scale_from_the_eyes(example_image):
    result = segment_pores(load_image(example_image), method="dog")
    assert result.mm_per_px is not None and 0.01 < result.mm_per_px < 2
    assert result.mask.any()


@requires_weights("psnet")
@requires_weights("face_parser")
def test_trained_psnet_on_a_face(example_image):
    result = segment_pores(load_image(example_image))
    assert result.method == "psnet" and result.mask.any()
    assert result.uncertainty.max() > 0


def test_uncertain_pores_are_whole_pores_whose_draws_disagree():
    from poreseg.pores.segment import UNCERTAIN_PORE
    mask = np.zeros((40, 40), bool)
    mask[5:9, 5:9] = mask[20:24, 20:24] = True
    mask[35, 35] = True  # a speck, not a pore
    uncertainty = np.zeros((40, 40), np.float32)
    uncertainty[6, 6] = UNCERTAIN_PORE  # one pixel of the first pore
    uncertainty[30, 30] = uncertainty[35, 35] = 1.0  # outside every pore, and on the speck
    assert sized_pores(mask, uncertainty, 4.0, np.zeros_like(mask))[1].tolist() == [[6, 6]]  # the first pore's
    empty = np.zeros((8, 8), bool)
    assert sized_pores(empty, np.ones((8, 8), np.float32), 4.0, empty)[1].shape == (0, 2)


def test_uncertain_pores_get_their_own_outline():
    from poreseg import overlays
    rgb = np.full((30, 30, 3), 128, np.uint8)
    mask = np.zeros((30, 30), bool)
    mask[5:8, 5:8] = mask[20:23, 20:23] = True
    out = overlays.pores_outlined(rgb, mask, np.array([[21, 22]]))
    assert tuple(out[4, 6]) == overlays.PORE_OUTLINE and tuple(out[19, 21]) == overlays.UNCERTAIN_OUTLINE
    assert (out[mask] == 128).all()  # the pores themselves stay visible


def test_specks_narrower_than_half_a_pore_are_dropped():
    mask = np.zeros((40, 40), bool)
    mask[5:9, 5:9] = True  # 16 px: 4.5 px across
    mask[20, 20] = mask[30, 30:32] = True  # one and two pixels
    no_doubts = np.zeros(mask.shape, np.float32)
    kept = sized_pores(mask, no_doubts, 6.0, np.zeros_like(mask))[0]
    assert kept[5:9, 5:9].all() and kept.sum() == 16
    assert sized_pores(mask, no_doubts, 2.0, np.zeros_like(mask))[0].sum() == 19  # even a pixel is half a pore
