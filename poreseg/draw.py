"""Pictures of results for people to look at: label colours, overlays and a legend. No models here."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import cv2
import numpy as np

from poreseg.classes import BACKGROUND, CLASSES, PALETTE

# Every uint8 id has a colour, so stray ids (such as IGNORE in training labels) draw black, not fail.
_COLOURS = np.zeros((256, 3), np.uint8)
_COLOURS[: len(PALETTE)] = PALETTE


def colorize_labels(labels: np.ndarray) -> np.ndarray:
    """HxW class ids as HxWx3 uint8 RGB in the classes' palette colours."""
    return _COLOURS[np.asarray(labels, np.uint8)]


def overlay_labels(rgb: np.ndarray, labels: np.ndarray, alpha: float = 0.5,
                   classes: Iterable[int] | None = None, class_alpha: Mapping[int, float] | None = None) -> np.ndarray:
    """The image tinted with its label colours (only ``classes`` if given) at opacity ``alpha``, or the
    class's own in ``class_alpha``; each region outlined."""
    rgb, labels = np.asarray(rgb, np.uint8), np.asarray(labels, np.uint8)
    _check_same_size(rgb, labels)
    shown = labels != BACKGROUND
    if classes is not None:
        shown &= np.isin(labels, list(classes))
    visible = np.where(shown, labels, BACKGROUND).astype(np.uint8)
    colours = colorize_labels(visible)
    opacity = np.full(256, alpha, np.float32)
    for class_id, value in (class_alpha or {}).items():
        opacity[class_id] = value
    out = blend(rgb, shown, colours[shown], opacity[visible[shown]][:, None])
    # A pixel whose 3x3 neighbourhood holds another id is on a boundary; only shown pixels are drawn,
    # so a region's outline lies inside it and the background stays untouched.
    kernel = np.ones((3, 3), np.uint8)
    boundary = shown & (cv2.dilate(visible, kernel) != cv2.erode(visible, kernel))
    out[boundary] = colours[boundary]
    return out


def blend(rgb: np.ndarray, where: np.ndarray, colours: np.ndarray, alpha: float | np.ndarray) -> np.ndarray:
    """A copy of ``rgb`` whose pixels ``where`` (HxW bool) are mixed with ``colours`` (an RGB row for each,
    in ``rgb[where]`` order) at opacity ``alpha`` (one, or an Nx1 column: one per pixel). Only those pixels go through floating point, in float32:
    a full-size float64 copy of a 16 MP photo would take 400 MB."""
    out = np.array(rgb, np.uint8, copy=True)
    mixed = out[where].astype(np.float32) * (1 - alpha) + np.asarray(colours, np.float32) * alpha
    out[where] = (mixed + 0.5).astype(np.uint8)
    return out


def overlay_mask(rgb: np.ndarray, probability: np.ndarray, color: tuple[int, int, int] = (0, 200, 255),
                 alpha: float = 0.5) -> np.ndarray:
    """The image tinted with ``color`` in proportion to a probability map (HxW in [0, 1])."""
    rgb = np.asarray(rgb, np.uint8)
    _check_same_size(rgb, probability)
    tint = alpha * np.clip(np.asarray(probability, np.float32), 0, 1)[..., None]
    return (rgb * (1 - tint) + np.array(color, np.float32) * tint + 0.5).astype(np.uint8)


def legend(classes: Iterable[int] | None = None) -> np.ndarray:
    """A small RGB image with one row per class (all but background by default): swatch and name."""
    ids = [c for c in range(len(CLASSES)) if c != BACKGROUND] if classes is None else list(classes)
    row, swatch, width = 22, 14, 130
    image = np.full((row * len(ids) + 6, width, 3), 255, np.uint8)
    for i, class_id in enumerate(ids):
        top = 6 + i * row
        cv2.rectangle(image, (6, top), (6 + swatch, top + swatch), PALETTE[class_id], thickness=-1)
        cv2.rectangle(image, (6, top), (6 + swatch, top + swatch), (80, 80, 80), thickness=1)
        cv2.putText(image, CLASSES[class_id], (28, top + swatch - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return image


def _check_same_size(rgb: np.ndarray, per_pixel: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[:2] != np.shape(per_pixel)[:2]:
        raise ValueError(f"expected an HxWx3 image and an HxW map of the same size, "
                         f"got {rgb.shape} and {np.shape(per_pixel)}")
