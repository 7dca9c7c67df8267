"""The pore density map: pores per square centimetre of skin, smoothed over about a centimetre.

Each pore counted in a zone is a point at its centroid. Points and the face's skin (the union of the
zones) are both smoothed with the same Gaussian, and their ratio is the density of pores per area of
*analysed* skin near each place (a normalised convolution): the margins cut out around eyes, brows and
nostrils do not dilute it. The Gaussian's sigma is DENSITY_SIGMA_MM, so its full width at half
maximum (2.35 sigma) is about a centimetre. The map is computed on a grid of cells a quarter sigma
wide and is NaN where a cell is mostly outside the face's skin.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from poreseg.metrics import MM2_PER_CM2, Pores
from poreseg.zones import ZONES, FaceZones

DENSITY_SIGMA_MM = 4.25
CELLS_PER_SIGMA = 4
MAX_GRID_SIDE = 600  # cells; the map is smooth over many cells, finer grids only cost time
MIN_SKIN_SHARE = 0.5  # of a cell, for the cell to have a value


@dataclass
class DensityMap:
    per_cm2: np.ndarray  # h x w float32 pores per cm2 on the grid; NaN outside the face's skin
    zone_ids: np.ndarray  # h x w uint8: the zone holding most of each cell (FaceZones.labels values; 0 none)
    cell_px: float  # image pixels per grid cell, along both axes

    def at_image_size(self, height: int, width: int) -> np.ndarray:
        """The map resampled to HxW image pixels (float32, NaN outside)."""
        return cv2.resize(self.per_cm2, (width, height), interpolation=cv2.INTER_NEAREST)


def density_map(pores: Pores, zones: FaceZones, mm_per_px: float) -> DensityMap:
    """Pores per cm2 around each place of the face (see the module docstring)."""
    h, w = zones.labels.shape
    sigma_px = DENSITY_SIGMA_MM / mm_per_px
    cell_px = max(1.0, sigma_px / CELLS_PER_SIGMA, max(h, w) / MAX_GRID_SIDE)
    grid_w, grid_h = max(1, int(np.ceil(w / cell_px))), max(1, int(np.ceil(h / cell_px)))
    # Each zone's share of each cell (the last row and column may be partial); skin is their sum.
    padded = np.zeros((int(round(grid_h * cell_px)), int(round(grid_w * cell_px))), np.float32)
    shares = []
    for zone_id in range(1, len(ZONES) + 1):
        padded[:h, :w] = zones.labels == zone_id
        shares.append(cv2.resize(padded, (grid_w, grid_h), interpolation=cv2.INTER_AREA))
    shares = np.stack(shares)
    skin = shares.sum(0)
    counts = np.zeros((grid_h, grid_w), np.float32)
    placed = pores.zone_ids > 0
    cells = np.minimum((pores.centroids[placed] / cell_px).astype(int), [grid_w - 1, grid_h - 1])
    np.add.at(counts, (cells[:, 1], cells[:, 0]), 1.0)

    sigma_cells = sigma_px / cell_px
    skin_near = cv2.GaussianBlur(skin, (0, 0), sigma_cells, borderType=cv2.BORDER_CONSTANT)
    pores_near = cv2.GaussianBlur(counts, (0, 0), sigma_cells, borderType=cv2.BORDER_CONSTANT)
    cell_cm2 = (cell_px * mm_per_px) ** 2 / MM2_PER_CM2
    with np.errstate(divide="ignore", invalid="ignore"):
        per_cm2 = pores_near / (skin_near * cell_cm2)
    per_cm2 = np.where(skin >= MIN_SKIN_SHARE, per_cm2, np.nan).astype(np.float32)
    zone_ids = np.where(skin > 0, shares.argmax(0) + 1, 0).astype(np.uint8)
    return DensityMap(per_cm2, zone_ids, float(cell_px))
