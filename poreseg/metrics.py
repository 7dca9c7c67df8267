"""Pore metrics per face zone and for the whole face, and the 0-100 pore score.

A pore is a connected component (8-connected) of the pore mask. Each pore is counted in exactly one
zone, the zone holding its centroid (or, for the rare pore whose centroid falls outside every zone,
the zone holding most of its pixels), so the zone counts and pore areas add up to the face's. Sizes
are equivalent-circle diameters, 2 * sqrt(area / pi). Without a scale (mm_per_px None) only counts
and fractions are given; the millimetre and square-centimetre fields are None.

The pore score (0-100, higher is better) maps a *pore load* onto the scale, against the reference
(ScoreReference) of the pore method that found the pores:

    load  = (density / reference.density_per_cm2 + area_fraction / reference.area_fraction) / 2
    score = 100 * 2 ** -load

so skin without visible pores scores 100, skin at the reference density and area fraction scores 50,
and each further reference's worth of load halves the score. It falls strictly as density or area
fraction grows. Without a scale the load is area_fraction / reference.area_fraction alone. Bands:
Excellent >= 90 (load <= 0.15), Great >= 70, Good >= 50, Average >= 30, Poor < 30 (load > 1.74).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from poreseg.zones import ZONES, FaceZones


@dataclass(frozen=True)
class ScoreReference:
    """The pore load of a face scoring 50, for one pore method."""

    density_per_cm2: float
    area_fraction: float


# Flament et al. (2015, Clin Cosmet Investig Dermatol 8:85-93) measure visible pores (>= 250 um) on the
# cheeks of 2,585 women as a density (N/cm2) and the share of skin they cover, and find both vary
# several-fold between ethnic groups. There is no accepted norm for whole-face photos, and what a
# detector counts depends on its sensitivity, so each method has its own references: 1.5 times the median
# of what that method finds on the 61 MST-E portraits measured on a mm scale (all skin tones;
# python -m poreseg.training.calibrate_score --method psnet dog). The median face then scores 63 (Good)
# whichever method is chosen: a relative cosmetic indication, not a clinical grade.
#   psnet: density 15.3 per cm2 at the median (10.2-22.8 from the 10th to the 90th percentile),
#          area fraction 4.62% (2.77-6.32%); 60 faces measured.
#   dog:   density 8.24 per cm2 at the median (1.35-13.9), area fraction 2.40% (0.51-3.75%). PS-Net's
#          threshold is chosen on pores rendered as densely as people mark them (about 24 per cm2 on a
#          close-up), so it finds nearly twice what DoGPore's surest detections are.
# Re-derive the references whenever a detector or its weights change.
SCORE_REFERENCES: dict[str, ScoreReference] = {
    "psnet": ScoreReference(density_per_cm2=23.0, area_fraction=0.069),
    "dog": ScoreReference(density_per_cm2=12.4, area_fraction=0.036),
}

SCORE_BANDS: tuple[tuple[str, float], ...] = (
    ("Excellent", 90.0), ("Great", 70.0), ("Good", 50.0), ("Average", 30.0), ("Poor", 0.0),
)
MM2_PER_CM2 = 100.0


def pore_score(density_per_cm2: float | None, area_fraction: float, reference: ScoreReference) -> float:
    """The 0-100 pore score against ``reference`` (see the module docstring); density None when the
    scale is unknown."""
    load = area_fraction / reference.area_fraction
    if density_per_cm2 is not None:
        load = (density_per_cm2 / reference.density_per_cm2 + load) / 2
    return float(100.0 * 2.0 ** -load)


def score_band(score: float) -> str:
    """The band name of a score: Excellent (90+), Great (70+), Good (50+), Average (30+), Poor (<30)."""
    return next(name for name, lowest in SCORE_BANDS if score >= lowest)


@dataclass
class Pores:
    """The pores of a mask as objects, one row per connected component."""

    centroids: np.ndarray  # N x 2 float64, (x, y) in image pixels
    areas_px: np.ndarray  # N int64
    zone_ids: np.ndarray  # N uint8: the zone id (FaceZones.labels value) each pore counts in; 0 = none

    def __len__(self) -> int:
        return len(self.areas_px)


def find_pores(pore_mask: np.ndarray, zones: FaceZones) -> Pores:
    """Connected components of ``pore_mask`` with their centroids, areas and zones."""
    count, components, stats, centroids = cv2.connectedComponentsWithStats(
        np.asarray(pore_mask, np.uint8), connectivity=8, ltype=cv2.CV_32S)
    centroids, areas = centroids[1:], stats[1:, cv2.CC_STAT_AREA].astype(np.int64)
    h, w = components.shape
    cx = np.clip(np.rint(centroids[:, 0]).astype(int), 0, w - 1)
    cy = np.clip(np.rint(centroids[:, 1]).astype(int), 0, h - 1)
    zone_ids = zones.labels[cy, cx]
    # A curved pore's centroid can miss it, and a pore on a zone's edge can have its centroid just
    # outside the zones: such pores count in the zone holding most of their pixels.
    unplaced = zone_ids == 0
    if unplaced.any():
        on = components > 0
        slots = len(ZONES) + 1
        votes = np.bincount(components[on].astype(np.int64) * slots + zones.labels[on],
                            minlength=count * slots).reshape(count, slots)[1:, 1:]
        majority = np.where(votes.max(1) > 0, votes.argmax(1) + 1, 0).astype(np.uint8)
        zone_ids = np.where(unplaced, majority, zone_ids)
    return Pores(centroids, areas, zone_ids.astype(np.uint8))


@dataclass
class PoreMetrics:
    """The pore numbers of one zone or of the whole face. Pore fields are None when pores were not
    measured (see Analysis.pores_reliable); length and area fields are None without a scale."""

    skin_area_px: int
    skin_area_cm2: float | None
    pore_count: int | None
    density_per_cm2: float | None
    mean_diameter_mm: float | None
    p95_diameter_mm: float | None
    area_fraction: float | None
    score: float | None
    band: str | None

    def to_dict(self) -> dict:
        def rounded(value: float | None, digits: int) -> float | None:
            return None if value is None else round(value, digits)

        return {
            "pore_count": self.pore_count,
            "density_per_cm2": rounded(self.density_per_cm2, 2),
            "mean_diameter_mm": rounded(self.mean_diameter_mm, 4),
            "p95_diameter_mm": rounded(self.p95_diameter_mm, 4),
            "area_fraction": rounded(self.area_fraction, 6),
            "score": rounded(self.score, 1),
            "band": self.band,
            "skin_area_px": self.skin_area_px,
            "skin_area_cm2": rounded(self.skin_area_cm2, 3),
        }


def pore_metrics(areas_px: np.ndarray | None, skin_area_px: int, mm_per_px: float | None,
                 reference: ScoreReference) -> PoreMetrics:
    """Metrics of the pores with areas ``areas_px`` on ``skin_area_px`` pixels of skin (None: not measured),
    scored against ``reference``."""
    skin_area_cm2 = None if mm_per_px is None else skin_area_px * mm_per_px ** 2 / MM2_PER_CM2
    if areas_px is None:
        return PoreMetrics(skin_area_px, skin_area_cm2, None, None, None, None, None, None, None)
    count = len(areas_px)
    if skin_area_px == 0:  # a zone hidden by hair, hands or the image border: nothing to rate
        return PoreMetrics(0, skin_area_cm2, count, None, None, None, None, None, None)
    density = None if skin_area_cm2 is None else count / skin_area_cm2
    mean_mm = p95_mm = None
    if mm_per_px is not None and count:
        diameters_mm = 2.0 * np.sqrt(areas_px / np.pi) * mm_per_px
        mean_mm, p95_mm = float(diameters_mm.mean()), float(np.percentile(diameters_mm, 95))
    fraction = float(areas_px.sum()) / skin_area_px
    score = pore_score(density, fraction, reference)
    return PoreMetrics(skin_area_px, skin_area_cm2, count, density, mean_mm, p95_mm, fraction, score,
                       score_band(score))


@dataclass
class FaceMetrics:
    face: PoreMetrics  # the union of the zones
    zones: dict[str, PoreMetrics]  # ZONES order
    reference: ScoreReference  # what the scores were computed against; suggestions judge by the same

    def to_dict(self) -> dict:
        return {"face": self.face.to_dict(), "zones": {name: m.to_dict() for name, m in self.zones.items()}}


def measure(pores: Pores | None, zones: FaceZones, mm_per_px: float | None, reference: ScoreReference) -> FaceMetrics:
    """Per-zone and whole-face metrics scored against ``reference`` (SCORE_REFERENCES[method] for the pore
    method that found ``pores``); ``pores`` None when pores could not be measured."""
    zone_areas = zones.areas_px()
    per_zone = {}
    for zone_id, name in enumerate(ZONES, start=1):
        areas = None if pores is None else pores.areas_px[pores.zone_ids == zone_id]
        per_zone[name] = pore_metrics(areas, int(zone_areas[zone_id]), mm_per_px, reference)
    face_areas = None if pores is None else pores.areas_px[pores.zone_ids > 0]
    face = pore_metrics(face_areas, int(zone_areas[1:].sum()), mm_per_px, reference)
    return FaceMetrics(face, per_zone, reference)
