"""Before/after simulation of a product: pores fade into the skin around them, nothing else changes.

How much visible pore area goes follows the product's expected effect (poreseg/data/products.csv),
the strength (0-1: how fully the routine is followed) and the weeks of use, on a saturating curve:

    effect(weeks) = effect_12w * (1 - 2 ** (-weeks / half)) / (1 - 2 ** (-12 / half))   for weeks <= 12

which is 0 at week 0, rises fastest at first (``half`` is the product's half_effect_weeks) and
reaches effect_12w at 12 weeks, where it stays: the sources measure up to about 12 weeks and nothing
beyond is claimed. A product with half = 0 (an optical primer) acts at once. The reduction is strength * effect(weeks),
capped at MAX_REDUCTION.

Which pores fade: the faintest first (darkness against the pore-free skin around them), until their
area makes up the reduction; the pore at the boundary fades partly. A pore fades by blending its
pixels, grown by CHANGE_MARGIN_PX to take its soft rim and kept inside the analysis region, towards
the pore-free skin that cv2.inpaint (Telea) fills in from the pixels around it. There is no global
blur: every other pixel of the photo stays exactly as it was.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from poreseg.products import Product

FULL_COURSE_WEEKS = 12.0
MAX_REDUCTION = 0.95  # a product makes pores less visible; none makes them all vanish
CHANGE_MARGIN_PX = 1  # the pore's soft rim, darker than the skin but outside the mask
INPAINT_RADIUS_PX = 3


@dataclass
class Simulation:
    after: np.ndarray  # HxWx3 uint8, the simulated photo
    changed: np.ndarray  # HxW bool: the pixels that were blended (faded pores and their rims, within the region)
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


def pore_weights(pores: np.ndarray, darkness: np.ndarray, reduction: float) -> np.ndarray:
    """HxW float32 blend weight per pore pixel: 1 for the faintest pores that together hold ``reduction``
    of the pore area, a fraction for the pore at the boundary, 0 for the rest."""
    count, components = cv2.connectedComponents(pores.astype(np.uint8), connectivity=8)
    ids = components[pores]
    area = np.bincount(ids, minlength=count)[1:].astype(np.float64)
    mean_darkness = np.bincount(ids, darkness[pores], minlength=count)[1:] / np.maximum(area, 1)
    order = np.argsort(mean_darkness, kind="stable")
    end = np.cumsum(area[order]) / area.sum()
    start = end - area[order] / area.sum()
    weight = np.zeros(count, np.float32)
    weight[order + 1] = np.clip((reduction - start) / (end - start), 0, 1)
    return weight[components]


def simulate_product(rgb: np.ndarray, pore_mask: np.ndarray, region: np.ndarray, product: Product,
                     strength: float = 1.0, weeks: float = FULL_COURSE_WEEKS) -> Simulation:
    """The photo after ``weeks`` of ``product`` at ``strength`` (see the module docstring)."""
    rgb = np.asarray(rgb, np.uint8)
    region = np.asarray(region, bool)
    pores = np.asarray(pore_mask, bool) & region
    reduction = expected_reduction(product, strength, weeks)
    after, changed = rgb.copy(), np.zeros(region.shape, bool)
    ys, xs = np.nonzero(pores)
    if reduction > 0 and ys.size:
        grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * CHANGE_MARGIN_PX + 1,) * 2)
        # Work in the box around the pores (plus the inpainting's reach): same result, less work.
        pad = INPAINT_RADIUS_PX + CHANGE_MARGIN_PX + 1
        box = (slice(max(0, ys.min() - pad), ys.max() + 1 + pad), slice(max(0, xs.min() - pad), xs.max() + 1 + pad))
        image, inside, pore_box = rgb[box], region[box], pores[box]
        grown = cv2.dilate(pore_box.astype(np.uint8), grow).astype(bool) & inside
        filled = cv2.inpaint(image, grown.astype(np.uint8), INPAINT_RADIUS_PX, cv2.INPAINT_TELEA)
        darkness = (cv2.cvtColor(filled, cv2.COLOR_RGB2GRAY).astype(np.float32)
                    - cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32))
        # A faded pore takes its rim with it: the weight spreads over the grown mask.
        weight = cv2.dilate(pore_weights(pore_box, darkness, reduction), grow) * grown
        blended = image * (1 - weight[..., None]) + filled.astype(np.float32) * weight[..., None]
        after[box] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        changed[box] = weight > 0
    return Simulation(after, changed, product.id, float(strength), float(weeks), reduction)
