"""A product's simulated effect as the Before/after tab shows it: on the zone where pores are densest,
enlarged so that pores show, or on the whole face; with the metrics measured again on the simulated photo."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from dashboard.session import DISPLAY_MAX_SIDE, NO_SESSION, Session, fit
from dashboard.tables import before_after_table
from poreseg import overlays
from poreseg.analysis import Analysis, simulate
from poreseg.products import get_product
from poreseg.tables import zone_table
from poreseg.zones import ZONE_TITLES, ZONES, around


FACE_VIEW = "face"  # the before/after of the whole face; the other views are zones
# A zone's before/after shows this many typical pore widths across, enlarged to BEFORE_AFTER_SIDE px: a pore
# is then about 12 px on the page, where a change of a few grey levels is visible.
VIEW_PORES_ACROSS = 60
MIN_VIEW_PX = 96
MOSTLY_ZONE = 0.6  # of the view's pixels, for a zone's before/after (less where the zone is narrow)
BEFORE_AFTER_SIDE = 720
VISIBLE_GREY_LEVELS = 8


@dataclass
class BeforeAfter:
    pair: tuple[Path, Path] | None
    note: str
    table: pd.DataFrame | None  # before_after_table


def before_after_views(analysis: Analysis) -> list[tuple[str, str]]:
    """(label, value) of the before/after views: each zone with pores, then the whole face."""
    counts = {zone: m.pore_count for zone, m in analysis.metrics.zones.items()}
    return [(ZONE_TITLES[zone], zone) for zone in ZONES if counts.get(zone)] + [("whole face", FACE_VIEW)]


def default_before_after_view(analysis: Analysis) -> str:
    """The zone with the most pores per cm² of skin (per pixel without a scale): where the effect shows most."""
    zones = analysis.metrics.zones
    measured = [zone for zone in ZONES if zones[zone].pore_count]
    if not measured:
        return FACE_VIEW
    return max(measured, key=lambda zone: zones[zone].pore_count / max(zones[zone].skin_area_px, 1))


def pore_view_window(analysis: Analysis, zone: str) -> tuple[slice, slice]:
    """A square of the photo in ``zone`` where its pores are densest, VIEW_PORES_ACROSS typical pores wide
    (at least MIN_VIEW_PX), so that shown at BEFORE_AFTER_SIDE a pore is several screen pixels across.
    Densest per pixel of the zone, among squares mostly in the zone: skin, not a brow or an eye."""
    zone_mask = analysis.zones.labels == ZONES.index(zone) + 1
    ys, xs = np.nonzero(zone_mask)
    h, w = analysis.image_size
    side = min(h, w, max(MIN_VIEW_PX, round(VIEW_PORES_ACROSS * analysis.face.pore_px)))
    if ys.size == 0:
        cy, cx = h // 2, w // 2
    else:
        box = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
        inside = zone_mask[box].astype(np.float32)
        pores = cv2.boxFilter(analysis.pores.mask[box] * inside, -1, (side, side), borderType=cv2.BORDER_CONSTANT)
        skin = cv2.boxFilter(inside, -1, (side, side), borderType=cv2.BORDER_CONSTANT)
        density = pores / np.maximum(skin, 1e-6)
        density[(skin < min(MOSTLY_ZONE, 0.9 * skin.max())) | ~zone_mask[box]] = -1
        y, x = np.unravel_index(np.argmax(density), density.shape)
        cy, cx = box[0].start + y, box[1].start + x
    y0, x0 = min(max(0, cy - side // 2), h - side), min(max(0, cx - side // 2), w - side)
    return slice(y0, y0 + side), slice(x0, x0 + side)


def enlarge(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` scaled so that its long side is ``side`` px: enlarged smoothly, or shrunk."""
    scale = side / max(image.shape[:2])
    if scale <= 1:
        return fit(image, side)
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)


def visible_change(before: np.ndarray, after: np.ndarray) -> float:
    """The share of pixels whose grey level differs by VISIBLE_GREY_LEVELS or more."""
    grey = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.int16) for image in (before, after)]
    return float((np.abs(grey[1] - grey[0]) >= VISIBLE_GREY_LEVELS).mean())


def before_after(session: Session | None, product_id: str | None, strength: float, weeks: float,
                 view: str | None = None) -> BeforeAfter:
    """The product's simulated effect, shown on ``view`` (a zone, at a zoom where pores show, or FACE_VIEW;
    by default the zone where pores are densest), its note and the metrics measured again on the
    simulated photo. The simulation is kept on the session for the report downloads."""
    if session is None or session.closed:
        return BeforeAfter(None, NO_SESSION, None)
    if not product_id:
        session.after = None
        return BeforeAfter(None, "Choose a product to see its simulated effect on the pores.", None)
    analysis = session.analysis
    if not analysis.pores_measured:
        return BeforeAfter(None, "The simulation needs measured pores, and this photo has none (see Overview).",
                           None)
    after = simulate(analysis, session.rgb, product_id, strength, weeks)
    # Kept for the report (its numbers), not its pictures: the simulated photo and pore maps would
    # double the session's memory.
    session.after = replace(after, pores=None, simulation=replace(after.simulation, after=None))
    view = view if view in (FACE_VIEW, *ZONES) else default_before_after_view(analysis)
    rows, cols = (around(analysis.zones.labels > 0, overlays.FACE_PAD) if view == FACE_VIEW
                  else pore_view_window(analysis, view))

    def show(image: np.ndarray) -> np.ndarray:
        crop = image[rows, cols]
        return fit(crop, DISPLAY_MAX_SIDE) if view == FACE_VIEW else enlarge(crop, BEFORE_AFTER_SIDE)
    before_shown, after_shown = show(session.rgb), show(after.simulation.after)
    before_path = session.picture(f"before-{view}.jpg", lambda: before_shown)
    after_path = session.picture(f"after-{view}-{product_id}-{strength:g}-{weeks:g}.jpg", lambda: after_shown)
    product, simulation = get_product(product_id), after.simulation
    width = f", {(cols.stop - cols.start) * analysis.face.mm_per_px / 10:.1f} cm wide" if analysis.face.mm_per_px else ""
    place = "the whole face" if view == FACE_VIEW else f"the {ZONE_TITLES[view]} where its pores are densest{width}"
    note = (f"**{product.name}**, {weeks:g} weeks at {strength:.0%} strength: pores about "
            f"{simulation.expected_reduction:.0%} smaller and {simulation.expected_reduction:.0%} fainter (its full "
            f"12-week effect: {product.effect_12w:.0%} less visible pore area). Shown: {place}; "
            f"{visible_change(before_shown, after_shown):.1%} of these pixels change by {VISIBLE_GREY_LEVELS} grey "
            "levels or more, all on pores; the rest of the skin is untouched. Pores and scores are measured again "
            "on the simulated photo. An illustration from published effects, not a promise.")
    return BeforeAfter((before_path, after_path), note,
                       before_after_table(zone_table(analysis.metrics), zone_table(after.metrics)))
