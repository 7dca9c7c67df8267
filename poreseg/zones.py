"""Face zones: forehead, nose, the subject's left and right cheeks, and chin, inside the analysis region.

Geometry. Positions are measured in a face frame: the origin midway between the eye centres, u along
the eye line towards the image-right eye, v at right angles down the face, both in eye distances
(about 63 mm), so a tilted head gets tilted zones. Landmarks come from the face parsing: the brow
line (lower edge of the brows), the nose (its centre line, its pixels, its bottom) and the mouth
(centre and half width of lips plus mouth); anthropometric defaults stand in for a missing feature.

- face: two half ellipses centred on the eye line, 1.1 eye distances wide either side, reaching
  FOREHEAD_TOP above it and CHIN_BOTTOM below (pupils to chin is about 1.95 eye distances in adults),
  or less when the mouth is visible: the chin ends LOWER_FACE_THIRDS times the nose-to-mouth distance
  below the nose (the mouth lies a third of the way from the nose to the chin). A head tilted back
  shortens that distance in the photo, and the chin then still ends at the jaw instead of running down
  the neck. This drops the ears and neck, which the parser labels skin too.
- forehead: above the brow line, and above the eye line beside the nose (temples);
- nose: between the brow line and the bottom of the nose, the parsed nose plus a bridge strip;
- chin: below the bottom of the nose and within the mouth's width: the chin and the upper lip;
- cheeks: the rest, split at the nose's (above its bottom) or the mouth's (below) centre line. The
  subject's left cheek is on the image's right: photos are taken to be unmirrored.

Every zone lies inside the region it is given and the zones are disjoint: they are the values of
one label map. A zone with less than MIN_ZONE_AREA of visible skin (hair, a mask, a hand or the pose
hide the rest) is left out and named in ``FaceZones.too_little_skin``: a strip is no sample of a zone.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from poreseg.classes import BROW, LIPS, MOUTH, NOSE
from poreseg.pores.scale import EYE_DISTANCE_MM, eye_centres

ZONES: tuple[str, ...] = ("forehead", "nose", "left_cheek", "right_cheek", "chin")
FOREHEAD, NOSE_ZONE, LEFT_CHEEK, RIGHT_CHEEK, CHIN = range(1, len(ZONES) + 1)
ZONE_TITLES = {name: name.replace("_", " ") for name in ZONES}  # for people: "left cheek"

# Face frame lengths, in eye distances.
FACE_HALF_WIDTH = 1.1
FOREHEAD_TOP = 1.7
CHIN_BOTTOM = 1.95
LOWER_FACE_THIRDS = 3.0
MIN_ZONE_AREA = 0.15  # eye distances squared: about 6 cm² of skin, a fifth of a cheek
BRIDGE_HALF_WIDTH = 0.15  # the nose bridge, where the parser often says skin
# Anthropometric stand-ins for a feature the parsing does not show (hidden by a hand, a mask, ...).
DEFAULT_BROW_LINE = -0.35
DEFAULT_NOSE_BOTTOM = 0.85
DEFAULT_MOUTH_HALF_WIDTH = 0.4
MIN_FEATURE_PIXELS = 20
# Without visible eyes, the frame comes from the facial-feature box (brows to mouth), whose width is
# about 1.8 eye distances and whose top quarter lies above the eye line (measured on the examples).
FEATURE_BOX_WIDTH = 1.8
FEATURE_BOX_EYE_LINE = 0.25


@dataclass(frozen=True)
class FaceFrame:
    origin: tuple[float, float]  # (x, y) midway between the eye centres
    eye_distance_px: float
    angle: float  # radians of the eye line against the image's x axis
    from_eyes: bool  # False: estimated from the facial-feature box

    @property
    def mm_per_px(self) -> float | None:
        """The face's scale from its eye distance (EYE_DISTANCE_MM); None for a frame not from the eyes."""
        return EYE_DISTANCE_MM / self.eye_distance_px if self.from_eyes else None

    def to_face(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Image coordinates -> face coordinates (u, v) in eye distances."""
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        dx, dy = x - self.origin[0], y - self.origin[1]
        return (dx * cos + dy * sin) / self.eye_distance_px, (dy * cos - dx * sin) / self.eye_distance_px


def face_frame(labels: np.ndarray, face_box: tuple[int, int, int, int] | None) -> FaceFrame | None:
    """The frame of the face whose feature box is ``face_box`` (FaceParsing.face_box): from its eye centres,
    else from the box; None without either."""
    eyes = eye_centres(labels, face_box)
    if eyes is not None:
        (x0, y0), (x1, y1) = eyes
        return FaceFrame(((x0 + x1) / 2, (y0 + y1) / 2), float(np.hypot(x1 - x0, y1 - y0)),
                         float(np.arctan2(y1 - y0, x1 - x0)), True)
    if face_box is None:
        return None
    x0, y0, x1, y1 = face_box
    return FaceFrame(((x0 + x1) / 2, y0 + FEATURE_BOX_EYE_LINE * (y1 - y0)), (x1 - x0) / FEATURE_BOX_WIDTH,
                     0.0, False)


@dataclass(frozen=True)
class Landmarks:
    """Zone boundaries in face coordinates (eye distances)."""

    brow_line: float
    nose_centre: float
    nose_bottom: float
    mouth_centre: float
    mouth_half_width: float
    chin_bottom: float = CHIN_BOTTOM


def landmarks(labels: np.ndarray, frame: FaceFrame) -> Landmarks:
    def face_coordinates(*classes: int) -> tuple[np.ndarray, np.ndarray] | None:
        ys, xs = np.nonzero(np.isin(labels, classes))
        u, v = frame.to_face(xs.astype(np.float64), ys.astype(np.float64))
        # Only this face's features: another face in the photo has its own, outside this face's oval.
        own = (np.abs(u) <= FACE_HALF_WIDTH) & (v >= -FOREHEAD_TOP) & (v <= CHIN_BOTTOM)
        if np.count_nonzero(own) < MIN_FEATURE_PIXELS:
            return None
        return u[own], v[own]

    brows, nose, mouth = face_coordinates(BROW), face_coordinates(NOSE), face_coordinates(LIPS, MOUTH)
    # Percentiles rather than extremes: stray pixels of a class elsewhere must not move a boundary.
    brow_line = float(np.percentile(brows[1], 80)) if brows else DEFAULT_BROW_LINE
    nose_centre = float(np.median(nose[0])) if nose else 0.0
    nose_bottom = float(np.percentile(nose[1], 98)) if nose else DEFAULT_NOSE_BOTTOM
    chin_bottom = CHIN_BOTTOM
    if mouth:
        left, right = np.percentile(mouth[0], [2, 98])
        mouth_centre, mouth_half_width = float((left + right) / 2), float((right - left) / 2)
        mouth_line = float(np.median(mouth[1]))
        if mouth_line > nose_bottom:
            chin_bottom = min(CHIN_BOTTOM, nose_bottom + LOWER_FACE_THIRDS * (mouth_line - nose_bottom))
    else:
        mouth_centre, mouth_half_width = nose_centre, DEFAULT_MOUTH_HALF_WIDTH
    return Landmarks(brow_line, nose_centre, nose_bottom, mouth_centre, mouth_half_width, chin_bottom)


@dataclass
class FaceZones:
    labels: np.ndarray  # HxW uint8: 0 outside the zones, else 1 + the zone's index in ZONES
    frame: FaceFrame
    landmarks: Landmarks
    too_little_skin: tuple[str, ...] = ()  # zones left out: less than MIN_ZONE_AREA of skin visible

    def mask(self, name: str) -> np.ndarray:
        return self.labels == ZONES.index(name) + 1

    def face_mask(self) -> np.ndarray:
        """The union of the zones."""
        return self.labels > 0

    def areas_px(self) -> np.ndarray:
        """Pixels per zone id (index 0: outside the zones)."""
        return np.bincount(self.labels.ravel(), minlength=len(ZONES) + 1)


def face_oval_mask(frame: FaceFrame, shape: tuple[int, int], chin_bottom: float = CHIN_BOTTOM) -> np.ndarray:
    """HxW bool: the face's two half ellipses (see the module docstring) in an image of ``shape``, the
    lower one reaching ``chin_bottom`` (Landmarks.chin_bottom)."""
    oval = np.zeros(shape, np.uint8)
    subpixel = 4  # cv2 drawing takes fixed-point coordinates with this many fractional bits
    centre = tuple(int(round(c * 2 ** subpixel)) for c in frame.origin)
    angle = float(np.degrees(frame.angle))
    for reach, arc in ((FOREHEAD_TOP, (180, 360)), (chin_bottom, (0, 180))):
        axes = tuple(int(round(r * frame.eye_distance_px * 2 ** subpixel)) for r in (FACE_HALF_WIDTH, reach))
        cv2.ellipse(oval, centre, axes, angle, *arc, 1, cv2.FILLED, cv2.LINE_8, subpixel)
    return oval.astype(bool)


def face_zones(labels: np.ndarray, region: np.ndarray, frame: FaceFrame, marks: Landmarks | None = None) -> FaceZones:
    """The five zones of the face in ``frame``, each inside ``region`` (HxW bool). ``marks``: the landmarks of
    ``labels`` in ``frame`` when the caller has them already (poreseg.face.Face.landmarks)."""
    marks = marks or landmarks(labels, frame)
    zone_labels = np.zeros(labels.shape, np.uint8)
    ys, xs = np.nonzero(region & face_oval_mask(frame, labels.shape, marks.chin_bottom))
    if ys.size == 0:
        return FaceZones(zone_labels, frame, marks)
    u, v = frame.to_face(xs.astype(np.float64), ys.astype(np.float64))
    is_nose = labels[ys, xs] == NOSE
    upper = v < marks.nose_bottom
    forehead = (v < marks.brow_line) | ((v < 0) & ~is_nose & (np.abs(u - marks.nose_centre) > BRIDGE_HALF_WIDTH))
    nose = upper & (is_nose | (np.abs(u - marks.nose_centre) <= BRIDGE_HALF_WIDTH))
    chin = ~upper & (np.abs(u - marks.mouth_centre) <= marks.mouth_half_width)
    midline = np.where(upper, marks.nose_centre, marks.mouth_centre)
    zone = np.select([forehead, nose, chin, u > midline], [FOREHEAD, NOSE_ZONE, CHIN, LEFT_CHEEK], RIGHT_CHEEK)
    areas = np.bincount(zone, minlength=len(ZONES) + 1)
    too_little = [z for z in range(1, len(ZONES) + 1) if areas[z] < MIN_ZONE_AREA * frame.eye_distance_px ** 2]
    zone[np.isin(zone, too_little)] = 0
    zone_labels[ys, xs] = zone
    return FaceZones(zone_labels, frame, marks, tuple(ZONES[z - 1] for z in too_little))


def around(mask: np.ndarray, pad: float) -> tuple[slice, slice]:
    """Rows and columns of the square around ``mask``'s pixels, ``pad`` of its side added on every side and
    cut to the image: what a picture of the face shows (the whole image for an empty mask)."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    if ys.size == 0:
        return slice(0, h), slice(0, w)
    side = max(np.ptp(ys), np.ptp(xs))
    cy, cx, half = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2, int(side * (0.5 + pad))
    return slice(max(0, cy - half), min(h, cy + half)), slice(max(0, cx - half), min(w, cx + half))
