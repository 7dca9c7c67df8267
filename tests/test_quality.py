"""The quality gate's measures (poreseg.quality) on small inputs and on the example close-up."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import REPO_ROOT, requires_models
from poreseg.quality import MIN_DETAIL_GREY, detail_depth, skin_detail


def dotted_skin(depth: float, level: float = 150.0, size: int = 240, seed: int = 0) -> np.ndarray:
    """Flat skin with pores (Gaussian dips ``depth`` grey levels deep, 4 px wide, about 17 px apart)."""
    rng = np.random.default_rng(seed)
    grey = np.full((size, size), level, np.float32)
    yy, xx = np.mgrid[:size, :size]
    for y, x in rng.uniform(0, size, (200, 2)):
        grey -= depth * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.4 ** 2))
    return np.repeat(np.clip(grey + 0.5, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def test_detail_depth_reads_how_deep_the_pores_are_in_grey_levels_whatever_the_skin_level():
    region = np.ones((240, 240), bool)
    deep, shallow = (detail_depth(*skin_detail(dotted_skin(d), region, pore_px=4.0)) for d in (12.0, 3.0))
    assert deep > 3.5 * shallow and shallow > 0  # four times deeper pores, about four times the measure
    # Grey levels, not relative contrast: the same pores on darker skin measure the same.
    assert detail_depth(*skin_detail(dotted_skin(12.0, level=60.0), region, 4.0)) == pytest.approx(deep, rel=0.1)
    assert detail_depth(*skin_detail(np.full((240, 240, 3), 150, np.uint8), region, 4.0)) == 0.0  # flat skin
    assert skin_detail(dotted_skin(12.0), np.zeros((240, 240), bool), 4.0) is None


@requires_models
def test_a_dim_copy_of_the_close_up_warns_that_its_pores_are_faint_and_still_measures_them():
    from poreseg.analysis import AnalysisOptions, analyze

    rgb = np.asarray(Image.open(REPO_ROOT / "examples" / "lisa_15cm.jpg").convert("RGB"))
    checks = {}
    for name, photo in (("as taken", rgb), ("dim", (rgb // 3).astype(np.uint8))):
        analysis = analyze(photo, AnalysisOptions(method="dog"))
        checks[name] = next(c for c in analysis.quality.checks if c.name == "faint")
        assert analysis.pores_measured and not checks[name].blocking
    assert checks["as taken"].passed and checks["as taken"].value >= MIN_DETAIL_GREY
    assert not checks["dim"].passed and "faint" in checks["dim"].message
    assert checks["dim"].value == pytest.approx(checks["as taken"].value / 3, rel=0.25)
