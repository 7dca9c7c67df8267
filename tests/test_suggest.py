"""Product catalogue and suggestions: data-driven rules, one-line reasons, routine and disclaimer."""
from __future__ import annotations

import numpy as np
import pytest

from poreseg.metrics import REFERENCE_AREA_FRACTION, REFERENCE_DENSITY_PER_CM2, FaceMetrics, pore_metrics
from poreseg.products import CATALOGUE_PATH, CatalogueError, catalogue, load_catalogue
from poreseg.suggest import DISCLAIMER, suggest
from poreseg.zones import ZONES

SKIN_PX = 10_000
MM_PER_PX = 0.1  # SKIN_PX is 1 cm2


def zone_numbers(density_ratio: float, area_ratio: float):
    """PoreMetrics of a 1 cm2 zone at the given multiples of the reference density and area fraction."""
    count = round(density_ratio * REFERENCE_DENSITY_PER_CM2)
    pore_area = area_ratio * REFERENCE_AREA_FRACTION * SKIN_PX
    areas = [pore_area / count] * count if count else []
    return pore_metrics(np.array(areas), SKIN_PX, MM_PER_PX)


def face_metrics(**zones: tuple[float, float]) -> FaceMetrics:
    """Zones at (density ratio, area ratio), 0.3 of the references unless given."""
    per_zone = {name: zone_numbers(*zones.get(name, (0.3, 0.3))) for name in ZONES}
    ratios = [zones.get(name, (0.3, 0.3)) for name in ZONES]
    face = zone_numbers(sum(r[0] for r in ratios) / len(ratios), sum(r[1] for r in ratios) / len(ratios))
    return FaceMetrics(face, per_zone)


def suggested(metrics) -> dict[str, str]:
    return {s.product.id: s.reason for s in suggest(metrics).items}


def test_catalogue_has_the_ingredient_categories_with_sources():
    categories = {p.category for p in catalogue().values()}
    assert {"salicylic acid (BHA)", "niacinamide", "retinoid", "clay mask", "oil-free moisturiser", "sunscreen",
            "pore-blurring primer"} <= categories
    for product in catalogue().values():
        assert 0 <= product.effect_12w <= 1 and product.source and product.targets


def test_clean_skin_gets_only_the_daily_basics():
    assert set(suggested(face_metrics())) == {"sunscreen", "oil_free_moisturiser"}


def test_dense_nose_pores_call_for_salicylic_acid():
    reasons = suggested(face_metrics(nose=(2.0, 0.5)))
    assert "bha_cleanser" in reasons and reasons["bha_cleanser"].lower().startswith("nose:")
    assert f"{2 * REFERENCE_DENSITY_PER_CM2:.0f} pores/cm²" in reasons["bha_cleanser"]
    assert "niacinamide_serum" not in reasons


def test_cheeks_covered_by_pores_call_for_niacinamide():
    reasons = suggested(face_metrics(left_cheek=(0.5, 2.5), right_cheek=(0.5, 1.5)))
    assert "niacinamide_serum" in reasons and reasons["niacinamide_serum"].lower().startswith("left cheek:")
    assert "bha_cleanser" not in reasons


def test_a_poor_face_gets_a_retinoid_and_a_primer():
    reasons = suggested(face_metrics(**{name: (3.0, 3.0) for name in ZONES}))
    assert {"retinoid", "pore_primer", "bha_cleanser", "niacinamide_serum", "sunscreen"} <= set(reasons)
    assert all("\n" not in reason and reason.endswith(".") for reason in reasons.values())


def test_routine_orders_steps_and_never_stacks_two_treatments():
    suggestions = suggest(face_metrics(**{name: (3.0, 3.0) for name in ZONES}))
    names = {p.id: p.name for p in catalogue().values()}
    assert suggestions.morning[-1] == names["pore_primer"]
    assert suggestions.morning.index(names["niacinamide_serum"]) < suggestions.morning.index(names["sunscreen"])
    assert suggestions.evening[0] == names["bha_cleanser"]
    assert any("alternate" in step for step in suggestions.evening)
    assert suggestions.weekly == [names["clay_mask"]]


def test_without_measured_pores_only_basics_and_always_the_disclaimer():
    suggestions = suggest(None)
    assert {s.product.id for s in suggestions.items} == {"sunscreen", "oil_free_moisturiser"}
    assert suggestions.disclaimer == DISCLAIMER and "not medical advice" in DISCLAIMER
    assert suggestions.to_dict()["disclaimer"] == DISCLAIMER
    assert [row["product"] for row in suggestions.rows()] == [s.product.name for s in suggestions.items]


def test_malformed_catalogue_rows_are_refused(tmp_path):
    text = CATALOGUE_PATH.read_text(encoding="utf-8")
    broken = tmp_path / "products.csv"
    broken.write_text(text.replace("density_ratio > 1,nose", "density_ratio >> one,nose", 1), encoding="utf-8")
    with pytest.raises(CatalogueError, match="line 2"):
        load_catalogue(broken)
    broken.write_text(text.replace(",0.15,3,evening,", ",1.5,3,evening,", 1), encoding="utf-8")
    with pytest.raises(CatalogueError, match="effect_12w"):
        load_catalogue(broken)
