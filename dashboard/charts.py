"""Interactive Plotly figures: the pore density heatmap over the face and the zone scores against the
score bands. Drawing only: the numbers come from poreseg.density and poreseg.metrics."""
from __future__ import annotations

import base64
import io

import cv2
import numpy as np
import plotly.graph_objects as go
from PIL import Image

from poreseg.density import DensityMap
from poreseg.metrics import SCORE_BANDS, FaceMetrics, ScoreReference
from poreseg import draw
from poreseg.overlays import FACE_PAD, density_colours, density_top
from poreseg.scores import whole_score
from poreseg.zones import ZONE_TITLES, ZONES, around

BAND_COLOURS = {"Excellent": "#1a9850", "Great": "#91cf60", "Good": "#d9ef8b", "Average": "#fee08b",
                "Poor": "#fc8d59"}
HEATMAP_MAX_CELLS = 160  # per side: the map is smooth over a centimetre, more cells only weigh on the page
PHOTO_MAX_SIDE = 900
HEATMAP_HEIGHT = 640  # px: the face large enough to read the map
OVERLAY_OPACITY = 0.55
EDGE_FILL_CELLS = 1.5  # sigma, in grid cells, of the mean that fills the empty cells along the face's edge


def jpeg_data_uri(rgb: np.ndarray, quality: int = 85) -> str:
    """The photo as an inline JPEG: a tenth of the bytes Plotly's own PNG encoding takes for a photo."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def smooth_density(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Grid ``values`` (NaN off the face) interpolated to ``size`` (width, height) pixels. The empty cells
    along the face's edge first take the mean of their neighbours, so the edge is not a staircase of
    cells; the caller cuts the map to the face's own outline."""
    valid = np.isfinite(values)
    weight = cv2.GaussianBlur(valid.astype(np.float32), (0, 0), EDGE_FILL_CELLS)
    spread = cv2.GaussianBlur(np.where(valid, values, 0).astype(np.float32), (0, 0), EDGE_FILL_CELLS)
    filled = np.where(valid, values, spread / np.maximum(weight, 1e-6)).astype(np.float32)
    return cv2.resize(filled, size, interpolation=cv2.INTER_LINEAR)


def _group_centres(first: int, count: int, stride: int, cell: float, size: int) -> np.ndarray:
    """Image coordinates of the middles of ``count`` groups of ``stride`` grid cells from cell ``first``,
    along a side of ``size`` pixels: the grid's last cell may reach past the photo, its middle may not."""
    starts = (first + np.arange(count) * stride) * cell
    return (starts + np.minimum(starts + stride * cell, size)) / 2


def density_figure(rgb: np.ndarray, density: DensityMap, reference: ScoreReference,
                   face: np.ndarray) -> go.Figure:
    """The pore density per cm2 over the face photo: a smooth colour overlay cut to ``face`` (HxW bool,
    the zones) under an invisible heatmap of the grid that answers the hover (value and zone) and draws
    the colour bar. The colour scale is the density overlay's (0 to density_top of the score's
    ``reference``): the same for every photo analysed with a method."""
    rows, cols = around(np.isfinite(density.per_cm2), FACE_PAD)  # grid cells around those with a value
    stride = max(1, int(np.ceil(max(rows.stop - rows.start, cols.stop - cols.start) / HEATMAP_MAX_CELLS)))
    values = density.per_cm2[rows, cols][::stride, ::stride]
    zone_names = np.array(["", *(ZONE_TITLES[z] for z in ZONES)])[density.zone_ids[rows, cols][::stride, ::stride]]
    cell = density.cell_px
    h, w = rgb.shape[:2]
    xs = _group_centres(cols.start, values.shape[1], stride, cell, w)
    ys = _group_centres(rows.start, values.shape[0], stride, cell, h)
    x0, x1 = int(cols.start * cell), min(w, int(np.ceil(cols.stop * cell)))
    y0, y1 = int(rows.start * cell), min(h, int(np.ceil(rows.stop * cell)))
    photo = rgb[y0:y1, x0:x1]
    shrink = min(1.0, PHOTO_MAX_SIDE / max(photo.shape[:2]))
    size = (max(1, round(photo.shape[1] * shrink)), max(1, round(photo.shape[0] * shrink)))
    if shrink < 1.0:
        photo = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
    top = density_top(reference)  # fixed per method: a colour means the same density on every photo
    # The grid cells of the photo's window, interpolated to its pixels and cut to the face's outline.
    smooth = smooth_density(density.per_cm2[rows, cols], size)
    on_face = cv2.resize(face[y0:y1, x0:x1].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    photo = draw.blend(photo, on_face, density_colours(smooth[on_face], top), OVERLAY_OPACITY)
    dx, dy = (x1 - x0) / photo.shape[1], (y1 - y0) / photo.shape[0]
    figure = go.Figure(go.Image(source=jpeg_data_uri(photo), x0=x0 + dx / 2, y0=y0 + dy / 2, dx=dx, dy=dy,
                                hoverinfo="skip"))
    figure.add_trace(go.Heatmap(
        z=values, x=xs, y=ys, text=zone_names, zmin=0, zmax=top, colorscale="YlOrRd", opacity=0,
        hovertemplate="%{z:.1f} pores/cm²<br>%{text}<extra></extra>", hoverongaps=False,
        colorbar={"title": {"text": "pores/cm²"}, "thickness": 14,
                  "tickvals": [0, top / 2, top], "ticktext": ["0", f"{top / 2:.3g}", f"{top:.3g}+"]}))
    figure.update_xaxes(range=[x0, x1], visible=False, constrain="domain")
    figure.update_yaxes(range=[y1, y0], visible=False, scaleanchor="x")
    figure.update_layout(title="Pore density", margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         plot_bgcolor="white", dragmode="zoom", height=HEATMAP_HEIGHT)
    return figure


def zone_scores_figure(metrics: FaceMetrics) -> go.Figure:
    """Bars of the pore score per zone and for the whole face, over the score bands."""
    places = [(ZONE_TITLES[name], m) for name, m in metrics.zones.items()] + [("whole face", metrics.face)]
    figure = go.Figure()
    bottoms = [lowest for _, lowest in SCORE_BANDS]
    tops = [100.0, *bottoms[:-1]]
    for (band, lowest), top in zip(SCORE_BANDS, tops):
        figure.add_hrect(y0=lowest, y1=top, fillcolor=BAND_COLOURS[band], opacity=0.25, line_width=0, layer="below",
                         annotation_text=band, annotation_position="outside right", annotation_font_size=11)
    measured = [(title, m) for title, m in places if m.score is not None]
    figure.add_trace(go.Bar(
        x=[title for title, _ in measured], y=[m.score for _, m in measured],
        marker_color=[BAND_COLOURS[m.band] for _, m in measured], marker_line={"color": "#333", "width": 1},
        text=[str(whole_score(m.score)) for _, m in measured], textposition="outside",
        customdata=[[m.band, m.pore_count, m.density_per_cm2 if m.density_per_cm2 is not None else float("nan"),
                     100 * m.area_fraction] for _, m in measured],
        hovertemplate=("%{x}: score %{text} (%{customdata[0]})<br>%{customdata[1]} pores, "
                       "%{customdata[2]:.1f}/cm², %{customdata[3]:.2f}% of the skin<extra></extra>")))
    figure.update_yaxes(range=[0, 105], title="pore score (higher is better)")
    figure.update_xaxes(categoryorder="array", categoryarray=[title for title, _ in places])
    figure.update_layout(title="Pore score by zone", showlegend=False, margin={"l": 10, "r": 72, "t": 40, "b": 10},
                         plot_bgcolor="white")
    return figure
