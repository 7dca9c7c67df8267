"""PS-Net training and pore evaluation: metrics, pseudo labels, the data split and a tiny training run."""
from __future__ import annotations

import collections
import csv
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from poreseg.classes import EYE, FAINT, HAIR, IGNORE, NOSE, SKIN, SOFT_FIRST, SOFT_LEVELS, STRUCTURE
from poreseg.models.psnet_net import PSNet
from poreseg.training import datasets, evaluate_pores, train_psnet
from poreseg.training.evaluate_pores import StabilityTable
from poreseg.training.losses import FAINT_TARGET, pore_loss
from poreseg.training.pore_scoring import DetectionCounts, component_centroids, mask_dice, match_radius, matched_pairs
from poreseg.training.pore_patches import PorePhoto, cache_path, load_cache, never_pore_parts, save_photo
from poreseg.training.train_psnet import soft_labels, stage_steps

DATA_DIR = datasets.DEFAULT_DATA_DIR


# --- object matching and scores -----------------------------------------------------------------

def _disc_mask(shape: tuple[int, int], centres: list[tuple[int, int]], radius: int) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for x, y in centres:
        cv2.circle(mask, (x, y), radius, 1, -1)
    return mask.astype(bool)


def test_component_centroids_are_the_centres_of_each_blob():
    mask = _disc_mask((40, 40), [(10, 10), (30, 25)], 3)
    centroids = sorted(map(tuple, component_centroids(mask).round(6)))
    assert centroids == [(10.0, 10.0), (30.0, 25.0)]
    assert len(component_centroids(np.zeros((5, 5), bool))) == 0


def test_matching_is_one_to_one_and_nearest_first():
    truth = np.array([[10.0, 10.0], [13.0, 10.0]])
    # One prediction between two true pores may match only one of them.
    assert matched_pairs(np.array([[11.0, 10.0]]), truth, radius=3) == 1
    # Two predictions, each nearest its own pore: both match, though each is within reach of both.
    assert matched_pairs(np.array([[10.5, 10.0], [12.5, 10.0]]), truth, radius=3) == 2
    # Beyond the radius nothing matches.
    assert matched_pairs(np.array([[20.0, 20.0]]), truth, radius=3) == 0
    assert matched_pairs(np.zeros((0, 2)), truth, radius=3) == 0


def test_match_radius_has_a_floor_of_two_pixels():
    assert match_radius(1.0) == 2.0
    assert match_radius(8.0) == pytest.approx(6.0)


def test_detection_scores_on_hand_made_masks():
    truth = _disc_mask((60, 60), [(10, 10), (30, 10), (50, 10), (10, 40)], 2)
    centres = np.array([[10, 10], [30, 10], [50, 10], [10, 40]], np.float32)
    # Found: the first two (exactly) and the third (1 px off); missed: the fourth; two false detections.
    predicted = _disc_mask((60, 60), [(10, 10), (30, 10), (51, 10), (40, 40), (50, 50)], 2)
    counts = DetectionCounts()
    counts.add(predicted, truth, centres, pore_px=4.0)
    score = counts.score()
    assert (counts.found, counts.predicted_objects, counts.true_objects) == (3, 5, 4)
    assert score.precision == pytest.approx(3 / 5)
    assert score.recall == pytest.approx(3 / 4)
    assert score.f1 == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    disc = int(_disc_mask((60, 60), [(10, 10)], 2).sum())
    overlap = 2 * disc + int((_disc_mask((60, 60), [(50, 10)], 2) & _disc_mask((60, 60), [(51, 10)], 2)).sum())
    assert score.dice == pytest.approx(2 * overlap / (5 * disc + 4 * disc))


def test_detection_scores_sum_over_patches():
    counts = DetectionCounts()
    empty = np.zeros((20, 20), bool)
    one = _disc_mask((20, 20), [(10, 10)], 2)
    counts.add(one, one, np.array([[10.0, 10.0]]), pore_px=4.0)  # perfect
    counts.add(empty, one, np.array([[10.0, 10.0]]), pore_px=4.0)  # missed
    score = counts.score()
    assert (score.precision, score.recall) == (1.0, 0.5)
    assert score.dice == pytest.approx(2 * one.sum() / (3 * one.sum()))


def test_mask_dice():
    a = np.array([[1, 1, 0, 0]], bool)
    b = np.array([[0, 1, 1, 0]], bool)
    assert mask_dice(a, b) == pytest.approx(0.5)
    assert mask_dice(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 1.0


def test_stability_rows_group_by_monk_level():
    table = StabilityTable()
    for level, value in ((3, 0.9), (3, 0.7), (None, 0.5), (1, 1.0)):
        table.levels.append(level)
        table.dice.append({"flip": value, "+20% light": value, "-20% light": value, "JPEG 70": value})
    rows = table.rows()
    assert list(rows) == ["Monk 1", "Monk 3", "unknown", "overall"]
    assert rows["Monk 3"]["mean"] == pytest.approx(0.8)
    assert rows["Monk 3"]["photos"] == 2
    assert table.overall() == pytest.approx(0.775)
    assert table.worst_level_gap() == pytest.approx(0.2)  # the unknown level does not count


def test_every_network_s_stability_is_summarised_and_the_shipped_methods_are_shown_per_level():
    from poreseg.training.evaluate_pores import PoreEvaluation
    from poreseg.training.pore_checks import RealChecks

    def table(dim_face: float) -> StabilityTable:
        table = StabilityTable()
        for level, value in ((2, dim_face), (7, 0.9)):
            table.levels.append(level)
            table.dice.append({"flip": value, "+20% light": value, "-20% light": value, "JPEG 70": value})
        return table

    tables = {"DoGPore": table(0.6), "PS-Net": table(0.85), "PS-Net w/o progressive labels": table(0.75)}
    facts = evaluate_pores.BenchmarkFacts(1.0, (0.65, 1.5), 11.0, 0.08, 0.3, 0.7, 1.4)
    checks = types.SimpleNamespace(markdown=lambda: "(checks)")  # each real-photo check's table
    text = PoreEvaluation({}, tables, 0, 0, facts, RealChecks(*[checks] * 6)).markdown()
    assert "| PS-Net w/o progressive labels | 0.825 | Monk 2 (0.750) | 0.150 |" in text
    assert "| PS-Net | 0.875 | Monk 2 (0.850) | 0.050 |" in text
    assert "Stability on real photos, PS-Net:" in text and "Stability on real photos, DoGPore:" in text
    assert "Stability on real photos, PS-Net w/o progressive labels" not in text and text.endswith("(checks)")


# --- pseudo labels --------------------------------------------------------------------------------

def test_soft_labels_rule():
    labels = np.array([[1, 0, FAINT, STRUCTURE, IGNORE, 0, IGNORE]], np.uint8)
    probability = np.array([[0.1, 0.3, 0.8, 0.9, 1.0, 0.0, 0.6]], np.float32)
    region = np.ones(labels.shape, bool)
    region[0, -1] = False
    updated = soft_labels(labels, probability, region)
    # A structure stays one; pores, skin, faint and ignored pixels in the region take the probability as a
    # soft target; outside the region the label stays.
    soft = [SOFT_FIRST + round(p * SOFT_LEVELS) for p in (0.1, 0.3, 0.8, 1.0, 0.0)]
    assert updated.tolist() == [[soft[0], soft[1], soft[2], STRUCTURE, soft[3], soft[4], IGNORE]]
    assert SOFT_FIRST + SOFT_LEVELS < IGNORE
    assert labels[0, 1] == 0  # the input is not modified


def test_pore_loss_pulls_soft_targets_to_their_probability():
    target = 0.3
    labels = torch.full((1, 2, 2), SOFT_FIRST + round(target * SOFT_LEVELS), dtype=torch.uint8)
    losses = {p: float(pore_loss(torch.full((1, 1, 2, 2), float(np.log(p / (1 - p)))), labels))
              for p in (0.05, 0.2, 0.3, 0.4, 0.8)}
    assert min(losses, key=losses.get) == target


def test_fold_calibration_keeps_the_calibrated_probability():
    torch.manual_seed(0)
    net = PSNet().eval()
    net.calibration.logit_scale.fill_(0.6)
    net.calibration.logit_bias.fill_(-0.7)
    x = torch.randn(1, 3, 32, 32)
    before = net.predict(x, samples=4)
    train_psnet.fold_calibration(net)
    after = net.predict(x, samples=4)
    assert float(net.calibration.logit_scale) == 1.0 and float(net.calibration.logit_bias) == 0.0
    assert torch.allclose(before[0], after[0], atol=1e-5) and torch.allclose(before[1], after[1], atol=1e-5)


def test_never_pore_parts_are_outside_the_region_and_reach_past_the_eye():
    parts = np.full((40, 40), SKIN, np.uint8)
    parts[10:14, 10:20] = EYE
    parts[0:3, :] = HAIR
    parts[30:34, 10:20] = NOSE
    region = np.zeros(parts.shape, bool)
    region[20:40, :] = True
    never = never_pore_parts(parts, region, mm_per_px=0.5)  # lashes reach 1.5 mm = 3 px
    assert never[10:14, 10:20].all() and never[0:3].all()
    assert never[8, 15] and never[12, 22] and not never[12, 25]  # grown eye, not beyond
    assert not never[30:34].any() and not never[region].any()  # the nose is skin; the region is never


def test_stage_steps_add_up():
    assert stage_steps(1000, 0) == [1000]
    assert stage_steps(1000, 2) == [500, 250, 250]
    assert stage_steps(1000, 2, first_stage=False) == [0, 500, 500]
    assert sum(stage_steps(1001, 3)) == 1001


def test_pore_loss_skips_ignored_pixels_and_rewards_the_truth():
    labels = torch.tensor([[[1, 0], [IGNORE, IGNORE]]])
    right = torch.tensor([[[[5.0, -5.0], [0.0, 0.0]]]])
    wrong = -right
    assert pore_loss(right, labels) < pore_loss(wrong, labels)
    flipped_ignored = right.clone()
    flipped_ignored[..., 1, :] = 9.0
    assert pore_loss(flipped_ignored, labels) == pytest.approx(pore_loss(right, labels).item())
    assert pore_loss(right, torch.full_like(labels, IGNORE)).item() == 0.0


def test_pore_loss_pulls_faint_spots_to_their_soft_target_and_weighs_structures():
    from poreseg.classes import FAINT, STRUCTURE
    faint = torch.tensor([[[FAINT]]])
    at_target = torch.logit(torch.tensor(FAINT_TARGET)).reshape(1, 1, 1, 1)
    assert pore_loss(at_target, faint) < pore_loss(at_target + 3, faint)
    assert pore_loss(at_target, faint) < pore_loss(at_target - 3, faint)
    # A structure costs more than plain skin when called a pore.
    called_pore = torch.tensor([[[[4.0, -4.0, 4.0]]]])  # the first pixel wrongly, the others rightly
    as_skin, as_structure = torch.tensor([[[0, 0, 1]]]), torch.tensor([[[STRUCTURE, 0, 1]]])
    assert pore_loss(called_pore, as_structure) > pore_loss(called_pore, as_skin)


def test_pseudo_labels_never_turn_a_structure_into_a_pore():
    labels = np.full((9, 9), STRUCTURE, np.uint8)
    updated = soft_labels(labels, np.ones((9, 9), np.float32), np.ones((9, 9), bool))
    assert (updated == STRUCTURE).all()


# --- data split -----------------------------------------------------------------------------------

def _fake_mste(root: Path, per_level: dict[str, int]) -> None:
    (root / "mste" / "images").mkdir(parents=True)
    with open(root / "mste" / "index.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "monk_skin_tone", "source_path", "orig_size", "crop_size", "face_found"])
        for level, count in per_level.items():
            for i in range(count):
                writer.writerow([f"images/l{level or 'x'}_{i}.jpg", level, "", "", "", "True"])


def test_pore_sources_split_is_fixed_disjoint_and_stratified(tmp_path):
    per_level = {"1": 10, "2": 5, "3": 2, "": 6}
    _fake_mste(tmp_path, per_level)
    test = datasets.pore_sources(tmp_path, "test")
    train = datasets.pore_sources(tmp_path, "train")
    assert test == datasets.pore_sources(tmp_path, "test")
    assert not {s.key for s in test} & {s.key for s in train}
    assert len(test) + len(train) == len(datasets.pore_sources(tmp_path, "all")) == sum(per_level.values())
    held_out = collections.Counter(s.monk_skin_tone for s in test)
    assert held_out == {1: 2, 2: 1, 3: 1, None: 1}


@pytest.mark.skipif(not DATA_DIR.is_dir(), reason="data folder absent")
def test_real_pore_sources_hold_out_every_monk_level():
    test = datasets.pore_sources(DATA_DIR, "test")
    train = datasets.pore_sources(DATA_DIR, "train")
    assert 12 <= len(test) <= 20
    assert {s.monk_skin_tone for s in test} >= set(range(1, 11))
    assert not {s.key for s in test} & {s.key for s in train}
    assert any(s.key.startswith("cc0_lisa_zoom/") for s in train)
    assert not any("celeb" in str(s.image) for s in train + test)


# --- a tiny training run --------------------------------------------------------------------------

def _tiny_photo(key: str, seed: int) -> PorePhoto:
    """Skin-coloured noise with dark dots as pores, labelled as DoGPore would (unsure rings ignored)."""
    rng = np.random.default_rng(seed)
    rgb = np.clip(rng.normal([180, 130, 110], 6, (96, 96, 3)), 0, 255).astype(np.uint8)
    labels = np.zeros((96, 96), np.uint8)
    for x, y in rng.integers(8, 88, (12, 2)):
        cv2.circle(rgb, (int(x), int(y)), 2, (120, 80, 70), -1)
        cv2.circle(labels, (int(x), int(y)), 4, IGNORE, -1)
        cv2.circle(labels, (int(x), int(y)), 2, 1, -1)
    region = np.ones((96, 96), bool)
    region[:, :8] = False
    labels[~region] = IGNORE
    return PorePhoto(key, rgb, labels, region, 4.0)


def test_training_runs_resumes_and_updates_labels(tmp_path, capsys):
    cache = tmp_path / "cache" / "pores"
    for i in range(2):
        save_photo(cache_path(cache, f"tiny/{i}"), _tiny_photo(f"tiny/{i}", i))
    assert [p.key for p in load_cache(cache)] == ["tiny/0", "tiny/1"]
    args = ["--cache", str(cache), "--steps", "4", "--rounds", "1", "--batch", "2", "--threads", "1",
            "--checkpoint", str(tmp_path / "psnet.ckpt"), "--out", str(tmp_path / "psnet.pt")]
    train_psnet.main(args)
    assert (tmp_path / "psnet.pt").exists()
    assert (tmp_path / "psnet.stage1.ckpt").exists() and (tmp_path / "psnet.stage2.ckpt").exists()
    pseudo = sorted((tmp_path / "cache" / "pores_pseudo" / "psnet_round1").rglob("*.png"))
    assert len(pseudo) == 2
    state = torch.load(tmp_path / "psnet.pt", weights_only=True)["model"]
    capsys.readouterr()
    train_psnet.main(args)  # everything is checkpointed: resumes at the end of both stages
    log = capsys.readouterr().out
    assert "resumed from" in log and "stage1" in log and "stage2" in log
    again = torch.load(tmp_path / "psnet.pt", weights_only=True)["model"]
    assert all(torch.equal(state[k], again[k]) for k in state)


def test_init_without_rounds_fine_tunes_the_given_network_on_the_coarse_labels(tmp_path):
    cache = tmp_path / "cache" / "pores"
    for i in range(2):
        save_photo(cache_path(cache, f"tiny/{i}"), _tiny_photo(f"tiny/{i}", i))
    common = ["--cache", str(cache), "--batch", "2", "--threads", "1"]
    train_psnet.main(common + ["--steps", "2", "--rounds", "0", "--checkpoint", str(tmp_path / "first.ckpt"),
                               "--out", str(tmp_path / "first.pt")])
    first = torch.load(tmp_path / "first.pt", weights_only=True)["model"]
    train_psnet.main(common + ["--steps", "3", "--rounds", "0", "--init", str(tmp_path / "first.pt"),
                               "--checkpoint", str(tmp_path / "tuned.ckpt"), "--out", str(tmp_path / "tuned.pt")])
    assert (tmp_path / "tuned.stage1.ckpt").exists()
    assert not (tmp_path / "cache" / "pores_pseudo").exists()  # no pseudo-label round
    tuned = torch.load(tmp_path / "tuned.pt", weights_only=True)["model"]
    fresh = torch.load(tmp_path / "first.pt", weights_only=True)["model"]
    changed = [k for k in first if not k.startswith("calibration.") and not torch.equal(first[k], tuned[k])]
    assert changed  # trained on from the given weights ...
    assert all(torch.equal(first[k], fresh[k]) for k in first)  # ... which stay as they were
    # ... and started from them: its layers are far closer to the given network's than a fresh start's
    distance = sum(float((tuned[k].float() - first[k].float()).abs().sum()) for k in changed)
    psnet = next(variant for variant in train_psnet.VARIANTS if variant.name == "psnet")
    restart = sum(float(p.abs().sum()) for k, p in train_psnet.build_net(psnet).state_dict().items() if k in changed)
    assert distance < 0.5 * restart


def test_cache_refuses_entries_of_another_labeller(tmp_path, monkeypatch):
    from poreseg.training import pore_patches
    path = cache_path(tmp_path, "tiny/0")
    save_photo(path, _tiny_photo("tiny/0", 0))
    assert pore_patches.is_current(path)
    monkeypatch.setattr(pore_patches, "labeller_fingerprint", lambda: "changed")
    assert not pore_patches.is_current(path)
    with pytest.raises(SystemExit, match="run python -m poreseg.training.pore_patches again"):
        load_cache(tmp_path)


def test_benchmark_facts_measure_rendered_pores_as_the_hand_marked_ones_were():
    from poreseg.pores import synth
    from poreseg.training.evaluate_pores import benchmark_facts
    from poreseg.training.pore_scoring import REAL_PORE_FACTS
    rng = np.random.default_rng(0)
    base = np.clip(150 + 2 * rng.standard_normal((128, 128, 1)), 0, 255).astype(np.uint8).repeat(3, axis=2)
    samples = [synth.render_pores(base, np.random.default_rng(seed), 4.0) for seed in range(4)]
    facts = benchmark_facts(samples)
    assert 0.7 < facts.median_diameter < 1.4  # rendered around the expected diameter
    assert facts.diameter_range[0] < facts.median_diameter < facts.diameter_range[1]
    assert 0 <= facts.reaching_z3 <= 1 and 0 <= facts.darker_4pc <= 1
    assert [name for name, *_ in facts.rows()] == list(REAL_PORE_FACTS)


def test_plain_dog_reference_marks_the_darkest_blobs_inside_the_region():
    from poreseg.training.pore_scoring import plain_dog_method
    image = np.full((64, 64, 3), 150, np.uint8)
    image[30:34, 30:34] = 110
    region = np.ones((64, 64), bool)
    region[:, :10] = False
    mask = plain_dog_method(image, region, 4.0)
    assert mask[31, 31] and not mask[:, :10].any() and mask.mean() < 0.05


def test_batches_mix_in_rendered_patches_at_the_share_asked(monkeypatch):
    from poreseg.training import negatives
    monkeypatch.setattr(train_psnet, "POOL", 3)
    monkeypatch.setattr(negatives, "NEGATIVE_SHARE", 0.0)
    rng = np.random.default_rng(0)
    size = 224
    rgb = np.clip(rng.normal([180, 130, 110], 4, (size, size, 3)), 0, 255).astype(np.uint8)
    photo = PorePhoto("a", rgb, np.full((size, size), IGNORE, np.uint8), np.ones((size, size), bool), 4.0)
    _, labels = next(train_psnet.batches([photo], [photo.labels], 8, seed=0, synthetic_share=0.5))
    rendered = [(lab != IGNORE).any() for lab in labels.numpy()]  # the real photo's labels are all IGNORE
    assert sum(rendered) == 4


def test_pores_rendered_into_a_real_patch_are_its_only_positives():
    """Rendered pores become 1, the coarse labels' structures stay negatives, a pore drawn over a structure
    and everything else (the patch's own, unknown pores; pixels off the photo) is ignored."""
    from poreseg.training.synthetic_patches import pores_rendered_into
    rng = np.random.default_rng(3)
    size = 128
    rgb = np.clip(rng.normal([180, 130, 110], 3, (size, size, 3)), 0, 255).astype(np.uint8)
    coarse = np.zeros((size, size), np.uint8)  # DoGPore: no pore here...
    coarse[:, 60:64] = STRUCTURE  # ...a hair...
    coarse[:8] = IGNORE  # ...and pixels off the photo
    coarse[20:24, 20:24] = 1  # and a pore of its own, which the rendered labels know nothing of
    image, labels = pores_rendered_into(rgb, coarse, 4.0, rng)
    assert image.shape == rgb.shape and image.dtype == np.uint8
    assert set(np.unique(labels)) == {1, STRUCTURE, IGNORE}
    pores = labels == 1
    assert 0.02 < pores.mean() < 0.3
    # The pores are where the image got darker, the hair stays a negative unless a pore covers it.
    assert image[pores].mean() < image[labels == IGNORE].mean()
    assert ((labels == STRUCTURE) | (labels == IGNORE))[:, 60:64].all() and (labels[:, 60:64] == STRUCTURE).mean() > 0.5
    assert not pores[:8].any()
    assert not (labels == 0).any()  # no confident skin: the real skin's own pores are unknown


def test_batches_with_rendered_pores_label_no_real_skin(monkeypatch):
    from poreseg.training import negatives
    monkeypatch.setattr(negatives, "NEGATIVE_SHARE", 0.0)
    rng = np.random.default_rng(0)
    size = 224
    rgb = np.clip(rng.normal([180, 130, 110], 4, (size, size, 3)), 0, 255).astype(np.uint8)
    photo = PorePhoto("a", rgb, np.zeros((size, size), np.uint8), np.ones((size, size), bool), 4.0)
    _, labels = next(train_psnet.batches([photo], [photo.labels], 4, seed=0, rendered_pores=True))
    labels = labels.numpy()
    assert (labels == 1).any() and not (labels == 0).any()
