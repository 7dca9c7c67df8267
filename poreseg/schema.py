"""The report (schema 1) as types: ``Analysis.to_dict()``, the command line's report.json, the dashboard's
download and the ``/analyze`` API's answer.

The TypedDicts document the report to Python (type checkers, the API page and ``gradio_client``); the
JSON Schema ``poreseg/data/report.schema.json`` documents it to everyone else and validates it.
tests/test_report_schema.py keeps the two in step and validates reports against the JSON Schema.
Metrics that cannot be given are None (null).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TypedDict

from poreseg.pores.methods import MethodName

SCHEMA_VERSION = 1
REPORT_SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "report.schema.json"


class PoreNumbers(TypedDict):
    """The pore metrics of one zone or of the whole face (poreseg.metrics.PoreMetrics)."""

    pore_count: int | None
    density_per_cm2: float | None
    mean_diameter_mm: float | None
    p95_diameter_mm: float | None
    area_fraction: float | None
    score: float | None  # 0-100, to a tenth rounded down
    band: str | None  # Excellent, Great, Good, Average or Poor
    skin_area_px: int
    skin_area_cm2: float | None


class ZoneNumbers(TypedDict):
    forehead: PoreNumbers
    nose: PoreNumbers
    left_cheek: PoreNumbers  # the subject's left
    right_cheek: PoreNumbers
    chin: PoreNumbers


class ImageSize(TypedDict):
    width: int
    height: int


class QualityCheckReport(TypedDict):
    name: str
    value: float
    limit: float
    passed: bool
    blocking: bool  # a failure means pores cannot be measured
    message: str


class QualityReport(TypedDict):
    pores_measurable: bool
    checks: list[QualityCheckReport]


class SuggestedProduct(TypedDict):
    id: str
    product: str
    category: str
    when: str  # morning, evening, morning+evening or weekly
    reason: str
    source: str


class Routine(TypedDict):
    morning: list[str]
    evening: list[str]
    weekly: list[str]


class SuggestionsReport(TypedDict):
    products: list[SuggestedProduct]
    routine: Routine
    disclaimer: str


class SimulationReport(TypedDict):
    product: str
    strength: float
    weeks: float
    expected_reduction: float
    changed_pixels: int
    face: PoreNumbers  # measured on the simulated photo
    zones: ZoneNumbers


class Report(TypedDict):
    schema: int  # SCHEMA_VERSION
    method: MethodName
    mm_per_px: float | None
    scale_source: str | None
    pore_px: float
    pores_measured: bool
    face: PoreNumbers
    zones: ZoneNumbers
    warnings: list[str]
    faces_found: int
    face_box: list[int] | None  # x0, y0, x1, y1 of the parsed face's features
    image: ImageSize
    quality: QualityReport
    suggestions: SuggestionsReport
    simulation: SimulationReport | None
    timings: dict[str, float]  # seconds per stage, and "total"


def report_schema() -> dict:
    """The JSON Schema of the report (draft 2020-12)."""
    return json.loads(REPORT_SCHEMA_PATH.read_text(encoding="utf-8"))
