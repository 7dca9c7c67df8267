"""An analysis as the page shows it, tab by tab: Markdown, pictures (saved in the session's folder) and
Plotly figures. app.py lays these out and wires the events; nothing here imports Gradio."""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import charts
from dashboard.session import CUTOUT_MAX_SIDE, DISPLAY_MAX_SIDE, Session, fit
from poreseg import draw, overlays
from poreseg.analysis import Analysis
from poreseg.classes import BACKGROUND, CLASSES, EYE, SKIN
from poreseg.metrics import SCORE_BANDS
from poreseg.pores.methods import METHODS
from poreseg.pores.scale import EYE_DISTANCE_MM
from poreseg.scores import whole_score
from poreseg.suggest import Suggestions
from poreseg.tables import zone_table
from poreseg.zones import ZONE_TITLES, ZONES, around


PARSING_CLASSES = tuple(i for i in range(len(CLASSES)) if i != BACKGROUND)
# The parsing overlay lets the photo show through; skin, most of the face, is only outlined and faintly
# tinted, so the skin tone on the page is the photo's (an opaque peach made dark skin look light).
PARSING_ALPHA = 0.35
SKIN_ALPHA = 0.08
ZOOM_SIDE = 320  # px of the photo in each 1:1 zone crop
EYE_CLEARANCE = 0.1  # of a zone crop's side: the parsed eye is a little smaller than the eye people see
PORES_SHOWN_PX = 700  # about the size the pores picture takes on the page
BANDS_TEXT = ", ".join(f"{name} {lowest:.0f}+" for name, lowest in SCORE_BANDS[:-1]) + \
    f", {SCORE_BANDS[-1][0]} below {SCORE_BANDS[-2][1]:.0f}"
QUALITY_TITLES = {"face_size": "face size (eye distance, px)", "resolution": "typical pore width (px)",
                  "detail": "pore detail (px)", "sharpness": "sharpness",
                  "faint": "depth of fine skin detail (grey levels)", "dark": "median skin grey level",
                  "overexposed": "share of saturated skin", "occlusion": "share of the face hidden"}


@dataclass
class Dashboard:
    """Everything the page shows after an analysis, tab by tab (empty fields: ``cleared``)."""

    status: str
    score: str  # Overview
    zones_table: pd.DataFrame | None  # tables.zone_table
    details: str
    parsing: Path | None  # Masks
    legend: np.ndarray
    pores: Path | None
    zoom: list[tuple[Path, str]]
    zones: Path | None
    cutout: Path | None
    heatmap_note: str  # Heatmap
    density_figure: go.Figure | None
    scores_figure: go.Figure | None
    suggestions: str  # Suggestions
    routine: str
    sources: str


def status_line(analysis: Analysis, seconds: float) -> str:
    face = analysis.metrics.face
    h, w = analysis.image_size
    result = (f"pore score **{whole_score(face.score)} / 100 ({face.band})**" if face.score is not None
              else "**pores not measured** (see Overview)")
    found = analysis.parsing.faces_found
    faces = "1 face" if found == 1 else f"{found} faces, the largest analysed"
    line = f"Analysed a {w}x{h} photo with {METHODS[analysis.method].label} in {seconds:.1f} s: {faces}; {result}."
    if analysis.warnings:
        line += f" {len(analysis.warnings)} warning{'s' if len(analysis.warnings) > 1 else ''} on the Overview tab."
    return line


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


def details_markdown(analysis: Analysis) -> str:
    parts = []
    if analysis.warnings:
        parts.append("### Warnings\n" + "\n".join(f"- {html.escape(w)}" for w in analysis.warnings))
    if analysis.face.mm_per_px is not None:
        scale = (f"{analysis.face.mm_per_px:.3f} mm per pixel, estimated from the distance between the eyes "
                 f"({EYE_DISTANCE_MM:.0f} mm assumed, the adult average); a typical pore is then "
                 f"{analysis.face.pore_px:.1f} px wide. Sizes and densities are estimates.")
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


def zoom_window(analysis: Analysis, zone_id: int) -> tuple[slice, slice] | None:
    """The square of the photo, ZOOM_SIDE px (less on a small photo), that holds the most of the zone and no
    eye, nor one within EYE_CLEARANCE of it: a cheek's crop shows the cheek, never the eye above it. Half
    that side when every such square near the zone holds an eye (a strip of cheek under it); None when
    those do too."""
    zone = analysis.zones.labels == zone_id
    ys, xs = np.nonzero(zone)
    if ys.size == 0:
        return None
    h, w = zone.shape
    for side in (min(ZOOM_SIDE, h, w), min(ZOOM_SIDE, h, w) // 2):
        # Centres of the squares that overlap the zone: its box grown by a side.
        box = (slice(max(0, ys.min() - side), min(h, ys.max() + side + 1)),
               slice(max(0, xs.min() - side), min(w, xs.max() + side + 1)))
        eye = analysis.parsing.labels[box] == EYE
        # boxFilter's window for an even size starts half of it before its centre pixel.
        in_zone = cv2.boxFilter(zone[box].astype(np.float32), -1, (side, side), normalize=False,
                                borderType=cv2.BORDER_CONSTANT)
        near = side + 2 * round(EYE_CLEARANCE * side)  # the square and a margin around it
        eyes = cv2.boxFilter(eye.astype(np.float32), -1, (near, near), normalize=False,
                             borderType=cv2.BORDER_CONSTANT)
        tops = np.arange(box[0].start, box[0].stop) - side // 2
        lefts = np.arange(box[1].start, box[1].stop) - side // 2
        in_image = ((tops >= 0) & (tops + side <= h))[:, None] & ((lefts >= 0) & (lefts + side <= w))[None, :]
        in_zone[~in_image | (eyes > 0)] = 0
        if in_zone.max() > 0:
            y, x = np.unravel_index(np.argmax(in_zone), in_zone.shape)
            return slice(tops[y], tops[y] + side), slice(lefts[x], lefts[x] + side)
    return None


def zoom_crops(session: Session) -> list[tuple[Path, str]]:
    """A square of the photo at 1:1 in each zone (zoom_window), its pores outlined, lossless, with a
    caption. Drawn crop by crop: a full-frame outlined copy would take 36 MB at 12 MP."""
    analysis, rgb = session.analysis, session.rgb
    crops = []
    for zone_id, zone in enumerate(ZONES, start=1):
        window = zoom_window(analysis, zone_id)
        if window is None:
            continue
        side = window[0].stop - window[0].start
        width = f", {side * analysis.face.mm_per_px / 10:.1f} cm wide" if analysis.face.mm_per_px else ""
        crops.append((session.picture(f"zoom-{zone}.png", lambda window=window: zoom_picture(analysis, rgb, window)),
                      f"{ZONE_TITLES[zone]}, 1:1{width}"))
    return crops


def pores_on_face(analysis: Analysis, rgb: np.ndarray) -> np.ndarray:
    """The face (overlays.FACE_PAD around its zones) with its pores outlined, the rings wide enough to show when the
    picture is fitted into the page (PORES_SHOWN_PX); full screen shows the skin at full resolution."""
    rows, cols = around(analysis.zones.labels > 0, overlays.FACE_PAD)
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
        zones_table=zone_table(analysis.metrics),
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


def cleared(status: str, classes: list[int]) -> Dashboard:
    """The page without results: ``status`` says why; the legend of the parsing ``classes`` stays."""
    return Dashboard(status=status, score="", zones_table=None, details="", parsing=None,
                     legend=parsing_view(None, classes)[1], pores=None, zoom=[], zones=None, cutout=None,
                     heatmap_note="", density_figure=None, scores_figure=None, suggestions="", routine="", sources="")
