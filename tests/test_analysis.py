"""analyze() on real example portraits with DoGPore: consistent numbers, a faithful simulation, a stable
report schema, and clear answers for photos that cannot be analysed. Also the report files and charts."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import astuple

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import REPO_ROOT, requires_weights
from poreseg.analysis import AnalysisError, AnalysisOptions, analyze, simulate
from poreseg.face import FaceWindow
from poreseg.imageio import load_image
from poreseg.metrics import MM2_PER_CM2, find_pores, pore_score
from poreseg.pores.methods import METHODS
from poreseg.schema import SCHEMA_VERSION
from poreseg.pores.scale import EYE_DISTANCE_MM
from poreseg.skin import MARGIN_MM, skin_region
from poreseg.zones import ZONES, face_oval_mask, face_zones

pytestmark = [requires_weights("face_parser"), requires_weights("portrait")]
CLOSE_UP = REPO_ROOT / "examples" / "lisa_15cm.jpg"  # the example whose pores the camera resolves
PORTRAIT = REPO_ROOT / "examples" / "005_03.jpg"  # a studio portrait: pores about 1.3 px, too small


@pytest.fixture(scope="module")
def close_up() -> np.ndarray:
    return load_image(CLOSE_UP)


@pytest.fixture(scope="module")
def analysis(close_up):
    return analyze(close_up, AnalysisOptions(method="dog", product="retinoid", strength=1.0, weeks=12))


def assert_consistent(analysis) -> None:
    """Zone numbers add up to the face's and follow from counts, areas and the scale."""
    face, zones = analysis.metrics.face, analysis.metrics.zones
    assert list(zones) == list(ZONES)
    assert sum(z.pore_count for z in zones.values()) == face.pore_count == len(analysis.pore_objects.areas_px[
        analysis.pore_objects.zone_ids > 0])
    assert sum(z.skin_area_px for z in zones.values()) == face.skin_area_px == analysis.zones.face_mask().sum()
    cm2_per_px = analysis.face.mm_per_px ** 2 / MM2_PER_CM2
    for numbers in (face, *zones.values()):
        assert numbers.skin_area_cm2 == pytest.approx(numbers.skin_area_px * cm2_per_px)
        assert numbers.density_per_cm2 == pytest.approx(numbers.pore_count / numbers.skin_area_cm2)
        assert 0 <= numbers.score <= 100 and numbers.band
    pore_pixels = sum(z.area_fraction * z.skin_area_px for z in zones.values())
    assert face.area_fraction * face.skin_area_px == pytest.approx(pore_pixels)
    # The pores are inside the region, and the region is what the zones cover.
    assert not (analysis.pores.mask & ~analysis.face.region).any()
    assert (analysis.zones.face_mask() == analysis.face.region).all()


def test_close_up_numbers_are_consistent(analysis):
    assert analysis.pores_measured and analysis.method == "dog"
    assert analysis.metrics.face.pore_count > 50
    assert 0.1 < analysis.face.mm_per_px < 0.3
    assert_consistent(analysis)


def test_a_dog_analysis_is_scored_and_judged_against_dogs_reference(analysis):
    dog = METHODS["dog"].reference
    assert analysis.metrics.reference == dog and analysis.after.metrics.reference == dog
    face = analysis.metrics.face
    assert face.score == pytest.approx(pore_score(face.density_per_cm2, face.area_fraction, dog))
    assert face.score < pore_score(face.density_per_cm2, face.area_fraction, METHODS["psnet"].reference)
    density_reasons = [s.reason for s in analysis.suggestions.items if s.product.trigger.metric == "density_ratio"]
    assert all(f"(reference {dog.density_per_cm2:.1f})" in reason for reason in density_reasons)


def test_density_map_agrees_with_the_counts(analysis):
    density = analysis.density
    h, w = analysis.image_size
    values = density.at_image_size(h, w)
    inside = np.isfinite(values)
    reach = 2 * int(np.ceil(density.cell_px)) + 1  # a cell that is mostly skin reaches a cell past it
    near_region = cv2.dilate(analysis.face.region.astype(np.uint8), np.ones((reach, reach), np.uint8)).astype(bool)
    assert inside.any() and not (inside & ~near_region).any()
    # Averaged over the face, the smoothed map comes back to the face's density.
    assert np.nanmean(values[analysis.face.region]) == pytest.approx(analysis.metrics.face.density_per_cm2, rel=0.25)
    assert set(np.unique(density.zone_ids[np.isfinite(density.per_cm2)])) <= set(range(1, len(ZONES) + 1))


def test_simulation_fades_pores_and_changes_nothing_else(analysis, close_up):
    after = analysis.after
    changed = after.simulation.changed
    assert changed.any() and not (changed & ~analysis.face.region).any()
    differs = (after.simulation.after != close_up).any(axis=2)
    assert not (differs & ~changed).any()
    assert not differs[~analysis.face.region].any()
    before_face, after_face = analysis.metrics.face, after.metrics.face
    assert after_face.area_fraction < before_face.area_fraction
    assert after_face.score > before_face.score
    assert sum(z.pore_count for z in after.metrics.zones.values()) == after_face.pore_count


def test_simulate_again_with_other_settings(analysis, close_up):
    weaker = simulate(analysis, close_up, "retinoid", strength=0.3, weeks=4)
    assert weaker.simulation.expected_reduction < analysis.after.simulation.expected_reduction
    assert weaker.simulation.changed.sum() < analysis.after.simulation.changed.sum()


def test_to_dict_is_json_with_schema_1(analysis):
    report = json.loads(json.dumps(analysis.to_dict()))
    assert report["schema"] == SCHEMA_VERSION == 1
    assert report["method"] == "dog" and report["mm_per_px"] == pytest.approx(analysis.face.mm_per_px, rel=1e-4)
    assert report["face"]["pore_count"] == analysis.metrics.face.pore_count
    assert set(report["zones"]) == set(ZONES)
    assert all("pore_count" in zone and "score" in zone for zone in report["zones"].values())
    assert isinstance(report["warnings"], list) and all(isinstance(w, str) for w in report["warnings"])
    assert report["simulation"]["product"] == "retinoid"
    assert report["suggestions"]["disclaimer"]
    for stage in ("parse", "portrait", "region", "quality", "pores", "zones", "metrics", "density", "suggest",
                  "simulate", "total"):
        assert report["timings"][stage] >= 0


def test_report_files(analysis, close_up, tmp_path):
    from poreseg.report import write_report
    written = write_report(analysis, close_up, tmp_path)
    assert json.loads(written["report"].read_text())["schema"] == 1
    rows = list(csv.DictReader(io.StringIO(written["zones_csv"].read_text())))
    assert [r["zone"] for r in rows] == [*ZONES, "face"]
    assert int(rows[-1]["pore_count"]) == sum(int(r["pore_count"]) for r in rows[:-1])
    assert "after_pore_count" in rows[0]
    h, w = analysis.image_size
    for name in ("parsing", "portrait", "zones", "pores", "density", "after"):
        assert Image.open(written[name]).size == (w, h), name
    assert Image.open(written["portrait"]).mode == "RGBA"
    sheet = Image.open(written["summary"])
    assert sheet.width > 1000 and sheet.height > 600


def test_charts(analysis, close_up):
    from dashboard.charts import density_figure, zone_scores_figure
    heatmap = density_figure(close_up, analysis.density, analysis.metrics.reference, analysis.zones.face_mask())
    photo, trace = heatmap.data
    assert photo.type == "image" and photo.source.startswith("data:image/jpeg;base64,")
    assert trace.type == "heatmap" and "pores/cm²" in trace.hovertemplate
    assert {"forehead", "nose", "left cheek", "right cheek", "chin"} <= set(np.unique(np.asarray(trace.text)))
    # The photo and the map share image pixel coordinates.
    h, w = analysis.image_size
    assert photo.x0 - photo.dx / 2 <= min(trace.x) and max(trace.x) < w
    assert photo.y0 - photo.dy / 2 <= min(trace.y) and max(trace.y) < h
    bars = zone_scores_figure(analysis.metrics)
    assert list(bars.data[0].x) == ["forehead", "nose", "left cheek", "right cheek", "chin", "whole face"]
    assert len(bars.layout.shapes) == 5  # the score bands


def test_studio_portrait_says_pores_are_unresolvable_and_keeps_the_rest():
    rgb = load_image(PORTRAIT)
    small = cv2.resize(rgb, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    analysis = analyze(small, AnalysisOptions(method="dog", product="retinoid"))
    assert not analysis.pores_measured and analysis.pores is None and analysis.after is None
    assert any("cannot be resolved" in w for w in analysis.warnings)
    report = json.loads(json.dumps(analysis.to_dict()))
    assert report["face"]["pore_count"] is None and report["face"]["score"] is None
    assert report["face"]["skin_area_cm2"] > 50  # the zones are still there
    assert all(zone["skin_area_px"] > 0 for zone in report["zones"].values())
    assert {p["id"] for p in report["suggestions"]["products"]} == {"sunscreen", "oil_free_moisturiser"}
    with pytest.raises(AnalysisError, match="nothing to simulate"):
        simulate(analysis, small, "retinoid")


@pytest.mark.parametrize("image", [np.full((300, 400, 3), 128, np.uint8),
                                   np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8),
                                   *(np.random.default_rng(seed).integers(0, 256, (20, 20, 3), dtype=np.uint8)
                                     for seed in range(3)),
                                   cv2.resize(np.asarray(Image.open(PORTRAIT)), (32, 32),
                                              interpolation=cv2.INTER_AREA)],
                         ids=["grey", "noise", "noise_20px_0", "noise_20px_1", "noise_20px_2", "face_32px"])
def test_no_face_is_a_clear_error(image):
    with pytest.raises(AnalysisError, match="No face found"):
        analyze(image, AnalysisOptions(method="dog"))


def test_options_are_checked():
    with pytest.raises(ValueError, match="method"):
        AnalysisOptions(method="magic")
    with pytest.raises(ValueError, match="unknown product"):
        AnalysisOptions(product="snake_oil")
    with pytest.raises(ValueError, match="strength"):
        AnalysisOptions(strength=1.5)


@requires_weights("psnet")
def test_psnet_numbers_are_consistent(close_up):
    analysis = analyze(close_up, AnalysisOptions(method="psnet"))
    assert analysis.method == "psnet" and analysis.pores_measured
    assert_consistent(analysis)


@pytest.fixture(scope="module", params=["close-up", "enlarged portrait", "enlarged tilted portrait"])
def windowed(request):
    """An analysis, and whether its face covers a small part of the frame: the close-up, or the studio
    portrait enlarged 2x (2700 px square, pores measured, as in a phone photo), upright or turned."""
    if request.param == "close-up":
        return request.getfixturevalue("analysis"), False
    rgb = cv2.resize(load_image(PORTRAIT), None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    if "tilted" in request.param:
        turn = cv2.getRotationMatrix2D((rgb.shape[1] / 2, rgb.shape[0] / 2), 20, 1.0)
        rgb = cv2.warpAffine(rgb, turn, rgb.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return analyze(rgb, AnalysisOptions(method="dog")), True


def test_the_face_window_gives_what_the_full_frame_gives(windowed):
    """Region, zones and pores are computed on a window around the face: the same as on the full frame."""
    analysis, small_face = windowed
    labels, frame = analysis.parsing.labels, analysis.face.frame
    margin_px = MARGIN_MM * frame.eye_distance_px / EYE_DISTANCE_MM
    window = FaceWindow.around(frame, margin_px, labels.shape)
    if small_face:
        assert (window.x1 - window.x0) * (window.y1 - window.y0) < 0.5 * labels.size
    region = skin_region(labels, margin_px) & face_oval_mask(frame, labels.shape)
    assert region.any() and (region == analysis.face.region).all()
    zones = face_zones(labels, region, frame)
    assert (zones.labels == analysis.zones.labels).all()
    assert astuple(zones.landmarks) == pytest.approx(astuple(analysis.zones.landmarks))
    pores = find_pores(analysis.pores.mask, zones)
    assert len(pores) > 20
    np.testing.assert_allclose(pores.centroids, analysis.pore_objects.centroids, atol=1e-9)
    assert (pores.areas_px == analysis.pore_objects.areas_px).all()
    assert (pores.zone_ids == analysis.pore_objects.zone_ids).all()
