"""Plotly figures of the analysis: pure functions `*_figure(data, ...) -> go.Figure`, no Streamlit, no file I/O.

    curse_figure(results, optima, metric)      student metric vs teacher size, one line per student, optima ± CI
    law_figure(fit, optima, reported=...)      optimal teacher vs student: fit, CI and PI bands, reported law,
                                               optima at a grid's edge drawn as bounds (triangles)
    collapse_figure(fit)                       every curve against ln(T / T*(S)) by the one-stage law: one curve
                                               if the law holds
    residuals_figure(fit)                      residuals of a law fit against student size
    benchmark_figure(bench, task=..., ...)     benchmark scores as bars with ±1.96·stderr
    frontier_figure(table, x=..., y=...)       score vs training compute with the Pareto frontier
    whatif_figure(prediction, candidates, law) the predicted optimal teacher and the catalog's candidates

Trace names are stable (tests and the app find traces by name). Sizes get log axes when they span a decade or
more; every axis names its unit. Colours come from PALETTE, the Okabe-Ito palette (Okabe & Ito 2008, "Color
Universal Design"), which stays distinguishable under the common colour-vision deficiencies.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.optimum import baseline_mask, no_teacher_mask, student_names
from analysis.reported_law import PREDICTION_COLUMNS
from analysis.sizes import format_size

# Okabe-Ito, in the order lines are coloured: blue, orange, bluish green, vermillion, reddish purple, sky blue,
# yellow, black (yellow late: it is faint on white).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
GREY = "#7F7F7F"  # reference lines (the reported law, zero lines)

# Units of the metrics the project writes itself; other metrics are shown by name.
METRIC_UNITS = {
    "val_loss": "nats/token", "loss": "nats/token", "eval_loss": "nats/token", "train_loss": "nats/token",
    "bits_per_byte": "bits/byte", "bpb": "bits/byte", "ppl": "perplexity", "perplexity": "perplexity",
}
SIZE_TITLE = "{} size (params)"
LOG_SPAN = 10.0  # a size axis is logarithmic when max / min reaches this (a decade)
DEFAULT_STUDENT_RANGE = (1e8, 1e10)  # law_figure's x range when neither optima nor a range are given
_LAYOUT = dict(template="plotly_white", colorway=list(PALETTE), hovermode="closest",
               legend=dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.02))


def metric_title(metric: str) -> str:
    """The axis title of a metric with its unit where known: "val_loss (nats/token)"."""
    unit = METRIC_UNITS.get(str(metric).lower())
    return f"{metric} ({unit})" if unit else str(metric)


def color_at(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


# ---------------------------------------------------------------------------------------------- curse curves
def curse_figure(results: pd.DataFrame, optima: pd.DataFrame | None = None, metric: str | None = None) -> go.Figure:
    """The student's metric against teacher size, one line per student (mean over seeds per teacher).

    results: the distillation-results contract; optima: find_optima's frame (optional) drawn as one
    "optimal teacher" trace with horizontal error bars from ci_lower/ci_upper. With several families or
    data_tokens, the line names say which (e.g. "gpt2 · 1B tokens · student 125M").
    """
    metric = _one_metric(results, metric)
    rows = results[results["metric"] == metric].copy()
    rows["family"] = rows["family"].astype(str) if "family" in rows else "default"
    rows["data_tokens"] = rows["data_tokens"].astype(float) if "data_tokens" in rows else np.nan
    rows["_student"] = student_names(rows)  # "" unless names identify students (two students of one size)
    multi_family = rows["family"].nunique() > 1
    multi_tokens = rows["data_tokens"].nunique(dropna=False) > 1
    baseline = baseline_mask(rows)  # random-init students: their own markers, never averaged into a curve
    baselines, rows = rows[baseline], rows[~baseline]
    alone = no_teacher_mask(rows)  # students trained without a teacher: a level, not a point on the curve
    references, rows = rows[alone], rows[~alone]

    fig = go.Figure()
    lines = {}  # (family, tokens, student) -> (x, y, colour) for placing the optima
    i = 0
    for keys, group in rows.groupby(["family", "data_tokens", "student_params", "_student"], dropna=False,
                                    sort=True):
        family, tokens, student, name = keys
        label = (_group_label(family, tokens, multi_family, multi_tokens) + f"student {format_size(student)}"
                 + (f" ({name})" if name else ""))
        per = group.groupby("teacher_params").agg(value=("value", "mean"), n_runs=("value", "size"))
        runs = _run_ids(group)
        hover = [f"{label}<br>teacher {format_size(t)}<br>{metric} {v:.4g} (mean of {n} run{'s' * (n != 1)})"
                 + (f"<br>runs: {runs[t]}" if t in runs else "")
                 for t, v, n in zip(per.index, per["value"], per["n_runs"])]
        colour = color_at(i)
        fig.add_trace(go.Scatter(
            x=per.index.to_numpy(dtype=float), y=per["value"].to_numpy(dtype=float), mode="lines+markers",
            name=label, legendgroup=label, line=dict(color=colour), marker=dict(size=7),
            text=hover, hovertemplate="%{text}<extra></extra>"))
        line = (per.index.to_numpy(dtype=float), per["value"].to_numpy(dtype=float), colour)
        lines[(family, _tokens_key(tokens), float(student), name)] = line
        lines.setdefault((family, _tokens_key(tokens), float(student)), line)  # baselines find the first
        i += 1

    if len(baselines):
        _add_curse_baselines(fig, baselines, lines, metric, multi_family, multi_tokens)
    if len(references):
        _add_curse_references(fig, references, lines, metric, multi_family, multi_tokens)
    if optima is not None and len(optima):
        _add_curse_optima(fig, optima, lines, metric, multi_family, multi_tokens)

    direction = _direction(rows if len(rows) else baselines)
    fig.update_layout(
        title=f"{metric} of the distilled student vs teacher size{direction}",
        xaxis=dict(title=SIZE_TITLE.format("teacher"), type=_size_axis_type(rows["teacher_params"])),
        yaxis=dict(title=metric_title(metric)), **_LAYOUT)
    return fig


def _add_curse_baselines(fig, baselines, lines, metric, multi_family, multi_tokens) -> None:
    """One "random-init baseline" trace: the mean per (group, teacher), in the colour of its student's line."""
    per = baselines.groupby(["family", "data_tokens", "student_params", "teacher_params"], dropna=False,
                            sort=True)["value"].agg(["mean", "size"]).reset_index()
    colours = [lines.get((f, _tokens_key(d), float(s)), (None, None, GREY))[2]
               for f, d, s in zip(per["family"], per["data_tokens"], per["student_params"])]
    hover = [f"{_group_label(f, d, multi_family, multi_tokens)}random-init student {format_size(s)}, distilled by "
             f"teacher {format_size(t)}<br>{metric} {v:.4g} (mean of {n} run{'s' * (n != 1)})"
             for f, d, s, t, v, n in zip(per["family"], per["data_tokens"], per["student_params"],
                                         per["teacher_params"], per["mean"], per["size"])]
    fig.add_trace(go.Scatter(
        x=per["teacher_params"].to_numpy(dtype=float), y=per["mean"].to_numpy(dtype=float), mode="markers",
        name="random-init baseline", marker=dict(symbol="x", size=10, color=colours),
        text=hover, hovertemplate="%{text}<extra></extra>"))


def _add_curse_references(fig, references, lines, metric, multi_family, multi_tokens) -> None:
    """One "no teacher" trace: each student's level without distillation, a dotted line across its teachers."""
    xs, ys, hover = [], [], []
    for (f, d, s), grp in references.groupby(["family", "data_tokens", "student_params"], dropna=False, sort=True):
        line = lines.get((f, _tokens_key(d), float(s)))
        x = line[0] if line is not None and len(line[0]) else np.array([np.nan])
        v = float(grp["value"].mean())
        text = (f"{_group_label(f, d, multi_family, multi_tokens)}student {format_size(s)} trained without a "
                f"teacher<br>{metric} {v:.4g} (mean of {len(grp)} run{'s' * (len(grp) != 1)})")
        xs += [float(np.nanmin(x)), float(np.nanmax(x)), None]
        ys += [v, v, None]
        hover += [text, text, None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="no teacher (student alone)",
                             line=dict(color=GREY, dash="dot", width=2), text=hover,
                             hovertemplate="%{text}<extra></extra>"))


def _add_curse_optima(fig, optima, lines, metric, multi_family, multi_tokens) -> None:
    xs, ys, plus, minus, colours, hover = [], [], [], [], [], []
    if "method" in optima:
        optima = optima[optima["method"] != "tied"]  # no optimum located: nothing to mark
    for _, o in optima.iterrows():
        family = str(o.get("family", "default"))
        key = (family, _tokens_key(o.get("data_tokens", np.nan)), float(o["student_params"]))
        t = float(o["teacher_params"])
        name = o.get("student_name") if isinstance(o.get("student_name"), str) else ""
        line = lines.get(key + (name,), lines.get(key))
        y = float(o["best_value"]) if "best_value" in o and pd.notna(o.get("best_value")) else \
            (float(np.interp(np.log10(t), np.log10(line[0]), line[1])) if line is not None else np.nan)
        if not np.isfinite(y):
            continue
        lo, hi = o.get("ci_lower", np.nan), o.get("ci_upper", np.nan)
        xs.append(t)
        ys.append(y)
        plus.append(float(hi) - t if pd.notna(hi) else None)
        minus.append(t - float(lo) if pd.notna(lo) else None)
        colours.append(line[2] if line is not None else GREY)
        label = _group_label(family, o.get("data_tokens", np.nan), multi_family, multi_tokens)
        ci = f" [CI {format_size(lo)}-{format_size(hi)}]" if pd.notna(lo) and pd.notna(hi) else " (no CI)"
        extra = f"<br>{o['note']}" if isinstance(o.get("note"), str) and o.get("note") else ""
        hover.append(f"{label}student {format_size(o['student_params'])}: optimal teacher {format_size(t)}{ci}"
                     f"<br>method {o.get('method', '?')}, {metric} {y:.4g}{extra}")
    if not xs:
        return
    fig.add_trace(go.Scatter(
        x=xs, y=ys, mode="markers", name="optimal teacher",
        marker=dict(symbol="star", size=14, color=colours, line=dict(color="black", width=1)),
        error_x=dict(type="data", symmetric=False, array=plus, arrayminus=minus, thickness=1.5, width=6),
        text=hover, hovertemplate="%{text}<extra></extra>"))


# ---------------------------------------------------------------------------------------------- the law
def law_figure(fit, optima: pd.DataFrame | None = None, *, reported=None, alpha: float = 0.05,
               student_range: tuple[float, float] | None = None) -> go.Figure:
    """Optimal teacher against student size: the optima with their CIs, the fitted line with its confidence
    and prediction bands (fit may be None), and the reported law as a dashed reference line.

    Trace names: "optimal teachers" (or "optimal teachers · FAMILY" per family), "prediction band (95%)",
    "confidence band (95%)", "fit (FORM)", "Zhang et al. (as reported)".
    """
    if optima is None and fit is not None:
        optima = getattr(fit, "optima", None)
    grid = np.geomspace(*_student_range(optima, student_range), 80)
    level = f"{100 * (1 - alpha):g}%"
    fig = go.Figure()
    floor = None
    if fit is not None:
        pred = fit.predict(grid, alpha=alpha)
        values = pred[list(PREDICTION_COLUMNS)].to_numpy(dtype=float)
        positive = values[np.isfinite(values) & (values > 0)]
        floor = positive.min() / 2 if positive.size else None
        form = getattr(fit, "form", "law")
        for name, lo_col, hi_col, opacity in (("prediction band", "obs_ci_lower", "obs_ci_upper", 0.15),
                                              ("confidence band", "mean_ci_lower", "mean_ci_upper", 0.3)):
            lo, hi = pred[lo_col].to_numpy(dtype=float), pred[hi_col].to_numpy(dtype=float)
            if not (np.isfinite(lo).any() and np.isfinite(hi).any()):
                continue
            fig.add_trace(_band(grid, lo, hi, f"{name} ({level})", opacity, floor))
        mean = pred["mean"].to_numpy(dtype=float)
        hover = [f"student {format_size(s)} → optimal teacher {format_size(m)}" + _interval_text(r, level)
                 for s, m, (_, r) in zip(grid, mean, pred.iterrows())]
        fig.add_trace(go.Scatter(x=grid, y=mean, mode="lines", name=f"fit ({form})",
                                 line=dict(color=PALETTE[0], width=2.5),
                                 text=hover, hovertemplate="%{text}<extra></extra>"))
    if reported is not None:
        t = reported.predict(grid)["mean"].to_numpy(dtype=float)
        keep = t > 0  # a negative teacher size is not a model (the reported line crosses zero near 4.6M)
        fig.add_trace(go.Scatter(
            x=grid[keep], y=t[keep], mode="lines", name=f"Zhang et al. ({reported.label})",
            line=dict(color=GREY, dash="dash", width=2),
            text=[f"reported law: student {format_size(s)} → teacher {format_size(v)} (no interval reported)"
                  for s, v in zip(grid[keep], t[keep])],
            hovertemplate="%{text}<extra></extra>"))
    if optima is not None and len(optima):
        _add_law_optima(fig, optima)

    ys = [np.asarray(tr.y, dtype=float) for tr in fig.data if tr.y is not None]
    ys = np.concatenate(ys) if ys else np.array([])
    y_type = _size_axis_type(ys[np.isfinite(ys) & (ys > 0)])
    fig.update_layout(
        title="Optimal teacher size vs student size",
        xaxis=dict(title=SIZE_TITLE.format("student"), type=_size_axis_type(grid)),
        yaxis=dict(title=SIZE_TITLE.format("optimal teacher"), type=y_type), **_LAYOUT)
    return fig


def _band(x, lo, hi, name, opacity, floor) -> go.Scatter:
    """A filled band between lo and hi as one closed polygon (clipped to `floor` for log axes)."""
    if floor is not None:
        lo, hi = np.maximum(lo, floor), np.maximum(hi, floor)
    return go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([hi, lo[::-1]]), name=name,
                      fill="toself", mode="lines", line=dict(width=0), fillcolor=PALETTE[0], opacity=opacity,
                      hoverinfo="skip")


def _add_law_optima(fig, optima) -> None:
    """Bracketed optima as points with their intervals; an optimum at its grid's edge as a bound: a triangle at the
    tested teacher it cannot pass (pointing down: T* is below it; up: T* is above it)."""
    if "method" in optima:
        optima = optima[optima["method"] != "tied"]  # no optimum located: neither a point nor a bound
    families = optima["family"].astype(str) if "family" in optima else pd.Series("default", index=optima.index)
    several = families.nunique() > 1
    edge = (optima["at_grid_edge"].fillna(False).astype(bool) if "at_grid_edge" in optima
            else pd.Series(False, index=optima.index))
    for i, (family, o) in enumerate(optima[~edge].groupby(families[~edge], sort=True)):
        t = o["teacher_params"].to_numpy(dtype=float)
        lo = o["ci_lower"].to_numpy(dtype=float) if "ci_lower" in o else np.full(len(o), np.nan)
        hi = o["ci_upper"].to_numpy(dtype=float) if "ci_upper" in o else np.full(len(o), np.nan)
        hover = [f"{'' if not several else family + ' · '}student {format_size(s)}: optimal teacher "
                 f"{format_size(v)}" + _bound_text(a, b) + (f"<br>method {m}" if m is not None else "")
                 for s, v, a, b, m in zip(o["student_params"], t, lo, hi,
                                          o["method"] if "method" in o else [None] * len(o))]
        fig.add_trace(go.Scatter(
            x=o["student_params"].to_numpy(dtype=float), y=t, mode="markers",
            name="optimal teachers" + (f" · {family}" if several else ""),
            marker=dict(size=9, color=color_at(i + 1) if several else "black"),
            error_y=dict(type="data", symmetric=False, array=_nan_to_none(hi - t), arrayminus=_nan_to_none(t - lo)),
            text=hover, hovertemplate="%{text}<extra></extra>"))
    bounds = optima[edge]
    if len(bounds):
        t = bounds["teacher_params"].to_numpy(dtype=float)
        at_top = t >= bounds["grid_max"].to_numpy(dtype=float) if "grid_max" in bounds else np.zeros(len(t), bool)
        # the bound is the tested teacher itself (the grid's end): T* >= it at the top, T* <= the next one up
        # (or the end itself) at the bottom
        y = np.where(at_top, t, bounds["ci_upper"].fillna(bounds["teacher_params"]).to_numpy(dtype=float))
        fig.add_trace(go.Scatter(
            x=bounds["student_params"].to_numpy(dtype=float), y=y, mode="markers",
            name="bounds (optimum at the grid's edge)",
            marker=dict(size=12, symbol=np.where(at_top, "triangle-up", "triangle-down").tolist(), color=GREY,
                        line=dict(color="black", width=1)),
            text=[f"student {format_size(s)}: best teacher at the {'largest' if top else 'smallest'} tested; only "
                  f"T* {'>' if top else '<'} {format_size(v)} is known (not fitted as a point)"
                  for s, v, top in zip(bounds["student_params"], y, at_top)],
            hovertemplate="%{text}<extra></extra>"))


def _bound_text(lo: float, hi: float) -> str:
    if np.isfinite(lo) and np.isfinite(hi):
        return f" [CI {format_size(lo)}-{format_size(hi)}]"
    if np.isfinite(hi):
        return f" [CI below {format_size(hi)}]"
    if np.isfinite(lo):
        return f" [CI above {format_size(lo)}]"
    return " (no CI)"


def collapse_figure(fit) -> go.Figure:
    """The collapse figure of a one-stage fit (analysis.collapse.CollapseFit): every (student, teacher) cell at
    x = ln(T / T*(S)) by the fitted law and y = its value above the student's level in units of the curve's depth,
    one colour per student, with the fitted shared shape. If the law holds, the students fall on one curve.

    Trace names: "student SIZE" per student, "shared shape (fit)", "optimum (x = 0)"."""
    pts = fit.collapse_points()
    fig = go.Figure()
    for i, (student, grp) in enumerate(pts.groupby("student_params", sort=True)):
        grp = grp.sort_values("x")
        fig.add_trace(go.Scatter(
            x=grp["x"].to_numpy(dtype=float), y=grp["y"].to_numpy(dtype=float), mode="lines+markers",
            name=f"student {format_size(student)}", line=dict(color=color_at(i), width=1.5), marker=dict(size=8),
            text=[f"student {format_size(student)}, teacher {format_size(t)} ({n} run{'s' * (n != 1)})<br>"
                  f"T / T* = {np.exp(x):.2f}" for t, n, x in zip(grp["teacher_params"], grp["n_runs"], grp["x"])],
            hovertemplate="%{text}<extra></extra>"))
    lo, hi = float(pts["x"].min()), float(pts["x"].max())
    pad = 0.1 * max(hi - lo, 0.5)
    grid = np.linspace(lo - pad, hi + pad, 200)
    fig.add_trace(go.Scatter(x=grid, y=fit.shape_curve(grid), mode="lines", name="shared shape (fit)",
                             line=dict(color="black", width=3, dash="dash"), hoverinfo="skip"))
    top = float(np.nanmax(np.r_[pts["y"].to_numpy(dtype=float), fit.shape_curve(grid)]))
    fig.add_trace(go.Scatter(x=[0, 0], y=[min(0.0, float(np.nanmin(pts["y"]))), top], mode="lines",
                             name="optimum (x = 0)", line=dict(color=GREY, dash="dot"), hoverinfo="skip"))
    ratio = f"{fit.asymmetry:.2g}"
    fig.update_layout(
        title=f"Curve collapse: every student against its optimum by the law (a teacher e-fold too big costs "
              f"{ratio}x one e-fold too small)",
        xaxis=dict(title="ln(teacher / optimal teacher by the law)"),
        yaxis=dict(title="penalty above the student's level (curve depths)"), **_LAYOUT)
    return fig


def residuals_figure(fit) -> go.Figure:
    """Residuals of a law fit (observed minus fitted optimal teacher, in params for every form, as LawFit.resid
    gives them) against student size, with a zero line."""
    resid = np.asarray(fit.resid, dtype=float)
    optima = getattr(fit, "optima", None)
    if optima is not None and "student_params" in optima and len(optima) == len(resid):
        x = optima["student_params"].to_numpy(dtype=float)
    else:
        x = np.asarray(fit.fitted, dtype=float)
    fig = go.Figure()
    order = np.argsort(x)
    if len(x):
        fig.add_trace(go.Scatter(x=[x.min(), x.max()], y=[0, 0], mode="lines", name="zero",
                                 line=dict(color=GREY, dash="dot"), hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=x[order], y=resid[order], mode="markers", name="residuals", marker=dict(size=9, color=PALETTE[0]),
        text=[f"student {format_size(s)}: residual {format_size(r)}" for s, r in zip(x[order], resid[order])],
        hovertemplate="%{text}<extra></extra>"))
    fig.update_layout(
        title=f"Residuals of the law fit ({getattr(fit, 'form', 'law')})",
        xaxis=dict(title=SIZE_TITLE.format("student"), type=_size_axis_type(x)),
        yaxis=dict(title="residual, observed - fitted optimal teacher (params)"), **_LAYOUT)
    return fig


# ---------------------------------------------------------------------------------------------- benchmarks
def benchmark_figure(bench: pd.DataFrame, *, task: str | list[str] | None = None, metric: str | None = None,
                     filter: str | None = None) -> go.Figure:  # noqa: A002 - lm-eval's own word
    """Benchmark scores as grouped bars (one trace per task/metric/filter, models on x) with ±1.96·stderr
    error bars (a 95% normal interval; none where stderr is missing). Models are ordered by size when known."""
    rows = bench
    for col, want in (("task", task), ("metric", metric), ("filter", filter)):
        if want is not None:
            wanted = [want] if isinstance(want, str) else list(want)
            rows = rows[rows[col].astype(str).isin(wanted)]
    fig = go.Figure()
    if rows.empty:
        return _empty(fig, "No benchmark rows match these filters: choose another task, metric or filter.")
    rows = rows.copy()
    rows["filter"] = rows["filter"].fillna("").astype(str) if "filter" in rows else ""
    models = _model_order(rows)
    several = {c: rows[c].nunique() > 1 for c in ("metric", "filter")}
    for i, (keys, g) in enumerate(rows.groupby(["task", "metric", "filter"], sort=True)):
        task_name, metric_name, filt = keys
        name = " · ".join([str(task_name)] + ([str(metric_name)] if several["metric"] else [])
                          + ([filt or "none"] if several["filter"] else []))
        present = set(g["model"])
        g = g.drop_duplicates("model", keep="last").set_index("model").reindex([m for m in models if m in present])
        err = 1.96 * g["stderr"].astype(float).to_numpy() if "stderr" in g else np.full(len(g), np.nan)
        hover = [f"{m}<br>{task_name} {metric_name}: {v:.4g}" + (f" ± {e:.2g} (1.96·stderr)" if np.isfinite(e) else
                                                                  " (no stderr)")
                 for m, v, e in zip(g.index, g["value"].astype(float), err)]
        fig.add_trace(go.Bar(x=list(g.index), y=g["value"].to_numpy(dtype=float), name=name,
                             marker_color=color_at(i),
                             error_y=dict(type="data", array=_nan_to_none(err), visible=True),
                             text=hover, hovertemplate="%{text}<extra></extra>", textposition="none"))
    metrics = rows["metric"].unique()
    fig.update_layout(
        title="Benchmark scores (error bars: ±1.96·stderr)", barmode="group",
        xaxis=dict(title="model", type="category", categoryorder="array", categoryarray=models),
        yaxis=dict(title=metric_title(metrics[0]) if len(metrics) == 1 else "score (per metric)"), **_LAYOUT)
    return fig


def frontier_figure(table: pd.DataFrame, *, x: str = "train_compute_flops", y: str | None = None,
                    label: str = "model", color: str | None = "role") -> go.Figure:
    """Score (y) against training compute (x, log) per model, with the Pareto frontier: the models that no
    other model beats on score with less or equal compute. Rows missing x or y are left out.

    table: wide (one row per model, columns x and y), or the long benchmark table (then y names a task and the
    `value` column is used); y=None takes the first numeric column that is not a size, a compute or a count
    (mmlu_5shot in the MiniMA table). `color`: a column whose values give one trace each ("role" when present).
    """
    rows = table
    if y is None:
        numeric = [c for c in table.columns if c != x and pd.api.types.is_numeric_dtype(table[c])
                   and not c.startswith("n_") and not any(k in c for k in ("params", "compute", "flops", "stderr"))]
        if not numeric:
            raise ValueError(f"frontier_figure: no score column to plot; columns are {list(table.columns)}")
        y = numeric[0]
    if y not in rows.columns and {"task", "value"} <= set(rows.columns):
        rows = rows[rows["task"] == y].rename(columns={"value": y})
    missing = [c for c in (x, y, label) if c not in rows.columns]
    if missing:
        raise ValueError(f"frontier_figure: missing column(s) {missing}; columns are {list(rows.columns)}")
    rows = rows.copy()
    rows[x] = pd.to_numeric(rows[x], errors="coerce")
    rows[y] = pd.to_numeric(rows[y], errors="coerce")
    rows = rows[np.isfinite(rows[x]) & np.isfinite(rows[y]) & (rows[x] > 0)]
    fig = go.Figure()
    if rows.empty:
        return _empty(fig, f"No model has both {x} and {y}.")
    groups = rows.groupby(rows[color].astype(str), sort=False) if color in rows.columns else [("models", rows)]
    for i, (name, g) in enumerate(groups):
        fig.add_trace(go.Scatter(
            x=g[x].to_numpy(dtype=float), y=g[y].to_numpy(dtype=float), mode="markers", name=str(name),
            marker=dict(size=10, color=color_at(i)),
            text=[f"{m}<br>{y} {v:.4g}<br>{x} {c:.3g}" for m, v, c in zip(g[label], g[y], g[x])],
            hovertemplate="%{text}<extra></extra>"))
    front = pareto_frontier(rows, x=x, y=y)
    fig.add_trace(go.Scatter(
        x=front[x].to_numpy(dtype=float), y=front[y].to_numpy(dtype=float), mode="lines", name="Pareto frontier",
        line=dict(color=GREY, dash="dash", shape="hv"), text=list(front[label]),
        hovertemplate="frontier: %{text}<extra></extra>"))
    fig.update_layout(
        title=f"{y} vs training compute",
        xaxis=dict(title=_compute_title(x), type="log"), yaxis=dict(title=metric_title(y)), **_LAYOUT)
    return fig


def pareto_frontier(table: pd.DataFrame, *, x: str, y: str) -> pd.DataFrame:
    """The rows no other row beats (higher y with x no larger), sorted by x: lower x, higher y is better."""
    ordered = table.sort_values([x, y], ascending=[True, False], kind="stable")
    best = -np.inf
    keep = []
    for idx, value in zip(ordered.index, ordered[y].to_numpy(dtype=float)):
        if value > best:
            keep.append(idx)
            best = value
    return ordered.loc[keep]


# ---------------------------------------------------------------------------------------------- what-if
def whatif_figure(prediction, candidates: pd.DataFrame, law=None) -> go.Figure:
    """The predicted optimal teacher (line) with its confidence and prediction intervals (shaded, where the law
    has them) and the catalog's candidates placed at their sizes, best ranked at the top.

    prediction: a WhatIf, or one prediction row (mean, mean_ci_lower, ...; raw params).
    """
    label = getattr(law, "label", None) or getattr(prediction, "law_label", None) or "law"
    row = prediction.teacher_params if hasattr(prediction, "teacher_params") else dict(prediction)
    row = {c: float(row.get(c, np.nan)) for c in PREDICTION_COLUMNS}
    fig = go.Figure()
    models = list(candidates["model"])[::-1]  # rank 1 at the top
    sizes = candidates["params"].to_numpy(dtype=float)[::-1]
    for name, lo, hi, opacity in (("prediction interval", "obs_ci_lower", "obs_ci_upper", 0.12),
                                  ("confidence interval", "mean_ci_lower", "mean_ci_upper", 0.25)):
        if np.isfinite(row[lo]) and np.isfinite(row[hi]):
            fig.add_vrect(x0=max(row[lo], 1.0), x1=row[hi], fillcolor=PALETTE[0], opacity=opacity, line_width=0,
                          name=name, layer="below")
    if len(candidates):
        penalty = candidates["expected_penalty"].to_numpy(dtype=float)[::-1] \
            if "expected_penalty" in candidates else np.full(len(models), np.nan)
        fig.add_trace(go.Scatter(
            x=sizes, y=models, mode="markers", name="candidates", marker=dict(size=11, color=PALETTE[1]),
            text=[f"{m}: {format_size(p)} params" + (f"<br>expected penalty {q:.3g}" if np.isfinite(q) else "")
                  for m, p, q in zip(models, sizes, penalty)],
            hovertemplate="%{text}<extra></extra>"))
    if np.isfinite(row["mean"]) and row["mean"] > 0:
        fig.add_trace(go.Scatter(
            x=[row["mean"], row["mean"]], y=[models[0], models[-1]] if models else [0, 1], mode="lines",
            name=f"optimal teacher ({label})", line=dict(color=PALETTE[0], width=3),
            hovertemplate=f"optimal teacher {format_size(row['mean'])}<extra></extra>"))
    xs = np.concatenate([sizes, [row["mean"]]])
    fig.update_layout(
        title="Real checkpoints near the optimal teacher",
        xaxis=dict(title=SIZE_TITLE.format("teacher"), type=_size_axis_type(xs[np.isfinite(xs) & (xs > 0)])),
        yaxis=dict(title="checkpoint (model)", type="category"), **_LAYOUT)
    return fig


# ---------------------------------------------------------------------------------------------- helpers
def _one_metric(results: pd.DataFrame, metric: str | None) -> str:
    metrics = sorted(map(str, results["metric"].unique()))
    if metric is None:
        if len(metrics) != 1:
            raise ValueError(f"several metrics in the results ({', '.join(metrics)}): say which one to plot")
        return metrics[0]
    if metric not in metrics:
        raise ValueError(f"no results with metric {metric!r}; metrics present: {', '.join(metrics) or 'none'}")
    return metric


def _group_label(family, tokens, multi_family: bool, multi_tokens: bool) -> str:
    parts = []
    if multi_family:
        parts.append(str(family))
    if multi_tokens:
        parts.append("all tokens" if pd.isna(tokens) else f"{format_size(tokens)} tokens")
    return "".join(p + " · " for p in parts)


def _tokens_key(tokens) -> float:
    return -1.0 if tokens is None or pd.isna(tokens) else float(tokens)


def _run_ids(group: pd.DataFrame, limit: int = 5) -> dict:
    if "run_id" not in group:
        return {}
    out = {}
    for t, ids in group.dropna(subset=["run_id"]).groupby("teacher_params")["run_id"]:
        ids = [str(i) for i in ids]
        out[t] = ", ".join(ids[:limit]) + (f", … (+{len(ids) - limit})" if len(ids) > limit else "")
    return out


def _direction(rows: pd.DataFrame) -> str:
    if "higher_is_better" not in rows or rows["higher_is_better"].isna().all():
        return ""
    return " (higher is better)" if bool(rows["higher_is_better"].dropna().iloc[0]) else " (lower is better)"


def _size_axis_type(values) -> str:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return "log" if v.size and v.max() / v.min() >= LOG_SPAN else "linear"


def _student_range(optima, student_range) -> tuple[float, float]:
    if student_range is not None:
        lo, hi = map(float, student_range)
        if not (0 < lo < hi):
            raise ValueError(f"student_range: expected 0 < low < high, found {student_range!r}")
        return lo, hi
    if optima is not None and len(optima):
        s = optima["student_params"].to_numpy(dtype=float)
        return s.min() / 1.25, s.max() * 1.25
    return DEFAULT_STUDENT_RANGE


def _interval_text(row: pd.Series, level: str) -> str:
    parts = []
    for name, lo, hi in (("CI", "mean_ci_lower", "mean_ci_upper"), ("PI", "obs_ci_lower", "obs_ci_upper")):
        if pd.notna(row[lo]) and pd.notna(row[hi]):
            parts.append(f"{level} {name} {format_size(row[lo])}-{format_size(row[hi])}")
    return ("<br>" + ", ".join(parts)) if parts else ""


def _nan_to_none(values) -> list:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, dtype=float)]


def _model_order(rows: pd.DataFrame) -> list[str]:
    """Models by size (params) when known, then by name; models without a size go last."""
    if "params" in rows:
        sizes = rows.groupby("model")["params"].first().astype(float)
        return list(sizes.sort_values(na_position="last", kind="stable").index) if sizes.notna().any() \
            else sorted(sizes.index)
    return list(dict.fromkeys(rows["model"]))


def _compute_title(column: str) -> str:
    if column == "train_compute_flops":
        return "training compute (FLOPs)"
    if column == "train_compute_1e21_flops":
        return "training compute (1e21 FLOPs)"
    return column


def _empty(fig: go.Figure, message: str) -> go.Figure:
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_layout(xaxis=dict(visible=False), yaxis=dict(visible=False), **_LAYOUT)
    return fig
