"""JSON-safe values for our own JSON (STYLE.md rule 8): numbers as Python numbers, `None` for NaN/NA/inf.

Every `to_dict()` and the CLI's `--json` output go through these, so `json.dumps(..., allow_nan=False)` never fails.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd


def json_number(value, integer: bool = False):
    """A number or None: None for None/NA/NaN/inf; int (rounded) for whole counts when `integer`."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    return int(round(value)) if integer else value


def json_value(value):
    """A JSON-ready scalar: numpy -> Python, bools stay bools, ints stay ints, NaN/NA -> None, others unchanged."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return json_number(value)
    return value


def json_safe(obj):
    """`obj` with every dict, list and tuple walked and every scalar made JSON-ready (json_value)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return json_value(obj)
