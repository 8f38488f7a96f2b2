"""How paired comparisons show themselves: the table (paired beside unpaired), the power sentence, the CLI text,
and the forest plot of per-task differences. Shared by the CLI, the Benchmarks page and the report."""
from __future__ import annotations

import html
import math

import pandas as pd
import plotly.graph_objects as go

from analysis.paired import CORRECTION_LABELS, ComparisonSet, PairedComparison

TEST_LABELS = {"mcnemar_exact": "McNemar exact", "paired_t": "paired t", "cluster_robust_t": "cluster-robust t"}


def _num(value, fmt: str = "{:+.4f}") -> str:
    return "—" if value is None or (isinstance(value, float) and not math.isfinite(value)) else fmt.format(value)


def _p(value) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return "< 1e-4" if value < 1e-4 else f"{value:.4f}" if value < 0.01 else f"{value:.3f}"


def power_sentence(c: PairedComparison) -> str:
    """'Detecting a difference of 1 point with 80% power needs about 3,140 documents (this run has 100); ...'."""
    unit = "point" if c.kind == "binary" else ""
    size = (f"{c.detect * 100:g} {unit}{'s' if c.detect * 100 != 1 else ''}" if c.kind == "binary" and c.detect
            else _num(c.detect, "{:.4g}"))
    if c.n_needed is None:
        if c.kind == "binary" and not c.discordance:
            head = ("No document was answered differently by the two models, so the data cannot say how many "
                    "documents a difference would need")
        elif c.kind == "binary":
            head = (f"A difference of {size} is larger than the share of documents the models disagree on "
                    f"({c.discordance:.1%}): not reachable at this discordance")
        else:
            head = "The per-document differences do not vary: the data cannot size a study"
    else:
        head = (f"Detecting a difference of {size} with 80% power at α = {c.alpha:g} needs about "
                f"{c.n_needed:,.0f} documents (this comparison has {c.n_matched:,})")
    basis = (f" from the observed discordance {c.discordance:.1%}" if c.kind == "binary" and c.discordance
             else " from the spread of the per-document differences" if c.kind != "binary" else "")
    if c.design_effect and math.isfinite(c.design_effect):
        basis += f", times the clusters' design effect {c.design_effect:.2f}"
    tail = ""
    if c.mde is not None:
        tail = (f"; with {c.n_matched:,} documents the smallest difference detectable with 80% power is "
                f"{c.mde * 100:.2g} points" if c.kind == "binary" else
                f"; with {c.n_matched:,} documents the smallest detectable difference is {c.mde:.4g}")
    return f"{head}{basis}{tail}."


def comparison_table(result: ComparisonSet) -> pd.DataFrame:
    """One row per comparison, the paired numbers beside the unpaired ones (display strings)."""
    rows = []
    for c in result.comparisons:
        disc = (f"{c.discordant_a_only} / {c.discordant_b_only}" if c.discordant_a_only is not None else "—")
        rows.append({
            "task": c.task, "metric": c.metric, "filter": c.filter, "A": c.model_a, "B": c.model_b,
            "documents": c.n_matched, "mean A": _num(c.mean_a, "{:.4f}"), "mean B": _num(c.mean_b, "{:.4f}"),
            "A − B": _num(c.diff), "paired CI": f"[{_num(c.ci_lower)}, {_num(c.ci_upper)}]",
            "p (paired)": _p(c.p_value), f"p ({result.correction})": _p(c.p_adjusted),
            "test": TEST_LABELS.get(c.test, c.test), "A only / B only right": disc,
            "unpaired CI": f"[{_num(c.unpaired_ci_lower)}, {_num(c.unpaired_ci_upper)}]",
            "p (unpaired)": _p(c.unpaired_p_value),
            "bootstrap CI": (f"[{_num(c.bootstrap_ci_lower)}, {_num(c.bootstrap_ci_upper)}]"
                             if c.bootstrap_ci_lower is not None else "—"),
            "significant": "yes" if c.significant else "no",
        })
    return pd.DataFrame(rows)


def comparison_text(result: ComparisonSet) -> str:
    """The CLI's plain-text report."""
    level = f"{(1 - result.alpha) * 100:g}%"
    lines = [f"Paired comparisons ({level} intervals; p-values adjusted by {CORRECTION_LABELS[result.correction]} "
             f"over {len(result.comparisons)} comparison(s))"]
    for c in result.comparisons:
        lines.append(f"\n== {c.task} · {c.metric} · filter {c.filter}: {c.model_a} (A) vs {c.model_b} (B)")
        lines.append(f"  documents matched: {c.n_matched:,}" + (f" (only in A: {c.n_only_a}, only in B: {c.n_only_b})"
                                                                if c.n_only_a or c.n_only_b else ""))
        lines.append(f"  mean A {c.mean_a:.4f}   mean B {c.mean_b:.4f}   A − B {c.diff:+.4f}")
        lines.append(f"  paired:   {level} CI [{c.ci_lower:+.4f}, {c.ci_upper:+.4f}] ({c.interval}); "
                     f"p = {_p(c.p_value)} ({TEST_LABELS.get(c.test, c.test)}), adjusted {_p(c.p_adjusted)}")
        if c.discordant_a_only is not None:
            lines.append(f"            discordant documents: A right & B wrong {c.discordant_a_only}, "
                         f"B right & A wrong {c.discordant_b_only}")
        if c.bootstrap_ci_lower is not None:
            lines.append(f"            bootstrap {level} CI [{c.bootstrap_ci_lower:+.4f}, {c.bootstrap_ci_upper:+.4f}] "
                         f"({c.n_boot} resamples{' of clusters' if c.cluster else ''})")
        if c.cluster:
            lines.append(f"            clusters: {c.n_clusters} by {c.cluster!r}")
        lines.append(f"  unpaired: {level} CI [{c.unpaired_ci_lower:+.4f}, {c.unpaired_ci_upper:+.4f}]; "
                     f"p = {_p(c.unpaired_p_value)} (z test on the two stderrs, as if the documents were different)")
        lines.append(f"  power: {power_sentence(c)}")
        for note in c.notes:
            lines.append(f"  note: {note}")
    for row in result.pooled:
        lines.append(f"\n== pooled over {row['n_tasks']} tasks ({row['metric']}, filter {row['filter']}, each task "
                     f"weighted equally): {row['model_a']} − {row['model_b']} {row['diff']:+.4f} "
                     f"{level} CI [{row['ci_lower']:+.4f}, {row['ci_upper']:+.4f}], p = {_p(row['p_value'])}")
    if result.ranking:
        lines.append("\nRanking (a rank range where differences are not significant after adjustment):")
        for row in result.ranking:
            lines.append(f"  {row['task']} · {row['metric']} · {row['filter']}: {row['rank']:>5}  {row['model']}  "
                         f"({row['mean']:.4f})")
    return "\n".join(lines)


def forest_figure(result: ComparisonSet, *, title: str | None = None) -> go.Figure:
    """Per-task differences A − B with their paired intervals (markers and error bars), the unpaired intervals
    beside them (lighter), pooled rows as diamonds, and a zero line. Trace names: "paired", "unpaired", "pooled"."""
    comps = result.comparisons
    several_pairs = len({(x.model_a, x.model_b) for x in comps}) > 1
    # task and model names come from files: escaped, since plotly renders a few HTML tags (links among them)
    labels = [html.escape(f"{c.task} · {c.metric}" + (f" · {c.filter}" if c.filter not in ("none", "") else "")
                          + (f"  ({c.model_a} − {c.model_b})" if several_pairs else "")) for c in comps]
    fig = go.Figure()
    diff = [c.diff for c in comps]
    fig.add_trace(go.Scatter(
        name="unpaired", x=diff, y=labels, mode="markers", marker=dict(symbol="line-ns", size=1, color="#bbbbbb"),
        error_x=dict(type="data", symmetric=False, array=[c.unpaired_ci_upper - c.diff for c in comps],
                     arrayminus=[c.diff - c.unpaired_ci_lower for c in comps], color="#bbbbbb", thickness=6, width=0),
        hovertemplate="%{y}<br>unpaired interval<extra></extra>"))
    fig.add_trace(go.Scatter(
        name="paired", x=diff, y=labels, mode="markers",
        marker=dict(size=9, color=["#d62728" if c.significant else "#1f77b4" for c in comps]),
        error_x=dict(type="data", symmetric=False, array=[c.ci_upper - c.diff for c in comps],
                     arrayminus=[c.diff - c.ci_lower for c in comps], thickness=2),
        customdata=[[c.p_value, c.p_adjusted if c.p_adjusted is not None else math.nan] for c in comps],
        hovertemplate="%{y}<br>A − B %{x:+.4f}<br>p %{customdata[0]:.3g}, adjusted %{customdata[1]:.3g}"
                      "<extra></extra>"))
    if result.pooled:
        fig.add_trace(go.Scatter(
            name="pooled", x=[r["diff"] for r in result.pooled],
            y=[html.escape(f"pooled {r['metric']} ({r['n_tasks']} tasks)") for r in result.pooled], mode="markers",
            marker=dict(symbol="diamond", size=12, color="#2ca02c"),
            error_x=dict(type="data", symmetric=False, array=[r["ci_upper"] - r["diff"] for r in result.pooled],
                         arrayminus=[r["diff"] - r["ci_lower"] for r in result.pooled], thickness=2)))
    fig.add_vline(x=0, line_dash="dash", line_color="#555555")
    fig.update_layout(title=title or f"A − B per task, {(1 - result.alpha) * 100:g}% paired intervals (grey: "
                                     "unpaired); red: significant after adjustment",
                      xaxis_title="difference A − B", yaxis=dict(autorange="reversed"),
                      height=max(260, 60 + 34 * (len(comps) + len(result.pooled))), template="plotly_white",
                      showlegend=True)
    return fig


__all__ = ["comparison_table", "comparison_text", "forest_figure", "power_sentence", "TEST_LABELS"]
