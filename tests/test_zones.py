"""Face zones on a drawn face: five disjoint zones inside the region, in the right places, turning with the head,
and those of one face when the photo holds two."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import REPO_ROOT, requires_models
from poreseg.classes import BROW, EYE, LIPS, NOSE, SKIN
from poreseg.pores.scale import mm_per_px_from_labels
from poreseg.zones import ZONES, face_frame, face_oval_mask, face_zones

EYES = ((150, 170), (250, 170))  # image-left eye first; 100 px apart


def drawn_face(with_eyes: bool = True) -> np.ndarray:
    """A 420x400 label map: a skin oval with a neck, brows, eyes, a nose and lips."""
    labels = np.zeros((420, 400), np.uint8)
    cv2.ellipse(labels, (200, 200), (125, 165), 0, 0, 360, SKIN, -1)
    cv2.rectangle(labels, (150, 330), (250, 419), SKIN, -1)  # the neck, below the chin
    for x in (150, 250):
        cv2.rectangle(labels, (x - 32, 140), (x + 32, 150), BROW, -1)
        if with_eyes:
            cv2.ellipse(labels, (x, 170), (20, 8), 0, 0, 360, EYE, -1)
    cv2.fillPoly(labels, [np.array([(192, 165), (208, 165), (222, 248), (178, 248)])], NOSE)
    cv2.ellipse(labels, (200, 290), (38, 11), 0, 0, 360, LIPS, -1)
    return labels


def analysis_region(labels: np.ndarray) -> np.ndarray:
    return np.isin(labels, (SKIN, NOSE))


def centroid(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    assert ys.size, "empty zone"
    return float(xs.mean()), float(ys.mean())


@pytest.fixture(scope="module")
def zones():
    labels = drawn_face()
    frame = face_frame(labels, None)
    return face_zones(labels, analysis_region(labels), frame)


def test_frame_comes_from_the_eyes():
    frame = face_frame(drawn_face(), None)
    assert frame.from_eyes
    assert frame.eye_distance_px == pytest.approx(100, abs=1)
    assert frame.origin == pytest.approx((200, 170), abs=1)
    assert frame.angle == pytest.approx(0, abs=0.01)
    assert frame.mm_per_px == pytest.approx(mm_per_px_from_labels(drawn_face()))


def test_zones_are_disjoint_inside_the_region_and_all_present(zones):
    region = analysis_region(drawn_face())
    assert zones.labels.dtype == np.uint8 and set(np.unique(zones.labels)) == set(range(len(ZONES) + 1))
    assert not (zones.face_mask() & ~region).any()
    masks = [zones.mask(name) for name in ZONES]
    assert (np.sum(masks, axis=0) <= 1).all()
    assert zones.areas_px()[1:].sum() == zones.face_mask().sum()


def test_zones_sit_where_a_face_has_them(zones):
    brow_y, nose_bottom = 150, 248
    forehead, nose = centroid(zones.mask("forehead")), centroid(zones.mask("nose"))
    left, right, chin = (centroid(zones.mask(name)) for name in ("left_cheek", "right_cheek", "chin"))
    assert forehead[1] < brow_y
    assert abs(nose[0] - 200) < 5 and brow_y < nose[1] < nose_bottom
    # The subject's left cheek is on the image's right.
    assert left[0] > 240 and right[0] < 160
    assert abs(left[1] - right[1]) < 5 and left[1] > 170
    assert abs(chin[0] - 200) < 5 and chin[1] > nose_bottom
    assert not zones.mask("chin")[:nose_bottom - 2].any()


def test_neck_and_far_skin_are_outside_the_face(zones):
    # The chin is about 1.95 eye distances below the eye line (y = 170 + 195 = 365).
    assert not zones.face_mask()[380:].any()
    assert zones.face_mask()[300:340].any()


def test_zones_turn_with_a_tilted_head(zones):
    rotation = cv2.getRotationMatrix2D((200, 200), 20, 1.0)
    tilted = cv2.warpAffine(drawn_face(), rotation, (400, 420), flags=cv2.INTER_NEAREST)
    frame = face_frame(tilted, None)
    assert frame.angle == pytest.approx(np.radians(-20), abs=0.03)
    tilted_zones = face_zones(tilted, analysis_region(tilted), frame)
    expected = cv2.warpAffine(zones.labels, rotation, (400, 420), flags=cv2.INTER_NEAREST)
    for zone_id, name in enumerate(ZONES, start=1):
        a, b = tilted_zones.labels == zone_id, expected == zone_id
        assert (a & b).sum() / (a | b).sum() > 0.85, name


def test_without_eyes_the_frame_comes_from_the_feature_box():
    labels = drawn_face(with_eyes=False)
    assert face_frame(labels, None) is None
    frame = face_frame(labels, (118, 140, 282, 301))  # brows to lips, as the parser reports it
    assert not frame.from_eyes and frame.mm_per_px is None
    assert frame.eye_distance_px == pytest.approx(100, rel=0.15)
    assert frame.origin[1] == pytest.approx(170, abs=15)
    found = face_zones(labels, analysis_region(labels), frame)
    assert all(found.mask(name).any() for name in ZONES)


def test_face_oval_mask_matches_the_zones_reach():
    labels = drawn_face()
    frame = face_frame(labels, None)
    oval = face_oval_mask(frame, labels.shape)
    zones = face_zones(labels, analysis_region(labels), frame)
    assert not (zones.face_mask() & ~oval).any()
    assert (zones.face_mask() == (oval & analysis_region(labels))).all()


def test_with_two_faces_the_frame_and_zones_come_from_the_boxed_face_alone():
    """A second, smaller face beside the first: its eyes, nose and mouth must not mix into the first's."""
    single = drawn_face()
    other = cv2.resize(single, None, fx=0.85, fy=0.85, interpolation=cv2.INTER_NEAREST)
    labels = np.zeros((420, 400 + other.shape[1]), np.uint8)
    labels[:, :400] = single
    labels[:other.shape[0], 400:] = other
    frame = face_frame(labels, (118, 140, 282, 301))  # the left face's features, brows to lips
    assert frame.from_eyes and frame.eye_distance_px == pytest.approx(100, abs=1)
    assert frame.origin == pytest.approx((200, 170), abs=1)
    alone = face_zones(single, analysis_region(single), face_frame(single, None))
    both = face_zones(labels, analysis_region(labels), frame)
    assert both.landmarks == pytest.approx(alone.landmarks)
    assert (both.labels[:, :400] == alone.labels).all() and not both.labels[:, 400:].any()


@requires_models
def test_the_larger_of_two_real_faces_keeps_its_scale_and_zones():
    from poreseg.analysis import AnalysisOptions, analyze
    from poreseg.imageio import load_image

    larger, smaller = (load_image(REPO_ROOT / "examples" / name) for name in ("005_03.jpg", "012_08.jpg"))
    smaller = cv2.resize(smaller, (1100, 1100), interpolation=cv2.INTER_AREA)
    pair = np.full((larger.shape[0], larger.shape[1] + smaller.shape[1], 3), 255, np.uint8)
    pair[:, :larger.shape[1]] = larger
    top = (larger.shape[0] - smaller.shape[0]) // 2
    pair[top:top + smaller.shape[0], larger.shape[1]:] = smaller

    alone, together = (analyze(photo, AnalysisOptions(method="dog")) for photo in (larger, pair))
    assert together.parsing.faces_found == 2
    assert together.face.mm_per_px is not None
    assert together.face.mm_per_px == pytest.approx(alone.face.mm_per_px, rel=0.1)
    for name, value in vars(alone.zones.landmarks).items():  # in eye distances
        assert getattr(together.zones.landmarks, name) == pytest.approx(value, abs=0.05), name


def test_a_head_tilted_back_keeps_its_chin_off_the_neck():
    """Tilted back, the lower face is foreshortened: nose, mouth and jaw come up towards the eyes, and the
    neck's skin fills the frame's usual chin. The chin ends a lower face (three nose-to-mouth distances)
    below the nose."""
    labels = drawn_face()
    labels[200:] = 0
    cv2.ellipse(labels, (200, 200), (125, 110), 0, 0, 180, SKIN, -1)  # the jaw, higher up
    cv2.rectangle(labels, (140, 260), (260, 419), SKIN, -1)  # the neck, seen from the front
    cv2.fillPoly(labels, [np.array([(192, 165), (208, 165), (220, 215), (180, 215)])], NOSE)
    cv2.ellipse(labels, (200, 245), (38, 9), 0, 0, 360, LIPS, -1)
    zones = face_zones(labels, analysis_region(labels), face_frame(labels, None))
    # nose bottom 215 (0.45 eye distances below the eyes), mouth 245 (0.75): the chin ends at 0.45 + 3 x 0.3.
    assert zones.landmarks.chin_bottom == pytest.approx(1.35, abs=0.05)
    ys, _ = np.nonzero(zones.face_mask())
    assert ys.max() <= 170 + 1.35 * 100 + 2
    assert zones.too_little_skin == ()


def test_a_zone_with_only_a_strip_of_skin_is_left_out_and_named():
    labels = drawn_face()
    region = analysis_region(labels)
    region[:, 200:] = False  # the image-right half hidden (a hand, hair, a turned head)...
    region[240:250, 200:300] = True  # ...but for a strip of the subject's left cheek
    zones = face_zones(labels, region, face_frame(labels, None))
    assert zones.too_little_skin == ("left_cheek",)
    assert not zones.mask("left_cheek").any()
    assert zones.mask("right_cheek").any()
