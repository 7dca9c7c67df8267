"""Face parsing: the interface contracts of parse_face, and a plausible layout on real portraits."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torch.nn import functional as F

import poreseg
from conftest import REPO_ROOT, requires_weights
from poreseg.classes import BROW, CLASSES, EYE, FACIAL_FEATURES, HAIR, LIPS, MOUTH, NOSE, OCCLUDER, SKIN
from poreseg.imageio import load_image

needs_parser = requires_weights("face_parser")


def example(name: str) -> np.ndarray:
    return load_image(REPO_ROOT / "examples" / name)


def resized(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    shrink = width * height < rgb.shape[0] * rgb.shape[1]
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def pixels(labels: np.ndarray, *classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the pixels labelled with any of ``classes``; fails if there are none."""
    ys, xs = np.nonzero(np.isin(labels, classes))
    assert ys.size, f"no {'/'.join(CLASSES[c] for c in classes)} pixels"
    return ys, xs


def mean_row(labels: np.ndarray, *classes: int) -> float:
    return float(pixels(labels, *classes)[0].mean())


def centroid(labels: np.ndarray, *classes: int) -> tuple[float, float]:
    ys, xs = pixels(labels, *classes)
    return float(xs.mean()), float(ys.mean())


def assert_parsing_contract(parsing, height: int, width: int) -> None:
    assert isinstance(parsing, poreseg.FaceParsing)
    assert parsing.labels.shape == (height, width)
    assert parsing.labels.dtype == np.uint8
    assert parsing.labels.max() < len(CLASSES)
    assert isinstance(parsing.faces_found, int)
    assert (parsing.face_box is None) == (parsing.faces_found == 0)
    if parsing.face_box is not None:
        assert len(parsing.face_box) == 4
        assert all(isinstance(v, int) for v in parsing.face_box), parsing.face_box
        x0, y0, x1, y1 = parsing.face_box
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, parsing.face_box


def test_class_table_is_fixed():
    assert poreseg.CLASSES == ("background", "skin", "brow", "eye", "nose", "lips", "mouth", "hair", "body",
                               "occluder")


# --- interface contracts -------------------------------------------------------------------------------

@needs_parser
@pytest.mark.parametrize("height, width", [(500, 700), (1500, 2000)])
def test_labels_at_non_square_input_size(height, width):
    parsing = poreseg.parse_face(resized(example("005_03.jpg"), height, width))
    assert_parsing_contract(parsing, height, width)


@pytest.fixture(scope="module")
def small_portrait() -> np.ndarray:
    return resized(example("005_03.jpg"), 360, 480)


@pytest.fixture(scope="module")
def small_portrait_parsing(small_portrait):
    return poreseg.parse_face(small_portrait)


ARRAY_VARIANTS = {
    "grey": lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
    "rgba": lambda rgb: np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]),
    "uint16": lambda rgb: rgb.astype(np.uint16) * 257,
}


@needs_parser
@pytest.mark.parametrize("variant", ARRAY_VARIANTS)
def test_array_variant_is_parsed_at_input_size(small_portrait, variant):
    parsing = poreseg.parse_face(ARRAY_VARIANTS[variant](small_portrait))
    assert_parsing_contract(parsing, *small_portrait.shape[:2])


@needs_parser
@pytest.mark.parametrize("variant", ["rgba", "uint16"])
def test_lossless_array_variant_parses_like_rgb(small_portrait, small_portrait_parsing, variant):
    parsing = poreseg.parse_face(ARRAY_VARIANTS[variant](small_portrait))
    np.testing.assert_array_equal(parsing.labels, small_portrait_parsing.labels)
    assert parsing.face_box == small_portrait_parsing.face_box


def smooth_colour_noise(seed: int) -> np.ndarray:
    coarse = np.random.default_rng(seed).integers(0, 256, (6 + seed % 5, 8 + seed % 7, 3), dtype=np.uint8)
    return cv2.resize(coarse, (640, 480), interpolation=cv2.INTER_CUBIC)


@needs_parser
def test_no_face_in_smooth_colour_noise():
    parsing = poreseg.parse_face(smooth_colour_noise(0))
    assert parsing.faces_found == 0
    assert parsing.face_box is None
    assert_parsing_contract(parsing, 480, 640)


@needs_parser
def test_blobs_of_colour_are_rarely_a_face():
    """The find pass sees a face in many such images (29 to 57 of 60 with the parsers measured); a crop
    pass, the closer look, without a single facial feature in it rejects most of them."""
    assert sum(poreseg.parse_face(smooth_colour_noise(seed)).faces_found > 0 for seed in range(20)) <= 3


# --- two faces: the larger one is parsed ---------------------------------------------------------------

LARGE_SIDE, SMALL_SIDE, GAP = 1000, 550, 50


@pytest.fixture(scope="module")
def two_faces_parsing():
    """012_08 at 1000 px on the left, 005_03 at 550 px to its right, on the examples' grey backdrop."""
    canvas = np.full((LARGE_SIDE, LARGE_SIDE + GAP + SMALL_SIDE, 3), 205, np.uint8)
    canvas[:, :LARGE_SIDE] = resized(example("012_08.jpg"), LARGE_SIDE, LARGE_SIDE)
    top = (LARGE_SIDE - SMALL_SIDE) // 2
    canvas[top:top + SMALL_SIDE, LARGE_SIDE + GAP:] = resized(example("005_03.jpg"), SMALL_SIDE, SMALL_SIDE)
    return poreseg.parse_face(canvas)


@needs_parser
def test_two_portraits_give_two_faces(two_faces_parsing):
    assert two_faces_parsing.faces_found == 2


@needs_parser
def test_face_box_lies_in_the_larger_portrait(two_faces_parsing):
    assert two_faces_parsing.face_box is not None
    assert two_faces_parsing.face_box[2] <= LARGE_SIDE, two_faces_parsing.face_box


# --- plausible layout on real portraits ----------------------------------------------------------------

@pytest.fixture(scope="module", params=["005_03.jpg", "lisa1.jpg"])
def portrait_parsing(request):
    return poreseg.parse_face(example(request.param))


@needs_parser
def test_portrait_has_one_face(portrait_parsing):
    assert portrait_parsing.faces_found == 1


@needs_parser
def test_skin_is_the_largest_face_class(portrait_parsing):
    counts = np.bincount(portrait_parsing.labels.ravel(), minlength=len(CLASSES))
    assert counts[SKIN] > counts[list(FACIAL_FEATURES)].max(), dict(zip(CLASSES, counts))


@needs_parser
def test_skin_covers_a_sensible_fraction(portrait_parsing):
    fraction = (portrait_parsing.labels == SKIN).mean()
    assert 0.05 < fraction < 0.5, fraction


@needs_parser
def test_eyes_are_above_the_mouth(portrait_parsing):
    assert mean_row(portrait_parsing.labels, EYE) < mean_row(portrait_parsing.labels, LIPS, MOUTH)


@needs_parser
def test_nose_is_between_eyes_and_mouth(portrait_parsing):
    labels = portrait_parsing.labels
    assert mean_row(labels, EYE) < mean_row(labels, NOSE) < mean_row(labels, LIPS, MOUTH)


@needs_parser
def test_hair_is_above_the_eyes(portrait_parsing):
    assert mean_row(portrait_parsing.labels, HAIR) < mean_row(portrait_parsing.labels, EYE)


@needs_parser
@pytest.mark.parametrize("feature", [EYE, LIPS], ids=[CLASSES[EYE], CLASSES[LIPS]])
def test_face_box_contains_feature_centroid(portrait_parsing, feature):
    assert portrait_parsing.face_box is not None
    x0, y0, x1, y1 = portrait_parsing.face_box
    x, y = centroid(portrait_parsing.labels, feature)
    assert x0 <= x <= x1 and y0 <= y <= y1, (portrait_parsing.face_box, (x, y))


# --- speed measures that must not change the labels ---------------------------------------------------

@needs_parser
@pytest.mark.parametrize("view_size, out_size", [(256, 256), (512, 512), (256, 1024)])
def test_labels_resampled_by_opencv_are_torchs_bilinear_argmax(view_size, out_size):
    """FaceParser.labels resamples the logits (of the view and, mirrored back, of its mirror image) with
    OpenCV: the same classes as torch's bilinear interpolation (align_corners=False) followed by the argmax."""
    from poreseg.parsing import FaceParser, letterbox_matrix, normalise, warp_view

    parser = FaceParser.load()
    rgb = example("005_03.jpg")
    view = warp_view(rgb, letterbox_matrix(*rgb.shape[:2], view_size), view_size)
    x = normalise(view)
    logits = torch.from_numpy(parser.run(x) + parser.run(x[..., ::-1])[..., ::-1])  # the view and its mirror
    expected = F.interpolate(logits, size=(out_size, out_size), mode="bilinear", align_corners=False)
    assert (parser.labels(view, out_size) == expected[0].argmax(0).numpy()).all()


@pytest.mark.parametrize("in_size, out_size", [(64, 256), (64, 987), (128, 512), (17, 64)])
def test_argmax_of_resampled_logits_needs_resampling_only_between_disagreeing_neighbours(in_size, out_size):
    from poreseg.parsing import resampled_argmax

    rng = np.random.default_rng(in_size + out_size)
    # Smooth logits make class regions, as a network's do, with borders between them.
    logits = cv2.resize(rng.normal(0, 1, (6, 6, 10)).astype(np.float32), (in_size, in_size),
                        interpolation=cv2.INTER_CUBIC)
    expected = cv2.resize(logits, (out_size, out_size), interpolation=cv2.INTER_LINEAR).argmax(-1)
    assert (resampled_argmax(logits, out_size) == expected).all()


@pytest.mark.parametrize("angle", [0.0, 17.0])
@pytest.mark.parametrize("centre", [(1500.0, 1200.0), (100.0, 2900.0)], ids=["inside", "over the border"])
def test_a_crop_view_from_the_pyramid_is_the_view_of_the_whole_photo(centre, angle):
    """Up to the resampling (the pyramid halves by area averaging before the last, smaller reduction: a
    grey level or two apart on edges), and not shifted."""
    from poreseg.parsing import ImagePyramid, square_crop_matrix, warp_view

    rgb = cv2.resize(example("005_03.jpg"), (4000, 3000), interpolation=cv2.INTER_LINEAR)
    matrix = square_crop_matrix(centre, 1700.0, 256, angle)
    expected = warp_view(rgb, matrix, 256).astype(np.float32)
    view = ImagePyramid(rgb).view(matrix, 256).astype(np.float32)
    difference = np.abs(view - expected)
    assert difference.mean() < 1 and np.percentile(difference, 90) <= 2
    (dx, dy), _ = cv2.phaseCorrelate(cv2.cvtColor(expected, cv2.COLOR_RGB2GRAY), cv2.cvtColor(view, cv2.COLOR_RGB2GRAY))
    assert abs(dx) < 0.05 and abs(dy) < 0.05


@pytest.mark.parametrize("angle", [0.0, 17.0])
@pytest.mark.parametrize("centre", [(150.0, 120.0), (20.0, 230.0)], ids=["inside", "over the border"])
def test_pasting_warps_only_the_view_footprint_and_gives_what_a_full_warp_gives(centre, angle):
    from poreseg.parsing import _paste, square_crop_matrix

    rng = np.random.default_rng(0)
    view = rng.integers(0, len(CLASSES), (96, 96), dtype=np.uint8)
    under = rng.integers(0, len(CLASSES), (240, 320), dtype=np.uint8)
    matrix = square_crop_matrix(centre, 110.0, 96, angle)
    full = cv2.warpAffine(view, cv2.invertAffineTransform(matrix), (320, 240), flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    expected = np.where(full == 255, under, full)
    pasted = under.copy()
    _paste(view, matrix, pasted)
    assert (pasted == expected).all()
    assert (pasted != under).any()


def test_labels_the_matte_calls_background_become_background_outside_the_face_box():
    from poreseg.classes import BACKGROUND
    from poreseg.parsing import FaceParsing, within_person
    labels = np.full((40, 60), HAIR, np.uint8)  # as if a door beside the head had been called hair
    labels[10:30, 20:40] = SKIN
    person = np.zeros((40, 60), np.float32)
    person[:, 15:45] = 0.7
    person[12:28, 22:38] = 0.0  # a matte that misses part of the face: the feature box keeps its labels
    fused = within_person(FaceParsing(labels, (20, 10, 40, 30), 1), person)
    expected = np.where(person > 0, labels, BACKGROUND)
    expected[10:30, 20:40] = SKIN
    np.testing.assert_array_equal(fused.labels, expected)
    assert (fused.face_box, fused.faces_found) == ((20, 10, 40, 30), 1)
    assert (labels[:, :15] == HAIR).all(), "the input parsing is not changed"


class _SeesOnlyOccluders(torch.nn.Module):
    """A stand-in parser network whose every logit says occluder."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(x.shape[0], len(CLASSES), x.shape[2] // 4, x.shape[3] // 4)
        logits[:, OCCLUDER] = 1.0
        return logits


def test_eye_pass_adds_occluders_over_skin_nose_and_brow_only_around_the_eyes():
    from poreseg.parsing import EYE_LINE, EYE_VIEW_ZOOM, CROP_SCALE, FaceParser, ImagePyramid
    labels = np.full((200, 200), SKIN, np.uint8)
    labels[70:80, 70:90] = EYE
    labels[60:66, 70:90] = BROW
    labels[75:100, 95:105] = NOSE
    labels[30:40, :] = HAIR
    before = labels.copy()
    face_box = (60, 60, 140, 140)
    FaceParser.from_net(_SeesOnlyOccluders())._eye_pass(ImagePyramid(np.zeros((200, 200, 3), np.uint8)), face_box,
                                                        labels)
    half = CROP_SCALE * 80 / EYE_VIEW_ZOOM / 2  # the eye view: 112 px square around (100, 84)
    centre_y = 60 + EYE_LINE * 80
    inside = np.zeros(labels.shape, bool)
    inside[int(centre_y - half) + 2:int(centre_y + half) - 2, int(100 - half) + 2:int(100 + half) - 2] = True
    assert (labels[inside & np.isin(before, (SKIN, NOSE, BROW))] == OCCLUDER).all()
    assert (labels[np.isin(before, (EYE, HAIR))] == before[np.isin(before, (EYE, HAIR))]).all()
    assert (labels[int(centre_y + half) + 2:] == SKIN).all()  # below the view: the crop pass's labels


@needs_parser
def test_a_mirrored_view_gets_the_mirrored_labels():
    """Each view is parsed as it is and mirrored; the sum of the two answers is the same either way round."""
    from poreseg.parsing import INPUT_SIZE, FaceParser
    view = resized(example("005_03.jpg"), INPUT_SIZE, INPUT_SIZE)
    parser = FaceParser.shared()
    labels, mirrored = parser.labels(view, 512), parser.labels(np.ascontiguousarray(view[:, ::-1]), 512)
    assert np.mean(mirrored[:, ::-1] == labels) > 0.9999
    assert len(np.unique(labels)) >= 6  # a parsed face, not a uniform answer


@needs_parser
def test_a_mirrored_photo_gets_nearly_the_mirrored_skin():
    """Whole photos: the crops' geometry follows what was found, to the pixel, so a little may differ."""
    rgb = example("lisa_15cm.jpg")
    skin = poreseg.parse_face(rgb).labels == SKIN
    mirrored = poreseg.parse_face(np.ascontiguousarray(rgb[:, ::-1])).labels[:, ::-1] == SKIN
    assert np.count_nonzero(skin & mirrored) / np.count_nonzero(skin | mirrored) > 0.98
