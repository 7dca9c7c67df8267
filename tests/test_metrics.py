"""Pore metrics on synthetic masks: counts add up, densities follow counts and areas, the score falls."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, strategies as st

from poreseg.metrics import SCORE_BANDS, find_pores, measure, pore_score, score_band
from poreseg.pores.methods import METHODS
from poreseg.zones import ZONES, FaceFrame, FaceZones, Landmarks

MM_PER_PX = 0.1  # 100 px = 1 cm
PSNET = METHODS["psnet"].reference


def stripe_zones(height: int = 200, width: int = 500) -> FaceZones:
    """Five 100 px wide vertical zones (1 cm x 2 cm each at MM_PER_PX)."""
    labels = np.repeat(np.arange(1, len(ZONES) + 1, dtype=np.uint8), width // len(ZONES))[None].repeat(height, 0)
    return FaceZones(labels, FaceFrame((0.0, 0.0), 630.0, 0.0, True), Landmarks(0, 0, 0, 0, 0))


def discs(shape: tuple[int, int], centres: list[tuple[int, int]], radius: int) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for x, y in centres:
        cv2.circle(mask, (x, y), radius, 1, -1)
    return mask.astype(bool)


def grid_centres(count: int, x0: int, width: int = 100, height: int = 200, step: int = 12) -> list[tuple[int, int]]:
    spots = [(x0 + 6 + i * step, 6 + j * step) for j in range(height // step) for i in range(width // step)]
    assert count <= len(spots)
    return spots[:count]


def test_every_method_has_its_own_reference():
    # Both detectors favour recall as people see pores, so their median faces are alike, not equal: PS-Net
    # finds about twice DoGPore's pores on the median face and draws them over their whole extent, so it
    # covers more than twice the skin.
    dog = METHODS["dog"].reference
    assert dog != PSNET
    assert 0.5 < dog.density_per_cm2 / PSNET.density_per_cm2 < 2
    assert 1 / 3 < dog.area_fraction / PSNET.area_fraction < 3


@pytest.mark.parametrize("method", sorted(METHODS))
def test_score_is_100_without_pores_and_50_at_each_methods_reference(method):
    reference = METHODS[method].reference
    assert pore_score(0.0, 0.0, reference) == 100.0
    assert pore_score(reference.density_per_cm2, reference.area_fraction, reference) == pytest.approx(50.0)
    assert pore_score(None, reference.area_fraction, reference) == pytest.approx(50.0)
    assert pore_score(None, 0.0, reference) == 100.0
    # Each further reference's worth of load halves the score.
    assert pore_score(2 * reference.density_per_cm2, 2 * reference.area_fraction, reference) == pytest.approx(25.0)


@given(st.floats(0, 200), st.floats(0, 0.2), st.floats(0.01, 50), st.floats(0.0001, 0.05),
       st.sampled_from(sorted(METHODS)))
def test_score_is_monotone_in_density_and_area(density, fraction, more_density, more_fraction, method):
    reference = METHODS[method].reference
    score = pore_score(density, fraction, reference)
    assert 0.0 <= score <= 100.0
    assert pore_score(density + more_density, fraction, reference) < score
    assert pore_score(density, fraction + more_fraction, reference) < score


def test_the_same_pores_score_lower_against_dogs_lower_reference():
    zones = stripe_zones()
    pores = find_pores(discs(zones.labels.shape, grid_centres(20, 100), 2), zones)
    dog = METHODS["dog"].reference
    against_psnet, against_dog = measure(pores, zones, MM_PER_PX, PSNET), measure(pores, zones, MM_PER_PX, dog)
    assert against_psnet.reference == PSNET and against_dog.reference == dog
    assert against_dog.face.score < against_psnet.face.score
    assert against_dog.zones["nose"].score < against_psnet.zones["nose"].score
    assert against_dog.face.pore_count == against_psnet.face.pore_count
    assert against_dog.face.density_per_cm2 == against_psnet.face.density_per_cm2
    assert against_dog.face.score == pytest.approx(pore_score(against_dog.face.density_per_cm2,
                                                              against_dog.face.area_fraction, dog))


def test_to_dict_fields_do_not_depend_on_the_reference():
    zones = stripe_zones()
    pores = find_pores(discs(zones.labels.shape, grid_centres(5, 0), 2), zones)
    fields = {"pore_count", "density_per_cm2", "mean_diameter_mm", "p95_diameter_mm", "area_fraction", "score",
              "band", "skin_area_px", "skin_area_cm2"}
    for reference in [m.reference for m in METHODS.values()]:
        report = measure(pores, zones, MM_PER_PX, reference).to_dict()
        assert set(report) == {"face", "zones"} and list(report["zones"]) == list(ZONES)
        assert all(set(numbers) == fields for numbers in (report["face"], *report["zones"].values()))


def test_bands_have_the_documented_cut_offs():
    assert [name for name, _ in SCORE_BANDS] == ["Excellent", "Great", "Good", "Average", "Poor"]
    assert score_band(100) == score_band(90) == "Excellent"
    assert score_band(89.9) == "Great" and score_band(70) == "Great"
    assert score_band(69.9) == "Good" and score_band(50) == "Good"
    assert score_band(49.9) == "Average" and score_band(30) == "Average"
    assert score_band(29.9) == "Poor" and score_band(0) == "Poor"


def test_zone_counts_add_up_and_densities_follow_counts_and_areas():
    zones = stripe_zones()
    counts = [3, 10, 25, 0, 7]
    centres = [c for zone, n in enumerate(counts) for c in grid_centres(n, 100 * zone)]
    mask = discs(zones.labels.shape, centres, 2)
    metrics = measure(find_pores(mask, zones), zones, MM_PER_PX, PSNET)
    assert [metrics.zones[name].pore_count for name in ZONES] == counts
    assert metrics.face.pore_count == sum(counts)
    for name, count in zip(ZONES, counts):
        zone = metrics.zones[name]
        assert zone.skin_area_cm2 == pytest.approx(2.0)
        assert zone.density_per_cm2 == pytest.approx(count / 2.0)
    assert metrics.face.density_per_cm2 == pytest.approx(sum(counts) / 10.0)
    assert metrics.face.area_fraction == pytest.approx(mask.sum() / mask.size)
    scores = [metrics.zones[name].score for name in ZONES]
    assert scores[3] == 100.0
    assert scores[1] > scores[2]  # more pores of the same size: a lower score


def test_diameters_are_equivalent_circle_diameters():
    zones = stripe_zones()
    small = grid_centres(6, 0)
    large = [(x, y + 40) for x, y in grid_centres(2, 200, step=30)]
    mask = discs(zones.labels.shape, small, 2) | discs(zones.labels.shape, large, 6)
    metrics = measure(find_pores(mask, zones), zones, MM_PER_PX, PSNET)
    area_small, area_large = discs((40, 40), [(20, 20)], 2).sum(), discs((40, 40), [(20, 20)], 6).sum()
    small_mm = 2 * np.sqrt(area_small / np.pi) * MM_PER_PX
    large_mm = 2 * np.sqrt(area_large / np.pi) * MM_PER_PX
    assert metrics.zones["forehead"].mean_diameter_mm == pytest.approx(small_mm)
    assert metrics.zones["left_cheek"].p95_diameter_mm == pytest.approx(large_mm)
    assert small_mm < metrics.face.mean_diameter_mm < large_mm
    assert metrics.face.p95_diameter_mm == pytest.approx(large_mm)


def test_a_pore_across_a_zone_border_counts_once_where_its_centroid_is():
    zones = stripe_zones()
    mask = np.zeros(zones.labels.shape, bool)
    mask[50:54, 96:103] = True  # 4 columns in the forehead, 3 in the nose
    pores = find_pores(mask, zones)
    assert len(pores) == 1
    metrics = measure(pores, zones, MM_PER_PX, PSNET)
    assert metrics.zones["forehead"].pore_count == 1 and metrics.zones["nose"].pore_count == 0
    assert metrics.face.pore_count == 1


def test_a_pore_whose_centroid_is_outside_the_zones_goes_to_the_zone_holding_it():
    zones = stripe_zones()
    zones.labels[:, 300:] = 0  # only the first three zones remain
    ring = np.zeros(zones.labels.shape, np.uint8)
    cv2.circle(ring, (300, 100), 8, 1, 2)  # a ring centred on the border; most of it in zone 3
    ring[:, 303:] = 0
    metrics = measure(find_pores(ring.astype(bool), zones), zones, MM_PER_PX, PSNET)
    assert metrics.zones["left_cheek"].pore_count == 1 and metrics.face.pore_count == 1


def test_without_a_scale_only_counts_and_fractions():
    zones = stripe_zones()
    mask = discs(zones.labels.shape, grid_centres(5, 0), 2)
    metrics = measure(find_pores(mask, zones), zones, None, PSNET)
    face = metrics.face
    assert face.pore_count == 5 and face.area_fraction == pytest.approx(mask.sum() / mask.size)
    assert face.density_per_cm2 is None and face.mean_diameter_mm is None and face.skin_area_cm2 is None
    assert face.score == pytest.approx(pore_score(None, face.area_fraction, PSNET))


def test_unmeasured_pores_leave_pore_fields_empty_and_keep_areas():
    zones = stripe_zones()
    metrics = measure(None, zones, MM_PER_PX, PSNET)
    for numbers in (metrics.face, *metrics.zones.values()):
        assert numbers.pore_count is None and numbers.score is None and numbers.band is None
        assert numbers.skin_area_cm2 > 0
    assert set(metrics.to_dict()["face"]) >= {"pore_count", "density_per_cm2", "score", "band"}


def test_an_empty_zone_has_no_rates():
    zones = stripe_zones()
    zones.labels[zones.labels == 1] = 0
    metrics = measure(find_pores(np.zeros(zones.labels.shape, bool), zones), zones, MM_PER_PX, PSNET)
    assert metrics.zones["forehead"].pore_count == 0 and metrics.zones["forehead"].density_per_cm2 is None
    assert metrics.zones["nose"].score == 100.0
