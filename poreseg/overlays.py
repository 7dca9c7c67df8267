"""Pictures of an analysis at the photo's full resolution: pores outlined, zones, density, the cut-out.

Built on poreseg.draw (label overlays and legend); no models and no measuring here.
"""
from __future__ import annotations

import cv2
import numpy as np

from poreseg import draw
from poreseg.density import DensityMap
from poreseg.metrics import ScoreReference
from poreseg.zones import ZONE_TITLES, ZONES, FaceZones

PORE_OUTLINE = (0, 255, 255)
UNCERTAIN_OUTLINE = (255, 140, 0)  # pores PS-Net's Monte-Carlo draws disagree on
ZONE_COLOURS = ((255, 120, 80), (80, 200, 120), (90, 140, 255), (200, 110, 230), (250, 210, 60))
# ColorBrewer YlOrRd, the colour scale of the interactive heatmap (poreseg.charts), low to high.
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


def zones_overlay(rgb: np.ndarray, zones: FaceZones, alpha: float = 0.35) -> np.ndarray:
    """The photo tinted with one colour per zone, each zone named at its centre."""
    palette = np.array([(0, 0, 0), *ZONE_COLOURS], np.float32)
    inside = zones.labels > 0
    out = draw.blend(rgb, inside, palette[zones.labels[inside]], alpha)
    scale = max(0.4, min(out.shape[:2]) / 900)
    for zone_id, name in enumerate(ZONES, start=1):
        ys, xs = np.nonzero(zones.labels == zone_id)
        if ys.size:
            _label(out, ZONE_TITLES[name], (int(xs.mean()), int(ys.mean())), scale)
    return out


def _label(image: np.ndarray, text: str, centre: tuple[int, int], scale: float) -> None:
    """White text with a dark edge, centred on ``centre`` (in place)."""
    thickness = max(1, round(2 * scale))
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    origin = (centre[0] - w // 2, centre[1] + h // 2)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)


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


def portrait_cutout(rgb: np.ndarray, person: np.ndarray) -> np.ndarray:
    """HxWx4 uint8 RGBA: the person, the background transparent (alpha = person probability)."""
    alpha = (np.clip(np.asarray(person, np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.dstack([np.asarray(rgb, np.uint8), alpha])
