"""The report files behind the Report tab's download buttons, in the session's folder."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PIL import Image

from dashboard.session import Session
from poreseg import overlays
from poreseg.report import PNG_COMPRESSION, report_json, zones_csv


def report_files(session: Session) -> dict[str, Path]:
    """The downloads: report.json (schema 1), zones.csv and a PNG summary sheet, in the session's folder,
    with the before/after last shown. Each before/after set has its own folder, written once: rewriting
    one set of files cut short a download of the previous answer's files still under way."""
    after = session.after
    setting = "none" if after is None else "-".join(
        f"{value:g}" if isinstance(value, float) else str(value)
        for value in (after.simulation.product_id, after.simulation.strength, after.simulation.weeks))
    folder = session.folder / f"report-{setting}"
    files = {"json": folder / "poreseg-report.json", "csv": folder / "poreseg-zones.csv",
             "png": folder / "poreseg-summary.png"}
    if all(path.exists() for path in files.values()):
        return files
    folder.mkdir(exist_ok=True)
    analysis = replace(session.analysis, after=after)
    files["json"].write_text(report_json(analysis), encoding="utf-8")
    files["csv"].write_text(zones_csv(analysis), encoding="utf-8")
    Image.fromarray(overlays.summary_sheet(analysis, session.rgb)).save(files["png"], compress_level=PNG_COMPRESSION)
    return files
