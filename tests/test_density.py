"""The density map on synthetic zones: zone shares equal a full-frame cv2 INTER_AREA shrink, the grid covers
the photo, and an even spread of pores reads back as its density."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poreseg.density import density_map, zone_shares
from poreseg.metrics import find_pores
from poreseg.zones import ZONES, FaceFrame, FaceZones, Landmarks


def shares_by_full_frame_resize(labels: np.ndarray, grid_h: int, grid_w: int, cell_px: float) -> np.ndarray:
    """The straightforward computation: each zone's mask over the whole photo, padded to whole cells and
    shrunk to the grid by cv2.resize INTER_AREA."""
    h, w = labels.shape
    padded = np.zeros((int(round(grid_h * cell_px)), int(round(grid_w * cell_px))), np.float32)
    shares = []
    for zone_id in range(1, len(ZONES) + 1):
        padded[:h, :w] = labels == zone_id
        shares.append(cv2.resize(padded, (grid_w, grid_h), interpolation=cv2.INTER_AREA))
    return np.stack(shares)


@st.composite
def labelled_photos(draw) -> tuple[np.ndarray, float]:
    """A photo's zone labels, scattered at random inside a random box (zeros elsewhere), sparse or dense, and a
    cell size: whole, fractional, or a hair off a whole number of pixels."""
    h, w = draw(st.integers(8, 160)), draw(st.integers(8, 160))
    y0, x0 = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
    y1, x1 = draw(st.integers(y0 + 1, h)), draw(st.integers(x0 + 1, w))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    filled = rng.random((y1 - y0, x1 - x0)) < draw(st.floats(0.02, 1.0))
    labels = np.zeros((h, w), np.uint8)
    labels[y0:y1, x0:x1] = np.where(filled, rng.integers(1, len(ZONES) + 1, filled.shape), 0)
    whole = draw(st.integers(1, 9))
    cell_px = draw(st.sampled_from([float(whole), whole + 0.0004, whole + 0.9996]) | st.floats(1.0, 12.0))
    return labels, cell_px


@settings(max_examples=150, deadline=None)
@given(labelled_photos())
def test_zone_shares_equal_the_full_frame_resize(case):
    labels, cell_px = case
    h, w = labels.shape
    grid_h, grid_w = int(np.ceil(h / cell_px)), int(np.ceil(w / cell_px))
    expected = shares_by_full_frame_resize(labels, grid_h, grid_w, cell_px)
    shares = zone_shares(labels, grid_h, grid_w, cell_px)
    np.testing.assert_allclose(shares, expected, rtol=0, atol=1e-5)
    # Exactly 0 where the resize gives 0: the density map tells cells without skin by that.
    np.testing.assert_array_equal(shares > 0, expected > 0)


def test_cells_beside_a_face_shaped_zone_have_no_share():
    """A filled ellipse of zones, as faces are: the cells around it get exactly 0, as in the resize."""
    labels = np.zeros((300, 400), np.uint8)
    cv2.ellipse(labels, (210, 140), (90, 120), 10, 0, 360, 1, -1)
    labels[labels > 0] = np.add.outer(np.arange(300) // 60, np.arange(400) // 80)[labels > 0] % len(ZONES) + 1
    grid_h, grid_w = int(np.ceil(300 / 3.7)), int(np.ceil(400 / 3.7))
    shares = zone_shares(labels, grid_h, grid_w, 3.7)
    expected = shares_by_full_frame_resize(labels, grid_h, grid_w, 3.7)
    np.testing.assert_allclose(shares, expected, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(shares > 0, expected > 0)


def test_a_cell_ending_on_a_pixel_border_takes_nothing_from_the_next_pixel():
    """36 rows in 28 cells of 9/7 px: cell row 20 ends on the border of pixel row 27, at 27.000000000000004 in
    floats. A zone pixel in row 27 belongs to cell row 21 alone, as in the resize."""
    labels = np.zeros((36, 27), np.uint8)
    labels[27, 3] = 1
    shares = zone_shares(labels, 28, 21, 1.29)
    assert shares[0, 20].max() == 0.0 and shares[0, 21].max() > 0.0
    np.testing.assert_array_equal(shares > 0, shares_by_full_frame_resize(labels, 28, 21, 1.29) > 0)


def test_zone_shares_of_a_photo_without_zones_are_zero():
    assert not zone_shares(np.zeros((50, 70), np.uint8), 10, 14, 5.0).any()


def test_an_even_spread_of_pores_reads_back_as_its_density():
    """Pores every 10 px (1 mm) over a face-sized zone in the middle of a larger photo: 100 per cm2 inside,
    NaN away from the zone, on a grid that covers the whole photo."""
    h, w, mm_per_px = 900, 1200, 0.1
    labels = np.zeros((h, w), np.uint8)
    labels[200:700, 300:900] = ZONES.index("left_cheek") + 1
    zones = FaceZones(labels, FaceFrame((600.0, 300.0), 630.0, 0.0, True), Landmarks(0, 0, 0, 0, 0))
    mask = np.zeros((h, w), bool)
    mask[205:700:10, 305:900:10] = True
    density = density_map(find_pores(mask, zones), zones, mm_per_px)
    grid_h, grid_w = density.per_cm2.shape
    assert grid_h * density.cell_px >= h and grid_w * density.cell_px >= w
    values = density.at_image_size(h, w)
    # Away from the zone's edge (where the smoothing also sees cells of the last, partial row and column).
    assert np.mean(values[300:600, 400:800]) == pytest.approx(100.0, rel=0.02)
    assert np.isnan(values[:150]).all() and np.isnan(values[:, :250]).all()
    assert density.zone_ids[int(450 / density.cell_px), int(600 / density.cell_px)] == ZONES.index("left_cheek") + 1
