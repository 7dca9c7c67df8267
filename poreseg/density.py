"""The pore density map: pores per square centimetre of skin, smoothed over about a centimetre.

Each pore counted in a zone is a point at its centroid. Points and the face's skin (the union of the
zones) are both smoothed with the same Gaussian, and their ratio is the density of pores per area of
*analysed* skin near each place (a normalised convolution): the margins cut out around eyes, brows and
nostrils do not dilute it. The Gaussian's sigma is DENSITY_SIGMA_MM, so its full width at half
maximum (2.35 sigma) is about a centimetre. The map is computed on a grid of cells a quarter sigma
wide over the whole photo and is NaN where a cell is mostly outside the face's skin.

Each zone's share of each cell is the cell's mean of the zone's mask, as cv2.resize INTER_AREA takes
it when it shrinks the photo (padded to whole cells) to the grid; zone_shares computes the same means
(to float rounding) from the zones' bounding box alone: the face, a small part of a 12 MP photo.
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
CV2_AREA_SLIVER_PX = 1e-3  # cv2.resize INTER_AREA leaves out a pixel's overlap with a cell under this


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
    shares = zone_shares(zones.labels, grid_h, grid_w, cell_px)
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


def zone_shares(labels: np.ndarray, grid_h: int, grid_w: int, cell_px: float) -> np.ndarray:
    """Each zone's share of each cell (zones x grid_h x grid_w float32) of a grid of ``cell_px`` cells over
    ``labels`` (FaceZones.labels): what cv2.resize INTER_AREA gives for each zone's mask, padded with zeros to
    round(grid * cell_px) pixels, shrunk to the grid, to float rounding (for grids under 1000 cells a side, as
    MAX_GRID_SIDE keeps them: finer ones can have true overlaps under CV2_AREA_SLIVER_PX). Only the zones'
    bounding box is read, once per zone into its integral image; cells away from it are 0."""
    shares = np.zeros((len(ZONES), grid_h, grid_w), np.float32)
    x, y, box_w, box_h = cv2.boundingRect(labels)
    if box_w == 0:
        return shares
    # The padded photo has a whole number of pixels, so a cell is that over the grid size, a hair off cell_px.
    scale_y, scale_x = round(grid_h * cell_px) / grid_h, round(grid_w * cell_px) / grid_w
    # One cell more on each side than the box reaches, so that rounding in the cell index cannot miss one;
    # a cell beyond the box gets 0.
    rows = range(max(0, int(y / scale_y) - 1), min(grid_h, int(np.ceil((y + box_h) / scale_y)) + 1))
    cols = range(max(0, int(x / scale_x) - 1), min(grid_w, int(np.ceil((x + box_w) / scale_x)) + 1))
    y_edges, x_edges = _cell_edges(rows, scale_y, y, box_h), _cell_edges(cols, scale_x, x, box_w)
    box = labels[y:y + box_h, x:x + box_w]
    for zone_id in range(1, len(ZONES) + 1):
        summed = cv2.integral(np.equal(box, zone_id).view(np.uint8), sdepth=cv2.CV_32S)
        area = _sums_between(_sums_between(summed, y_edges).T, x_edges).T
        shares[zone_id - 1, rows.start:rows.stop, cols.start:cols.stop] = area / (scale_y * scale_x)
    return shares


def _cell_edges(cells: range, scale: float, offset: int, size: int) -> np.ndarray:
    """Where the cells ``cells`` start, and the last one ends, along one axis (cell c spans pixels c * scale
    to (c + 1) * scale), in the coordinates of a box of ``size`` pixels from pixel ``offset``, clipped to it."""
    edges = np.arange(cells.start, cells.stop + 1) * scale
    # An edge that float rounding puts a hair off a pixel border would give the next cell a sliver of a
    # pixel that is not its own; cv2 leaves out overlaps under 1e-3 px, so snap edges that close.
    borders = np.round(edges)
    edges = np.where(np.abs(edges - borders) < CV2_AREA_SLIVER_PX, borders, edges)
    return np.clip(edges - offset, 0, size)


def _sums_between(prefix: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Sums along axis 0 between consecutive ``edges`` (fractional row positions) from ``prefix``, the sums
    of the rows before each row (one row more than the values): whole rows from the prefix, and the part of
    each row an edge cuts. Whole rows are subtracted before parts are added, so that a span without values
    sums to exactly 0 rather than to rounding noise (zone_ids tells a cell without skin by a share of 0)."""
    row = np.minimum(np.floor(edges).astype(np.intp), len(prefix) - 2)
    cut = (edges - row).reshape(-1, *([1] * (prefix.ndim - 1)))
    cut_row = prefix[row + 1] - prefix[row]
    return (prefix[row[1:]] - prefix[row[:-1]]) + (cut_row[1:] * cut[1:] - cut_row[:-1] * cut[:-1])
