"""Synthetic occlusion for parser training: things in front of the face must not count as skin.

Every paste changes the image and writes the class underneath: face-mask templates (MaskTheFace,
warped onto the face mesh anchors), hand- and object-like shapes filled with real textures cut from
other photos, glasses frames (all ``OCCLUDER``), and hair locks cut from human-labelled hair (``HAIR``).
"""
from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from poreseg.classes import HAIR, IGNORE, NOSE, OCCLUDER, SKIN

# MaskTheFace anchors a-f (top left, nose bridge, top right, bottom left, chin, bottom right) on the mesh.
MASK_ANCHOR_LANDMARKS = (234, 6, 454, 172, 152, 397)
NOSE_TIP = 4
EYE_RINGS = ((33, 133, 159, 145), (362, 263, 386, 374))  # outer, inner, top, bottom of each eye


@dataclass
class MaskTemplate:
    rgba: np.ndarray
    anchors: np.ndarray  # (6, 2) template pixels


def load_mask_templates(data_dir: Path) -> list[MaskTemplate]:
    root = data_dir / "occluders_maskTheFace"
    config = configparser.ConfigParser(strict=False)
    config.read(root / "masks.cfg")
    templates = []
    for section in config.sections():
        if section.endswith(("_left", "_right")) or "template" not in config[section]:
            continue  # frontal templates only (the homography bends them to the pose); skip non-masks
        path = root / "templates" / Path(config[section]["template"]).name
        rgba = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
        anchors = np.array([[float(v) for v in config[section][f"mask_{k}"].split(",")] for k in "abcdef"],
                           np.float32)
        templates.append(MaskTemplate(rgba, anchors))
    return templates


def _blend(rgb: np.ndarray, labels: np.ndarray, layer: np.ndarray, alpha: np.ndarray, class_id: int) -> None:
    a = alpha[..., None]
    rgb[:] = (rgb * (1 - a) + layer * a).astype(np.uint8)
    labels[alpha > 0.5] = class_id
    labels[(alpha > 0.15) & (alpha <= 0.5)] = IGNORE


def paste_face_mask(rgb, labels, landmarks, template: MaskTemplate, rng: np.random.Generator) -> None:
    target = landmarks[list(MASK_ANCHOR_LANDMARKS)] + rng.normal(0, 2, (6, 2)).astype(np.float32)
    homography, _ = cv2.findHomography(template.anchors, target)
    if homography is None:
        return
    h, w = rgb.shape[:2]
    warped = cv2.warpPerspective(template.rgba, homography, (w, h), flags=cv2.INTER_LINEAR)
    tint = rng.uniform(0.75, 1.15, 3)  # other colours and lighting than the template's
    layer = np.clip(warped[..., :3] * tint, 0, 255)
    _blend(rgb, labels, layer, warped[..., 3] / 255.0, OCCLUDER)


def _texture(source: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random patch of a real photo, stretched to ``size`` (h, w)."""
    sh, sw = source.shape[:2]
    ph, pw = max(8, int(sh * rng.uniform(0.15, 0.5))), max(8, int(sw * rng.uniform(0.15, 0.5)))
    y, x = rng.integers(0, sh - ph + 1), rng.integers(0, sw - pw + 1)
    return cv2.resize(source[y:y + ph, x:x + pw], (size[1], size[0]), interpolation=cv2.INTER_LINEAR)


def _hand_polygon(centre, size, angle, rng) -> list[np.ndarray]:
    """A palm and four or five fingers as filled shapes."""
    shapes = [cv2.ellipse2Poly((int(centre[0]), int(centre[1])), (int(size * 0.45), int(size * 0.55)),
                               int(np.degrees(angle)), 0, 360, 10)]
    fingers = rng.integers(4, 6)
    for i in range(fingers):
        theta = angle - np.pi / 2 + (i - (fingers - 1) / 2) * 0.32
        base = centre + 0.45 * size * np.array([np.cos(theta), np.sin(theta)])
        tip = base + size * rng.uniform(0.6, 0.95) * np.array([np.cos(theta), np.sin(theta)])
        width = size * 0.1
        normal = np.array([-np.sin(theta), np.cos(theta)]) * width
        shapes.append(np.array([base + normal, tip + normal, tip - normal, base - normal], np.int32))
    return shapes


def paste_shape(rgb, labels, face_box, texture_source, rng, hand: bool) -> None:
    x0, y0, x1, y1 = face_box
    size = max(x1 - x0, y1 - y0)
    centre = np.array([rng.uniform(x0, x1), rng.uniform(y0 + 0.2 * (y1 - y0), y1 + 0.3 * size)])
    mask = np.zeros(labels.shape, np.uint8)
    if hand:
        polygons = _hand_polygon(centre, size * rng.uniform(0.35, 0.6), rng.uniform(0, 2 * np.pi), rng)
    else:
        n = rng.integers(3, 9)
        radius = size * rng.uniform(0.15, 0.45)
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        polygons = [np.stack([centre[0] + radius * rng.uniform(0.5, 1.2, n) * np.cos(angles),
                              centre[1] + radius * rng.uniform(0.5, 1.2, n) * np.sin(angles)], 1).astype(np.int32)]
    cv2.fillPoly(mask, polygons, 1)
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (5, 5), 0)
    layer = _texture(texture_source, labels.shape, rng).astype(np.float32)
    shading = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.9, 1.2), labels.shape[0])[:, None, None]
    _blend(rgb, labels, np.clip(layer * shading, 0, 255), alpha, OCCLUDER)


# Glasses as they are worn (the glasses set of ``eval parser``: large plastic, patterned and thin metal
# frames, sunglasses): lens half-width and half-height in eye distances, centred a little below the eye;
# shapes from ellipses (exponent 2) to rounded rectangles (5).
LENS_HALF_WIDTH = (0.36, 0.47)  # at most a little under half the eye distance: a bridge between
LENS_HALF_HEIGHT = (0.28, 0.45)
LENS_DROP = (0.0, 0.12)
LENS_ROUNDNESS = (2.0, 5.0)
GLASSES_STYLES = ("plastic", "metal", "patterned", "sunglasses")
GLASSES_STYLE_SHARES = (0.3, 0.3, 0.2, 0.2)
FRAME_WIDTH = {"plastic": (0.03, 0.08), "metal": (0.008, 0.025), "patterned": (0.03, 0.08),
               "sunglasses": (0.02, 0.06)}  # in eye distances
TEMPLE_LENGTH = (0.2, 0.6)  # the arm towards the ear, beyond the lens, in eye distances
SUNGLASS_OPACITY = (0.6, 0.95)
LENS_GLARE = 0.15  # at most: a clear lens's glare tints the skin behind it, which stays skin


def _lens_outline(centre: np.ndarray, half: tuple[float, float], roundness: float, angle: float) -> np.ndarray:
    """A superellipse |x/a|^n + |y/b|^n = 1 around ``centre``, rotated by ``angle`` (radians): (64, 2) int32."""
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    x = half[0] * np.sign(np.cos(t)) * np.abs(np.cos(t)) ** (2 / roundness)
    y = half[1] * np.sign(np.sin(t)) * np.abs(np.sin(t)) ** (2 / roundness)
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([centre[0] + c * x - s * y, centre[1] + s * x + c * y], 1).astype(np.int32)


def _frame_layer(style: str, shape: tuple[int, int], textures: list[np.ndarray], rng: np.random.Generator
                 ) -> np.ndarray:
    """The frame's colour everywhere (h, w, 3) float32: flat dark plastic, light metal shaded from top to
    bottom, or a real texture darkened (tortoiseshell and other patterns)."""
    h, w = shape
    if style == "patterned" and textures:
        layer = _texture(textures[rng.integers(len(textures))], shape, rng).astype(np.float32)
        return layer * rng.uniform(0.3, 0.8) + rng.uniform(0, 40, 3)
    if style == "metal":
        base = rng.uniform(110, 230) * rng.uniform(0.85, 1.0, 3)  # silver to gold
        shading = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.8, 1.25), h)[:, None, None]
        return np.broadcast_to(base * shading, (h, w, 3)).astype(np.float32)
    return np.broadcast_to(rng.uniform(0, 90, 3), (h, w, 3)).astype(np.float32)


def paste_glasses(rgb, labels, landmarks, rng, textures: list[np.ndarray] = ()) -> None:
    """A pair of glasses on the face mesh: frame, bridge and temples are OCCLUDER; sunglass lenses too.
    A clear lens only casts a faint glare: the skin and eyes behind it keep their classes."""
    eye_distance = float(np.linalg.norm(landmarks[468] - landmarks[473]))
    style = GLASSES_STYLES[rng.choice(len(GLASSES_STYLES), p=GLASSES_STYLE_SHARES)]
    thickness = max(1, int(round(eye_distance * rng.uniform(*FRAME_WIDTH[style]))))
    half = (eye_distance * rng.uniform(*LENS_HALF_WIDTH), eye_distance * rng.uniform(*LENS_HALF_HEIGHT))
    roundness, drop = rng.uniform(*LENS_ROUNDNESS), eye_distance * rng.uniform(*LENS_DROP)
    eyes = sorted(((landmarks[a] + landmarks[b]) / 2 for a, b, _, _ in EYE_RINGS), key=lambda c: c[0])
    line = eyes[1] - eyes[0]  # the eye line, from the eye on the image's left
    angle = float(np.arctan2(line[1], line[0]))
    down = np.array([-np.sin(angle), np.cos(angle)])
    outward = line / np.linalg.norm(line)
    frame, lenses = np.zeros(labels.shape, np.uint8), np.zeros(labels.shape, np.uint8)
    rims = [_lens_outline(eye + drop * down, half, roundness, angle) for eye in eyes]
    for rim, ear in zip(rims, (-outward, outward)):
        cv2.fillPoly(lenses, [rim], 1)
        temple_start = rim[np.argmax(rim @ ear)]
        temple_end = temple_start + ear * eye_distance * rng.uniform(*TEMPLE_LENGTH)
        cv2.line(frame, tuple(int(v) for v in temple_start), tuple(int(v) for v in temple_end), 255, thickness,
                 cv2.LINE_AA)
    cv2.polylines(frame, rims, True, 255, thickness, cv2.LINE_AA)
    # The bridge joins the rims' inner edges a little above the lenses' middle.
    bridge = [rim[np.argmax(rim @ ear - 0.5 * (rim @ down))] for rim, ear in zip(rims, (outward, -outward))]
    cv2.line(frame, tuple(int(v) for v in bridge[0]), tuple(int(v) for v in bridge[1]), 255, thickness, cv2.LINE_AA)
    frame_alpha = frame.astype(np.float32) / 255
    inside = lenses.astype(np.float32) * (1 - frame_alpha)
    if style == "sunglasses":
        _blend(rgb, labels, np.broadcast_to(rng.uniform(0, 60, 3), rgb.shape), inside * rng.uniform(*SUNGLASS_OPACITY),
               OCCLUDER)
    else:
        glare = inside[..., None] * rng.uniform(0, LENS_GLARE)
        rgb[:] = (rgb * (1 - glare) + rng.uniform(150, 255, 3) * glare).astype(np.uint8)
    _blend(rgb, labels, _frame_layer(style, labels.shape, list(textures), rng), frame_alpha, OCCLUDER)


def paste_hair_lock(rgb, labels, face_box, hair_rgb, hair_mask, rng) -> None:
    ys, xs = np.nonzero(hair_mask)
    if len(xs) < 100:
        return
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    lock = hair_rgb[y0:y1, x0:x1]
    lock_mask = hair_mask[y0:y1, x0:x1].astype(np.float32)
    fx0, fy0, fx1, fy1 = face_box
    size = max(fx1 - fx0, fy1 - fy0)
    scale = size * rng.uniform(0.5, 1.0) / max(lock.shape[:2])
    angle = rng.uniform(-60, 60)
    centre = (rng.uniform(fx0, fx1), rng.uniform(fy0 - 0.2 * size, fy0 + 0.5 * (fy1 - fy0)))
    matrix = cv2.getRotationMatrix2D((lock.shape[1] / 2, lock.shape[0] / 2), angle, scale)
    matrix[:, 2] += np.array(centre) - np.array([lock.shape[1] / 2, lock.shape[0] / 2])
    h, w = labels.shape
    layer = cv2.warpAffine(lock, matrix, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(lock_mask, matrix, (w, h), flags=cv2.INTER_LINEAR)
    # A lock, not a wig: keep a random band of the cut-out only.
    band = np.zeros_like(alpha)
    cv2.line(band, (int(centre[0] - size), int(centre[1] - size * 0.3)),
             (int(centre[0] + size * rng.uniform(-0.5, 0.5)), int(centre[1] + size)), 1.0,
             max(3, int(size * rng.uniform(0.08, 0.25))))
    alpha *= cv2.GaussianBlur(band, (9, 9), 0)
    alpha[labels != SKIN] *= 0.0 if rng.random() < 0.5 else 1.0
    _blend(rgb, labels, layer, alpha, HAIR)


def _label_at(labels: np.ndarray, point: np.ndarray) -> int:
    x, y = int(round(point[0])), int(round(point[1]))
    inside = 0 <= y < labels.shape[0] and 0 <= x < labels.shape[1]
    return int(labels[y, x]) if inside else -1


class Occluder:
    """Pastes one random occluder onto a labelled face, in place."""

    def __init__(self, data_dir: Path, texture_images: list[np.ndarray], skin_images: list[np.ndarray],
                 hair_examples):
        self.masks = load_mask_templates(data_dir)
        self.textures = texture_images  # any real photo: objects
        self.skin = skin_images  # skin crops of other faces: hands
        self.hair_examples = hair_examples  # list of (rgb, bool hair mask)

    def __call__(self, rgb, labels, landmarks, face_box, rng: np.random.Generator, kind: str | None = None) -> None:
        """``kind``: one of mask, hand, object, glasses, hair; drawn at random when None."""
        # The mesh anchors masks and glasses; on profiles it is often wrong, so trust it only where
        # its nose tip lies on the labelled nose.
        has_mesh = len(landmarks) > 0 and _label_at(labels, landmarks[0][NOSE_TIP]) == NOSE
        if kind is None:
            kind = rng.choice(["mask", "hand", "object", "glasses", "hair"], p=[0.25, 0.2, 0.15, 0.25, 0.15])
        if kind in ("mask", "glasses") and not has_mesh:
            kind = "hand"
        if kind == "mask":
            paste_face_mask(rgb, labels, landmarks[0], self.masks[rng.integers(len(self.masks))], rng)
        elif kind == "glasses":
            paste_glasses(rgb, labels, landmarks[0], rng, self.textures)
        elif kind == "hair" and self.hair_examples:
            hair_rgb, hair_mask = self.hair_examples[rng.integers(len(self.hair_examples))]
            paste_hair_lock(rgb, labels, face_box, hair_rgb, hair_mask, rng)
        else:
            source = self.skin if kind == "hand" else self.textures
            paste_shape(rgb, labels, face_box, source[rng.integers(len(source))], rng, hand=kind == "hand")
