"""The dashboard: its view-model (the dashboard package), app.py as a module, and the running app's /analyze API
called through gradio_client. The browser test (tests/test_app_browser.py) covers the page itself."""
from __future__ import annotations

import json
import math
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO_ROOT, requires_models, requires_weights
from test_report_schema import assert_valid
from poreseg.weights import WEIGHTS_DIR, WeightsError

CLOSE_UP = REPO_ROOT / "examples" / "lisa_15cm.jpg"  # the example whose pores the camera resolves
PORTRAIT = REPO_ROOT / "examples" / "005_03.jpg"
# Gradio's queue still uses pandas options that pandas 3 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")


def test_failure_messages_name_the_problem_not_the_server():
    from poreseg.analysis import AnalysisError
    from poreseg.imageio import ImageLoadError
    from dashboard.messages import failure

    unreadable = failure(ImageLoadError("holiday.jpg: not an image (or a format Pillow cannot read)"))
    assert unreadable.title == "Could not read the image" and "not an image" in unreadable.detail
    assert failure(AnalysisError("No face found.")).title == "Cannot analyse this photo"

    missing = failure(WeightsError(f"model weights missing: {WEIGHTS_DIR / 'psnet.onnx'} (expected sha256 abc)"))
    assert "PS-Net" in missing.title and "DoGPore" in missing.detail
    assert "psnet.onnx" in missing.detail and str(WEIGHTS_DIR) not in missing.detail
    assert failure(WeightsError("model weights missing: /srv/w/face_parser.onnx")).title == "The models could not load"

    unexpected = failure(KeyError("/home/someone/secret/photo.jpg"))
    assert unexpected.title == "Analysis failed" and "KeyError" in unexpected.detail
    assert "secret" not in unexpected.detail and "Traceback" not in unexpected.markdown


def test_before_after_table_pairs_the_columns():
    import pandas as pd

    from dashboard.tables import before_after_table

    header = ["zone", "pores", "per cm²", "mean mm", "area %", "score", "band"]
    before = pd.DataFrame([["nose", 30, 2.0, 0.40, 0.50, 40, "Average"]], columns=header)
    after = pd.DataFrame([["nose", 20, 1.5, 0.38, 0.30, 55, "Good"]], columns=header)
    table = before_after_table(before, after)
    assert list(table.columns) == ["zone", "pores before", "pores after", "area % before", "area % after",
                                   "score before", "score after"]
    assert table.values.tolist() == [["nose", 30, 20, 0.50, 0.30, 40, 55]]


def test_an_upload_is_deleted_after_its_preview_had_time_to_load_and_never_while_a_request_needs_it(tmp_path):
    from poreseg.imageio import ImageLoadError
    from dashboard.uploads import Uploads

    now = [1000.0]
    uploads = Uploads(linger_seconds=20, orphan_seconds=45, clock=lambda: now[0])

    def uploaded(name: str, at: float | None = None) -> str:
        path = tmp_path / "content-hash" / name  # as Gradio stores it: a folder named by the content
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"photo")
        os.utime(path, (now[0] if at is None else at,) * 2)
        return str(path)

    path = uploaded("a.jpg")
    assert uploads.read(path) == b"photo"
    assert uploads.sweep([path], needed=set(), now=now[0] + 19) == [] and Path(path).exists()  # preview loading
    # An identical upload's request still queued keeps the shared file, however long it waits.
    assert uploads.sweep([path], needed={path}, now=now[0] + 600) == [] and Path(path).exists()
    assert uploads.sweep([path], needed=set(), now=now[0] + 20) == [path]
    assert not Path(path).parent.exists()  # the content-named folder goes with its last file
    with pytest.raises(ImageLoadError, match="a.jpg: this upload is gone .* upload the photo again"):
        uploads.read(path)
    # Never read (the request was cancelled or turned away): gone a little later, still within the minute.
    orphan = uploaded("b.jpg")
    assert uploads.sweep([orphan], needed=set(), now=now[0] + 44) == []
    assert uploads.sweep([orphan], needed=set(), now=now[0] + 45) == [orphan] and not Path(orphan).exists()
    # Uploaded again after it was read: it lingers from then, for the request about to come.
    again = uploaded("c.jpg")
    uploads.read(again)
    os.utime(again, (now[0] + 30,) * 2)
    assert uploads.sweep([again], needed=set(), now=now[0] + 49) == [] and Path(again).exists()
    assert uploads.sweep([again], needed=set(), now=now[0] + 50) == [again]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    from poreseg.analysis import AnalysisOptions, analyze
    from poreseg.imageio import load_image
    from dashboard.session import Session

    rgb = load_image(CLOSE_UP)
    return Session(rgb, analyze(rgb, AnalysisOptions(method="dog")), tmp_path_factory.mktemp("session"))


@requires_models
def test_each_tab_keeps_one_session_closed_with_the_tab_or_when_its_time_is_up(session, tmp_path):
    from dashboard.session import OpenSessions

    sessions = OpenSessions(tmp_path)
    rgb, analysis = session.rgb, replace(session.analysis, person=np.zeros(session.rgb.shape[:2], np.uint8))
    first = sessions.open("tab-a", rgb, analysis, "photo.jpg")
    other = sessions.open("tab-b", rgb, analysis, None)
    assert first.folder.parent == tmp_path and first.folder != other.folder
    second = sessions.open("tab-a", rgb, analysis, "photo.jpg")  # analysed again: the first one goes
    assert first.closed and first.rgb is None and first.analysis is None and not second.closed
    sessions.close("tab-a")  # the tab was closed
    assert second.closed and not other.closed
    sessions.expire(other)  # its time_to_live is up: closed, and closing its tab later finds nothing to do
    assert other.closed
    sessions.close("tab-b")
    sessions.expire(None)  # the state of a tab whose last analysis failed
    assert list(tmp_path.iterdir()) == []


@requires_models
def test_dashboard_views_of_a_close_up(session):
    from poreseg.overlays import FACE_PAD
    from poreseg.zones import around
    from dashboard.views import PARSING_CLASSES, dashboard

    board = dashboard(session, 1.0, list(PARSING_CLASSES))
    face = session.analysis.metrics.face
    assert f"Pore score {math.floor(face.score)} / 100 · {face.band}" in board.score
    assert "pore score" in board.status and "DoGPore" in board.status
    whole_face = board.zones_table.iloc[-1]  # numbers stay numbers
    assert list(whole_face[["zone", "pores", "score", "band"]]) == ["whole face", face.pore_count,
                                                                     math.floor(face.score), face.band]
    assert "mm per pixel" in board.details and "Photo quality" in board.details
    h, w = session.rgb.shape[:2]
    for path in (board.parsing, board.zones):  # full resolution, for zooming into the skin
        with Image.open(path) as picture:
            assert picture.size == (w, h)
    rows, cols = around(session.analysis.zones.labels > 0, FACE_PAD)
    with Image.open(board.pores) as picture:  # the face at full resolution, not the whole frame
        assert picture.size == (cols.stop - cols.start, rows.stop - rows.start) and picture.size != (w, h)
    with Image.open(board.cutout) as cutout:
        assert cutout.mode == "RGBA"
    assert [caption.split(",")[0] for _, caption in board.zoom] == ["forehead", "nose", "left cheek", "right cheek",
                                                                    "chin"]
    assert board.density_figure is not None and board.scores_figure is not None
    products = session.analysis.suggestions.rows()
    assert products and all(f"**{row['product']}** · *{row['when']}*" in board.suggestions for row in products)
    assert "Morning" in board.routine and "not medical advice" in board.routine


@requires_models
def test_a_session_keeps_only_compact_maps(session):
    """Sessions stay in memory for minutes: at the photo's size they keep the photo and one-byte labels and
    masks; the person matte only at the cut-out's display size; no pore probability or uncertainty."""
    from benchmarks.session_memory import arrays
    from dashboard.session import CUTOUT_MAX_SIDE

    h, w = session.rgb.shape[:2]
    kept = dict(arrays(session))
    assert max(kept["person"].shape) <= CUTOUT_MAX_SIDE
    at_photo_size = {name: array for name, array in kept.items() if array.shape[:2] == (h, w) and name != "person"}
    assert {"rgb", "analysis.parsing.labels", "analysis.pores.mask", "analysis.zones.labels"} <= set(at_photo_size)
    assert all(array.itemsize == 1 for array in at_photo_size.values())
    # The photo (3 bytes a pixel), four one-byte maps, the matte, and small things (the density grid).
    budget = 7 * h * w + kept["person"].nbytes + (1 << 20)
    assert sum(array.nbytes for array in kept.values()) <= budget


@requires_models
def test_parsing_toggles_redraw_only_the_chosen_classes(session):
    from poreseg.classes import SKIN
    from dashboard.views import parsing_view

    all_classes, _ = parsing_view(session, [1, 2, 3, 4, 5, 6, 7, 8, 9])
    skin_only, legend = parsing_view(session, [SKIN])
    assert skin_only != all_classes and legend.shape[0] < 40  # one legend row
    shown, photo = np.asarray(Image.open(skin_only)), session.rgb
    outside_skin = session.analysis.parsing.labels != SKIN
    # JPEG noise aside, pixels of other classes are the photo's own.
    assert np.abs(shown[outside_skin].astype(int) - photo[outside_skin]).mean() < 3
    assert parsing_view(session, [SKIN])[0] == skin_only  # drawn once


def test_the_parsing_overlay_lets_the_skin_tone_show_through():
    """Dark skin stays dark under the overlay (an opaque peach made a Monk 8 face look light); features
    are tinted enough to tell apart."""
    from poreseg import draw
    from poreseg.classes import EYE, PALETTE, SKIN
    from dashboard.views import PARSING_ALPHA, SKIN_ALPHA

    dark_skin = np.full((40, 40, 3), (92, 60, 45), np.uint8)
    labels = np.full((40, 40), SKIN, np.uint8)
    labels[15:25, 15:25] = EYE
    shown = draw.overlay_labels(dark_skin, labels, PARSING_ALPHA, None, {SKIN: SKIN_ALPHA}).astype(int)
    inside_skin = shown[5, 5]  # away from the outlines
    assert np.abs(inside_skin - dark_skin[5, 5]).max() <= 15
    assert np.abs(shown[20, 20] - dark_skin[20, 20]).max() >= 0.3 * np.abs(np.subtract(PALETTE[EYE], dark_skin[0, 0])).max()


@requires_models
def test_before_after_and_report_files(session):
    from dashboard.before_after import BEFORE_AFTER_SIDE, FACE_VIEW, before_after, before_after_views, default_before_after_view, visible_change
    from dashboard.downloads import report_files

    views = [value for _, value in before_after_views(session.analysis)]
    assert views[-1] == FACE_VIEW and default_before_after_view(session.analysis) in views[:-1]
    result = before_after(session, "retinoid", 1.0, 12)  # the zone where pores are densest, enlarged
    before, after = (np.asarray(Image.open(path)) for path in result.pair)
    assert before.shape == after.shape == (BEFORE_AFTER_SIDE, BEFORE_AFTER_SIDE, 3)
    # The note measures the pictures before they are saved as JPEG; the files differ from them a little.
    noted = float(re.search(r"([\d.]+)% of these pixels change", result.note).group(1))
    assert noted == pytest.approx(100 * visible_change(before, after), abs=0.5) and noted > 0
    face = before_after(session, "retinoid", 1.0, 12, FACE_VIEW)
    before, after = (np.asarray(Image.open(path)) for path in face.pair)
    assert before.shape == after.shape and (before != after).any() and before.shape[0] > BEFORE_AFTER_SIDE
    whole_face = result.table.iloc[-1]
    assert whole_face["zone"] == "whole face" and whole_face["pores after"] < whole_face["pores before"]
    assert "Retinoid" in result.note and "not a promise" in result.note
    assert before_after(session, None, 1.0, 12).pair is None
    assert before_after(None, "retinoid", 1.0, 12).pair is None

    before_after(session, "niacinamide_serum", 0.5, 8)
    files = report_files(session)  # with the before/after last shown
    report = json.loads(files["json"].read_text())
    assert report["schema"] == 1
    assert (report["simulation"]["product"], report["simulation"]["strength"], report["simulation"]["weeks"]) == \
        ("niacinamide_serum", 0.5, 8)
    assert "after_score" in files["csv"].read_text().splitlines()[0]
    from poreseg.analysis import AnalysisOptions, analyze
    from poreseg.overlays import simulation_line

    simulated = analyze(session.rgb, AnalysisOptions(method="dog", product="niacinamide_serum", strength=0.5, weeks=8))
    assert simulation_line(simulated).startswith("Simulated: Niacinamide") and "8 weeks at 50%" in \
        simulation_line(simulated)
    before_after(session, None, 1.0, 12)
    assert json.loads(report_files(session)["json"].read_text())["simulation"] is None
    files = report_files(session)
    assert files["csv"].read_text().splitlines()[0].startswith("zone,pore_count")
    with Image.open(files["png"]) as sheet:
        assert sheet.format == "PNG"

    session.close()
    assert not session.folder.exists() and session.closed
    # An event queued before a newer analysis replaced the session: a plain message, nothing drawn.
    assert before_after(session, "retinoid", 1.0, 12).pair is None


# Portraits of the data folder (never committed) whose pores a camera resolves well: Monk 8 and 9 skin.
VISIBLE_PORES = ("mste/images/8ad9671a__mst_input__skin_tone_8__img3.jpg",
                 "mste/images/be64ed21__mst_input__skin_tone_9__img4.jpg")


@requires_weights("face_parser", "portrait", "psnet")
@pytest.mark.parametrize("photo", VISIBLE_PORES, ids=["monk8", "monk9"])
def test_the_before_after_is_visible_where_pores_are(photo, tmp_path):
    """At full course, at least 1% of the pixels shown change by 8 grey levels or more."""
    from poreseg.analysis import AnalysisOptions, analyze
    from poreseg.imageio import load_image
    from poreseg.training.datasets import DEFAULT_DATA_DIR
    from dashboard.session import Session
    from dashboard.before_after import before_after, visible_change

    if not (DEFAULT_DATA_DIR / photo).is_file():
        pytest.skip("data folder absent")
    rgb = load_image(DEFAULT_DATA_DIR / photo)
    session = Session(rgb, analyze(rgb, AnalysisOptions(method="psnet")), tmp_path)
    before, after = (np.asarray(Image.open(path)) for path in before_after(session, "retinoid", 1.0, 12).pair)
    assert visible_change(before, after) >= 0.01


def test_a_cheek_crop_under_an_eye_never_shows_the_eye():
    from types import SimpleNamespace

    from poreseg.classes import EYE, SKIN
    from dashboard.views import EYE_CLEARANCE, ZOOM_SIDE, zoom_window

    parsing = np.full((1200, 1200), SKIN, np.uint8)
    parsing[400:440, 300:460] = EYE
    zones = np.zeros_like(parsing)
    zones[450:560, 250:520] = 3  # a strip of cheek just under the eye (a mask hides the rest)
    zones[900:1000, 700:900] = 4  # a cheek far from the eye
    analysis = SimpleNamespace(zones=SimpleNamespace(labels=zones), parsing=SimpleNamespace(labels=parsing))
    margin = round(EYE_CLEARANCE * ZOOM_SIDE)
    rows, cols = zoom_window(analysis, 3)
    assert rows.stop - rows.start == cols.stop - cols.start == ZOOM_SIDE
    assert rows.start >= 440 + margin  # below the eye and its margin, the strip in its top part
    assert (zones[rows, cols] == 3).any()
    rows, cols = zoom_window(analysis, 4)
    assert (zones[rows, cols] == 4).sum() == 100 * 200  # the whole of a cheek that fits
    assert zoom_window(analysis, 5) is None  # no chin


# Portraits of the data folder (never committed) with much of the face hidden: two masked faces, whose
# cheeks are strips under the eyes, and a head turned away.
HIDDEN_FACES = ("mste/images/76f36699__limitations__img5.jpg",
                "mste/images/c9f8a4aa__golden_pics_mst__skin_tone_1__img2.jpg",
                "mste/images/00fe35f3__mst_input__skin_tone_2__img5.jpg")


@requires_models
@pytest.mark.parametrize("photo", HIDDEN_FACES, ids=["blue-mask", "black-mask", "turned"])
def test_a_masked_or_turned_face_names_its_zones_apart_and_crops_its_cheeks_without_an_eye(photo):
    from test_zones import assert_apart

    from poreseg.analysis import AnalysisOptions, analyze
    from poreseg.classes import EYE
    from poreseg.imageio import load_image
    from poreseg.overlays import label_scale, zone_labels
    from poreseg.training.datasets import DEFAULT_DATA_DIR
    from poreseg.zones import ZONES
    from dashboard.views import zoom_window

    if not (DEFAULT_DATA_DIR / photo).is_file():
        pytest.skip("data folder absent")
    rgb = load_image(DEFAULT_DATA_DIR / photo)
    analysis = analyze(rgb, AnalysisOptions(method="dog"))
    placed = zone_labels(analysis.zones, label_scale(rgb.shape[:2]))
    assert len(placed) == sum(analysis.zones.mask(zone).any() for zone in ZONES) >= 3
    assert_apart(placed, analysis.zones)
    for cheek in ("left_cheek", "right_cheek"):
        window = zoom_window(analysis, ZONES.index(cheek) + 1)
        assert window is not None and not (analysis.parsing.labels[window] == EYE).any()


def test_app_imports_without_launching():
    import gradio as gr

    import app

    assert isinstance(app.demo, gr.Blocks)
    assert not app.demo.is_running
    assert app.EXAMPLES, "examples/*.jpg should feed the examples gallery"


def test_the_page_config_holds_no_session():
    """Gradio deep-copies the page's config for every visitor: nothing in it may reach the open sessions
    (a bound method of app.SESSIONS did, copying every session's photo and analysis)."""
    import copy
    from types import SimpleNamespace

    import app

    photo = np.zeros((1000, 1000, 3), np.uint8)
    app.SESSIONS._sessions["a-tab"] = SimpleNamespace(rgb=photo)  # an open session, as far as copying goes
    try:
        copied = {}
        copy.deepcopy(app.demo.config, copied)
        assert not any(isinstance(value, np.ndarray) and value.size >= photo.size for value in copied.values())
    finally:
        app.SESSIONS._sessions.pop("a-tab")


def test_only_analyze_is_an_api(app_client):
    endpoints = app_client.view_api(return_format="dict", print_info=False)
    assert list(endpoints["named_endpoints"]) == ["/analyze"] and not endpoints["unnamed_endpoints"]
    parameters = endpoints["named_endpoints"]["/analyze"]["parameters"]
    assert parameters[0]["parameter_name"] == "image" and not parameters[0]["parameter_has_default"]
    assert all(p["parameter_has_default"] for p in parameters[1:])
    assert parameters[1]["parameter_default"] == "psnet"


@requires_models
def test_analyze_endpoint(app_client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    report = app_client.predict(handle_file(str(CLOSE_UP)), method="dog", api_name="/analyze")
    assert report["schema"] == 1 and report["method"] == "dog" and report["faces_found"] == 1
    assert report["face"]["pore_count"] > 50
    assert report["face"]["pore_count"] == sum(zone["pore_count"] for zone in report["zones"].values())
    assert 0.1 < report["mm_per_px"] < 0.3 and isinstance(report["warnings"], list)
    assert_valid(report)

    # A text file named like a JPEG: one clear message, and the app keeps serving.
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a photo\n")
    with pytest.raises(AppError, match="Could not read the image.*not an image") as raised:
        app_client.predict(handle_file(str(fake)), method="dog", api_name="/analyze")
    assert "Traceback" not in str(raised.value) and str(tmp_path) not in str(raised.value)

    again = app_client.predict(handle_file(str(CLOSE_UP)), method="dog", product="retinoid", api_name="/analyze")
    assert again["face"] == report["face"]
    assert again["simulation"]["product"] == "retinoid"
    assert again["simulation"]["face"]["pore_count"] < report["face"]["pore_count"]


@requires_models
def test_analyze_endpoint_explains_photos_it_cannot_analyse(app_client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    Image.new("RGB", (8, 8), (150, 110, 90)).save(tmp_path / "tiny.png")
    with pytest.raises(AppError, match="too small"):
        app_client.predict(handle_file(str(tmp_path / "tiny.png")), method="dog", api_name="/analyze")
    Image.new("RGB", (320, 240), (128, 128, 128)).save(tmp_path / "wall.png")
    with pytest.raises(AppError, match="No face found"):
        app_client.predict(handle_file(str(tmp_path / "wall.png")), method="dog", api_name="/analyze")
    with pytest.raises(AppError, match="No image"):
        app_client.predict(None, api_name="/analyze")
    with pytest.raises(AppError, match="Invalid request.*method"):
        app_client.predict(handle_file(str(PORTRAIT)), method="magic", api_name="/analyze")

    # Two faces side by side: the larger one is analysed, and the report says so.
    face = Image.open(PORTRAIT).convert("RGB")
    pair = Image.new("RGB", (900, 480), "white")
    pair.paste(face.resize((480, 480)), (0, 0))
    pair.paste(face.resize((400, 400)).transpose(Image.Transpose.FLIP_LEFT_RIGHT), (500, 40))
    pair.save(tmp_path / "two.jpg")
    report = app_client.predict(handle_file(str(tmp_path / "two.jpg")), method="dog", api_name="/analyze")
    assert report["faces_found"] == 2 and any("largest" in w for w in report["warnings"])
    assert report["mm_per_px"] is not None  # from the larger face's own eyes


def test_a_file_over_the_size_limit_is_refused(app_client, tmp_path):
    from gradio_client import handle_file

    from poreseg.imageio import MAX_FILE_BYTES

    huge = tmp_path / "huge.jpg"
    with open(huge, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(Exception, match="maximum file size"):
        app_client.predict(handle_file(str(huge)), method="dog", api_name="/analyze")


@requires_models
def test_psnet_without_weights_is_a_clear_message_and_dogpore_still_works(app_client, tmp_path, monkeypatch):
    """A server whose weights/ has no psnet.onnx (PS-Net is optional) says so; DoGPore still works."""
    import poreseg.weights
    from poreseg.pores.segment import PoreSegmenter
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    for name in ("face_parser", "portrait"):
        for suffix in (".onnx", ".md"):
            shutil.copy(WEIGHTS_DIR / f"{name}{suffix}", tmp_path)
    monkeypatch.setattr(poreseg.weights, "WEIGHTS_DIR", tmp_path)
    with PoreSegmenter.swapped(None), pytest.raises(AppError, match="PS-Net is not available.*DoGPore"):
        app_client.predict(handle_file(str(CLOSE_UP)), api_name="/analyze")  # PS-Net is the default
    assert app_client.predict(handle_file(str(CLOSE_UP)), method="dog", api_name="/analyze")["method"] == "dog"


@requires_weights("psnet")
@requires_models
def test_analyze_endpoint_documents_its_types(app_client):
    """method and product are choices and the answer is the report's type: the API page and gradio_client
    say so without reading the README."""
    from poreseg.pores.methods import METHODS
    from poreseg.products import catalogue
    from poreseg.schema import report_schema

    endpoint = app_client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/analyze"]
    parameters = {p["parameter_name"]: p["type"] for p in endpoint["parameters"]}
    assert parameters["method"]["enum"] == list(METHODS)
    assert {"type": "null"} in parameters["product"]["oneOf"]
    assert [option["enum"] for option in parameters["product"]["oneOf"] if "enum" in option] == [list(catalogue())]
    assert set(endpoint["returns"][0]["type"]["properties"]) == set(report_schema()["properties"])


def test_analyze_endpoint_with_psnet(app_client):
    from gradio_client import handle_file

    report = app_client.predict(handle_file(str(CLOSE_UP)), api_name="/analyze")
    assert report["schema"] == 1 and report["method"] == "psnet"
    assert report["face"]["pore_count"] == sum(zone["pore_count"] for zone in report["zones"].values())


@requires_models
def test_warm_up_loads_the_networks_and_says_whether_psnet_is_there():
    from dashboard.warm_up import warm_up

    problem = warm_up()
    if (WEIGHTS_DIR / "psnet.onnx").exists():
        assert problem is None
    else:
        assert "psnet.onnx" in problem and str(WEIGHTS_DIR) not in problem


def test_every_field_of_the_dashboard_has_its_component():
    """app.BOARD_OUTPUTS is the one list of what an analysis shows: every views.Dashboard field, once."""
    from dataclasses import fields

    import app
    from dashboard.views import Dashboard

    assert list(app.BOARD_OUTPUTS) == [field.name for field in fields(Dashboard)]
    assert len(set(map(id, app.BOARD_OUTPUTS.values()))) == len(app.BOARD_OUTPUTS)


def test_a_file_being_rewritten_reads_whole_until_the_new_one_is_in_place(tmp_path):
    from dashboard.session import write_whole
    target = tmp_path / "poreseg-zones.csv"
    target.write_text("old answer")
    seen_while_writing = []

    def write(partial: Path) -> None:
        partial.write_text("new ")
        seen_while_writing.append(target.read_text())  # a download of the previous answer, meanwhile
        with open(partial, "a") as f:
            f.write("answer")

    write_whole(target, write)
    assert seen_while_writing == ["old answer"] and target.read_text() == "new answer"
    assert [p.name for p in tmp_path.iterdir()] == ["poreseg-zones.csv"]  # no partial file left behind

    def fail(partial: Path) -> None:
        partial.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_whole(target, fail)
    assert target.read_text() == "new answer" and [p.name for p in tmp_path.iterdir()] == ["poreseg-zones.csv"]
