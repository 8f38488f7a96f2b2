"""Plotly figures of the second lens (pure functions, no Streamlit, no file I/O; stable trace names):

    student_vs_teacher_figure(cells, metric)     the student's score against the teacher's own score, one line
                                                  per student (analysis.teacher_quality.student_vs_teacher)
    teacher_size_figure(teachers, curve, metric) the teachers' score against their size, with the fitted curve
    laws_figure(side_by_side)                     each student's optimal teacher size by both laws, with intervals
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.figures import _LAYOUT, color_at, metric_title
from analysis.sizes import format_size


def _label(family, tokens, student, multi_family: bool, multi_tokens: bool) -> str:
    parts = [str(family)] if multi_family else []
    if multi_tokens and not pd.isna(tokens):
        parts.append(f"{format_size(tokens)} tokens")
    return " · ".join(parts + [f"student {format_size(student)}"])


def student_vs_teacher_figure(cells: pd.DataFrame, metric: str) -> go.Figure:
    """x: the teacher's own score; y: the student's mean score; one line per (family, tokens, student), points
    labelled with the teacher's size. Rows without a teacher score are left out (the page lists them)."""
    fig = go.Figure(layout=_LAYOUT)
    rows = cells.dropna(subset=["teacher_value"])
    multi_family = rows["family"].nunique() > 1
    multi_tokens = rows["data_tokens"].nunique(dropna=False) > 1
    for i, ((family, tokens, student), g) in enumerate(rows.groupby(["family", "data_tokens", "student_params"],
                                                                    dropna=False, sort=True)):
        g = g.sort_values("teacher_value")
        fig.add_trace(go.Scatter(
            x=g["teacher_value"], y=g["mean"], mode="lines+markers",
            name=_label(family, tokens, student, multi_family, multi_tokens), line=dict(color=color_at(i)),
            text=[f"teacher {format_size(t)}" for t in g["teacher_params"]],
            hovertemplate="%{text}<br>teacher %{x:.4g}<br>student %{y:.4g}<extra></extra>"))
    if not rows.empty:
        lo = float(min(rows["teacher_value"].min(), rows["mean"].min()))
        hi = float(max(rows["teacher_value"].max(), rows["mean"].max()))
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="student = teacher",
                                 line=dict(color="#7F7F7F", dash="dot")))
    fig.update_layout(title="Student against the teacher's own score", xaxis_title=f"teacher {metric_title(metric)}",
                      yaxis_title=f"student {metric_title(metric)}")
    return fig


def teacher_size_figure(teachers: pd.DataFrame, curve=None, metric: str = "") -> go.Figure:
    """The teachers' own score against their size (one marker per teacher) and, when given, the fitted
    size -> loss curve (analysis.teacher_quality.TeacherCurve)."""
    fig = go.Figure(layout=_LAYOUT)
    for i, (family, g) in enumerate(teachers.groupby("family", sort=True)):
        fig.add_trace(go.Scatter(x=g["teacher_params"], y=g["teacher_value"], mode="markers",
                                 name=f"teachers · {family}", marker=dict(size=10, color=color_at(i)),
                                 text=g["teacher_name"], hovertemplate="%{text}<br>%{x:.3s} params<br>%{y:.4g}"
                                                                      "<extra></extra>"))
    if curve is not None and not curve.refused and not teachers.empty:
        x = np.exp(np.linspace(np.log(teachers["teacher_params"].min()), np.log(teachers["teacher_params"].max()),
                               100))
        fig.add_trace(go.Scatter(x=x, y=curve.loss_at(x), mode="lines", name="teachers' size -> loss curve",
                                 line=dict(color="#7F7F7F", dash="dash")))
    fig.update_layout(title="The teachers' own score against their size", xaxis_title="teacher size (params)",
                      yaxis_title=metric_title(metric) if metric else "teacher score", xaxis_type="log")
    return fig


def laws_figure(side_by_side: pd.DataFrame) -> go.Figure:
    """Each student's optimal teacher size by the linear law and by the scaling law (through the teachers'
    curve), with their intervals as error bars; one pair of traces per token budget."""
    fig = go.Figure(layout=_LAYOUT)
    multi = side_by_side["data_tokens"].nunique(dropna=False) > 1
    for i, (tokens, g) in enumerate(side_by_side.groupby("data_tokens", dropna=False, sort=True)):
        suffix = f" · {format_size(tokens)} tokens" if multi and not pd.isna(tokens) else ""
        for name, col, lo, hi, dash in (("linear law", "linear_teacher_params", "linear_ci_lower", "linear_ci_upper",
                                         "solid"),
                                        ("scaling law", "scaling_teacher_params", "scaling_params_ci_lower",
                                         "scaling_params_ci_upper", "dot")):
            y = g[col].to_numpy(dtype=float)
            fig.add_trace(go.Scatter(
                x=g["student_params"], y=y, mode="lines+markers", name=name + suffix,
                line=dict(color=color_at(i), dash=dash),
                error_y=dict(type="data", symmetric=False, array=g[hi].to_numpy(dtype=float) - y,
                             arrayminus=y - g[lo].to_numpy(dtype=float))))
    fig.update_layout(title="Optimal teacher by both laws", xaxis_title="student size (params)",
                      yaxis_title="optimal teacher size (params)", xaxis_type="log", yaxis_type="log")
    return fig
