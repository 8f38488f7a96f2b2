"""CSV that a spreadsheet opens as data: text cells it would run as a formula are neutralised.

A cell that begins with =, +, -, @, a tab or a carriage return is a formula to Excel, LibreOffice and Google Sheets
(OWASP, "CSV Injection"): a model name `=cmd|' /C calc'!A0` from an lm-eval file would run on opening. Every CSV
the project writes goes through `to_safe_csv`, which prefixes such text cells with a single quote (the
spreadsheet then shows the text as written). Numeric columns are left alone: -0.5 stays a number.
"""
from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """The cell as a spreadsheet should see it: text that starts a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_safe_csv(frame: pd.DataFrame) -> str:
    """frame.to_csv(index=False) with every text cell neutralised (column names too)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out.to_csv(index=False)
