"""Pictures of an analysis: at the photo's full resolution (pores outlined, zones, density, the cut-out)
and the one-page summary sheet (the face's pictures, the numbers, the warnings).

Built on poreseg.draw (label overlays and legend); no models and no measuring here.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pandas as pd

from poreseg import draw
from poreseg.density import DensityMap
from poreseg.metrics import FaceMetrics, ScoreReference
from poreseg.products import get_product
from poreseg.scores import whole_score
from poreseg.tables import zone_table
from poreseg.zones import ZONE_TITLES, ZONES, FaceZones, around

if TYPE_CHECKING:
    from poreseg.analysis import Analysis

PORE_OUTLINE = (0, 255, 255)
UNCERTAIN_OUTLINE = (255, 140, 0)  # pores PS-Net's Monte-Carlo draws disagree on
ZONE_COLOURS = ((255, 120, 80), (80, 200, 120), (90, 140, 255), (200, 110, 230), (250, 210, 60))
FACE_PAD = 0.2  # of the face's size, around it, in the pictures of the face
LABEL_GRID = 300  # zone names are placed on a grid of about this many cells along the picture's long side
SHEET_PANEL = 420  # px, side of each picture on the summary sheet
SHEET_MARGIN = 16
INK, MUTED, WARNING = (20, 20, 20), (110, 110, 110), (170, 60, 0)
# ColorBrewer YlOrRd, the colour scale of the interactive heatmap (dashboard.charts), low to high.
YL_OR_RD = np.array([(255, 255, 204), (255, 237, 160), (254, 217, 118), (254, 178, 76), (253, 141, 60),
                     (252, 78, 42), (227, 26, 28), (189, 0, 38), (128, 0, 38)], np.float32)


def pores_outlined(rgb: np.ndarray, pore_mask: np.ndarray, uncertain: np.ndarray | None = None,
                   colour: tuple[int, int, int] = PORE_OUTLINE, width: int = 1) -> np.ndarray:
    """The photo with a ring ``width`` pixels wide drawn just outside each pore, so the pore itself stays
    visible; the pores holding a pixel of ``uncertain`` ((K, 2) y, x; ``PoreResult.uncertain``) get an
    orange ring (UNCERTAIN_OUTLINE)."""
    out = np.array(rgb, np.uint8, copy=True)
    out[_ring(pore_mask, width)] = colour
    if uncertain is not None and len(uncertain):
        out[_ring(pores_at(pore_mask, uncertain), width)] = UNCERTAIN_OUTLINE
    return out


def pores_at(pore_mask: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """HxW bool: the pores (8-connected components of ``pore_mask``) that hold one of ``pixels`` (y, x)."""
    _, components = cv2.connectedComponents(np.asarray(pore_mask, np.uint8), connectivity=8)
    chosen = np.unique(components[pixels[:, 0], pixels[:, 1]])
    return np.isin(components, chosen[chosen > 0])


def _ring(mask: np.ndarray, width: int) -> np.ndarray:
    mask = np.asarray(mask, np.uint8)
    return cv2.dilate(mask, np.ones((2 * width + 1,) * 2, np.uint8)).astype(bool) & ~mask.astype(bool)


@dataclass(frozen=True)
class ZoneLabel:
    """Where a zone's name is written on the zones picture."""

    zone: str  # a name of ZONES
    text: str
    origin: tuple[int, int]  # x, y of the text's bottom left (cv2.putText)
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 the text covers with its dark edge (x1, y1 excluded)
    anchor: tuple[int, int] | None  # x, y in the zone the text points to when it sits outside the zone


def zones_overlay(rgb: np.ndarray, zones: FaceZones, alpha: float = 0.35) -> np.ndarray:
    """The photo tinted with one colour per zone, each zone named (zone_labels: names never overlap)."""
    palette = np.array([(0, 0, 0), *ZONE_COLOURS], np.float32)
    inside = zones.labels > 0
    out = draw.blend(rgb, inside, palette[zones.labels[inside]], alpha)
    scale = label_scale(out.shape[:2])
    thickness = label_thickness(scale)
    for label in zone_labels(zones, scale):
        if label.anchor is not None:
            x0, y0, x1, y1 = label.box
            start = (min(max(label.anchor[0], x0), x1 - 1), min(max(label.anchor[1], y0), y1 - 1))
            cv2.line(out, start, label.anchor, (0, 0, 0), thickness + 2, cv2.LINE_AA)
            cv2.line(out, start, label.anchor, (255, 255, 255), thickness, cv2.LINE_AA)
        _write(out, label, scale, thickness)
    return out


def _write(image: np.ndarray, label: ZoneLabel, scale: float, thickness: int) -> None:
    """White text with a dark edge in ``label.box`` (in place). The edge is the text's shape widened, not the
    text drawn thicker: cv2 spaces thicker letters wider, and a thick dark copy showed beside the white one."""
    x0, y0, x1, y1 = label.box
    text = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.putText(text, label.text, (label.origin[0] - x0, label.origin[1] - y0), cv2.FONT_HERSHEY_SIMPLEX, scale,
                255, thickness, cv2.LINE_AA)
    edge = cv2.dilate(text, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * thickness + 1,) * 2))
    area = image[y0:y1, x0:x1].astype(np.float32)
    area *= 1 - edge[..., None] / 255
    area += text[..., None].astype(np.float32)
    image[y0:y1, x0:x1] = np.clip(area, 0, 255).astype(np.uint8)


def label_scale(shape: tuple[int, int]) -> float:
    """cv2's font scale of the zone names on a picture of ``shape``: readable once it is fitted to a page."""
    return max(0.4, min(shape) / 900)


def label_thickness(scale: float) -> int:
    """cv2's stroke width of the zone names at font scale ``scale``: what their boxes are measured with."""
    return max(1, round(2 * scale))


def zone_labels(zones: FaceZones, scale: float) -> list[ZoneLabel]:
    """Where each zone's name goes, so that no two overlap: inside its zone where the zone is deepest
    (farthest from its edge) and clear of the names placed before it, the zones with the least room
    first; a name that finds no room in its zone (a strip beside an eye on a masked or turned face) goes
    to the nearest free place, with a line to its zone."""
    labels = zones.labels
    h, w = labels.shape
    thickness = label_thickness(scale)
    step = max(1, round(max(h, w) / LABEL_GRID))  # candidate places are looked for on a grid this coarse
    grid = labels[step // 2::step, step // 2::step]
    depths = {zone_id: cv2.distanceTransform((grid == zone_id).astype(np.uint8), cv2.DIST_L2, 3)
              for zone_id in range(1, len(ZONES) + 1) if (grid == zone_id).any()}
    free_grid = np.stack(np.mgrid[0:grid.shape[0], 0:grid.shape[1]], -1).reshape(-1, 2)
    placed: list[ZoneLabel] = []
    for zone_id in sorted(depths, key=lambda zone_id: depths[zone_id].max()):
        zone = ZONES[zone_id - 1]
        text = ZONE_TITLES[zone]
        (tw, th), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        edge = thickness + 2  # the dark edge around the letters
        size = (tw + 2 * edge, th + baseline + 2 * edge)
        depth = depths[zone_id]
        inside = np.argwhere(depth > 0)
        inside = inside[np.argsort(-depth[inside[:, 0], inside[:, 1]], kind="stable")]
        deepest = inside[0]
        nearest = free_grid[np.argsort(np.abs(free_grid - deepest).sum(axis=1), kind="stable")]
        for cell, in_zone in chain(((cell, True) for cell in inside), ((cell, False) for cell in nearest)):
            cy, cx = cell * step + step // 2
            box = (int(cx) - size[0] // 2, int(cy) - size[1] // 2)
            box = (*box, box[0] + size[0], box[1] + size[1])
            if box[0] < 0 or box[1] < 0 or box[2] > w or box[3] > h or any(_overlap(box, p.box) for p in placed):
                continue
            anchor = None if in_zone else tuple(int(v) for v in deepest[::-1] * step + step // 2)
            placed.append(ZoneLabel(zone, text, (box[0] + edge, box[3] - edge - baseline), box, anchor))
            break
    return sorted(placed, key=lambda label: ZONES.index(label.zone))


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def density_top(reference: ScoreReference) -> float:
    """The density colour scale's top, pores/cm2: twice the score's reference density reads as "high"."""
    return 2 * reference.density_per_cm2


def density_colours(per_cm2: np.ndarray, top: float) -> np.ndarray:
    """Density values as RGB on YL_OR_RD, 0 to ``top`` pores/cm2 (NaN as 0)."""
    level = np.nan_to_num(np.clip(per_cm2 / top, 0, 1), nan=0.0) * (len(YL_OR_RD) - 1)
    stops = np.arange(len(YL_OR_RD))
    return np.stack([np.interp(level, stops, YL_OR_RD[:, c]) for c in range(3)], -1).astype(np.uint8)


def density_overlay(rgb: np.ndarray, density: DensityMap, reference: ScoreReference,
                    alpha: float = 0.55) -> np.ndarray:
    """The photo with the density map blended over the face's skin, coloured up to density_top(reference)."""
    h, w = rgb.shape[:2]
    values = density.at_image_size(h, w)
    inside = np.isfinite(values)
    return draw.blend(rgb, inside, density_colours(values[inside], density_top(reference)), alpha)


def labels_with_legend(rgb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The face parsing overlay with the class legend in its top-left corner, scaled to the photo."""
    out = draw.overlay_labels(rgb, labels)
    key = draw.legend()
    scale = max(1.0, min(out.shape[:2]) / 1200)
    key = cv2.resize(key, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    kh, kw = min(key.shape[0], out.shape[0]), min(key.shape[1], out.shape[1])
    out[:kh, :kw] = key[:kh, :kw]
    return out


def portrait_cutout(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """HxWx4 uint8 RGBA: the person, the background transparent (``alpha``: HxW uint8 opacity,
    poreseg.portrait.person_alpha)."""
    return np.dstack([np.asarray(rgb, np.uint8), np.asarray(alpha, np.uint8)])


def _panel(image: np.ndarray, title: str) -> np.ndarray:
    """``image`` fitted into a SHEET_PANEL square on white, titled above."""
    scale = SHEET_PANEL / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    fitted = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    panel = np.full((SHEET_PANEL + 28, SHEET_PANEL, 3), 255, np.uint8)
    top, left = 28 + (SHEET_PANEL - size[1]) // 2, (SHEET_PANEL - size[0]) // 2
    panel[top:top + size[1], left:left + size[0]] = fitted
    cv2.putText(panel, title, (4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, INK, 1, cv2.LINE_AA)
    return panel




def _pores_marked(crop: np.ndarray, pore_mask: np.ndarray) -> np.ndarray:
    """Pores filled in colour at panel size, where a one-pixel outline would vanish."""
    scale = SHEET_PANEL / max(crop.shape[:2])
    if scale >= 1:
        return pores_outlined(crop, pore_mask)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    small[cv2.resize(pore_mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0] = PORE_OUTLINE
    return small




# The summary sheet's zone table: zone_table's columns, as OpenCV's fonts can write them, and their x.
TABLE_COLUMNS = (("zone", 0, "s"), ("pores", 150, "d"), ("per cm2", 240, ".1f"), ("mean mm", 340, ".2f"),
                 ("area %", 440, ".2f"), ("score", 530, "d"), ("band", 610, "s"))


def zone_table_text(metrics: FaceMetrics) -> list[list[str]]:
    """zone_table's header and rows as text cells, "-" where a value is missing."""
    rows = zone_table(metrics).itertuples(index=False)
    return [[name for name, _, _ in TABLE_COLUMNS]] + [
        ["-" if pd.isna(value) else format(value, spec) for value, (_, _, spec) in zip(row, TABLE_COLUMNS)]
        for row in rows]




def simulation_line(analysis: Analysis) -> str:
    """The before/after of the analysis in one line, for the summary sheet."""
    s, after = analysis.after.simulation, analysis.after.metrics.face
    before = analysis.metrics.face
    scores = (f": pore score {whole_score(before.score)} -> {whole_score(after.score)} measured on the simulated photo"
              if before.score is not None and after.score is not None else "")
    return (f"Simulated: {get_product(s.product_id).name}, {s.weeks:g} weeks at {s.strength:.0%} strength"
            f"{scores} (an illustration, not a promise)")




def _text_panel(analysis: Analysis, width: int) -> np.ndarray:
    """The headline score, the scale, the zone table, the before/after if any and the warnings, on white."""
    face = analysis.metrics.face
    headline = ("Pores not measured in this photo" if face.score is None
                else f"Pore score {whole_score(face.score)} / 100 ({face.band})")
    scale = ("no mm scale (eyes not both visible)" if analysis.face.mm_per_px is None
             else f"{analysis.face.mm_per_px:.3f} mm per pixel, estimated from the eye distance")
    table = zone_table_text(analysis.metrics)
    notes = [(line, WARNING) for w in analysis.warnings for line in textwrap.wrap("! " + w, 95)]
    if analysis.after is not None:
        notes[:0] = [(line, INK) for line in textwrap.wrap(simulation_line(analysis), 95)]
    line = 24
    panel = np.full((SHEET_MARGIN * 2 + line * (3 + len(table) + len(notes)) + 16, width, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(panel, headline, (SHEET_MARGIN, SHEET_MARGIN + 22), font, 0.9, INK, 2, cv2.LINE_AA)
    cv2.putText(panel, f"method {analysis.method}; {scale}", (SHEET_MARGIN, SHEET_MARGIN + 22 + line), font, 0.5,
                MUTED, 1, cv2.LINE_AA)
    y = SHEET_MARGIN + 22 + 2 * line + 8
    for r, cells in enumerate(table):
        for text, (_, x, _) in zip(cells, TABLE_COLUMNS):
            cv2.putText(panel, text, (SHEET_MARGIN + x, y), font, 0.55, MUTED if r == 0 else INK, 1, cv2.LINE_AA)
        y += line
    for text, colour in notes:
        cv2.putText(panel, text, (SHEET_MARGIN, y + 8), font, 0.5, colour, 1, cv2.LINE_AA)
        y += line
    return panel




def summary_sheet(analysis: Analysis, rgb: np.ndarray) -> np.ndarray:
    """One RGB page: pores on the photo, the density heatmap, the zones, and the numbers."""
    rows, cols = around(analysis.zones.labels > 0, FACE_PAD)
    crop = np.asarray(rgb, np.uint8)[rows, cols]
    pictures = [_panel(_pores_marked(crop, analysis.pores.mask[rows, cols]) if analysis.pores else crop,
                       "pores" if analysis.pores else "photo (pores not measured)")]
    if analysis.density is not None:
        reference = analysis.metrics.reference
        pictures.append(_panel(density_overlay(rgb, analysis.density, reference)[rows, cols],
                               f"pore density (0-{density_top(reference):.3g}+ per cm2)"))
    pictures.append(_panel(zones_overlay(rgb, analysis.zones)[rows, cols], "zones"))
    gap = np.full((pictures[0].shape[0], SHEET_MARGIN, 3), 255, np.uint8)
    strip = np.hstack([part for picture in pictures for part in (gap, picture)] + [gap])
    top = np.full((SHEET_MARGIN, strip.shape[1], 3), 255, np.uint8)
    return np.vstack([top, strip, _text_panel(analysis, strip.shape[1])])
