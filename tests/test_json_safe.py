"""Our JSON carries numbers as numbers and null for missing (STYLE.md rule 8)."""
import json

import numpy as np
import pandas as pd

from analysis.json_safe import json_number, json_safe


def test_missing_and_infinite_numbers_become_null_and_counts_become_ints():
    assert [json_number(v) for v in (None, pd.NA, np.nan, np.inf, 2.5)] == [None, None, None, None, 2.5]
    assert json_number(np.float64(1.3e9), integer=True) == 1_300_000_000


def test_nested_numpy_values_dump_as_strict_json():
    obj = {"a": [np.int64(3), np.float32(0.5), np.bool_(True), np.nan], 1: ("x", pd.NA)}
    assert json.loads(json.dumps(json_safe(obj), allow_nan=False)) == {"a": [3, 0.5, True, None], "1": ["x", None]}
