"""How a fitted law shows itself: one line (repr), a small HTML table (notebooks) and its number formats. Shared by
the one-stage fit (analysis.collapse) and the two-stage one (analysis.law)."""
from __future__ import annotations

import html

import numpy as np

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
    rows = "".join(f"<tr><td>{html.escape(str(n))}</td><td>{fmt_number(v)}</td><td>{fmt_number(ci.at[n, 'lower'])}"
                   f"</td><td>{fmt_number(ci.at[n, 'upper'])}</td></tr>" for n, v in fit.params.items())
    caption = html.escape(f"{EQUATIONS[fit.form]} ({method}, {fit.metric}; {fit.nobs} students)")
    return (f"<table><caption>{caption}</caption><tr><th>param</th><th>estimate</th><th>{level} lower</th>"
            f"<th>{level} upper</th></tr>{rows}</table>")


def fmt_number(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.4g}"


def fmt_params(x: float) -> str:
    if not np.isfinite(x):
        return "nan"
    return ("-" if x < 0 else "") + format_size(abs(x)) if abs(x) >= 1000 else f"{x:.3g}"


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
