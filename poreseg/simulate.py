"""Before/after simulation of a product: pores fade into the skin around them, nothing else changes.

How much visible pore area goes follows the product's expected effect (poreseg/data/products.csv),
the strength (0-1: how fully the routine is followed) and the weeks of use, on a saturating curve:

    effect(weeks) = effect_12w * (1 - 2 ** (-weeks / half)) / (1 - 2 ** (-12 / half))   for weeks <= 12

which is 0 at week 0, rises fastest at first (``half`` is the product's half_effect_weeks) and
reaches effect_12w at 12 weeks, where it stays: the sources measure up to about 12 weeks and nothing
beyond is claimed. A product with half = 0 (an optical primer) acts at once. The reduction is strength * effect(weeks),
capped at MAX_REDUCTION.

How a pore changes: every pore in the region shrinks and fades, as the sources describe pores getting
smaller and less visible, not disappearing one by one. A pore is its mask grown by its soft rim (RIM_OF_PORE
expected pore widths), within the analysis region; cv2.inpaint (Telea) fills in the pore-free skin around it, and
the pore is its depth below that skin. With reduction r, the pore's area shrinks to (1 - r) of it (the
depth profile scaled about the pore's centre) and what is left is (1 - r) as deep. The texture of the
skin outside the pores is not touched: there is no global blur, every other pixel stays as it was.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from poreseg.products import Product

FULL_COURSE_WEEKS = 12.0
MAX_REDUCTION = 0.95  # a product makes pores less visible; none makes them all vanish
MIN_RIM_PX = 1
# A pore's soft rim, darker than the skin but outside its mask, reaches about a pore width out: the skin
# level it fades to is taken beyond it.
RIM_OF_PORE = 1.0
INPAINT_RADIUS_PX = 3
REMAP_ROW = 4096


@dataclass
class Simulation:
    after: np.ndarray  # HxWx3 uint8, the simulated photo
    changed: np.ndarray  # HxW bool: the pixels that changed (on pores and their rims, within the region)
    product_id: str
    strength: float
    weeks: float
    expected_reduction: float  # 0-1: the share of the visible pore area faded away


def expected_effect(product: Product, weeks: float) -> float:
    """Expected reduction of visible pore area after ``weeks`` of use (the module docstring's curve)."""
    weeks = min(max(0.0, float(weeks)), FULL_COURSE_WEEKS)
    if product.half_effect_weeks == 0:
        return product.effect_12w
    progress = 1 - 2 ** (-weeks / product.half_effect_weeks)
    return product.effect_12w * progress / (1 - 2 ** (-FULL_COURSE_WEEKS / product.half_effect_weeks))


def expected_reduction(product: Product, strength: float, weeks: float) -> float:
    return float(min(MAX_REDUCTION, np.clip(strength, 0.0, 1.0) * expected_effect(product, weeks)))


def shrink_about_centres(depth: np.ndarray, pores: np.ndarray, scale: float) -> np.ndarray:
    """The depth (HxWx3 float32, 0 outside ``pores``) of each pore pixel, in ``pores[mask]`` order (Nx3),
    once each pore's profile is scaled by ``scale`` (< 1) about its centre: a pixel takes the depth from
    ``1 / scale`` as far out along its ray, and none from a neighbouring pore. Sampled at the pore pixels
    only, not over the whole frame."""
    _, components, _, centres = cv2.connectedComponentsWithStats(pores.astype(np.uint8), connectivity=8)
    ys, xs = np.nonzero(pores)
    own = components[ys, xs]
    cx, cy = centres[own, 0], centres[own, 1]
    # cv2.remap takes maps of fewer than 32767 columns: the samples go in rows of REMAP_ROW.
    rows = -(-len(xs) // REMAP_ROW)
    map_x, map_y = (np.resize(np.asarray(v, np.float32), (rows, REMAP_ROW))
                    for v in (cx + (xs - cx) / scale, cy + (ys - cy) / scale))
    shrunk = cv2.remap(depth, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    source = cv2.remap(components.astype(np.float32), map_x, map_y, cv2.INTER_NEAREST,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return shrunk.reshape(-1, depth.shape[2])[:len(xs)] * (source.ravel()[:len(xs)] == own)[:, None]


def simulate_product(rgb: np.ndarray, pore_mask: np.ndarray, region: np.ndarray, product: Product,
                     strength: float = 1.0, weeks: float = FULL_COURSE_WEEKS, pore_px: float = 0.0) -> Simulation:
    """The photo after ``weeks`` of ``product`` at ``strength`` (see the module docstring); ``pore_px``,
    the expected pore diameter, sizes the rim taken with each pore."""
    rgb = np.asarray(rgb, np.uint8)
    region = np.asarray(region, bool)
    pores = np.asarray(pore_mask, bool) & region
    reduction = expected_reduction(product, strength, weeks)
    after, changed = rgb.copy(), np.zeros(region.shape, bool)
    ys, xs = np.nonzero(pores)
    if reduction > 0 and ys.size:
        rim = max(MIN_RIM_PX, round(RIM_OF_PORE * pore_px))
        grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rim + 1,) * 2)
        # Work in the box around the pores (plus the inpainting's reach): same result, less work.
        pad = INPAINT_RADIUS_PX + rim + 1
        box = (slice(max(0, ys.min() - pad), ys.max() + 1 + pad), slice(max(0, xs.min() - pad), xs.max() + 1 + pad))
        image, inside = rgb[box], region[box]
        grown = cv2.dilate(pores[box].astype(np.uint8), grow).astype(bool) & inside
        filled = cv2.inpaint(image, grown.astype(np.uint8), INPAINT_RADIUS_PX, cv2.INPAINT_TELEA).astype(np.float32)
        # Only what is darker than the skin around it is pore; a highlight inside the mask stays.
        depth = np.clip(filled - image, 0, None) * grown[..., None]
        remaining = (1 - reduction) * shrink_about_centres(depth, grown, np.sqrt(1 - reduction))
        # The pore's own depth taken out (image + depth) and what remains of it put back.
        restored = np.maximum(image[grown], filled[grown]) - remaining
        result = image.copy()
        result[grown] = np.clip(restored + 0.5, 0, 255).astype(np.uint8)
        after[box] = result
        changed[box] = (result != image).any(axis=2)
    return Simulation(after, changed, product.id, float(strength), float(weeks), reduction)
