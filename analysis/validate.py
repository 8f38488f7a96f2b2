"""The checks every public function of analysis applies to its arguments, written once: an interval level
`alpha` and arrays of model sizes. Errors say what was expected and what was found."""
from __future__ import annotations

import numpy as np


def check_alpha(alpha) -> float:
    """alpha as a float in (0, 1), or ValueError ("0.05 for 95% intervals")."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)) or not 0 < alpha < 1:
        raise ValueError(f"alpha: expected a number between 0 and 1 (0.05 for 95% intervals), found {alpha!r}")
    return float(alpha)


def positive_sizes(values, name: str) -> np.ndarray:
    """A 1-D float array of positive, finite parameter counts (a scalar becomes one element), or ValueError."""
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected parameter counts such as 1300000000, found {values!r}") from exc
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a number or a 1-D list of numbers, found {values!r}")
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        raise ValueError(f"{name}: expected positive, finite parameter counts, found {arr[bad][0]!r}")
    return arr
