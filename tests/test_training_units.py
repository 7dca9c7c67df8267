"""Fast unit tests of training code that needs no data folder."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from hypothesis import given, settings
from hypothesis import strategies as st

from poreseg.classes import (BACKGROUND, BODY, BROW, CLASSES, EYE, HAIR, IGNORE, LIPS, MOUTH, NOSE, OCCLUDER,
                             SKIN)
from conftest import REPO_ROOT
from poreseg.metrics import pore_score
from poreseg.training.calibrate_score import calibrated_reference, method_summary
from poreseg.training.crop_lists import StructureCrop, load_crops, parse_parts
from poreseg.training.evaluate import GLASSES_CSV, glasses_table
from poreseg.training.labels import _split_fasseg_hair, feature_box, occluder_suspects
from poreseg.training.losses import consensus_loss, dice_loss
from poreseg.training.parser_data import object_ids
from poreseg.training.segmentation_metrics import TO_FASSEG, confusion, iou_per_class
from poreseg.training.train_portrait import INPUT_SIZE, composed_scene, person_free_scene

C = len(CLASSES)
# FASSEG label ids
F_BACKGROUND, F_SKIN, F_HAIR, F_EYES, F_NOSE, F_MOUTH = range(6)


# --- consensus_loss -----------------------------------------------------------------------------

def _two_objects() -> torch.Tensor:
    """1x4x4 object map: left half object 0, right half object 1."""
    objects = torch.zeros(1, 4, 4, dtype=torch.int64)
    objects[..., 2:] = 1
    return objects


def _constant_per_object(objects: torch.Tensor) -> torch.Tensor:
    """Probabilities where every pixel of an object shares one distribution (different per object)."""
    distributions = torch.softmax(torch.randn(int(objects.max()) + 1, C, generator=torch.Generator().manual_seed(1)), 1)
    return distributions[objects.clamp(min=0)].permute(0, 3, 1, 2).contiguous()


def test_consensus_loss_zero_when_each_object_is_uniform():
    objects = _two_objects()
    probabilities = _constant_per_object(objects)
    assert consensus_loss(probabilities, objects).item() == pytest.approx(0.0, abs=1e-7)


def test_consensus_loss_positive_when_an_object_disagrees():
    objects = _two_objects()
    probabilities = _constant_per_object(objects)
    probabilities[0, :, 0, 0] = torch.nn.functional.one_hot(torch.tensor(3), C).float()
    assert consensus_loss(probabilities, objects).item() > 1e-3


def test_consensus_loss_ignores_unassigned_pixels():
    objects = _two_objects()
    objects[0, 3, :] = -1  # a row of ignored pixels across both objects
    probabilities = _constant_per_object(objects)
    probabilities[0, :, 3, :] = torch.softmax(torch.randn(C, 4, generator=torch.Generator().manual_seed(2)), 0)
    assert consensus_loss(probabilities, objects).item() == pytest.approx(0.0, abs=1e-7)


def test_consensus_loss_gradient_flows_to_probabilities():
    objects = _two_objects()
    probabilities = torch.softmax(torch.randn(1, C, 4, 4), 1).requires_grad_()
    consensus_loss(probabilities, objects).backward()
    assert probabilities.grad is not None and probabilities.grad.abs().sum() > 0


# --- dice_loss ----------------------------------------------------------------------------------

def _labels() -> torch.Tensor:
    labels = torch.full((2, 8, 8), BACKGROUND, dtype=torch.int64)
    labels[:, 2:6, 2:6] = SKIN
    labels[0, 3:5, 3:5] = EYE
    labels[1, 0, :] = HAIR
    return labels


def _one_hot(labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, C).permute(0, 3, 1, 2).float()


def test_dice_loss_near_zero_for_perfect_prediction():
    labels = _labels()
    assert dice_loss(_one_hot(labels), labels).item() == pytest.approx(0.0, abs=1e-6)


def test_dice_loss_larger_for_wrong_prediction():
    labels = _labels()
    perfect = dice_loss(_one_hot(labels), labels).item()
    wrong = dice_loss(_one_hot((labels + 1) % C), labels).item()
    uniform = dice_loss(torch.full((2, C, 8, 8), 1.0 / C), labels).item()
    assert wrong > 0.9
    assert perfect < uniform < wrong


def test_dice_loss_ignores_ignored_pixels():
    labels = _labels()
    probabilities = _one_hot(labels)
    labels[:, :, 6:] = IGNORE
    probabilities[:, :, :, 6:] = _one_hot(torch.full((2, 8, 2), OCCLUDER, dtype=torch.int64))  # wrong there
    assert dice_loss(probabilities, labels).item() == pytest.approx(0.0, abs=1e-6)


# --- object_ids ---------------------------------------------------------------------------------

def test_object_ids_separate_blobs_and_ignored_pixels():
    labels = np.full((20, 20), BACKGROUND, np.uint8)
    labels[2:6, 2:6] = SKIN
    labels[12:16, 12:16] = SKIN
    labels[19, :] = IGNORE
    objects = object_ids(labels)
    assert objects.dtype == np.int64 and objects.shape == labels.shape
    assert (objects[19] == -1).all()
    assert (objects[:19] >= 0).all()
    blob_a, blob_b = np.unique(objects[2:6, 2:6]), np.unique(objects[12:16, 12:16])
    background = np.unique(objects[:19][labels[:19] == BACKGROUND])
    assert len(blob_a) == len(blob_b) == len(background) == 1
    assert len({blob_a[0], blob_b[0], background[0]}) == 3
    assert sorted(np.unique(objects[objects >= 0])) == [0, 1, 2]  # dense ids from 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from([*range(C), IGNORE]), min_size=36, max_size=36))
def test_object_ids_objects_are_single_class(values):
    labels = np.array(values, np.uint8).reshape(6, 6)
    objects = object_ids(labels)
    assert ((objects == -1) == (labels == IGNORE)).all()
    for object_id in np.unique(objects[objects >= 0]):
        assert len(np.unique(labels[objects == object_id])) == 1


# --- labels: FASSEG hair split and feature box ----------------------------------------------------

def _fasseg_face() -> np.ndarray:
    labels = np.full((100, 100), F_SKIN, np.uint8)
    labels[:20, :] = F_HAIR  # head hair: one big blob at the top
    labels[35:38, 20:35] = F_HAIR  # brow
    labels[35:38, 65:80] = F_HAIR  # brow
    labels[40:44, 22:32] = F_EYES
    labels[40:44, 68:78] = F_EYES
    labels[45:65, 45:55] = F_NOSE
    labels[75:82, 35:65] = F_MOUTH
    return labels


def test_split_fasseg_hair_small_blobs_above_nose_are_brows():
    labels = _fasseg_face()
    brows = _split_fasseg_hair(labels)
    assert brows.dtype == bool and brows.shape == labels.shape
    assert brows[35:38, 20:35].all() and brows[35:38, 65:80].all()
    assert not brows[:20].any()
    assert brows.sum() == 2 * 3 * 15


def test_split_fasseg_hair_keeps_small_blobs_below_nose_as_hair():
    labels = _fasseg_face()
    labels[85:88, 40:60] = F_HAIR  # a small beard patch under the mouth
    brows = _split_fasseg_hair(labels)
    assert not brows[85:88].any()
    assert brows[35:38, 20:35].all() and brows[35:38, 65:80].all()


def test_split_fasseg_hair_single_blob_has_no_brows():
    labels = _fasseg_face()
    labels[35:38] = F_SKIN
    assert not _split_fasseg_hair(labels).any()


def test_feature_box_spans_facial_features_only():
    labels = np.full((50, 60), SKIN, np.uint8)
    labels[:5] = HAIR
    labels[45:] = BODY
    labels[10:14, 20:30] = EYE
    labels[8:10, 18:30] = BROW
    labels[30:35, 25:40] = MOUTH
    assert feature_box(labels) == (18, 8, 40, 35)  # x0, y0, x1, y1 with exclusive ends


def test_feature_box_none_without_enough_feature_pixels():
    labels = np.full((50, 60), SKIN, np.uint8)
    labels[:5] = HAIR
    labels[10:12, 10:15] = NOSE  # 10 pixels
    assert feature_box(labels) is None


# --- labels: glasses consensus near the eyes -------------------------------------------------------

def _lit_face() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """120x120 skin-coloured face lit from the left (luma falls by a third across it), all teacher
    skin, eyes at (40, 50) and (80, 50)."""
    shading = np.linspace(1.0, 0.67, 120, dtype=np.float32)[None, :, None]
    rgb = np.clip(np.array([200, 150, 120], np.float32) * shading * np.ones((120, 1, 1), np.float32), 0, 255)
    return rgb.astype(np.uint8), np.ones((120, 120), bool), np.array([[40.0, 50.0], [80.0, 50.0]])


def test_occluder_suspects_smooth_lighting_is_skin():
    rgb, skin, eyes = _lit_face()
    assert not occluder_suspects(rgb, skin, eyes).any()


def test_occluder_suspects_thin_dark_frame_near_the_eyes():
    rgb, skin, eyes = _lit_face()
    rgb[62:64, 20:60] = (60, 45, 40)  # a rim below the right eye, 2 px: half as bright as the skin
    rgb[110:112, 20:60] = (60, 45, 40)  # the same line at the chin: not where glasses are
    suspects = occluder_suspects(rgb, skin, eyes)
    assert suspects[62:64, 25:55].all()
    assert not suspects[105:].any()
    assert suspects.sum() < 0.1 * 120 * 120  # the rim and its blended edge, not the face


def test_occluder_suspects_tinted_lens_of_skin_brightness():
    rgb, skin, eyes = _lit_face()
    rgb[42:58, 70:90] = (110, 150, 190)  # a blue lens as bright as the skin (luma ~150)
    suspects = occluder_suspects(rgb, skin, eyes)
    assert suspects[44:56, 72:88].all()
    assert not suspects[:, :60].any()


def test_occluder_suspects_only_teacher_skin():
    rgb, skin, eyes = _lit_face()
    rgb[62:64, 20:60] = (60, 45, 40)
    skin[60:66] = False  # the teacher already said something else there
    assert not occluder_suspects(rgb, skin, eyes)[60:66].any()


# --- evaluation ---------------------------------------------------------------------------------

def test_confusion_rows_are_truth_columns_are_prediction():
    truth = np.array([[0, 0, 1], [1, 2, 2]], np.uint8)
    predicted = np.array([[0, 1, 1], [1, 2, 0]], np.uint8)
    matrix = confusion(truth, predicted, 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_iou_per_class_values_and_absent_class():
    matrix = np.array([[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    ious = iou_per_class(matrix)
    assert ious[:3] == pytest.approx([1 / 3, 2 / 3, 1 / 2])
    assert np.isnan(ious[3])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=50))
def test_confusion_counts_every_pixel_and_iou_is_bounded(pairs):
    truth = np.array([t for t, _ in pairs], np.uint8)
    predicted = np.array([p for _, p in pairs], np.uint8)
    matrix = confusion(truth, predicted, 6)
    assert matrix.sum() == len(pairs)
    assert (matrix.sum(1) == np.bincount(truth, minlength=6)).all()
    ious = iou_per_class(matrix)
    present = ~np.isnan(ious)
    assert ((ious[present] >= 0) & (ious[present] <= 1)).all()
    assert present.tolist() == [(truth == c).any() or (predicted == c).any() for c in range(6)]


def test_to_fasseg_mapping():
    expected = {BACKGROUND: 0, BODY: 0, OCCLUDER: 0, SKIN: 1, HAIR: 2, BROW: 2, EYE: 3, NOSE: 4, LIPS: 5, MOUTH: 5}
    assert set(expected) == set(range(C))
    assert {c: int(TO_FASSEG[c]) for c in range(C)} == expected
    ours = np.array([[BROW, LIPS, MOUTH], [BODY, OCCLUDER, HAIR]], np.uint8)
    assert TO_FASSEG[ours].tolist() == [[2, 5, 5], [0, 0, 2]]


# --- calibrate_score ----------------------------------------------------------------------------

def test_a_calibrated_reference_gives_the_median_face_63():
    densities = np.array([0.2, 1.0, 1.2, 2.5, 7.0])
    fractions = np.array([0.0004, 0.0015, 0.002, 0.003, 0.009])
    reference = calibrated_reference(densities, fractions)
    assert reference.density_per_cm2 == pytest.approx(1.8) and reference.area_fraction == pytest.approx(0.003)
    assert pore_score(1.2, 0.002, reference) == pytest.approx(100 * 2 ** (-1 / 1.5))
    summary = method_summary("dog", densities, fractions)
    assert '"dog": ScoreReference(density_per_cm2=1.8, area_fraction=0.003)' in summary


# --- portrait scene composites ----------------------------------------------------------------------

def _striped_photo_with_person() -> tuple[np.ndarray, np.ndarray]:
    """A 96x128 photo: green above, grey below, and a red 'person' box standing across both."""
    rgb = np.zeros((96, 128, 3), np.uint8)
    rgb[:48] = (40, 160, 40)
    rgb[48:] = (120, 120, 120)
    person = np.zeros((96, 128), bool)
    person[30:80, 50:70] = True
    rgb[person] = (220, 20, 20)
    return rgb, person


def test_person_free_scene_paints_the_person_out_and_keeps_the_rest():
    rgb, person = _striped_photo_with_person()
    scene = person_free_scene(rgb, person)
    assert scene.shape == rgb.shape
    red = (scene[..., 0] > 150) & (scene[..., 1] < 80)
    assert not red.any()
    far = np.ones_like(person)
    far[20:90, 40:80] = False  # away from the dilated hole the photo is untouched
    assert np.array_equal(scene[far], rgb[far])


def test_composed_scene_labels_only_the_pasted_people():
    rgb, person = _striped_photo_with_person()
    scene = person_free_scene(rgb, person)
    items = [(rgb, person.astype(np.uint8))]
    rng = np.random.default_rng(0)
    saw_person = saw_empty = False
    for _ in range(40):
        view, label = composed_scene(scene, items, [0], rng)
        assert view.shape == (INPUT_SIZE, INPUT_SIZE, 3) and label.shape == (INPUT_SIZE, INPUT_SIZE)
        assert set(np.unique(label)) <= {0, 1}
        red = (view[..., 0] > 150) & (view[..., 1] < 80)
        # Labelled person pixels are the pasted red person (its blended rim aside), the rest is background.
        assert np.count_nonzero(red & (label == 0)) <= 0.25 * max(1, np.count_nonzero(red))
        assert np.count_nonzero((label == 1) & ~red) <= 0.25 * max(1, np.count_nonzero(label == 1))
        saw_person |= bool(label.any())
        saw_empty |= not label.any()
    assert saw_person and saw_empty


# --- glasses set ------------------------------------------------------------------------------------

def test_glasses_table_counts_structure_pixels_by_parsed_class(tmp_path):
    Image.fromarray(np.zeros((40, 60, 3), np.uint8)).save(tmp_path / "photo.png")
    # A 20x10 frame box at (10, 10) of the photo, half of it (x < 20 in the photo) in the skin half below,
    # and a thick line across the occluder half.
    frame = StructureCrop("photo.png", 10, 10, 30, 20, "glasses", parse_parts("0 0; 19 0; 19 9; 0 9"), 0, "test", "", "")
    lens = StructureCrop("photo.png", 30, 30, 20, 5, "sunglasses", parse_parts("0 1; 19 1"), 2, "test", "", "")
    calls = []

    def left_skin_right_occluder(rgb):
        calls.append(rgb.shape)
        labels = np.full(rgb.shape[:2], OCCLUDER, np.uint8)
        labels[:, :20] = SKIN
        return labels

    rows = glasses_table(left_skin_right_occluder, tmp_path, [frame, lens])
    assert calls == [(40, 60, 3)]  # the photo is parsed once for both crops
    assert rows["glasses"] == pytest.approx({"pixels called skin": 0.5, "called occluder": 0.5})
    assert rows["sunglasses"] == pytest.approx({"pixels called skin": 0.0, "called occluder": 1.0})
    assert frame.structure_mask().sum() == 200
    assert rows["all"]["pixels called skin"] == pytest.approx(100 / (200 + lens.structure_mask().sum()))


def test_glasses_set_lists_frames_inside_their_crops():
    crops = load_crops(GLASSES_CSV)
    assert {crop.structure for crop in crops} == {"glasses", "sunglasses"}
    for crop in crops:
        mask = crop.structure_mask()
        assert mask.shape == (crop.height, crop.width) and 0 < mask.mean() < 0.6


# --- module boundaries ----------------------------------------------------------------------------
EVALUATION_MODULES = {"evaluate", "evaluate_pores", "pore_checks", "model_card"}


def test_the_trainers_never_import_the_evaluation():
    """The trainers share losses (losses.py) and scores (segmentation_metrics.py, pore_scoring.py) with
    the evaluation, never its modules: an evaluation can change without touching how networks train."""
    trainers = ("train_parser", "train_portrait", "train_psnet", "synthetic_ceiling")
    code = ("import sys\n" + "".join(f"import poreseg.training.{name}\n" for name in trainers)
            + "print(' '.join(m.rsplit('.', 1)[-1] for m in sys.modules if m.startswith('poreseg.training.')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    imported = set(result.stdout.split())
    assert set(trainers) <= imported and "losses" in imported
    assert imported & EVALUATION_MODULES == set()
