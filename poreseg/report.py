"""An analysis as files: report.json, zones.csv, overlay PNGs and a one-page PNG summary sheet; and a
batch's summary.csv, one row per image.

``write_report(analysis, rgb, out_dir)`` writes them all; the functions it uses return text or images,
for the app's downloads. Tables are pandas DataFrames: numbers stay numbers, a missing one stays empty.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from poreseg import overlays
from poreseg.analysis import Analysis
from poreseg.metrics import FaceMetrics, PoreMetrics
from poreseg.products import get_product
from poreseg.scores import whole_score
from poreseg.zones import ZONE_TITLES

ZONE_COLUMNS = ("zone", "pore_count", "density_per_cm2", "mean_diameter_mm", "p95_diameter_mm", "area_fraction",
                "score", "band", "skin_area_cm2")
PNG_COMPRESSION = 1  # zlib level: 4x faster than Pillow's default 6 on photos, files about 15% larger
SHEET_PANEL = 420  # px, side of each picture on the summary sheet
SHEET_MARGIN = 16
INK, MUTED, WARNING = (20, 20, 20), (110, 110, 110), (170, 60, 0)


def report_json(analysis: Analysis) -> str:
    return json.dumps(analysis.to_dict(), indent=2, ensure_ascii=False)


def _rows(metrics: FaceMetrics) -> list[tuple[str, PoreMetrics]]:
    return [*metrics.zones.items(), ("face", metrics.face)]


def zone_rows(analysis: Analysis) -> list[dict]:
    """One row per zone and one for the whole face ("face"); with a simulation, ``after_*`` columns."""
    after = dict(_rows(analysis.after.metrics)) if analysis.after else {}
    rows = []
    for zone, numbers in _rows(analysis.metrics):
        values = numbers.to_dict()
        row = {"zone": zone, **{c: values[c] for c in ZONE_COLUMNS[1:]}}
        if zone in after:
            after_values = after[zone].to_dict()
            row.update({f"after_{c}": after_values[c] for c in ZONE_COLUMNS[1:]})
        rows.append(row)
    return rows


def zones_frame(analysis: Analysis) -> pd.DataFrame:
    """``zone_rows`` as a table; pore counts are nullable integers, so a count that is missing stays
    empty instead of turning the column into floats."""
    frame = pd.DataFrame(zone_rows(analysis))
    return frame.astype({column: "Int64" for column in frame.columns if column.endswith("pore_count")})


def zones_csv(analysis: Analysis) -> str:
    return zones_frame(analysis).to_csv(index=False, lineterminator="\n")


SUMMARY_FACE_COLUMNS = ("pore_count", "density_per_cm2", "mean_diameter_mm", "area_fraction", "score", "band")
SUMMARY_COLUMNS = ("image", "report_folder", "error", "method", "faces_found", "pores_measured", "mm_per_px",
                   *SUMMARY_FACE_COLUMNS, "warnings")


def summary_row(image: Path, report: dict | None = None, folder: Path | None = None, error: str = "") -> dict:
    """One image of a batch: its report's whole-face numbers (``report``, schema 1, written to ``folder``),
    or the ``error`` that stopped it."""
    if report is None:
        return {"image": str(image), "error": error}
    face = report["face"]
    return {"image": str(image), "report_folder": str(folder), "error": "", "method": report["method"],
            "faces_found": report["faces_found"], "pores_measured": report["pores_measured"],
            "mm_per_px": report["mm_per_px"], **{key: face[key] for key in SUMMARY_FACE_COLUMNS},
            "warnings": len(report["warnings"])}


def write_summary(rows: list[dict], out_dir: str | Path) -> Path:
    """summary.csv in ``out_dir``: one row per image of a batch (``summary_row``)."""
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    frame = frame.astype({"faces_found": "Int64", "pore_count": "Int64", "warnings": "Int64"})
    path = Path(out_dir) / "summary.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def face_window(analysis: Analysis, pad: float = 0.2) -> tuple[slice, slice]:
    """Rows and columns of the photo around the face's zones (the whole photo if there are none)."""
    ys, xs = np.nonzero(analysis.zones.labels)
    h, w = analysis.image_size
    if ys.size == 0:
        return slice(0, h), slice(0, w)
    side = max(np.ptp(ys), np.ptp(xs))
    cy, cx, half = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2, int(side * (0.5 + pad))
    return slice(max(0, cy - half), min(h, cy + half)), slice(max(0, cx - half), min(w, cx + half))


def _panel(image: np.ndarray, title: str) -> np.ndarray:
    """``image`` fitted into a SHEET_PANEL square on white, titled above."""
    scale = SHEET_PANEL / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    fitted = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    panel = np.full((SHEET_PANEL + 28, SHEET_PANEL, 3), 255, np.uint8)
    top, left = 28 + (SHEET_PANEL - size[1]) // 2, (SHEET_PANEL - size[0]) // 2
    panel[top:top + size[1], left:left + size[0]] = fitted
    cv2.putText(panel, title, (4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, INK, 1, cv2.LINE_AA)
    return panel


def _pores_marked(crop: np.ndarray, pore_mask: np.ndarray) -> np.ndarray:
    """Pores filled in colour at panel size, where a one-pixel outline would vanish."""
    scale = SHEET_PANEL / max(crop.shape[:2])
    if scale >= 1:
        return overlays.pores_outlined(crop, pore_mask)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    small[cv2.resize(pore_mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0] = overlays.PORE_OUTLINE
    return small


def zone_table(metrics: FaceMetrics) -> pd.DataFrame:
    """The zones, then the whole face, as people read them: titles, numbers rounded for display (a score
    to the whole point below, poreseg.scores), missing values empty (<NA>, None)."""
    def rounded(value: float | None, digits: int) -> float | None:
        return None if value is None else round(value, digits)

    rows = [{"zone": "whole face" if zone == "face" else ZONE_TITLES[zone], "pores": numbers.pore_count,
             "per cm²": rounded(numbers.density_per_cm2, 1), "mean mm": rounded(numbers.mean_diameter_mm, 2),
             "area %": rounded(None if numbers.area_fraction is None else 100 * numbers.area_fraction, 2),
             "score": None if numbers.score is None else whole_score(numbers.score), "band": numbers.band}
            for zone, numbers in _rows(metrics)]
    return pd.DataFrame(rows, dtype=object).astype({"pores": "Int64", "per cm²": "Float64", "mean mm": "Float64",
                                                    "area %": "Float64", "score": "Int64"})


# The summary sheet's zone table: zone_table's columns, as OpenCV's fonts can write them, and their x.
TABLE_COLUMNS = (("zone", 0, "s"), ("pores", 150, "d"), ("per cm2", 240, ".1f"), ("mean mm", 340, ".2f"),
                 ("area %", 440, ".2f"), ("score", 530, "d"), ("band", 610, "s"))


def zone_table_text(metrics: FaceMetrics) -> list[list[str]]:
    """zone_table's header and rows as text cells, "-" where a value is missing."""
    rows = zone_table(metrics).itertuples(index=False)
    return [[name for name, _, _ in TABLE_COLUMNS]] + [
        ["-" if pd.isna(value) else format(value, spec) for value, (_, _, spec) in zip(row, TABLE_COLUMNS)]
        for row in rows]


def simulation_line(analysis: Analysis) -> str:
    """The before/after of the analysis in one line, for the summary sheet."""
    s, after = analysis.after.simulation, analysis.after.metrics.face
    before = analysis.metrics.face
    scores = (f": pore score {whole_score(before.score)} -> {whole_score(after.score)} measured on the simulated photo"
              if before.score is not None and after.score is not None else "")
    return (f"Simulated: {get_product(s.product_id).name}, {s.weeks:g} weeks at {s.strength:.0%} strength"
            f"{scores} (an illustration, not a promise)")


def _text_panel(analysis: Analysis, width: int) -> np.ndarray:
    """The headline score, the scale, the zone table, the before/after if any and the warnings, on white."""
    face = analysis.metrics.face
    headline = ("Pores not measured in this photo" if face.score is None
                else f"Pore score {whole_score(face.score)} / 100 ({face.band})")
    scale = ("no mm scale (eyes not both visible)" if analysis.mm_per_px is None
             else f"{analysis.mm_per_px:.3f} mm per pixel, estimated from the eye distance")
    table = zone_table_text(analysis.metrics)
    notes = [(line, WARNING) for w in analysis.warnings for line in textwrap.wrap("! " + w, 95)]
    if analysis.after is not None:
        notes[:0] = [(line, INK) for line in textwrap.wrap(simulation_line(analysis), 95)]
    line = 24
    panel = np.full((SHEET_MARGIN * 2 + line * (3 + len(table) + len(notes)) + 16, width, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(panel, headline, (SHEET_MARGIN, SHEET_MARGIN + 22), font, 0.9, INK, 2, cv2.LINE_AA)
    cv2.putText(panel, f"method {analysis.method}; {scale}", (SHEET_MARGIN, SHEET_MARGIN + 22 + line), font, 0.5,
                MUTED, 1, cv2.LINE_AA)
    y = SHEET_MARGIN + 22 + 2 * line + 8
    for r, cells in enumerate(table):
        for text, (_, x, _) in zip(cells, TABLE_COLUMNS):
            cv2.putText(panel, text, (SHEET_MARGIN + x, y), font, 0.55, MUTED if r == 0 else INK, 1, cv2.LINE_AA)
        y += line
    for text, colour in notes:
        cv2.putText(panel, text, (SHEET_MARGIN, y + 8), font, 0.5, colour, 1, cv2.LINE_AA)
        y += line
    return panel


def summary_sheet(analysis: Analysis, rgb: np.ndarray) -> np.ndarray:
    """One RGB page: pores on the photo, the density heatmap, the zones, and the numbers."""
    rows, cols = face_window(analysis)
    crop = np.asarray(rgb, np.uint8)[rows, cols]
    pictures = [_panel(_pores_marked(crop, analysis.pores.mask[rows, cols]) if analysis.pores else crop,
                       "pores" if analysis.pores else "photo (pores not measured)")]
    if analysis.density is not None:
        reference = analysis.metrics.reference
        pictures.append(_panel(overlays.density_overlay(rgb, analysis.density, reference)[rows, cols],
                               f"pore density (0-{overlays.density_top(reference):.3g}+ per cm2)"))
    pictures.append(_panel(overlays.zones_overlay(rgb, analysis.zones)[rows, cols], "zones"))
    gap = np.full((pictures[0].shape[0], SHEET_MARGIN, 3), 255, np.uint8)
    strip = np.hstack([part for picture in pictures for part in (gap, picture)] + [gap])
    top = np.full((SHEET_MARGIN, strip.shape[1], 3), 255, np.uint8)
    return np.vstack([top, strip, _text_panel(analysis, strip.shape[1])])


def write_report(analysis: Analysis, rgb: np.ndarray, out_dir: str | Path) -> dict[str, Path]:
    """Write report.json, zones.csv, the overlays and summary.png into ``out_dir``; returns the paths by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rgb = np.asarray(rgb, np.uint8)
    written = {"report": out / "report.json", "zones_csv": out / "zones.csv"}
    written["report"].write_text(report_json(analysis), encoding="utf-8")
    written["zones_csv"].write_text(zones_csv(analysis), encoding="utf-8")
    # Drawn one at a time as they are saved: a full-resolution picture is 50 MB at 16 MP.
    pictures = {
        "parsing": lambda: overlays.labels_with_legend(rgb, analysis.parsing.labels),
        "portrait": lambda: overlays.portrait_cutout(rgb, analysis.person),
        "zones": lambda: overlays.zones_overlay(rgb, analysis.zones),
        "summary": lambda: summary_sheet(analysis, rgb),
    }
    if analysis.pores is not None:
        pictures["pores"] = lambda: overlays.pores_outlined(rgb, analysis.pores.mask, analysis.pores.uncertain)
    if analysis.density is not None:
        pictures["density"] = lambda: overlays.density_overlay(rgb, analysis.density, analysis.metrics.reference)
    if analysis.after is not None:
        pictures["after"] = lambda: analysis.after.simulation.after
    for name, draw in pictures.items():
        written[name] = out / f"{name}.png"
        Image.fromarray(draw()).save(written[name], compress_level=PNG_COMPRESSION)
    return written
