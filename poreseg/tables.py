"""An analysis as tables (pandas DataFrames: numbers stay numbers, a missing one stays empty): the zones as
zones.csv has them, the zone table as people read it, and one image's row of a batch's summary.csv."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from poreseg.metrics import FaceMetrics, PoreMetrics
from poreseg.scores import whole_score
from poreseg.zones import ZONE_TITLES

if TYPE_CHECKING:
    from poreseg.analysis import Analysis

ZONE_COLUMNS = ("zone", "pore_count", "density_per_cm2", "mean_diameter_mm", "p95_diameter_mm", "area_fraction",
                "score", "band", "skin_area_cm2")


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
