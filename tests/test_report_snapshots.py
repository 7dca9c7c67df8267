"""Reports on every example photo match the ones recorded in tests/snapshots/reports.json.

Moving code between modules must not change a single number. A change that is meant to change results
(a retrained network, a tuned detector) records new snapshots and says why in its commit:

    PORESEG_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_report_snapshots.py
"""
from __future__ import annotations

import json
import os

import pytest

from conftest import REPO_ROOT, requires_models, requires_weights, without_timings

pytestmark = [requires_models, requires_weights("psnet")]
SNAPSHOTS = REPO_ROOT / "tests" / "snapshots" / "reports.json"
EXAMPLES = sorted((REPO_ROOT / "examples").glob("*.jpg"))
# Both methods, each with a product so that the simulation's measurements are compared too.
CASES = [(image.name, method) for image in EXAMPLES for method in ("psnet", "dog")]
PRODUCT = "niacinamide_serum"


def current_report(image_name: str, method: str) -> dict:
    from poreseg.analysis import AnalysisError, AnalysisOptions, analyze
    from poreseg.imageio import load_image
    from poreseg.report import zones_csv

    try:
        analysis = analyze(load_image(REPO_ROOT / "examples" / image_name),
                           AnalysisOptions(method=method, product=PRODUCT))
    except AnalysisError as error:
        return {"error": str(error)}
    report = json.loads(json.dumps(without_timings(analysis.to_dict())))
    return {"report": report, "zones_csv": zones_csv(analysis)}


@pytest.fixture(scope="module")
def snapshots() -> dict:
    if os.environ.get("PORESEG_UPDATE_SNAPSHOTS"):
        recorded = {f"{name} {method}": current_report(name, method) for name, method in CASES}
        SNAPSHOTS.write_text(json.dumps(recorded, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return json.loads(SNAPSHOTS.read_text(encoding="utf-8"))


def test_every_example_has_a_snapshot(snapshots):
    assert sorted(snapshots) == sorted(f"{name} {method}" for name, method in CASES)


@pytest.mark.parametrize("image_name, method", CASES)
def test_report_matches_its_snapshot(snapshots, image_name, method):
    assert current_report(image_name, method) == snapshots[f"{image_name} {method}"]
