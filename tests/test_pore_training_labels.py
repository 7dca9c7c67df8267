"""PS-Net's training-side additions for issue 11: drawn negatives and the probability calibration."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from poreseg.classes import IGNORE, SOFT_FIRST, SOFT_LEVELS, STRUCTURE
from poreseg.models.psnet_net import PlainUNet, PSNet
from poreseg.pores.segment import PoreSegmenter, split_at_peaks
from poreseg.training import negatives
from poreseg.training.calibrate_psnet import best_threshold, expected_calibration_error, fit_platt, load_uncalibrated

SIZE = 128


def skin(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grey = 160 + 3 * rng.standard_normal((SIZE, SIZE))
    return np.clip(grey[..., None] * np.float32([1.05, 0.95, 0.85]), 0, 255).astype(np.uint8)


def drawn(seed: int, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    labels = np.zeros((SIZE, SIZE), np.uint8) if labels is None else labels
    return negatives.add_negatives(skin(seed), labels, 4.0, np.random.default_rng(seed))


def test_negatives_are_drawn_on_about_half_the_patches_and_repeat_by_seed():
    changed = [not np.array_equal(drawn(seed)[0], skin(seed)) for seed in range(40)]
    assert 0.3 < np.mean(changed) < 0.7
    first, again = drawn(3), drawn(3)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])


def test_structures_are_no_pore_and_pores_under_them_are_ignored(monkeypatch):
    monkeypatch.setattr(negatives, "NEGATIVE_SHARE", 1.0)
    seen_structure = 0
    for seed in range(30):
        pores = np.ones((SIZE, SIZE), np.uint8)  # as if every pixel were a pore
        image, labels = drawn(seed, pores)
        # The cores of hairs, ink and highlights change the skin by far more than hard JPEG does.
        changed = np.abs(image.astype(int) - skin(seed).astype(int)).max(axis=2) > 60
        seen_structure += int(changed.any())
        assert not (changed & (labels == 1)).any()  # a pore under a structure is no longer taught
        assert set(np.unique(labels)) <= {0, 1, STRUCTURE, IGNORE}
    assert seen_structure > 10


def test_structures_on_clear_skin_become_confident_negatives(monkeypatch):
    monkeypatch.setattr(negatives, "NEGATIVE_SHARE", 1.0)
    for seed in range(30):
        labels = np.full((SIZE, SIZE), IGNORE, np.uint8)
        image, out = drawn(seed, labels)
        changed = np.abs(image.astype(int) - skin(seed).astype(int)).max(axis=2) > 20
        if changed.sum() > 20:
            assert (out[changed] == STRUCTURE).mean() > 0.5
            return
    pytest.fail("no strongly visible structure drawn in 30 seeds")


def test_platt_scaling_recovers_a_known_calibration():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, 200_000)
    truth = rng.random(logits.size) < 1 / (1 + np.exp(-(0.5 * logits - 1.0)))
    scale, bias = fit_platt(logits, truth)
    assert scale == pytest.approx(0.5, abs=0.03) and bias == pytest.approx(-1.0, abs=0.05)
    calibrated = 1 / (1 + np.exp(-(scale * logits + bias)))
    assert expected_calibration_error(calibrated, truth) < 0.01
    assert expected_calibration_error(1 / (1 + np.exp(-logits)), truth) > 0.05


def test_best_threshold_maximises_dice():
    truth = np.array([1, 1, 1, 0, 0, 0, 0, 0], bool)
    probability = np.array([0.9, 0.8, 0.62, 0.58, 0.3, 0.2, 0.1, 0.0])
    threshold, dice = best_threshold(probability, truth)
    assert 0.58 < threshold <= 0.62 and dice == 1.0


@pytest.mark.parametrize("net_class", [PSNet, PlainUNet])
def test_calibration_travels_with_the_weights_and_sets_the_mask(tmp_path, net_class):
    torch.manual_seed(0)
    net = net_class().eval()
    net.calibration.threshold.fill_(0.01)
    path = tmp_path / "net.pt"
    torch.save({"model": net.state_dict()}, path)
    loaded = net_class()
    loaded.load_state_dict(torch.load(path, weights_only=True)["model"])
    assert float(loaded.calibration.threshold) == pytest.approx(0.01)
    rgb, region = skin(1), np.ones((SIZE, SIZE), bool)
    low = PoreSegmenter.from_net(loaded)(rgb, region, 4.0)
    loaded.calibration.threshold.fill_(0.99)
    high = PoreSegmenter.from_net(loaded)(rgb, region, 4.0)
    assert low.mask.sum() > high.mask.sum()
    # The mask: the pixels at the threshold, blobs cut between their peaks (but for specks and structures).
    cut = split_at_peaks(low.probability >= 0.01, low.probability, 4.0)
    assert not (low.mask & ~cut).any() and low.mask.sum() > 0.8 * cut.sum()


def test_weights_without_calibration_load_with_the_defaults(tmp_path):
    state = {k: v for k, v in PSNet().state_dict().items() if not k.startswith("calibration.")}
    torch.save({"model": state}, tmp_path / "old.pt")
    net = load_uncalibrated(tmp_path / "old.pt", "psnet")
    assert float(net.calibration.threshold) == 0.5 and float(net.calibration.logit_scale) == 1.0


def test_soft_targets_under_a_structure_become_no_pore_and_its_fringe_ignored(monkeypatch):
    monkeypatch.setattr(negatives, "NEGATIVE_SHARE", 1.0)
    soft = SOFT_FIRST + SOFT_LEVELS // 2  # a pseudo label of probability 0.5
    kinds = set()
    for seed in range(30):
        _, labels = drawn(seed, np.full((SIZE, SIZE), soft, np.uint8))
        kinds |= set(np.unique(labels).tolist())
        assert set(np.unique(labels)) <= {soft, STRUCTURE, IGNORE}
    assert {soft, STRUCTURE, IGNORE} <= kinds
