"""The dashboard's view-model: an Analysis turned into what the page shows (Markdown, tables, pictures,
Plotly figures, report files) and the messages for photos that cannot be analysed.

app.py lays these out and wires the events; nothing here imports Gradio. Pictures and downloads are
written into the session's folder (``Session.folder``), which the app creates inside Gradio's cache so
that Gradio serves them without copying them; ``Session.close()`` removes it.
"""
from __future__ import annotations

import html
import re
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import plotly.graph_objects as go
from PIL import Image

from poreseg import charts, draw, overlays, report
from poreseg.analysis import AfterProduct, Analysis, AnalysisError, simulate
from poreseg.classes import BACKGROUND, CLASSES, SKIN
from poreseg.imageio import MAX_FILE_BYTES, ImageLoadError, load_image
from poreseg.metrics import SCORE_BANDS
from poreseg.parsing import parse_face
from poreseg.pores.scale import EYE_DISTANCE_MM
from poreseg.pores.segment import segment_pores
from poreseg.portrait import segment_portrait
from poreseg.products import get_product
from poreseg.scores import whole_score
from poreseg.suggest import Suggestions
from poreseg.weights import WeightsError
from poreseg.zones import ZONE_TITLES, ZONES

METHOD_CHOICES = (("PS-Net", "psnet"), ("DoGPore", "dog"))
METHOD_NAMES = {value: label for label, value in METHOD_CHOICES}
PARSING_CLASSES = tuple(i for i in range(len(CLASSES)) if i != BACKGROUND)
# The parsing overlay lets the photo show through; skin, most of the face, is only outlined and faintly
# tinted, so the skin tone on the page is the photo's (an opaque peach made dark skin look light).
PARSING_ALPHA = 0.35
SKIN_ALPHA = 0.08
# Photos larger than this (on the long side) are shown shrunk: a 12 MP phone photo (4000 px) still shows
# at full resolution, a 100 MP one would make a phone's browser give up.
DISPLAY_MAX_SIDE = 4096
CUTOUT_MAX_SIDE = 1600  # the cut-out shows the person's outline, not skin detail: a smaller PNG
ZOOM_SIDE = 320  # px of the photo in each 1:1 zone crop
PORES_SHOWN_PX = 700  # about the size the pores picture takes on the page
FACE_VIEW = "face"  # the before/after of the whole face; the other views are zones
# A zone's before/after shows this many typical pore widths across, enlarged to BEFORE_AFTER_SIDE px: a pore
# is then about 12 px on the page, where a change of a few grey levels is visible.
VIEW_PORES_ACROSS = 60
MIN_VIEW_PX = 96
MOSTLY_ZONE = 0.6  # of the view's pixels, for a zone's before/after (less where the zone is narrow)
BEFORE_AFTER_SIDE = 720
VISIBLE_GREY_LEVELS = 8
JPEG_QUALITY = 90  # with 4:4:4 chroma, so one-pixel pore outlines keep their colour
PNG_COMPRESSION = report.PNG_COMPRESSION

SESSION_MINUTES = 10  # how long a session keeps its photo, analysis and files after an analysis
NO_SESSION = f"Analyse a photo first (results are kept for {SESSION_MINUTES} minutes after an analysis)."
BANDS_TEXT = ", ".join(f"{name} {lowest:.0f}+" for name, lowest in SCORE_BANDS[:-1]) + \
    f", {SCORE_BANDS[-1][0]} below {SCORE_BANDS[-2][1]:.0f}"
QUALITY_TITLES = {"face_size": "face size (eye distance, px)", "resolution": "typical pore width (px)",
                  "detail": "pore detail (px)", "sharpness": "sharpness", "dark": "median skin grey level",
                  "overexposed": "share of saturated skin", "occlusion": "share of the face hidden"}
_DIRECTORIES = re.compile(r"(?:[A-Za-z]:)?(?:[/\\][^/\\\s:()]+)+[/\\]")


@dataclass
class Failure:
    """Why a photo was not analysed, for the user: a title and one line."""

    title: str
    detail: str

    @property
    def markdown(self) -> str:
        return f"**{self.title}.** {html.escape(self.detail)}"

    @property
    def text(self) -> str:
        return f"{self.title}. {self.detail}"


NO_IMAGE = Failure("No image", "Upload a photo, take one with the webcam, paste one, or pick an example.")


def hide_directories(text: str) -> str:
    """``text`` with absolute paths cut to their file names: messages name the file, not the server's folders."""
    return _DIRECTORIES.sub("", text)


def failure(error: Exception) -> Failure:
    """The message for an error raised while reading or analysing a photo; never a traceback."""
    detail = hide_directories(str(error))
    if isinstance(error, ImageLoadError):
        return Failure("Could not read the image", detail)
    if isinstance(error, AnalysisError):
        return Failure("Cannot analyse this photo", detail)
    if isinstance(error, WeightsError):
        if "psnet" in detail:
            return Failure("PS-Net is not available on this server",
                           f"{detail}. Choose DoGPore, which needs no trained model.")
        return Failure("The models could not load", detail)
    return Failure("Analysis failed", f"an unexpected {type(error).__name__} stopped the analysis. Nothing was "
                                      "kept; try again, with another photo or with DoGPore.")


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]

    @property
    def markdown(self) -> str:
        """A Markdown table, numbers right-aligned: on the page it takes the width its words need, and a
        phone breaks its cells between words only."""
        def line(cells: list[str]) -> str:
            return "| " + " | ".join(html.escape(cell) for cell in cells) + " |"

        align = ["---"] + ["--:"] * (len(self.headers) - 1)
        return "\n".join([line(self.headers), "|" + "|".join(align) + "|", *map(line, self.rows)])


class Uploads:
    """Gradio's copies of uploaded photos, deleted soon after use, without racing the browser.

    The browser shows an upload's preview from Gradio's copy while the analysis reads it, so deleting the
    copy as it is read breaks the preview. Instead ``sweep`` (run every few seconds) deletes each upload
    once nothing still needs it: no queued or running request names it, and it was read ``linger_seconds``
    ago (time for its preview to load) or, if never read (a request cancelled or refused), uploaded
    ``orphan_seconds`` ago. Gradio names an upload by its content, so identical photos uploaded at about
    the same moment share one file: the queued requests of the others keep it. Safe to use from Gradio's
    worker threads.
    """

    def __init__(self, linger_seconds: float, orphan_seconds: float, clock: Callable[[], float] = time.time):
        self.linger_seconds, self.orphan_seconds, self.clock = linger_seconds, orphan_seconds, clock
        self._read: dict[str, float] = {}  # path -> when it was last read
        self._lock = threading.Lock()

    def read(self, path: str) -> bytes:
        """The bytes of the photo uploaded at ``path`` (refused with its size when over the limit)."""
        file = Path(path)
        with self._lock:
            if not file.is_file():
                raise ImageLoadError(f"{file.name}: this upload is gone (uploads are deleted soon after they "
                                     "are analysed, or within a minute when they are not); upload the photo again")
            if file.stat().st_size > MAX_FILE_BYTES:
                load_image(file)  # refused with its size, before anything is read
            self._read[path] = self.clock()
            return file.read_bytes()

    def sweep(self, uploads: Iterable[str], needed: Collection[str], now: float | None = None) -> list[str]:
        """Delete those of ``uploads`` (paths) that nothing needs any more (see the class docstring);
        ``needed`` are the paths queued or running requests name. Returns the paths deleted or gone."""
        now = self.clock() if now is None else now
        done = []
        with self._lock:
            for path in uploads:
                if path in needed:
                    continue
                try:
                    uploaded = Path(path).stat().st_mtime
                except OSError:
                    done.append(path)
                    self._read.pop(path, None)
                    continue
                read = self._read.get(path)
                # A file written again after it was read (the same photo uploaded again) lingers as long
                # from then: its request is about to join the queue, which then keeps it.
                due = (max(read, uploaded) + self.linger_seconds if read is not None
                       else uploaded + self.orphan_seconds)
                if now >= due:
                    _delete_upload(Path(path))
                    done.append(path)
                    self._read.pop(path, None)
        return done


def _delete_upload(file: Path) -> None:
    """Delete ``file``, and its folder once empty (Gradio names the folder by the content, which another
    upload of the same photo under another name shares)."""
    file.unlink(missing_ok=True)
    with suppress(OSError):
        file.parent.rmdir()


@dataclass
class Session:
    """What one browser session keeps between events, in memory, and the folder its pictures and downloads
    are written to.

    Sessions live for SESSION_MINUTES, so only what later events read is kept: the photo, its analysis
    without the per-pixel float maps no later event reads (the person matte and the pore probability and
    uncertainty, None here), and the matte at the size the cut-out is shown (``person``). At 12 MP that
    is about 90 MB a session instead of 230 MB (benchmarks/session_memory.py).
    """

    rgb: np.ndarray
    analysis: Analysis
    folder: Path
    # The upload the photo was read from: analysed again (another method), the photo comes from here, as
    # Gradio's copy of the upload is deleted soon after it is read (Uploads).
    source: str | None = None
    person: np.ndarray = field(init=False)  # float32 person probability, at most CUTOUT_MAX_SIDE on a side
    after: AfterProduct | None = None  # the before/after last shown, for the report downloads

    def __post_init__(self):
        self.person = fit(self.analysis.person, CUTOUT_MAX_SIDE)
        pores = self.analysis.pores
        if pores is not None:
            pores = replace(pores, maps=None)
        self.analysis = replace(self.analysis, person=None, pores=pores)

    def picture(self, name: str, render: Callable[[], np.ndarray]) -> Path:
        """The picture ``render()`` draws, saved as ``name`` (.jpg or .png) in the folder. Names say what a
        picture shows, so the same view asked for again is not drawn again, and a changed view gets a new
        URL (the browser would show a cached picture under the old one)."""
        path = self.folder / name
        if not path.exists():
            options = ({"quality": JPEG_QUALITY, "subsampling": 0} if path.suffix == ".jpg"
                       else {"compress_level": PNG_COMPRESSION})
            Image.fromarray(render()).save(path, **options)
        return path

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def closed(self) -> bool:
        """Replaced by a newer analysis (or expired): events queued before that find nothing to draw on."""
        return not self.folder.exists()


@dataclass
class Dashboard:
    """Everything the page shows after an analysis, tab by tab."""

    status: str
    score: str  # Overview
    zones_table: Table
    details: str
    parsing: Path  # Masks
    legend: np.ndarray
    pores: Path | None
    zoom: list[tuple[Path, str]]
    zones: Path
    cutout: Path
    heatmap_note: str  # Heatmap
    density_figure: go.Figure | None
    scores_figure: go.Figure | None
    suggestions: str  # Suggestions
    routine: str
    sources: str


@dataclass
class BeforeAfter:
    pair: tuple[Path, Path] | None
    note: str
    table: Table | None


def fit(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` shrunk to at most ``max_side`` pixels on its long side (never enlarged)."""
    scale = max_side / max(image.shape[:2])
    if scale >= 1:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def status_line(analysis: Analysis, seconds: float) -> str:
    face = analysis.metrics.face
    h, w = analysis.image_size
    result = (f"pore score **{whole_score(face.score)} / 100 ({face.band})**" if face.score is not None
              else "**pores not measured** (see Overview)")
    found = analysis.parsing.faces_found
    faces = "1 face" if found == 1 else f"{found} faces, the largest analysed"
    line = f"Analysed a {w}x{h} photo with {METHOD_NAMES[analysis.method]} in {seconds:.1f} s: {faces}; {result}."
    if analysis.warnings:
        line += f" {len(analysis.warnings)} warning{'s' if len(analysis.warnings) > 1 else ''} on the Overview tab."
    return line


def alert(analysis: Analysis) -> str | None:
    """What is worth a pop-up after an analysis that worked: several faces, or no pores measured."""
    lines = []
    if analysis.parsing.faces_found > 1:
        lines.append(f"{analysis.parsing.faces_found} faces found; the largest one was analysed.")
    if not analysis.pores_measured:
        lines.append("Pores could not be measured in this photo; the Overview tab says why.")
    return " ".join(lines) or None


def score_markdown(analysis: Analysis) -> str:
    face = analysis.metrics.face
    if face.score is None:
        return ("## Pores not measured in this photo\nThe face parsing, zones and cut-out are still shown; the "
                "warnings below say why pores could not be measured.")
    lines = [f"## Pore score {whole_score(face.score)} / 100 · {face.band}",
             f"Higher is better. Bands: {BANDS_TEXT}.", ""]
    skin = (f" on {face.skin_area_cm2:.1f} cm² of analysed skin: {face.density_per_cm2:.1f} per cm², mean diameter "
            f"{face.mean_diameter_mm:.2f} mm" if face.skin_area_cm2 and face.pore_count else "")
    lines.append(f"**{face.pore_count} pores**{skin}; they cover {100 * face.area_fraction:.2f}% of the skin.")
    return "\n".join(lines)


def zones_table(analysis: Analysis) -> Table:
    """The zone table of report.zone_table with the score and its band in one cell: six columns fit a
    phone's width."""
    header, *rows = report.zone_table(analysis.metrics)
    score, band = header.index("score"), header.index("band")
    keep = [c for c in range(len(header)) if c != band]
    rows = [[f"{row[c]} {row[band]}" if c == score and row[c] != "-" else row[c] for c in keep] for row in rows]
    return Table([header[c] for c in keep], rows)


def details_markdown(analysis: Analysis) -> str:
    parts = []
    if analysis.warnings:
        parts.append("### Warnings\n" + "\n".join(f"- {html.escape(w)}" for w in analysis.warnings))
    if analysis.mm_per_px is not None:
        scale = (f"{analysis.mm_per_px:.3f} mm per pixel, estimated from the distance between the eyes "
                 f"({EYE_DISTANCE_MM:.0f} mm assumed, the adult average); a typical pore is then "
                 f"{analysis.pore_px:.1f} px wide. Sizes and densities are estimates.")
    else:
        scale = "No millimetre scale: the eyes are not both visible, so only counts and shares are given."
    parts.append("### Scale\n" + scale)
    rows = [f"| {QUALITY_TITLES.get(c.name, c.name.replace('_', ' '))} | {c.value:.3g} | {c.limit:.3g} | "
            f"{'ok' if c.passed else 'failed' + (', pores not measured' if c.blocking else '')} |"
            for c in analysis.quality.checks]
    parts.append("### Photo quality\n| check | measured | limit | result |\n|---|---|---|---|\n" + "\n".join(rows))
    return "\n\n".join(parts)


def parsing_view(session: Session | None, classes: list[int]) -> tuple[Path | None, np.ndarray]:
    """The face parsing overlay showing only ``classes`` (None without a session), and their legend."""
    shown = sorted(set(classes or ()) & set(PARSING_CLASSES))
    if session is None or session.closed:
        return None, draw.legend(shown)
    rgb, labels = session.rgb, session.analysis.parsing.labels
    path = session.picture("parsing-" + ("-".join(map(str, shown)) or "none") + ".jpg",
                           lambda: fit(draw.overlay_labels(rgb, labels, PARSING_ALPHA, shown, {SKIN: SKIN_ALPHA}),
                                       DISPLAY_MAX_SIDE))
    return path, draw.legend(shown)


def zone_point(zone_labels: np.ndarray, zone_id: int) -> tuple[int, int] | None:
    """(x, y) of the zone's pixel nearest its median point (a cheek's centroid can fall outside it)."""
    ys, xs = np.nonzero(zone_labels == zone_id)
    if ys.size == 0:
        return None
    nearest = np.argmin((ys - np.median(ys)) ** 2 + (xs - np.median(xs)) ** 2)
    return int(xs[nearest]), int(ys[nearest])


def zoom_crops(session: Session) -> list[tuple[Path, str]]:
    """A ZOOM_SIDE square of the photo at 1:1 around each zone, its pores outlined, lossless, with a
    caption. Drawn crop by crop: a full-frame outlined copy would take 36 MB at 12 MP."""
    analysis, rgb = session.analysis, session.rgb
    h, w = rgb.shape[:2]
    crops = []
    for zone_id, zone in enumerate(ZONES, start=1):
        point = zone_point(analysis.zones.labels, zone_id)
        if point is None:
            continue
        side = min(ZOOM_SIDE, h, w)
        x0 = min(max(0, point[0] - side // 2), w - side)
        y0 = min(max(0, point[1] - side // 2), h - side)
        width = f", {side * analysis.mm_per_px / 10:.1f} cm wide" if analysis.mm_per_px else ""
        window = slice(y0, y0 + side), slice(x0, x0 + side)
        crops.append((session.picture(f"zoom-{zone}.png", lambda window=window: zoom_picture(analysis, rgb, window)),
                      f"{ZONE_TITLES[zone]}, 1:1{width}"))
    return crops


def pores_on_face(analysis: Analysis, rgb: np.ndarray) -> np.ndarray:
    """The face (report.face_window) with its pores outlined, the rings wide enough to show when the
    picture is fitted into the page (PORES_SHOWN_PX); full screen shows the skin at full resolution."""
    rows, cols = report.face_window(analysis)
    face = rgb[rows, cols]
    width = max(1, round(max(face.shape[:2]) / PORES_SHOWN_PX))
    return fit(overlays.pores_outlined(face, analysis.pores.mask[rows, cols], uncertain_in(analysis, rows, cols),
                                       width=width), DISPLAY_MAX_SIDE)


def zoom_picture(analysis: Analysis, rgb: np.ndarray, window: tuple[slice, slice]) -> np.ndarray:
    if not analysis.pores_measured:
        return rgb[window]
    return overlays.pores_outlined(rgb[window], analysis.pores.mask[window], uncertain_in(analysis, *window))


def uncertain_in(analysis: Analysis, rows: slice, cols: slice) -> np.ndarray:
    """The uncertain pores' pixels (PoreResult.uncertain) that lie in the crop ``rows``, ``cols``, in its
    coordinates."""
    top, left = rows.start or 0, cols.start or 0
    h, w = analysis.pores.mask[rows, cols].shape
    points = analysis.pores.uncertain - (top, left)
    return points[(points >= 0).all(axis=1) & (points[:, 0] < h) & (points[:, 1] < w)]


def heatmap_note(analysis: Analysis) -> str:
    if analysis.density is None:
        reason = ("pores were not measured in this photo" if not analysis.pores_measured
                  else "there is no millimetre scale (the eyes are not both visible)")
        return f"No density map: {reason}. The zone scores are shown where they exist."
    return ("Pores per cm² of analysed skin, smoothed over about a centimetre. Hover for the value and the zone; "
            "drag to zoom, double-click to reset.")


def suggestions_markdown(suggestions: Suggestions) -> str:
    """One paragraph per product (a table's narrow columns broke words on a phone, and hid the last rows
    in an inner scroll)."""
    return "\n\n".join(f"**{html.escape(r['product'])}** · *{html.escape(r['when'])}*  \n{html.escape(r['reason'])}"
                        for r in suggestions.rows())


def routine_markdown(suggestions: Suggestions) -> str:
    parts = []
    for title, steps in (("Morning", suggestions.morning), ("Evening", suggestions.evening),
                         ("Weekly", suggestions.weekly)):
        if steps:
            parts.append(f"#### {title}\n" + "\n".join(f"{i}. {step}" for i, step in enumerate(steps, start=1)))
    parts.append(f"> {suggestions.disclaimer}")
    return "\n\n".join(parts)


def sources_markdown(suggestions: Suggestions) -> str:
    return "\n".join(f"- **{s.product.name}**: {s.product.source}" for s in suggestions.items)


def dashboard(session: Session, seconds: float, classes: list[int]) -> Dashboard:
    """Every view of a fresh analysis; ``seconds`` the time it took, ``classes`` the parsing classes shown."""
    analysis, rgb = session.analysis, session.rgb
    parsing, legend = parsing_view(session, classes)
    return Dashboard(
        status=status_line(analysis, seconds),
        score=score_markdown(analysis),
        zones_table=zones_table(analysis),
        details=details_markdown(analysis),
        parsing=parsing,
        legend=legend,
        pores=session.picture("pores.jpg", lambda: pores_on_face(analysis, rgb)) if analysis.pores_measured else None,
        zoom=zoom_crops(session),
        zones=session.picture("zones.jpg", lambda: fit(overlays.zones_overlay(rgb, analysis.zones), DISPLAY_MAX_SIDE)),
        cutout=session.picture("cutout.png",
                               lambda: overlays.portrait_cutout(fit(rgb, CUTOUT_MAX_SIDE), session.person)),
        heatmap_note=heatmap_note(analysis),
        density_figure=None if analysis.density is None else charts.density_figure(
            rgb, analysis.density, analysis.metrics.reference, analysis.zones.labels > 0),
        scores_figure=charts.zone_scores_figure(analysis.metrics) if analysis.pores_measured else None,
        suggestions=suggestions_markdown(analysis.suggestions),
        routine=routine_markdown(analysis.suggestions),
        sources=sources_markdown(analysis.suggestions),
    )


def before_after_table(before: list[list[str]], after: list[list[str]]) -> Table:
    """Zone tables (report.zone_table) before and after: pores, area and score, each "before → after" in
    one cell (four columns fit a phone)."""
    columns = [before[0].index(name) for name in ("pores", "area %", "score")]
    headers = ["zone"] + [f"{before[0][c]} before → after" for c in columns]
    rows = [[b[0]] + [f"{b[c]} → {a[c]}" for c in columns] for b, a in zip(before[1:], after[1:])]
    return Table(headers, rows)


def before_after_views(analysis: Analysis) -> list[tuple[str, str]]:
    """(label, value) of the before/after views: each zone with pores, then the whole face."""
    counts = {zone: m.pore_count for zone, m in analysis.metrics.zones.items()}
    return [(ZONE_TITLES[zone], zone) for zone in ZONES if counts.get(zone)] + [("whole face", FACE_VIEW)]


def default_before_after_view(analysis: Analysis) -> str:
    """The zone with the most pores per cm² of skin (per pixel without a scale): where the effect shows most."""
    zones = analysis.metrics.zones
    measured = [zone for zone in ZONES if zones[zone].pore_count]
    if not measured:
        return FACE_VIEW
    return max(measured, key=lambda zone: zones[zone].pore_count / max(zones[zone].skin_area_px, 1))


def pore_view_window(analysis: Analysis, zone: str) -> tuple[slice, slice]:
    """A square of the photo in ``zone`` where its pores are densest, VIEW_PORES_ACROSS typical pores wide
    (at least MIN_VIEW_PX), so that shown at BEFORE_AFTER_SIDE a pore is several screen pixels across.
    Densest per pixel of the zone, among squares mostly in the zone: skin, not a brow or an eye."""
    zone_mask = analysis.zones.labels == ZONES.index(zone) + 1
    ys, xs = np.nonzero(zone_mask)
    h, w = analysis.image_size
    side = min(h, w, max(MIN_VIEW_PX, round(VIEW_PORES_ACROSS * analysis.pore_px)))
    if ys.size == 0:
        cy, cx = h // 2, w // 2
    else:
        box = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
        inside = zone_mask[box].astype(np.float32)
        pores = cv2.boxFilter(analysis.pores.mask[box] * inside, -1, (side, side), borderType=cv2.BORDER_CONSTANT)
        skin = cv2.boxFilter(inside, -1, (side, side), borderType=cv2.BORDER_CONSTANT)
        density = pores / np.maximum(skin, 1e-6)
        density[(skin < min(MOSTLY_ZONE, 0.9 * skin.max())) | ~zone_mask[box]] = -1
        y, x = np.unravel_index(np.argmax(density), density.shape)
        cy, cx = box[0].start + y, box[1].start + x
    y0, x0 = min(max(0, cy - side // 2), h - side), min(max(0, cx - side // 2), w - side)
    return slice(y0, y0 + side), slice(x0, x0 + side)


def enlarge(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` scaled so that its long side is ``side`` px: enlarged smoothly, or shrunk."""
    scale = side / max(image.shape[:2])
    if scale <= 1:
        return fit(image, side)
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)


def visible_change(before: np.ndarray, after: np.ndarray) -> float:
    """The share of pixels whose grey level differs by VISIBLE_GREY_LEVELS or more."""
    grey = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.int16) for image in (before, after)]
    return float((np.abs(grey[1] - grey[0]) >= VISIBLE_GREY_LEVELS).mean())


def before_after(session: Session | None, product_id: str | None, strength: float, weeks: float,
                 view: str | None = None) -> BeforeAfter:
    """The product's simulated effect, shown on ``view`` (a zone, at a zoom where pores show, or FACE_VIEW;
    by default the zone where pores are densest), its note and the metrics measured again on the
    simulated photo. The simulation is kept on the session for the report downloads."""
    if session is None or session.closed:
        return BeforeAfter(None, NO_SESSION, None)
    if not product_id:
        session.after = None
        return BeforeAfter(None, "Choose a product to see its simulated effect on the pores.", None)
    analysis = session.analysis
    if not analysis.pores_measured:
        return BeforeAfter(None, "The simulation needs measured pores, and this photo has none (see Overview).",
                           None)
    after = simulate(analysis, session.rgb, product_id, strength, weeks)
    # Kept for the report (its numbers), not its pictures: the simulated photo and pore maps would
    # double the session's memory.
    session.after = replace(after, pores=None, simulation=replace(after.simulation, after=None))
    view = view if view in (FACE_VIEW, *ZONES) else default_before_after_view(analysis)
    rows, cols = report.face_window(analysis) if view == FACE_VIEW else pore_view_window(analysis, view)

    def show(image: np.ndarray) -> np.ndarray:
        crop = image[rows, cols]
        return fit(crop, DISPLAY_MAX_SIDE) if view == FACE_VIEW else enlarge(crop, BEFORE_AFTER_SIDE)
    before_shown, after_shown = show(session.rgb), show(after.simulation.after)
    before_path = session.picture(f"before-{view}.jpg", lambda: before_shown)
    after_path = session.picture(f"after-{view}-{product_id}-{strength:g}-{weeks:g}.jpg", lambda: after_shown)
    product, simulation = get_product(product_id), after.simulation
    width = f", {(cols.stop - cols.start) * analysis.mm_per_px / 10:.1f} cm wide" if analysis.mm_per_px else ""
    place = "the whole face" if view == FACE_VIEW else f"the {ZONE_TITLES[view]} where its pores are densest{width}"
    note = (f"**{product.name}**, {weeks:g} weeks at {strength:.0%} strength: pores about "
            f"{simulation.expected_reduction:.0%} smaller and {simulation.expected_reduction:.0%} fainter (its full "
            f"12-week effect: {product.effect_12w:.0%} less visible pore area). Shown: {place}; "
            f"{visible_change(before_shown, after_shown):.1%} of these pixels change by {VISIBLE_GREY_LEVELS} grey "
            "levels or more, all on pores; the rest of the skin is untouched. Pores and scores are measured again "
            "on the simulated photo. An illustration from published effects, not a promise.")
    return BeforeAfter((before_path, after_path), note,
                       before_after_table(report.zone_table(analysis.metrics), report.zone_table(after.metrics)))


def report_files(session: Session) -> dict[str, Path]:
    """The downloads: report.json (schema 1), zones.csv and a PNG summary sheet, in the session's folder,
    with the before/after last shown."""
    analysis = replace(session.analysis, after=session.after)
    folder = session.folder / "report"
    folder.mkdir(exist_ok=True)
    files = {"json": folder / "poreseg-report.json", "csv": folder / "poreseg-zones.csv",
             "png": folder / "poreseg-summary.png"}
    files["json"].write_text(report.report_json(analysis), encoding="utf-8")
    files["csv"].write_text(report.zones_csv(analysis), encoding="utf-8")
    Image.fromarray(report.summary_sheet(analysis, session.rgb)).save(files["png"], compress_level=PNG_COMPRESSION)
    return files


def warm_up() -> str | None:
    """Load the networks once, so that the first visitor does not wait for them. Raises WeightsError when
    the face parser or the portrait network cannot load (nothing works without them); returns why PS-Net
    is not available, or None when it is."""
    probe = np.full((64, 64, 3), 128, np.uint8)
    parse_face(probe)
    segment_portrait(probe)
    try:
        segment_pores(probe, skin_mask=np.ones(probe.shape[:2], bool), method="psnet", mm_per_px=0.1)
    except WeightsError as error:
        return hide_directories(str(error))
    return None
