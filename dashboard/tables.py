"""The Before/after tab's table, as a pandas DataFrame behind gr.Dataframe: numbers stay numbers."""
from __future__ import annotations

import pandas as pd


BEFORE_AFTER_COLUMNS = ("pores", "area %", "score")


def before_after_table(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Zone tables (tables.zone_table) before and after side by side: pores, area and score, each as a
    "before" and an "after" column."""
    columns = {"zone": before["zone"]}
    for name in BEFORE_AFTER_COLUMNS:
        columns[f"{name} before"], columns[f"{name} after"] = before[name], after[name]
    return pd.DataFrame(columns)
