"""Face geometry: ``locate(rgb, parsing) -> Face``, where and at what scale a face's pores are analysed.

One function for the app, the command line, evaluation and PS-Net's training, so that the network learns
on the region the product measures. From the parsing of the largest face:

- the face frame (eye line; from the facial-feature box when the eyes are not both visible);
- the scale: millimetres per pixel from the eye distance (63 mm assumed), None without an eye pair;
- the window: the part of the photo the face's region, quality, zones and metrics depend on;
- the region: skin and nose a MARGIN_MM margin from everything else (``skin.skin_region``), within the
  face oval (``zones.face_oval_mask``, down to the chin the features show), so that the zones cover the
  whole region and neck and ears stay out;
- the expected pore diameter in pixels: from the scale, else from the skin's own texture, else from
  the feature box's rough scale.
"""
from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, replace

import numpy as np

from poreseg.parsing import FaceParsing
from poreseg.pores.scale import EYE_DISTANCE_MM, estimate_pore_px, pore_px_from_mm_per_px
from poreseg.skin import MARGIN_MM, skin_region
from poreseg.zones import (CHIN_BOTTOM, FACE_HALF_WIDTH, FOREHEAD_TOP, FaceFrame, FaceZones, Landmarks, face_frame,
                           face_oval_mask, face_zones, landmarks)


@dataclass(frozen=True)
class FaceWindow:
    """The part of the photo that the face's region, quality, zones and pore metrics depend on: the face's
    box in its frame (the face oval's box, from which the zone landmarks read this face's features) and,
    around it, the skin margin's reach. They are computed on this window and placed back in the full
    frame, so that a 12 MP photo is not scanned whole for a face that covers a tenth of it. Statistics
    over the labels (nostrils, the feature box) then see this face only, not other faces or stray labels
    elsewhere in the photo."""

    x0: int
    y0: int
    x1: int
    y1: int
    shape: tuple[int, int]  # the full frame's (height, width)

    @classmethod
    def around(cls, frame: FaceFrame, margin_px: float, shape: tuple[int, int]) -> "FaceWindow":
        u = np.array([-FACE_HALF_WIDTH, FACE_HALF_WIDTH, -FACE_HALF_WIDTH, FACE_HALF_WIDTH])
        v = np.array([-FOREHEAD_TOP, -FOREHEAD_TOP, CHIN_BOTTOM, CHIN_BOTTOM])
        cos, sin = np.cos(frame.angle), np.sin(frame.angle)
        xs = frame.origin[0] + frame.eye_distance_px * (u * cos - v * sin)
        ys = frame.origin[1] + frame.eye_distance_px * (u * sin + v * cos)
        # skin_region keeps margin_px from other classes: room for that, and for its approximate
        # distance transform.
        reach = 1.05 * margin_px + 2
        h, w = shape
        # Even offsets: pore centroids rounded half to even land on the same pixel in the window as in the frame.
        x0, y0 = (max(0, int(np.floor(c.min() - reach)) // 2 * 2) for c in (xs, ys))
        x1, y1 = min(w, int(np.ceil(xs.max() + reach)) + 1), min(h, int(np.ceil(ys.max() + reach)) + 1)
        return cls(x0, y0, max(x0, x1), max(y0, y1), shape)

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.y0:self.y1, self.x0:self.x1]

    def frame(self, frame: FaceFrame) -> FaceFrame:
        """``frame`` in the window's coordinates."""
        return replace(frame, origin=(frame.origin[0] - self.x0, frame.origin[1] - self.y0))

    def full(self, part: np.ndarray) -> np.ndarray:
        """A window-sized map in the full frame, zero (False) outside the window."""
        out = np.zeros(self.shape, part.dtype)
        out[self.y0:self.y1, self.x0:self.x1] = part
        return out

    def crop_zones(self, zones: FaceZones) -> FaceZones:
        """``zones`` (full frame) in the window's coordinates."""
        return replace(zones, labels=self.crop(zones.labels), frame=self.frame(zones.frame))


@dataclass(frozen=True)
class Face:
    """Where and at what scale a face's pores are analysed (``locate``), in the photo's coordinates."""

    frame: FaceFrame
    window: FaceWindow
    region: np.ndarray  # HxW bool (full frame): where pores are analysed
    mm_per_px: float | None  # None when the eyes are not both visible
    pore_px: float  # expected pore diameter in pixels
    landmarks: Landmarks  # the zone boundaries the parsing gives, in face coordinates (for face_zones)

    @property
    def window_region(self) -> np.ndarray:
        return self.window.crop(self.region)

    def zones(self, labels: np.ndarray) -> FaceZones:
        """The face's five zones (``zones.face_zones`` of the parser's ``labels``) within its region, in the
        full frame; worked out in the window."""
        window = self.window
        part = face_zones(window.crop(labels), self.window_region, window.frame(self.frame), self.landmarks)
        return replace(part, labels=window.full(part.labels), frame=self.frame)


def locate(rgb: np.ndarray, parsing: FaceParsing, mm_per_px: float | None = None) -> Face:
    """The geometry of the parsed (largest) face of ``rgb``; ``mm_per_px`` overrides the eye-distance scale.
    ``parsing`` must have found a face."""
    labels = parsing.labels
    frame = face_frame(labels, parsing.face_box)
    mm_per_px = mm_per_px or frame.mm_per_px
    margin_px = MARGIN_MM / mm_per_px if mm_per_px else MARGIN_MM * frame.eye_distance_px / EYE_DISTANCE_MM
    window = FaceWindow.around(frame, margin_px, labels.shape)
    window_labels, window_frame = window.crop(labels), window.frame(frame)
    # The oval's lower half stops at the chin the features show, so a head tilted back keeps its neck out.
    marks = landmarks(window_labels, window_frame)
    oval = face_oval_mask(window_frame, window_labels.shape, marks.chin_bottom)
    region = window.full(skin_region(window_labels, margin_px) & oval)
    if mm_per_px:
        pore_px = pore_px_from_mm_per_px(mm_per_px)
    else:
        # From the skin texture; without skin, or on skin where no dark blob stands out (smooth, blurred
        # or retouched), the feature box's rough scale still tells whether pores could be resolved.
        pore_px = pore_px_from_mm_per_px(EYE_DISTANCE_MM / frame.eye_distance_px)
        if region.any():
            with suppress(ValueError):  # no dark blob stands out
                pore_px = estimate_pore_px(rgb, region)
    return Face(frame, window, region, mm_per_px, pore_px, marks)
