"""Product catalogue and suggestions: data-driven rules, one-line reasons, routine and disclaimer."""
from __future__ import annotations

import numpy as np
import pytest

from poreseg.metrics import FaceMetrics, ScoreReference, pore_metrics
from poreseg.pores.methods import METHODS
from poreseg.products import CATALOGUE_PATH, CatalogueError, catalogue, load_catalogue
from poreseg.suggest import DISCLAIMER, suggest
from poreseg.zones import ZONES

SKIN_PX = 10_000
MM_PER_PX = 0.1  # SKIN_PX is 1 cm2
PSNET, DOG = METHODS["psnet"].reference, METHODS["dog"].reference


def zone_numbers(density_per_cm2: float, area_fraction: float, reference: ScoreReference):
    """PoreMetrics of a 1 cm2 zone with about this density and exactly this area fraction."""
    count = round(density_per_cm2)
    areas = [area_fraction * SKIN_PX / count] * count if count else []
    return pore_metrics(np.array(areas), SKIN_PX, MM_PER_PX, reference)


def face_metrics(reference: ScoreReference = PSNET, **zones: tuple[float, float]) -> FaceMetrics:
    """Zones at (density ratio, area ratio) to ``reference``, 0.3 of it unless given."""
    ratios = [zones.get(name, (0.3, 0.3)) for name in ZONES]
    per_zone = {name: zone_numbers(d * reference.density_per_cm2, a * reference.area_fraction, reference)
                for name, (d, a) in zip(ZONES, ratios)}
    face = zone_numbers(sum(r[0] for r in ratios) / len(ratios) * reference.density_per_cm2,
                        sum(r[1] for r in ratios) / len(ratios) * reference.area_fraction, reference)
    return FaceMetrics(face, per_zone, reference)


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
    expected = f"{round(2 * PSNET.density_per_cm2):.1f} pores/cm² (reference {PSNET.density_per_cm2:.1f})"
    assert expected in reasons["bha_cleanser"]
    assert "niacinamide_serum" not in reasons


def test_suggestions_judge_by_the_reference_the_metrics_were_scored_against():
    """The same nose, above DoGPore's reference density but under PS-Net's, calls for salicylic acid only
    when its pores were found (and scored) by DoGPore; the reason names DoGPore's reference."""
    dense_for_dog = 1.1 * DOG.density_per_cm2
    assert dense_for_dog < PSNET.density_per_cm2
    nose_ratios = {"psnet": (dense_for_dog / PSNET.density_per_cm2, 0.3), "dog": (1.1, 0.3)}
    as_psnet = suggested(face_metrics(PSNET, nose=nose_ratios["psnet"]))
    as_dog = suggested(face_metrics(DOG, nose=nose_ratios["dog"]))
    assert "bha_cleanser" not in as_psnet
    assert "bha_cleanser" in as_dog and as_dog["bha_cleanser"].lower().startswith("nose:")
    assert f"(reference {DOG.density_per_cm2:.1f})" in as_dog["bha_cleanser"]


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
