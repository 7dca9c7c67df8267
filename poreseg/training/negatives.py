"""Things a person would never call a pore, drawn into PS-Net's training patches as confident negatives.

Real faces put hairs, lashes, creases, freckles, highlights and pen marks next to pores, and a network
that learned only DoGPore's labels marks them (issue 11). Each patch gets, with NEGATIVE_SHARE, one to
MAX_STRUCTURES of these, drawn at the patch's pore scale; the pixels they cover are labelled STRUCTURE (no pore),
whatever the coarse label said, and a pore they cross is ignored rather than taught either way.

- hair: a thin dark curve, a fraction of a pore wide and many pores long (brow and stray hairs, lashes);
- crease: a soft, wider and fainter dark line (wrinkles, folds, eyelid creases);
- freckle: flat pigment: a browner, slightly darker disc, a few pores wide, with a flat inside (colour,
  not a pit);
- highlight: a bright specular spot, whose rim looks darker than its centre;
- pen line: a sharp, saturated line drawn on the photo;
- JPEG blocks: the patch compressed hard, so 8x8 block edges cross the skin.
"""
from __future__ import annotations

import cv2
import numpy as np

from poreseg.classes import FAINT, IGNORE, STRUCTURE, is_soft

NEGATIVE_SHARE = 0.5
MAX_STRUCTURES = 3
HARD_JPEG_QUALITY = (15, 35)
PEN_COLOURS = ((30, 40, 120), (20, 20, 20), (140, 30, 30))  # blue, black, red ink (RGB)


def _curve(rng: np.random.Generator, size: int, length: float) -> np.ndarray:
    """Points (N x 2, int32 x, y) of a gently bent curve of about ``length`` pixels through the patch."""
    start = rng.uniform(0, size, 2)
    angle = rng.uniform(0, 2 * np.pi)
    bend = rng.normal(0, 0.6) / max(length, 1)
    steps = max(2, int(length / 2))
    points = [start]
    for _ in range(steps):
        angle += bend * 2
        points.append(points[-1] + 2 * np.array([np.cos(angle), np.sin(angle)]))
    return np.round(np.array(points)).astype(np.int32)


def _stroke(shape: tuple[int, int], points: np.ndarray, width_px: float) -> np.ndarray:
    """Float coverage (0-1) of an antialiased polyline of ``width_px``, drawn at 4x and reduced."""
    h, w = shape
    big = np.zeros((4 * h, 4 * w), np.uint8)
    cv2.polylines(big, [points * 4], False, 255, max(1, int(round(4 * width_px))), cv2.LINE_AA)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def _disc(shape: tuple[int, int], centre: np.ndarray, diameter: float, softness: float) -> np.ndarray:
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    distance = np.hypot(xx - centre[0], yy - centre[1])
    return np.clip((diameter / 2 - distance) / max(softness, 0.5) + 0.5, 0, 1)


def add_negatives(rgb: np.ndarray, labels: np.ndarray, pore_px: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``rgb`` (HxWx3 uint8) and ``labels`` with structures drawn in (see the module docstring)."""
    if rng.random() >= NEGATIVE_SHARE:
        return rgb, labels
    image, labels = rgb.astype(np.float32), labels.copy()
    size = rgb.shape[0]
    drawn = np.zeros(labels.shape, np.float32)
    for _ in range(int(rng.integers(1, MAX_STRUCTURES + 1))):
        kind = rng.choice(("hair", "crease", "freckle", "highlight", "pen", "jpeg"))
        if kind == "jpeg":
            quality = int(rng.integers(*HARD_JPEG_QUALITY))
            _, encoded = cv2.imencode(".jpg", np.clip(image, 0, 255).astype(np.uint8)[..., ::-1],
                                      [cv2.IMWRITE_JPEG_QUALITY, quality])
            image = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32)
            continue
        if kind in ("hair", "crease", "pen"):
            width = {"hair": rng.uniform(0.15, 0.45) * pore_px, "crease": rng.uniform(0.5, 1.0) * pore_px,
                     "pen": rng.uniform(1.0, 2.5)}[kind]
            cover = _stroke(labels.shape, _curve(rng, size, rng.uniform(6, 25) * pore_px), width)
            if kind == "crease":
                cover = cv2.GaussianBlur(cover, (0, 0), 0.3 * pore_px)
                cover /= max(float(cover.max()), 1e-6)
        else:
            centre = rng.uniform(0, size, 2)
            diameter = rng.uniform(1.5, 4.0) * pore_px if kind == "freckle" else rng.uniform(0.8, 2.5) * pore_px
            cover = _disc(labels.shape, centre, diameter, rng.uniform(0.5, 1.5))
        cover = cover[..., None]
        if kind == "hair":
            image = image * (1 - cover * rng.uniform(0.3, 0.7))
        elif kind == "crease":
            image = image * (1 - cover * rng.uniform(0.06, 0.2))
        elif kind == "freckle":
            # Melanin: brown, darkest in blue; the inside is flat.
            image = image * (1 - cover * rng.uniform(0.08, 0.25) * np.float32([0.6, 1.0, 1.3]))
        elif kind == "highlight":
            image = image + cover * rng.uniform(40, 120)
        else:
            ink = np.float32(PEN_COLOURS[int(rng.integers(len(PEN_COLOURS)))])
            image = image * (1 - cover) + ink * cover
        drawn = np.maximum(drawn, cover[..., 0])
    structure = drawn >= 0.3
    # A pore under a structure is neither taught as a pore nor as skin; the rest of the structure is no
    # pore, wherever it lies; its faint fringe is ignored.
    pore_under = structure & (labels == 1)
    labels[structure] = STRUCTURE
    labels[pore_under] = IGNORE
    skin_or_soft = (labels == 0) | (labels == FAINT) | is_soft(labels)
    labels[(drawn > 0.05) & ~structure & skin_or_soft] = IGNORE
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), labels
