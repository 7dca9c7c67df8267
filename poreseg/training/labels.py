"""Build 10-class training labels: MediaPipe teacher pseudo labels, overridden by human labels.

The teacher (``teacher.py``) knows the face mesh parts and the person silhouette but has no hair,
ears, neck or teeth and calls occluders skin. We extend it with a per-face skin-colour model
(neck and ears), mark uncertain borders as ``IGNORE``, and let every human label a dataset has win:

    python -m poreseg.training.labels --data ../shared/data --teacher cache/teacher --out cache/labels
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from poreseg.classes import (BACKGROUND, BODY, BROW, EYE, HAIR, IGNORE, LIPS, MOUTH, NOSE, OCCLUDER, SKIN,
                             FACIAL_FEATURES)
from poreseg.training import datasets

WORK_MAX_SIDE = 640  # training crops are 256 px; a 640 px working copy keeps every face sharp enough

# Face-mesh landmark polygons (MediaPipe 0.10.21, refine_landmarks=True); LEFT = the subject's left.
MESH_PARTS = {
    "face_oval": [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
                  148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109],
    "nose": [168, 193, 245, 188, 174, 236, 198, 209, 49, 64, 98, 97, 2, 326, 327, 294, 279, 429, 420, 456, 399,
             412, 465, 417],
    "left_brow": [276, 283, 282, 295, 285, 336, 296, 334, 293, 300],
    "right_brow": [46, 53, 52, 65, 55, 107, 66, 105, 63, 70],
    "left_eye": [249, 263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390],
    "right_eye": [7, 33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163],
    "lips_outer": [0, 37, 39, 40, 185, 61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267],
    "mouth_inner": [13, 82, 81, 80, 191, 78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312],
}
PAINT_ORDER = [("nose", NOSE), ("left_brow", BROW), ("right_brow", BROW), ("left_eye", EYE), ("right_eye", EYE),
               ("lips_outer", LIPS), ("mouth_inner", MOUTH)]
LEFT_EYE_CENTRE, RIGHT_EYE_CENTRE = 473, 468  # iris centres
CHIN, FOREHEAD_TOP = 152, 10


@dataclass
class LabelledImage:
    rgb: np.ndarray  # HxWx3 uint8 working copy
    labels: np.ndarray  # HxW uint8 class ids or IGNORE
    landmarks: np.ndarray  # (faces, 478, 2) teacher landmarks in working pixels; may be empty
    human: str  # which human labels overrode the teacher ("" for none)


def _fill(mask_shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    mask = np.zeros(mask_shape, np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask.astype(bool)


def _band(mask: np.ndarray, width: int) -> np.ndarray:
    """Pixels within ``width`` of the mask's border."""
    if width <= 0:
        return np.zeros_like(mask)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    m = mask.astype(np.uint8)
    return (cv2.dilate(m, kernel) - cv2.erode(m, kernel)).astype(bool)


def _skin_distance(rgb: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Mahalanobis distance of every pixel to the chroma of the reference skin pixels."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    chroma = ycc[..., 1:]
    samples = chroma[reference]
    if len(samples) < 50:
        return np.full(rgb.shape[:2], np.inf, np.float32)
    mean = samples.mean(0)
    cov = np.cov(samples.T) + np.eye(2) * 4.0
    inv = np.linalg.inv(cov)
    d = chroma - mean
    luma_far = np.abs(ycc[..., 0] - np.median(ycc[..., 0][reference])) / 255.0  # very dark pixels are not skin
    return np.sqrt(np.einsum("...i,ij,...j->...", d, inv, d)) + 6.0 * np.maximum(luma_far - 0.35, 0)


# Consensus of the teacher with a per-face colour model near the eyes (issue 14): the face mesh calls glasses
# skin (the frame pixels of the glasses set were 37-74% teacher skin in the training labels, none occluder).
# Around the eyes, where glasses sit, a teacher-skin pixel that the face's own skin colour disagrees with is
# not taught as skin: it is ignored. Thresholds chosen on the 6 mste glasses photos of the glasses set and
# glasses-free faces: they leave 0-30% of the frames' teacher skin and ignore 6-25% of the skin near the
# eyes of faces without glasses (shadowed eye sockets), which costs no wrong label.
GLASSES_REACH = (0.62, 0.5)  # half-width, half-height of the region around each eye, in eye distances
SHADING_SIGMA = 0.06  # in eye distances: lighting varies over more than a frame's width
DARK_RATIO = 0.72  # darker than this share of the skin luma around it (thin dark frames)
VERY_DARK_RATIO = 0.45  # darker than this share of the face's median skin luma (dark lenses, wide frames)
CHROMA_OUTLIER = 4.5  # robust Mahalanobis distance in rg chromaticity, which lighting does not change


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _chroma_distance(rgb: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Mahalanobis distance in rg chromaticity to the reference pixels, from their median and the
    covariance of their central 90% (so that the outliers being looked for do not widen it)."""
    total = rgb.astype(np.float32).sum(2) + 1.0
    chroma = np.stack([rgb[..., 0] / total, rgb[..., 1] / total], -1)
    samples = chroma[reference]
    centre = np.median(samples, 0)
    spread = np.linalg.norm(samples - centre, axis=1)
    core = samples[spread <= np.quantile(spread, 0.9)] - centre
    inverse = np.linalg.inv(np.cov(core.T) + np.eye(2) * 1e-6)
    d = chroma - centre
    return np.sqrt(np.einsum("...i,ij,...j->...", d, inverse, d))


def occluder_suspects(rgb: np.ndarray, skin: np.ndarray, eye_centres: np.ndarray) -> np.ndarray:
    """Pixels of ``skin`` (the teacher's) near the two ``eye_centres`` ((2, 2) x, y) that a colour model of
    the face's own skin disagrees with: darker than the skin around them, very dark for the face, or of
    another chromaticity. A rule on colour alone, the same for every photo; what it finds is not surely
    skin, so training ignores it (never relabels it)."""
    h, w = skin.shape
    eye_distance = float(np.linalg.norm(eye_centres[1] - eye_centres[0]))
    if eye_distance < 4 or np.count_nonzero(skin) < 50:
        return np.zeros((h, w), bool)
    region = np.zeros((h, w), np.uint8)
    axes = (int(GLASSES_REACH[0] * eye_distance), int(GLASSES_REACH[1] * eye_distance))
    for x, y in eye_centres:
        cv2.ellipse(region, (int(x), int(y)), axes, 0, 0, 360, 1, -1)
    candidates = skin & region.astype(bool)
    luma = _luma(rgb)
    median = float(np.median(luma[skin]))
    reference = skin & (luma >= 0.5 * median)  # very dark pixels do not set the skin's level
    sigma = SHADING_SIGMA * eye_distance
    weight = cv2.GaussianBlur(reference.astype(np.float32), (0, 0), sigma)
    shading = cv2.GaussianBlur(luma * reference, (0, 0), sigma) / np.maximum(weight, 1e-3)
    dark = ((luma < DARK_RATIO * shading) & (weight > 0.05)) | (luma < VERY_DARK_RATIO * median)
    suspects = candidates & (dark | (_chroma_distance(rgb, reference) > CHROMA_OUTLIER))
    # a frame's blended edge is not clean skin either
    return cv2.dilate(suspects.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & candidates


def teacher_labels(rgb: np.ndarray, faces: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Pseudo labels from face mesh landmarks and a person probability map (both at rgb's size)."""
    h, w = rgb.shape[:2]
    labels = np.full((h, w), BACKGROUND, np.uint8)
    is_person = person > 0.5
    labels[is_person] = BODY
    labels[(person > 0.25) & (person < 0.75)] = IGNORE
    # Paint the largest face last so that it wins where faces touch.
    order = np.argsort([np.ptp(f[:, 0]) * np.ptp(f[:, 1]) for f in faces]) if len(faces) else []
    for face in faces[order]:
        face_size = max(np.ptp(face[:, 0]), np.ptp(face[:, 1]))
        band = max(1, int(round(face_size * 0.012)))
        oval = _fill((h, w), face[MESH_PARTS["face_oval"]])
        features = np.zeros((h, w), bool)
        for part, _ in PAINT_ORDER:
            features |= _fill((h, w), face[MESH_PARTS[part]])
        inner = cv2.erode(oval.astype(np.uint8), np.ones((2 * band + 1,) * 2, np.uint8)).astype(bool)
        distance = _skin_distance(rgb, inner & ~features)
        skin_like = distance < 2.5
        not_skin = distance > 4.0
        chin_y = face[CHIN, 1]
        eyes_y = (face[LEFT_EYE_CENTRE, 1] + face[RIGHT_EYE_CENTRE, 1]) / 2
        ys = np.arange(h)[:, None]
        # Around the face: skin-coloured person pixels are ears and neck, others hair (above the
        # eyes) or body (well below the chin); between eyes and chin we cannot tell hair from clothes.
        # Around the face: above the eyes the person is hair; beside the face, skin-coloured pixels
        # are ears; below the chin, neck or clothes. What colour cannot settle is ignored.
        x0, x1 = face[:, 0].min(), face[:, 0].max()
        xs = np.arange(w)[None, :]
        outside = is_person & ~oval
        ears = cv2.dilate(oval.astype(np.uint8), np.ones((int(face_size * 0.35) | 1,) * 2, np.uint8)).astype(bool)
        ears &= (ys >= eyes_y - 0.1 * face_size) & (ys < chin_y)
        below = (ys >= chin_y - 0.1 * face_size) & (xs > x0 - 0.1 * face_size) & (xs < x1 + 0.1 * face_size)
        labels[outside & (ys < eyes_y)] = HAIR
        labels[outside & (ys >= eyes_y) & (ys < chin_y + 0.3 * face_size)] = IGNORE
        labels[outside & ears & skin_like] = SKIN
        labels[outside & below & skin_like & (ys < chin_y + 0.8 * face_size)] = SKIN
        labels[outside & below & ~skin_like & ~not_skin] = IGNORE
        labels[oval] = SKIN
        labels[oval & not_skin & ~features] = IGNORE  # beards, fringes, glasses inside the oval
        labels[_band(oval, band)] = IGNORE
        for part, class_id in PAINT_ORDER:
            region = _fill((h, w), face[MESH_PARTS[part]])
            labels[region] = class_id
        for part, _ in PAINT_ORDER:
            labels[_band(_fill((h, w), face[MESH_PARTS[part]]), max(1, band // 2))] = IGNORE
        eye_centres = face[[RIGHT_EYE_CENTRE, LEFT_EYE_CENTRE]]
        labels[occluder_suspects(rgb, labels == SKIN, eye_centres)] = IGNORE
    return labels


def _split_fasseg_hair(fasseg_labels: np.ndarray) -> np.ndarray:
    """FASSEG's hair includes brows: small hair blobs above the nose and apart from the head hair are brows."""
    hair = (fasseg_labels == 2).astype(np.uint8)
    count, components, stats, centroids = cv2.connectedComponentsWithStats(hair, connectivity=8)
    brows = np.zeros(hair.shape, bool)
    if count <= 2:
        return brows
    nose_rows = np.nonzero(fasseg_labels == 4)[0]
    nose_y = nose_rows.mean() if len(nose_rows) else hair.shape[0] / 2
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    for c in range(1, count):
        if c != largest and stats[c, cv2.CC_STAT_AREA] < 0.1 * stats[largest, cv2.CC_STAT_AREA] and centroids[c, 1] < nose_y:
            brows |= components == c
    return brows


def apply_fasseg(labels: np.ndarray, fasseg_labels: np.ndarray, person: np.ndarray) -> np.ndarray:
    teacher = labels.copy()
    out = np.full_like(labels, IGNORE)
    background = fasseg_labels == 0
    out[background & (person < 0.3)] = BACKGROUND
    out[background & (person > 0.7)] = BODY  # FASSEG counts clothes as background; we call them body
    out[fasseg_labels == 1] = SKIN
    out[fasseg_labels == 2] = HAIR
    out[_split_fasseg_hair(fasseg_labels)] = BROW
    out[fasseg_labels == 3] = EYE
    out[fasseg_labels == 4] = NOSE
    mouth = fasseg_labels == 5
    out[mouth] = LIPS
    out[mouth & (teacher == MOUTH)] = MOUTH
    return out


def apply_hair_mask(labels: np.ndarray, hair: np.ndarray) -> np.ndarray:
    out = labels.copy()
    # The teacher guessed hair by colour; the human mask is the truth both ways.
    out[(out == HAIR) & ~hair] = IGNORE
    out[hair & ~np.isin(out, (EYE,))] = HAIR
    out[_band(hair, 1)] = IGNORE
    return out


def apply_facemask_labels(labels: np.ndarray, facemask: np.ndarray) -> np.ndarray:
    out = labels.copy()
    face = facemask == 1
    out[face & np.isin(out, (BACKGROUND, BODY))] = SKIN
    out[facemask == 2] = OCCLUDER
    out[_band(facemask == 2, 1)] = IGNORE
    return out


def apply_person_mask(labels: np.ndarray, person: np.ndarray) -> np.ndarray:
    out = labels.copy()
    out[~person] = BACKGROUND
    out[person & (labels == BACKGROUND)] = IGNORE  # a part of the person the teacher missed
    out[_band(person, 1)] = IGNORE
    return out


def build(sample: datasets.Sample, teacher_file: Path) -> LabelledImage:
    rgb = datasets.read_rgb(sample.image)
    h, w = rgb.shape[:2]
    scale = min(1.0, WORK_MAX_SIDE / max(h, w))
    size = (round(w * scale), round(h * scale))
    if scale < 1:
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    teacher = np.load(teacher_file)
    faces = teacher["landmarks"] * scale
    person = cv2.resize(teacher["person"], size, interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    labels = teacher_labels(rgb, faces, person)
    human = []
    hw = rgb.shape[:2]
    if sample.fasseg_labels:
        labels = apply_fasseg(labels, datasets.read_label(sample.fasseg_labels, hw), person)
        human.append("fasseg")
    if sample.hair_mask:
        labels = apply_hair_mask(labels, datasets.read_label(sample.hair_mask, hw) > 127)
        human.append("hair")
    if sample.facemask_labels:
        labels = apply_facemask_labels(labels, datasets.read_label(sample.facemask_labels, hw))
        human.append("facemask")
    if sample.person_mask:
        labels = apply_person_mask(labels, datasets.read_label(sample.person_mask, hw) > 0)
        human.append("person")
    return LabelledImage(rgb, labels, faces.astype(np.float32), "+".join(human))


def feature_box(labels: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box of the facial features (brows to mouth): the frame every face crop is built on."""
    ys, xs = np.nonzero(np.isin(labels, FACIAL_FEATURES))
    if len(xs) < 20:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=datasets.DEFAULT_DATA_DIR)
    parser.add_argument("--teacher", type=Path, default=Path("cache/teacher"))
    parser.add_argument("--out", type=Path, default=Path("cache/labels"))
    args = parser.parse_args()
    samples = datasets.parser_training_samples(args.data)
    index = []
    for i, sample in enumerate(samples):
        out = args.out / f"{sample.key}.npz"
        if not out.exists():
            item = build(sample, args.teacher / f"{sample.key}.npz")
            out.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(out, rgb=item.rgb, labels=item.labels, landmarks=item.landmarks)
        index.append(sample.key)
        if i % 100 == 0:
            print(i, sample.key, flush=True)
    (args.out / "index.json").write_text(json.dumps(index))
    print(f"{len(index)} labelled images in {args.out}")


if __name__ == "__main__":
    main()
