"""Product simulation on synthetic skin: every pore shrinks and fades, nothing else changes."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from poreseg.products import get_product
from poreseg.simulate import FULL_COURSE_WEEKS, expected_effect, expected_reduction, simulate_product

DARKNESS = np.linspace(15, 70, 40)  # grey levels below the skin, faintest pore first


@pytest.fixture(scope="module")
def skin():
    """300x300 textured skin with 40 pores of rising darkness on a grid; the region leaves out a border."""
    rng = np.random.default_rng(0)
    image = np.array([190, 150, 130], np.float32) + rng.normal(0, 2, (300, 300, 1)).astype(np.float32)
    mask = np.zeros((300, 300), bool)
    for i, dark in enumerate(DARKNESS):
        x, y = 40 + (i % 8) * 30, 60 + (i // 8) * 40
        disc = np.zeros((300, 300), np.uint8)
        cv2.circle(disc, (x, y), 3, 1, -1)
        image[disc.astype(bool)] -= dark
        mask |= disc.astype(bool)
    rgb = np.clip(image, 0, 255).astype(np.uint8)
    region = np.zeros((300, 300), bool)
    region[20:280, 20:280] = True
    return rgb, mask, region


def visible_pore_area(rgb: np.ndarray, region: np.ndarray) -> int:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return int(((cv2.medianBlur(grey.astype(np.uint8), 15) - grey > 8) & region).sum())


def test_pores_fade_and_nothing_outside_the_changed_pixels_moves(skin):
    rgb, mask, region = skin
    result = simulate_product(rgb, mask, region, get_product("retinoid"), strength=1.0, weeks=12)
    assert result.expected_reduction == pytest.approx(get_product("retinoid").effect_12w)
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert result.changed.any() and not (result.changed & ~(grown & region)).any()
    assert (result.after[~result.changed] == rgb[~result.changed]).all()
    assert (result.after[~region] == rgb[~region]).all()
    before, after = visible_pore_area(rgb, region), visible_pore_area(result.after, region)
    # Less than the reduction itself: these hard-edged 7-px discs shrink by whole pixels on the grid.
    assert after < before * (1 - result.expected_reduction / 3)


def test_every_pore_shrinks_and_fades_none_vanishes(skin):
    """As a product acts: each pore smaller and lighter, still there (texture stays); the change is
    visible, at least VISIBLE grey levels on a good share of the pore pixels."""
    rgb, mask, region = skin
    result = simulate_product(rgb, mask, region, get_product("retinoid"), strength=1.0, weeks=12)
    grey_before = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(int)
    grey_after = cv2.cvtColor(result.after, cv2.COLOR_RGB2GRAY).astype(int)
    skin_level = np.median(grey_before[region & ~mask])
    count, components = cv2.connectedComponents(mask.astype(np.uint8))
    for pore in range(1, count):
        inside = components == pore
        depth_before = skin_level - grey_before[inside].min()
        depth_after = skin_level - grey_after[inside].min()
        assert 0.4 * depth_before < depth_after < 0.85 * depth_before  # fainter, not gone
        dark_before = (skin_level - grey_before[inside] > depth_before / 2).sum()
        dark_after = (skin_level - grey_after[inside] > depth_before / 2).sum()
        assert dark_after < dark_before  # and smaller
    assert (np.abs(grey_after - grey_before)[mask] >= 8).mean() > 0.3


def test_more_strength_and_more_weeks_fade_more(skin):
    rgb, mask, region = skin
    product = get_product("niacinamide_serum")
    areas = [visible_pore_area(simulate_product(rgb, mask, region, product, strength, weeks).after, region)
             for strength, weeks in ((0.3, 12), (1.0, 4), (1.0, 12))]
    assert areas[0] >= areas[2] and areas[1] >= areas[2]


def test_a_product_without_visible_effect_changes_nothing(skin):
    rgb, mask, region = skin
    result = simulate_product(rgb, mask, region, get_product("sunscreen"), strength=1.0, weeks=12)
    assert result.expected_reduction == 0.0
    assert not result.changed.any() and (result.after == rgb).all()


def test_effect_curve_rises_reaches_the_12_week_value_and_stays():
    product = get_product("retinoid")
    weeks = np.arange(0, 53)
    effects = np.array([expected_effect(product, w) for w in weeks])
    assert effects[0] == 0.0
    assert (np.diff(effects[:13]) > 0).all()
    assert effects[12:] == pytest.approx(product.effect_12w)
    # Saturating: the first weeks bring more than the last ones.
    assert effects[4] - effects[0] > effects[12] - effects[8]
    primer = get_product("pore_primer")
    assert primer.half_effect_weeks == 0 and expected_effect(primer, 0) == primer.effect_12w


def test_reduction_scales_with_strength_and_is_capped():
    product = get_product("retinoid")
    assert expected_reduction(product, 0.5, FULL_COURSE_WEEKS) == pytest.approx(0.5 * product.effect_12w)
    assert expected_reduction(product, 0.0, FULL_COURSE_WEEKS) == 0.0
    strong = dataclasses.replace(product, effect_12w=1.0)
    assert expected_reduction(strong, 1.0, 52) == 0.95
