"""The report files behind the Report tab's download buttons, in the session's folder."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PIL import Image

from dashboard.session import Session, write_whole
from poreseg import overlays
from poreseg.report import PNG_COMPRESSION, report_json, zones_csv


def report_files(session: Session) -> dict[str, Path]:
    """The downloads: report.json (schema 1), zones.csv and a PNG summary sheet, in the session's folder,
    with the before/after last shown."""
    analysis = replace(session.analysis, after=session.after)
    folder = session.folder / "report"
    folder.mkdir(exist_ok=True)
    files = {"json": folder / "poreseg-report.json", "csv": folder / "poreseg-zones.csv",
             "png": folder / "poreseg-summary.png"}
    # Rewritten for each before/after while the previous answer's files may still be downloading.
    write_whole(files["json"], lambda path: path.write_text(report_json(analysis), encoding="utf-8"))
    write_whole(files["csv"], lambda path: path.write_text(zones_csv(analysis), encoding="utf-8"))
    sheet = overlays.summary_sheet(analysis, session.rgb)
    write_whole(files["png"], lambda path: Image.fromarray(sheet).save(path, compress_level=PNG_COMPRESSION))
    return files
