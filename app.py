"""poreseg dashboard: from a portrait to its pores, zones, a density heatmap, a product's before/after and
suggestions. Run: python app.py

Layout and wiring only; everything the page shows comes from the dashboard package.

Privacy: everything runs on this machine's CPU; no analytics, nothing fetched at run time. A session's
photo and analysis stay in memory (gr.State) for SESSION_SECONDS after its analysis, or until its tab
closes; its pictures and downloads are files in one folder under SESSIONS_DIR, removed with them (and the
whole of SESSIONS_DIR when the app stops). Gradio's copy of an uploaded photo is deleted
UPLOAD_LINGER_SECONDS after it is read (its preview in the browser loads from it meanwhile), or
UPLOAD_ORPHAN_SECONDS after it was sent if no request reads it, and never while a queued request names it
(dashboard.uploads.sweep_gradio_uploads). The log holds sizes, timings and exception types, never images or
file names.
"""
# No `from __future__ import annotations`: Gradio reads analyze_photo's return annotation as it stands,
# and only an evaluated one (the Report type, not the string "Report") documents the /analyze answer.
import atexit
import html
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Literal

# Before gradio is imported: no telemetry and no version check against the network.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402
from gradio.data_classes import FileData  # noqa: E402

from dashboard import before_after, downloads, messages, uploads, views  # noqa: E402
from dashboard.session import NO_SESSION, SESSION_MINUTES, OpenSessions, Session  # noqa: E402
from dashboard.warm_up import warm_up  # noqa: E402
from poreseg import memory  # noqa: E402
from poreseg.analysis import AnalysisOptions, analyze  # noqa: E402
from poreseg.classes import CLASSES  # noqa: E402
from poreseg.imageio import MAX_FILE_BYTES, load_image  # noqa: E402
from poreseg.pores.methods import DEFAULT_METHOD, METHODS, MethodName  # noqa: E402
from poreseg.products import catalogue  # noqa: E402
from poreseg.schema import Report  # noqa: E402
from poreseg.simulate import FULL_COURSE_WEEKS  # noqa: E402
from poreseg.weights import WeightsError  # noqa: E402

log = logging.getLogger("poreseg.app")

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
EXAMPLES = sorted(str(p) for p in EXAMPLES_DIR.glob("*.jpg"))
CREDITS = ("<small>Example portraits: Face Research Lab London Set (DeBruine & Jones 2017, CC BY 4.0) and "
           "webmorphR.stim (Lisa DeBruine, CC0); details below.</small>")
INTRO = ("# poreseg: facial skin analysis\n"
         "Upload a portrait, take one with the webcam, paste one, or pick an example. The largest face is "
         "parsed, its pores are found and measured per zone, and a product's effect can be simulated. The "
         "photo is processed on this machine's CPU and not kept: results live in memory for "
         f"{SESSION_MINUTES} minutes.")
READY = "Upload a photo, take one with the webcam, paste one, or pick an example; then press Analyse."
METHOD_INFO = " ".join(f"{m.label}: {m.description}." for m in METHODS.values())
REPORT_NOTE = ("The report of the last analysis: `report.json` (schema 1, the same as the `/analyze` API and the "
               "command line), the zones as CSV, and a one-page PNG summary. The files are deleted with the "
               f"session's results, {SESSION_MINUTES} minutes after the analysis or when the tab closes.")
SESSION_SECONDS = 60 * SESSION_MINUTES
CACHE_SWEEP_SECONDS = 60
UPLOAD_LINGER_SECONDS = 20  # after it is read: the browser's preview of the upload is loading from the file
UPLOAD_ORPHAN_SECONDS = 45  # after it is sent, when no request reads it (cancelled, closed tab, turned away)
UPLOAD_SWEEP_SECONDS = 5
UPLOADS = uploads.Uploads(linger_seconds=UPLOAD_LINGER_SECONDS, orphan_seconds=UPLOAD_ORPHAN_SECONDS)
# The sessions' folders, and the examples, are served by Gradio where they are (static paths): nothing of a
# session is copied into Gradio's cache, and an upload identical to an example is a copy of its own there,
# which the upload sweep deletes like any other.
SESSIONS_DIR = Path(tempfile.mkdtemp(prefix="poreseg-sessions-"))
atexit.register(shutil.rmtree, SESSIONS_DIR, ignore_errors=True)
gr.set_static_paths([SESSIONS_DIR, EXAMPLES_DIR])
SESSIONS = OpenSessions(SESSIONS_DIR)
QUEUE_SIZE = 32  # waiting requests; beyond this Gradio turns new ones away instead of letting waits grow
# On a phone the columns stack: the photo stays small, table cells break between words only, and the page
# scrolls to the results once a photo is analysed (PHONE_SCROLL; after a failure the message beside the
# photo stays in view).
PHONE_CSS = """
#results table { font-variant-numeric: tabular-nums; }
#results th, #results td, #results .cell-wrap, #results th * {
  word-break: normal; overflow-wrap: normal; hyphens: none; }
@media (max-width: 640px) {
  #photo .image-container, #photo img { max-height: 240px; }
  #results table { font-size: 13px; }
  #results th, #results td { padding: 4px 5px; }
  /* The zone and before/after tables (gr.Dataframe): cells as narrow as their words, in the page's font. */
  #zones-table th, #zones-table td, #after-table th, #after-table td {
    padding: 2px !important; min-width: 0 !important; }
  #zones-table table, #after-table table, #zones-table .cell-wrap, #after-table .cell-wrap,
  #zones-table th .header, #after-table th .header { font-family: var(--font) !important; font-size: 12px !important; }
  #zones-table .cell-wrap, #after-table .cell-wrap { padding: 1px !important; }
  #after-table th .header { font-size: 11px !important; }  /* "before" fits a seventh of a phone */
}
"""
PHONE_SCROLL = ("() => { if (window.innerWidth <= 640 && document.querySelector('#score').innerText.trim()) "
                "document.querySelector('#results').scrollIntoView({behavior: 'instant', block: 'start'}); }")
# Gradio refuses larger uploads before they reach the loader, which has the same limit.
LAUNCH_OPTIONS = {"max_file_size": MAX_FILE_BYTES, "css": PHONE_CSS}
# Column shares of the tables (poreseg.tables.zone_table, dashboard.tables.before_after_table): they fit a
# phone's width, where widths from the content would not.
ZONES_TABLE_WIDTHS = ["18%", "14%", "11%", "13%", "12%", "14%", "18%"]
AFTER_TABLE_WIDTHS = ["16%", "14%", "14%", "14%", "14%", "14%", "14%"]
IMAGE_HEIGHT = 560  # px on the page; the pictures scale down into it, full screen shows them larger
ZOOM_HEIGHT = 240
DOWNLOADS = (("json", "Report (JSON)"), ("csv", "Zones (CSV)"), ("png", "Summary sheet (PNG)"))
# The catalogue's product ids as a type: the /analyze API page and gradio_client list the choices.
ProductId = Literal[tuple(catalogue())]


def _upload_path(image) -> str | None:
    """The server-side path of an uploaded image: a FileData dict (these events skip Gradio's
    preprocessing), or a plain path."""
    if isinstance(image, dict):
        return image.get("path")
    return image or None


def _stopped(started: float, error: Exception) -> messages.Failure:
    log.warning("request stopped: %s after %.2f s", type(error).__name__, time.perf_counter() - started)
    return messages.failure(error)


def read_photo(path: str, previous: Session | None = None):
    """The photo at ``path`` decoded (Gradio's copy of an upload is deleted later, by the upload sweep).
    The previous analysis's photo, analysed again, comes from the session."""
    if previous is not None and previous.source == path and not previous.closed:
        return previous.rgb
    return load_image(UPLOADS.read(path), Path(path).name)


def _sweep_uploads_forever() -> None:
    while True:
        time.sleep(UPLOAD_SWEEP_SECONDS)
        try:
            uploads.sweep_gradio_uploads(demo, UPLOADS)
        except Exception as error:  # the next round tries again; never a traceback in the log
            log.warning("upload sweep failed: %s", type(error).__name__)


def run_analysis(rgb, options: AnalysisOptions):
    """The photo analysed; logs its size and the stage timings, the time the analysis took."""
    started = time.perf_counter()
    try:
        analysis = analyze(rgb, options)
    finally:
        memory.release_freed_memory()  # the analysis's transient arrays, back to the system
    seconds = time.perf_counter() - started
    stages = ", ".join(f"{stage} {t:.2f}" for stage, t in analysis.timings.items() if stage != "total")
    log.info("analysed %dx%d px, %s, in %.2f s (%s)", rgb.shape[1], rgb.shape[0], options.method, seconds, stages)
    return analysis, seconds


def _table(table: pd.DataFrame | None) -> gr.Dataframe:
    """The table, shown only with content (no empty table with placeholder headers)."""
    return gr.Dataframe(value=table, visible=table is not None)


def analyse(image, method, classes, previous, request: gr.Request, progress=gr.Progress()):
    """The whole dashboard for the photo in the input; a clear message instead when it cannot be analysed."""
    tab = request.session_hash
    path = _upload_path(image)
    if not path:
        SESSIONS.close(tab)
        gr.Warning(html.escape(messages.NO_IMAGE.text))
        return _shown(views.cleared(messages.NO_IMAGE.markdown, classes), None)
    started = time.perf_counter()
    try:
        progress(0.1, desc="Finding the face, its skin and its pores")
        rgb = read_photo(path, previous)
        SESSIONS.close(tab)  # the previous analysis goes before this one is made: one in memory per tab
        analysis, seconds = run_analysis(rgb, AnalysisOptions(method=method))
        progress(0.8, desc="Drawing the results")
        session = SESSIONS.open(tab, rgb, analysis, path)
        board = views.dashboard(session, seconds, classes)
    except Exception as error:
        SESSIONS.close(tab)
        problem = _stopped(started, error)
        gr.Warning(html.escape(problem.text))
        return _shown(views.cleared(problem.markdown, classes), None)
    finally:
        memory.release_freed_memory()  # the pictures' full-frame drawing arrays
    if message := messages.alert(analysis):
        gr.Warning(html.escape(message))
    return {**_shown(board, session), after_view: gr.Radio(choices=before_after.before_after_views(analysis),
                                                           value=before_after.default_before_after_view(analysis))}


def _shown(board: views.Dashboard, session: Session | None) -> dict:
    """The board's fields in their components (BOARD_OUTPUTS), the session, and downloads to prepare anew."""
    shown = {component: getattr(board, field) for field, component in BOARD_OUTPUTS.items()}
    shown[zones_table] = _table(board.zones_table)
    return {**shown, state: session,
            **{button: gr.DownloadButton(value=None, interactive=False) for button in download_buttons}}


def show_classes(session, classes):
    """The face parsing overlay again, with only the ticked classes."""
    started = time.perf_counter()
    try:
        return views.parsing_view(session, classes)
    except Exception as error:
        problem = _stopped(started, error)
        gr.Warning(html.escape(problem.text))
        return None, None


def show_before_after(session, product, strength, weeks, view):
    """The chosen product's before/after, recomputed on the stored analysis (no new face parsing)."""
    started = time.perf_counter()
    try:
        result = before_after.before_after(session, product, strength, weeks, view)
    except Exception as error:
        return None, _stopped(started, error).markdown, None
    finally:
        memory.release_freed_memory()
    return result.pair, result.note, _table(result.table)


def prepare_downloads(session):
    """The report files of the session's analysis, behind the download buttons."""
    started = time.perf_counter()
    files = {}
    if session is not None and not session.closed:  # a newer analysis may have replaced it meanwhile
        try:
            files = downloads.report_files(session)
        except Exception as error:
            _stopped(started, error)
    return [gr.DownloadButton(value=files.get(kind), interactive=kind in files) for kind, _ in DOWNLOADS]


def analyze_photo(image: FileData, method: MethodName = DEFAULT_METHOD, product: ProductId | None = None,
                  strength: float = 1.0, weeks: float = FULL_COURSE_WEEKS) -> Report:
    """Analyse the largest face in a photo and return the report (schema 1, poreseg/data/report.schema.json):
    "face" and "zones" (pore count, density per cm2, diameters in mm, area fraction, 0-100 score and band),
    "warnings", "mm_per_px", "method", quality checks, suggestions, and with ``product`` its simulated effect.
    method: the pore method; product: a catalogue id; strength 0-1; weeks 0-12."""
    started = time.perf_counter()
    path = _upload_path(image)  # Gradio hands the FileData over as a dict
    if not path:
        raise gr.Error("No image: send a photo as the first input.", print_exception=False)
    try:
        options = AnalysisOptions(method=method, product=product or None, strength=strength, weeks=weeks)
    except ValueError as error:
        raise gr.Error(f"Invalid request: {error}", print_exception=False) from None
    try:
        analysis, _ = run_analysis(read_photo(path), options)
    except Exception as error:
        problem = _stopped(started, error)
        raise gr.Error(problem.text, print_exception=False) from None
    return analysis.to_dict()


def forget_session(request: gr.Request):
    """The tab was closed: drop its photo, analysis and files now (OpenSessions)."""
    SESSIONS.close(request.session_hash)


with gr.Blocks(title="poreseg", analytics_enabled=False,
               delete_cache=(CACHE_SWEEP_SECONDS, SESSION_SECONDS + CACHE_SWEEP_SECONDS)) as demo:
    state = gr.State(None, time_to_live=SESSION_SECONDS, delete_callback=SESSIONS.expire)
    gr.Markdown(INTRO)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            image = gr.Image(label="Photo", type="filepath", image_mode=None,
                             sources=["upload", "webcam", "clipboard"], elem_id="photo")
            method = gr.Radio(choices=[(m.label, m.name) for m in METHODS.values()], value=DEFAULT_METHOD,
                              label="Pore method", info=METHOD_INFO)
            analyse_button = gr.Button("Analyse", variant="primary")
            status = gr.Markdown(READY, elem_id="status")
            if EXAMPLES:
                gr.Examples(examples=EXAMPLES, inputs=image, cache_examples=False, examples_per_page=8)
                gr.Markdown(CREDITS)
                with gr.Accordion("Example photos: sources and licences", open=False):
                    gr.Markdown((EXAMPLES_DIR / "CREDITS.md").read_text(encoding="utf-8"))
        with gr.Column(scale=2, min_width=300):
            with gr.Tabs(elem_id="results", overflow_behavior="wrap"):  # every tab in sight on a phone
                with gr.Tab("Overview", id="overview"):
                    score = gr.Markdown(elem_id="score")
                    zones_table = gr.Dataframe(label="Pores by zone", interactive=False, wrap=True, visible=False,
                                               column_widths=ZONES_TABLE_WIDTHS, buttons=["copy"],
                                               elem_id="zones-table")
                    details = gr.Markdown()
                with gr.Tab("Masks", id="masks"):
                    classes = gr.CheckboxGroup(choices=[(CLASSES[i], i) for i in views.PARSING_CLASSES],
                                               value=list(views.PARSING_CLASSES), label="Classes shown")
                    with gr.Row():
                        parsing_image = gr.Image(label="Face parsing", type="filepath", interactive=False,
                                                 buttons=["fullscreen", "download"], scale=4, min_width=240,
                                                 height=IMAGE_HEIGHT, elem_id="parsing-image")
                        legend_image = gr.Image(value=views.parsing_view(None, list(views.PARSING_CLASSES))[1],
                                                label="Legend", show_label=False, interactive=False, buttons=[],
                                                scale=1, min_width=120)
                    pores_image = gr.Image(label="Pores outlined on the face: cyan, or orange where PS-Net is "
                                                 "unsure (full screen or download to zoom)",
                                           type="filepath", interactive=False, buttons=["fullscreen", "download"],
                                           height=IMAGE_HEIGHT, elem_id="pores-image")
                    zoom_gallery = gr.Gallery(label="Zones at 1:1 (pores outlined; click one to enlarge)", columns=5,
                                              height=ZOOM_HEIGHT, object_fit="contain", buttons=["fullscreen"],
                                              elem_id="zoom")
                    with gr.Row():
                        zones_image = gr.Image(label="Zones", type="filepath", interactive=False,
                                               buttons=["fullscreen", "download"], min_width=240,
                                               height=IMAGE_HEIGHT, elem_id="zones-image")
                        cutout_image = gr.Image(label="Portrait cut-out", type="filepath", image_mode="RGBA",
                                                interactive=False, buttons=["fullscreen", "download"],
                                                min_width=240, height=IMAGE_HEIGHT, elem_id="cutout-image")
                with gr.Tab("Heatmap", id="heatmap"):
                    heatmap_note = gr.Markdown()
                    density_plot = gr.Plot(label="Pore density", elem_id="density-plot")
                    scores_plot = gr.Plot(label="Pore score by zone", elem_id="scores-plot")
                with gr.Tab("Before/after", id="before-after"):
                    with gr.Row():
                        product = gr.Dropdown(choices=[(p.name, p.id) for p in catalogue().values()], value=None,
                                              label="Product", min_width=240, elem_id="product")
                        strength = gr.Slider(0, 1, value=1.0, step=0.05, label="Strength",
                                             info="how fully the routine is followed", min_width=200)
                        weeks = gr.Slider(0, FULL_COURSE_WEEKS, value=FULL_COURSE_WEEKS, step=1, label="Weeks of use",
                                          min_width=200)
                    after_view = gr.Radio(choices=[("whole face", before_after.FACE_VIEW)],
                                          value=before_after.FACE_VIEW, label="Show",
                                          info="a zone where its pores are densest, enlarged; or the whole face",
                                          elem_id="after-view")
                    after_note = gr.Markdown(NO_SESSION, elem_id="after-note")
                    after_slider = gr.ImageSlider(label="Before / after (drag the handle)", type="filepath",
                                                  interactive=False, buttons=["fullscreen"], elem_id="after-slider")
                    after_table = gr.Dataframe(label="Measured before and after", interactive=False, wrap=True,
                                               visible=False, column_widths=AFTER_TABLE_WIDTHS, buttons=["copy"],
                                               elem_id="after-table")
                with gr.Tab("Suggestions", id="suggestions"):
                    gr.Markdown("### Suggested products")
                    suggestions = gr.Markdown(elem_id="suggestions")
                    routine = gr.Markdown()
                    with gr.Accordion("Sources", open=False):
                        sources = gr.Markdown()
                with gr.Tab("Report", id="report"):
                    gr.Markdown(REPORT_NOTE)
                    with gr.Row():
                        download_buttons = [gr.DownloadButton(label, interactive=False, min_width=160,
                                                              elem_id=f"download-{kind}")
                                            for kind, label in DOWNLOADS]

    # preprocess=False: the function gets the uploaded file's path untouched and load_image reads it
    # (EXIF orientation, colour modes, size limits, a clear message for a file that is not an image);
    # Gradio's own preprocessing would open it first and fail with a bare "Error".
    # Every event that uses a session runs in one concurrency slot: one heavy job at a time on a small
    # machine, and no event draws into a session's folder while a new analysis replaces that session.
    # The component that shows each field of views.Dashboard: an analysis fills them all, a failure empties them.
    BOARD_OUTPUTS = {"status": status, "score": score, "zones_table": zones_table, "details": details,
                     "parsing": parsing_image, "legend": legend_image, "pores": pores_image, "zoom": zoom_gallery,
                     "zones": zones_image, "cutout": cutout_image, "heatmap_note": heatmap_note,
                     "density_figure": density_plot, "scores_figure": scores_plot, "suggestions": suggestions,
                     "routine": routine, "sources": sources}
    analysed = gr.on(
        triggers=[image.change, analyse_button.click], fn=analyse, inputs=[image, method, classes, state],
        outputs=[*BOARD_OUTPUTS.values(), state, after_view, *download_buttons],
        preprocess=False, trigger_mode="always_last", concurrency_id="analysis", api_visibility="private")
    before_after_inputs = [state, product, strength, weeks, after_view]
    before_after_outputs = [after_slider, after_note, after_table]
    chained = {"concurrency_id": "analysis", "api_visibility": "private", "show_progress": "minimal"}
    analysed.then(None, js=PHONE_SCROLL)
    analysed.then(show_before_after, before_after_inputs, before_after_outputs, **chained
                  ).then(prepare_downloads, state, download_buttons, **chained)
    # The downloads carry the before/after the user set: drawn again after each change.
    gr.on(triggers=[product.input, strength.input, weeks.input, after_view.input], fn=show_before_after,
          inputs=before_after_inputs, outputs=before_after_outputs, trigger_mode="always_last",
          concurrency_id="analysis", api_visibility="private"
          ).then(prepare_downloads, state, download_buttons, **chained)
    classes.change(show_classes, [state, classes], [parsing_image, legend_image], trigger_mode="always_last",
                   concurrency_id="analysis", api_visibility="private")
    gr.api(analyze_photo, api_name="analyze", concurrency_id="analysis")
    demo.unload(forget_session)

demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
memory.limit_retained_memory()  # before Gradio's worker threads start
threading.Thread(target=_sweep_uploads_forever, name="poreseg-upload-sweep", daemon=True).start()

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log.setLevel(logging.INFO)  # the app's timings; other libraries only warn
    started = time.perf_counter()
    try:
        psnet_problem = warm_up()
    except WeightsError as error:
        sys.exit(f"poreseg: cannot start: {error}")
    if psnet_problem:
        log.warning("PS-Net unavailable (DoGPore works): %s", psnet_problem)
    log.info("models loaded in %.1f s", time.perf_counter() - started)
    demo.launch(**LAUNCH_OPTIONS)
