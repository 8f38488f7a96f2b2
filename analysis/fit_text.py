"""How a fitted law shows itself: one line (repr), a small HTML table (notebooks) and its number formats. Shared by
the one-stage fit (analysis.collapse) and the two-stage one (analysis.law)."""
from __future__ import annotations

import html

import numpy as np

from analysis.sizes import format_size

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
