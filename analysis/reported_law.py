"""The law of capacity gap as reported by Zhang et al. (ACL 2025), bundled in `analysis/data/reported_law.json`.

    T* = 2.498 * S - 11.498   (S, T* in millions of parameters; R^2 = 0.9957)

Source: Zhang, Li, Song, Ye, Gao, Hu. *Towards the Law of Capacity Gap in Distilling Language Models*, ACL 2025
(arXiv 2311.07052), through a secondary summary of the ACL version (see the JSON's caveats). We keep it in raw
parameter counts (slope 2.498, intercept -11.498e6 params) and always label it "as reported": no interval was
published, so `predict` and `invert` return the statsmodels column names of `LawFit` with NaN intervals.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import json_io
from analysis.validate import positive_sizes

REPORTED_LAW_PATH = Path(__file__).parent / "data" / "reported_law.json"

# The columns of LawFit.predict / statsmodels' get_prediction().summary_frame(), in that order.
PREDICTION_COLUMNS = ("mean", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper")

# The pilot behind the reported law used GPT-2 and Pythia students and teachers below 3B parameters (the JSON's
# `fitted_on`); a predicted optimal teacher above this is an extrapolation of the reported line.
REPORTED_FIT_MAX_PARAMS = 3_000_000_000

_REQUIRED_KEYS = {"slope": float, "intercept_params": float, "r_squared": float, "paper": str, "caveats": list}


@dataclass(frozen=True)
class ReportedLaw:
    """The reported linear law T* = slope * S + intercept_params, in raw parameter counts."""

    slope: float  # dimensionless: optimal-teacher params per student param (2.498 as reported)
    intercept_params: float  # params (-11.498e6 as reported: -11.498 in millions)
    r_squared: float  # as reported (0.9957); the per-point data were not published
    paper: str  # the citation
    caveats: tuple[str, ...]  # sentences shown wherever the law is used
    equation: str = ""  # the equation as written in the source, with its units
    fitted_on: str = ""  # what the pilot study fitted the law on
    extrapolation_check: str = ""  # the paper's out-of-range check (MiniMA)
    label: str = "as reported"  # the app and the figures name it this way, never "fit"
    form: str = "linear"
    fit_max_params: int = REPORTED_FIT_MAX_PARAMS  # sizes beyond this are extrapolation

    @property
    def params(self) -> pd.Series:
        """The estimates under LawFit's parameter names (no bse, no interval: none was reported)."""
        return pd.Series({"slope": self.slope, "intercept_params": self.intercept_params}, dtype=float)

    def predict(self, student_params, alpha: float | None = None) -> pd.DataFrame:
        """T* for each student size (raw params). Intervals are NaN: the paper reports none.

        `alpha` is accepted (and ignored) so that a ReportedLaw can stand wherever a LawFit is used.
        """
        s = positive_sizes(student_params, "student_params")
        return _prediction_frame(self.slope * s + self.intercept_params, s, "student_params")

    def invert(self, teacher_params, alpha: float | None = None) -> pd.DataFrame:
        """The student size a teacher best serves: S = (T - intercept) / slope, with NaN intervals."""
        t = positive_sizes(teacher_params, "teacher_params")
        return _prediction_frame((t - self.intercept_params) / self.slope, t, "teacher_params")

    def to_dict(self) -> dict:
        """The reported law as JSON-ready data (the bundled file's fields, plus the label)."""
        return {
            "schema_version": 1,
            "form": self.form,
            "label": self.label,
            "paper": self.paper,
            "equation": self.equation,
            "slope": self.slope,
            "intercept_params": self.intercept_params,
            "r_squared": self.r_squared,
            "fitted_on": self.fitted_on,
            "extrapolation_check": self.extrapolation_check,
            "caveats": list(self.caveats),
        }


def load_reported_law(path: str | Path | None = None) -> ReportedLaw:
    """Read the bundled reported law (or a file of the same shape); errors name the file and the key."""
    path = Path(path) if path is not None else REPORTED_LAW_PATH
    try:
        raw = json_io.loads(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path.name}: cannot read the reported law: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path.name}: expected a JSON object, found {type(raw).__name__}")
    for key, kind in _REQUIRED_KEYS.items():
        if key not in raw:
            raise ValueError(f"{path.name}: missing key {key!r}")
        value = raw[key]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) \
            if kind is float else isinstance(value, kind)
        if not ok:
            raise ValueError(f"{path.name}, key {key!r}: expected a {kind.__name__}, found {value!r}")
    if raw["slope"] <= 0:
        raise ValueError(f"{path.name}, key 'slope': expected a positive number, found {raw['slope']!r}")
    return ReportedLaw(
        slope=float(raw["slope"]),
        intercept_params=float(raw["intercept_params"]),
        r_squared=float(raw["r_squared"]),
        paper=raw["paper"],
        caveats=tuple(str(c) for c in raw["caveats"]),
        equation=str(raw.get("equation", "")),
        fitted_on=str(raw.get("fitted_on", "")),
        extrapolation_check=str(raw.get("extrapolation_check", "")),
    )


def _prediction_frame(mean: np.ndarray, index: np.ndarray, index_name: str) -> pd.DataFrame:
    nan = np.full(len(mean), np.nan)
    frame = pd.DataFrame({"mean": mean, **{c: nan for c in PREDICTION_COLUMNS[1:]}},
                         index=pd.Index(index, name=index_name))
    return frame[list(PREDICTION_COLUMNS)]
