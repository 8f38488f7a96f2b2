"""How numbers are shown: every size carries its unit ("1.3B params"), every interval its level, and tables
get human size columns. Also the caveat and empty-state messages every page uses.
"""
from __future__ import annotations

import math
import re

import pandas as pd
import streamlit as st

SIZE_COLUMNS = ("student_params", "teacher_params", "params", "non_embedding_params", "ci_lower", "ci_upper",
                "mean", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper")


# what Markdown (and Streamlit's extensions: :red[..], :material/x:, :smile:, $latex$) would act on inside a line
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#!|<>~$]|:(?=[A-Za-z]))")
_LINE_START = re.compile(r"^(\s*)(?:([-+=>])|(\d+)([.)]))")  # a list / quote / heading marker at a line's start


def md(text) -> str:
    """`text` from data (a family, a file name, a metric, an error quoting a cell) made safe to put inside
    Markdown: every character Markdown or HTML would act on is escaped, so `![b](http://host/x.png)` shows as
    those characters instead of fetching an image, and a newline cannot start a heading."""
    flat = " ".join(str(text).split("\n"))
    escaped = _MARKDOWN_SPECIALS.sub(r"\\\1", flat)
    return _LINE_START.sub(lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\"
                                                   + m.group(4)), escaped)


def code(text) -> str:
    """`text` shown as inline code: backticks in it (which would end the code span) become quotes."""
    return "`" + str(text).replace("`", "'").replace("\n", " ") + "`"


def _finite(value) -> bool:
    try:
        return value is not None and not pd.isna(value) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def size(n_params, unit: str = "params") -> str:
    """'1.3B params'; '—' for a missing or non-positive value."""
    from analysis.sizes import format_size

    if not _finite(n_params) or float(n_params) <= 0:
        return "—"
    return f"{format_size(float(n_params))} {unit}".strip()


def interval(lower, upper, unit: str = "params") -> str:
    """'1.1B – 1.5B params', or 'not available' when either end is missing."""
    from analysis.fit_text import fmt_interval

    if not (_finite(lower) and _finite(upper)):
        return "not available"
    return f"{fmt_interval(lower, upper)} {unit}".strip()


def signed_size(value, unit: str = "params") -> str:
    """'-11.5M params' / '-147K params' (never '-0.1M') for a signed size (an intercept); '—' when missing."""
    from analysis.fit_text import fmt_signed_size

    if not _finite(value):
        return "—"
    return f"{fmt_signed_size(value)} {unit}".strip()


def bounds(lower, upper, fmt=lambda v: f"{v:.3g}", *, sizes: bool = False) -> str:
    """'1.9 – 3.1', 'above 1.9 (unbounded above)', 'below 3.1 (unbounded below)' or 'not available'. With
    sizes=True both ends are signed sizes written so that they differ when they differ ('-49K – 21K params', never
    '-0M – 0M')."""
    from analysis.fit_text import fmt_interval, fmt_signed_size

    lo, hi = _finite(lower), _finite(upper)
    if sizes:
        fmt = fmt_signed_size
    if lo and hi:
        return (f"{fmt_interval(lower, upper, 'size')} params" if sizes
                else fmt_interval(lower, upper, "number") if fmt(lower) == fmt(upper) and lower != upper
                else f"{fmt(lower)} – {fmt(upper)}")
    if lo:
        return f"above {fmt(lower)} (the data do not bound it above)"
    if hi:
        return f"below {fmt(upper)} (the data do not bound it below)"
    return "not available"


def level(alpha: float) -> str:
    """'95%' for alpha 0.05."""
    return f"{100 * (1 - alpha):g}%"


def humanize(table: pd.DataFrame, columns=SIZE_COLUMNS) -> pd.DataFrame:
    """A copy with parameter-count columns shown as '1.3B params' (raw counts stay in exports)."""
    out = table.copy()
    for col in columns:
        if col in out.columns:
            out[col] = out[col].map(lambda v: size(v))
    if "data_tokens" in out.columns:
        out["data_tokens"] = out["data_tokens"].map(lambda v: size(v, "tokens"))
    return out


SHOWN_KEY = "_caveats_shown_this_run"  # reset by app/main.py at the start of every full run


def show_caveats(messages, *, title: str | None = None, once: bool = True) -> None:
    """Each caveat as a yellow warning box in words. With `once`, a caveat already shown on this run of the
    page is not repeated (the law, the forms table and the bootstrap raise the same ones); inside a fragment
    pass once=False, since a fragment rerun redraws only itself."""
    shown = st.session_state.setdefault(SHOWN_KEY, set())
    for message in dict.fromkeys(str(m) for m in messages if str(m).strip()):
        if once and message in shown:
            continue
        shown.add(message)
        st.warning(md(message) if title is None else f"{title}: {md(message)}", icon=":material/warning:")


def show_refusal(message: str) -> None:
    """Where a number would be, the reason the data cannot give one (a refusal is an answer, not an error)."""
    st.warning(md(message), icon=":material/block:")


def empty_state(message: str) -> None:
    """A blue box that says what is missing and what to do next."""
    st.info(message, icon=":material/info:")


# ------------------------------------------------------------------------------------------ the law, shown
def optima_table(optima: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """find_optima's table for reading (sizes with units, tied teachers as a list) and its column labels."""
    def named(col):  # a names column only where some name is given
        return [col] if col in optima and optima[col].astype(str).str.len().any() else []

    cols = [c for c in ("family", "data_tokens", "student_params", *named("student_name"), "teacher_params",
                        *named("teacher_name"),
                        "ci_lower", "ci_upper", "censored", "tied_teachers", "method", "n_teachers", "n_runs",
                        "no_teacher_helps", "note")
            if c in optima]
    shown = humanize(optima[cols])
    if "tied_teachers" in shown:
        shown["tied_teachers"] = optima["tied_teachers"].map(lambda ts: ", ".join(size(t, "") for t in ts))
    return shown, {"student_name": "student", "teacher_name": "best tested teacher", "ci_lower": "interval from", "ci_upper": "interval to", "censored": "open side",
                   "tied_teachers": "tied with the best", "no_teacher_helps": "a teacher helps"}


def law_metrics(fit, alpha: float) -> None:
    """The law's headline numbers in four metrics: slope (or exponent), intercept, R², students."""
    ci = fit.conf_int(alpha)
    m = st.columns(4)
    key = "exponent" if "exponent" in fit.params else "slope"
    m[0].metric("Exponent p (1 = linear)" if key == "exponent" else "Slope k", f"{fit.params[key]:.3g}",
                f"{level(alpha)} CI {bounds(ci.loc[key, 'lower'], ci.loc[key, 'upper'])}",
                delta_color="off", delta_arrow="off", help="Optimal-teacher params per student param.")
    if "intercept_params" in fit.params:
        lo, hi = ci.loc["intercept_params", "lower"], ci.loc["intercept_params", "upper"]
        m[1].metric("Intercept b", signed_size(fit.params["intercept_params"]),
                    f"{level(alpha)} CI {bounds(lo, hi, sizes=True)}", delta_color="off", delta_arrow="off")
    m[2].metric("R² (bracketed optima)", "—" if pd.isna(fit.rsquared) else f"{fit.rsquared:.4f}")
    m[3].metric("Students", f"{fit.nobs:g}")


def param_table(fit, alpha: float) -> pd.DataFrame:
    """estimate and interval of each parameter, written to read (sizes as -147K, statistics to 4 digits)."""
    from analysis.fit_text import fmt_interval, fmt_signed_size, fmt_value

    ci = fit.conf_int(alpha)
    rows = {}
    for name, est in fit.params.items():
        size_like = name.endswith("_params")
        rows[name] = {"estimate": fmt_signed_size(est) if size_like else fmt_value(est),
                      f"{level(alpha)} CI": fmt_interval(ci.at[name, "lower"], ci.at[name, "upper"],
                                                         "size" if size_like else "number")}
    return pd.DataFrame.from_dict(rows, orient="index")


def readable_forms(forms: pd.DataFrame) -> pd.DataFrame:
    """A forms table with units: intercepts as signed sizes, statistics rounded, blanks for n/a."""
    out = forms.copy()
    for col in out.columns:
        if col.startswith("intercept_params"):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else signed_size(v))
        elif col == "r2":
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
        elif col not in ("form", "group", "refused") and pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    return out
