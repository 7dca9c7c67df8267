"""One rounding of scores everywhere: rounded down, so the number shown lies in the band named beside it."""
from __future__ import annotations

import pytest

from poreseg.metrics import ScoreReference, pore_metrics, score_band
from poreseg.tables import zone_table
from poreseg.scores import score_tenths, whole_score
from poreseg.suggest import finding


@pytest.mark.parametrize("score", [69.9, 69.96, 66.5, 50.0, 89.999, 29.95, 0.04, 100.0])
def test_the_shown_score_lies_in_its_band(score):
    assert score_band(whole_score(score)) == score_band(score_tenths(score)) == score_band(score)
    assert whole_score(score) <= score_tenths(score) <= score


def test_a_score_just_below_a_band_limit_reads_the_same_in_every_view():
    import numpy as np

    from poreseg.analysis import metrics_dict
    from poreseg.metrics import FaceMetrics

    reference = ScoreReference(density_per_cm2=1.0, area_fraction=0.01)
    # An area fraction whose score is 69.96: load = -log2(0.6996).
    fraction = 0.01 * -np.log2(0.6996)
    numbers = pore_metrics(np.array([round(fraction * 1_000_000)]), 1_000_000, None, reference)
    assert 69.9 < numbers.score < 70 and numbers.band == "Good"
    metrics = FaceMetrics(numbers, {"nose": numbers}, reference)
    assert list(zone_table(metrics).iloc[-1][["score", "band"]]) == [69, "Good"]
    assert metrics_dict(metrics)["face"]["score"] == 69.9
    assert finding("score", "nose", numbers, reference) == "nose: pore score 69 (Good)"
