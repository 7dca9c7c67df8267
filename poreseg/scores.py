"""Scores as they are written for people, the same everywhere: the dashboard, the command line, the report
files and the summary sheet.

A score is rounded down, never to the nearest: the band limits are whole numbers, so a score rounded down
always lies in the band named beside it (69.9 is "69, Good"; rounded to the nearest it would read "70, Good"
under a "Great 70+" legend), and one rule leaves no place to disagree with another (66.5 is 66 everywhere).
"""
from __future__ import annotations

import math


def whole_score(score: float) -> int:
    """The score as a whole number, as every view shows it."""
    return math.floor(score)


def score_tenths(score: float) -> float:
    """The score to a tenth, rounded down, as report.json carries it."""
    return math.floor(score * 10) / 10
