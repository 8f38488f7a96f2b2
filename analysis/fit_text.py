"""How a fitted law shows itself: one line (repr), a small HTML table (notebooks) and its number formats. Shared by
the one-stage fit (analysis.collapse) and the two-stage one (analysis.law)."""
from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from analysis.json_safe import json_number
from analysis.optimum import SCHEMA_VERSION, optima_records
from analysis.sizes import format_size
from analysis.validate import check_alpha

EQUATIONS = {"linear": "T* = slope * S + intercept_params", "proportional": "T* = slope * S",
             "power": "T* = coefficient * S ** exponent"}


def fit_repr(fit, method: str) -> str:
    """One line: 'LawFit(linear, one-stage, val_loss: slope 2.43 [1.83, 3.28]; 6 students)'."""
    ci = fit.conf_int()
    name = fit.params.index[-1] if fit.form == "power" else fit.params.index[0]
    lo, hi = ci.at[name, "lower"], ci.at[name, "upper"]
    return (f"{type(fit).__name__}({fit.form}, {method}, {fit.metric}: {name} {fit.params[name]:.4g} "
            f"[{fmt_number(lo)}, {fmt_number(hi)}]; {fit.nobs} students)")


def fit_repr_html(fit, method: str) -> str:
    """A small HTML table of the params and their intervals, for notebooks (text escaped)."""
    ci = fit.conf_int()
    level = f"{100 * (1 - fit.alpha):g}%"
    def fmt(name):
        return fmt_params if name.endswith("_params") else fmt_number

    rows = "".join(f"<tr><td>{html.escape(str(n))}</td><td>{fmt(n)(v)}</td><td>{fmt(n)(ci.at[n, 'lower'])}"
                   f"</td><td>{fmt(n)(ci.at[n, 'upper'])}</td></tr>" for n, v in fit.params.items())
    caption = html.escape(f"{EQUATIONS[fit.form]} ({method}, {fit.metric}; {fit.nobs} students)")
    return (f"<table><caption>{caption}</caption><tr><th>param</th><th>estimate</th><th>{level} lower</th>"
            f"<th>{level} upper</th></tr>{rows}</table>")


def fmt_number(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.4g}"


def fmt_params(x: float) -> str:
    """A signed size in the summary's columns: -147K, 2.5B ("nan" when missing)."""
    return "nan" if is_missing(x) else fmt_signed_size(x)


# Numbers for people (app, CLI, report, paper tables): a size at the scale that keeps its digits, never -0.1M;
# an interval whose two ends never read the same when they differ.
def is_missing(value) -> bool:
    """None, NA, NaN or inf (also for values pandas cannot test)."""
    try:
        return value is None or pd.isna(value) or (isinstance(value, float) and not math.isfinite(value))
    except (TypeError, ValueError):
        return False


def fmt_signed_size(value, digits: int = 3) -> str:
    """A signed parameter count at the scale that keeps its digits: -147K (never -0.1M), 2.5B, 0; "—" if missing."""
    if is_missing(value):
        return "—"
    v = float(value)
    if v == 0:
        return "0"
    return ("-" if v < 0 else "") + format_size(abs(v), digits=digits)


def fmt_value(value, digits: int = 4) -> str:
    """A statistic to `digits` significant digits; "—" if missing."""
    return "—" if is_missing(value) else f"{float(value):.{digits}g}"


def fmt_interval(lower, upper, kind: str = "size") -> str:
    """'1.1B – 1.5B', '-470K – 180K', '2.31 – 2.58': each end at its own scale, with more significant digits until
    the ends differ (an interval never reads '0M – 0M' or '1.2B – 1.2B' unless its ends are equal); open on one
    side, the bound alone: '< 3.1B', '> 1.5B'; '—' when neither end is known."""
    one = fmt_signed_size if kind == "size" else fmt_value
    if is_missing(lower) and is_missing(upper):
        return "—"
    if is_missing(lower) or is_missing(upper):  # open on one side: only a bound is known
        return f"< {one(upper)}" if is_missing(lower) else f"> {one(lower)}"
    for digits in range(3, 8):
        lo, hi = one(lower, digits), one(upper, digits)
        if lo != hi or float(lower) == float(upper):
            return f"{lo} – {hi}"
    return f"{lo} – {hi}"


def param_lines(fit, table) -> list[str]:
    """The summary's parameter table: a header and one line per parameter (estimate, std err, interval)."""
    level = f"{100 * (1 - fit.alpha):g}%"
    lines = [f"  {'param':<18}{'estimate':>14}{'std err':>14}{'ci_lower':>14}{'ci_upper':>14}   ({level})"]
    for name, row in table.iterrows():
        fmt = fmt_params if name == "intercept_params" else fmt_number
        lines.append(f"  {name:<18}" + "".join(f"{fmt(row[c]):>14}" for c in ("estimate", "bse", "lower", "upper")))
    return lines


def law_json(fit, table) -> dict:
    """The law JSON's keys every fit shares (the CLI contract): schema_version, metric, form, alpha, n_points,
    params {name: estimate, ci_lower, ci_upper}, r2, optima."""
    return {
        "schema_version": SCHEMA_VERSION,
        "metric": fit.metric,
        "form": fit.form,
        "alpha": fit.alpha,
        "n_points": fit.nobs,
        "params": {name: {"estimate": json_number(row["estimate"]), "ci_lower": json_number(row["lower"]),
                          "ci_upper": json_number(row["upper"])} for name, row in table.iterrows()},
        "r2": json_number(fit.rsquared),
        "optima": optima_records(fit.optima),
    }


class FitResults:
    """What every fitted law shares, read off its `_table(alpha)` (estimate, bse, lower, upper per parameter):
    params, bse, conf_int(alpha), and how it shows itself (`METHOD` names the estimator)."""

    METHOD = "law"

    @property
    def params(self):
        """Estimates in raw units: slope, intercept_params | slope | coefficient, exponent."""
        return self._table(self.alpha)["estimate"].rename(None)

    @property
    def bse(self):
        """Standard errors in raw units (the power coefficient's by the delta method)."""
        return self._table(self.alpha)["bse"].rename(None)

    def conf_int(self, alpha: float | None = None):
        """(1 - alpha) intervals of the params (index: param names; columns lower, upper); NaN where none."""
        alpha = self.alpha if alpha is None else check_alpha(alpha)
        return self._table(alpha)[["lower", "upper"]]

    def __repr__(self) -> str:
        return fit_repr(self, self.METHOD)

    def _repr_html_(self) -> str:
        return fit_repr_html(self, self.METHOD)
