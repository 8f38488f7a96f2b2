"""Benchmarks page: an lm-eval results explorer (model x task table with stderr, bars with intervals, filters,
two models compared with the difference and its interval), the MiniMA table and the compute-vs-score frontier."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from app import settings
from app.compute import benchmarks_for
from app.datasets import BENCHMARK_KIND, stored_uploads
from app.display import empty_state, level, md, size
from app.guard import guarded
from app.runs_data import finished_lmeval_runs

st.title("Benchmarks")
st.markdown("Scores of models on standard tasks: the MiniMA paper's table (bundled) and your own lm-eval "
            "results (upload the results JSON or a zip of the output folder on the **Data** page, or run lm-eval on "
            "the **Runs** page).")

uploads = stored_uploads(BENCHMARK_KIND)
labels = {e.key: e.label for e in uploads}
runs = {r.model: r.fingerprint for r in finished_lmeval_runs()}
c = st.columns([1, 3, 3] if runs else [1, 3])
with c[0]:
    include_minima = settings.flag("MiniMA table (bundled)", key="b_minima", default=True)
with c[1]:
    chosen_uploads = settings.choices("lm-eval uploads", list(labels), key="b_up", format_func=labels.get,
                                      placeholder="none uploaded yet" if not labels else "choose uploads")
chosen_runs = []
if runs:  # finished lm-eval runs of the workspace (Runs page); all of them unless the user narrows it
    with c[2]:
        chosen_runs = settings.choices("lm-eval runs (workspace)", list(runs), key="b_runs",
                                       help="Finished lm-eval runs under <workspace>/lmeval/, launched on the Runs "
                                            "page or with `python -m eval_runs lmeval`.")
bench, failures, notes = benchmarks_for(tuple(chosen_uploads), include_minima,
                                        tuple((m, runs[m]) for m in chosen_runs))
for failure in failures:
    st.error(f"Not imported: {md(failure)}", icon=":material/error:")
if notes:
    with st.expander(f"{len(notes)} import note(s)"):
        for note in notes:
            st.caption(note)


def _value_text(value: float, stderr: float) -> str:
    if not math.isfinite(value):
        return "—"
    return f"{value:.4g} ± {stderr:.2g}" if math.isfinite(stderr) else f"{value:.4g}"


explorer, minima = st.tabs(["Explorer", "MiniMA table and frontier"])
with explorer:
    if bench.empty:
        empty_state("No benchmark results: keep the MiniMA table on, or upload lm-eval results on the Data page.")
    else:
        with guarded("show the benchmark explorer"):
            f = st.columns(3)
            metrics = sorted(bench["metric"].astype(str).unique())
            metric = settings.choice("Metric", metrics, key="b_metric", default="acc" if "acc" in metrics
                                     else metrics[0], container=f[0])
            of_metric = bench[bench["metric"] == metric]
            filters = sorted(of_metric["filter"].fillna("").astype(str).unique())
            filt = settings.choice("Filter", filters, key="b_filter", container=f[1],
                                   format_func=lambda v: v or "(none)")
            of_filter = of_metric[of_metric["filter"].fillna("").astype(str) == filt]
            tasks = sorted(of_filter["task"].astype(str).unique())
            chosen_tasks = settings.choices("Tasks", tasks, key="b_tasks", default=tasks[:8], container=f[2])
            rows = of_filter[of_filter["task"].isin(chosen_tasks)]
            if rows.empty:
                empty_state("No results for these choices: pick a task above.")
            else:
                table = rows.assign(cell=[_value_text(v, s) for v, s in zip(rows["value"], rows["stderr"])])
                pivot = table.pivot_table(index="model", columns="task", values="cell", aggfunc="last")
                params = rows.groupby("model")["params"].max()
                pivot.insert(0, "parameters", [size(params.get(m)) for m in pivot.index])
                st.markdown(f"**{md(metric)}** (filter {md(filt or 'none')}): value ± standard error as reported")
                st.dataframe(pivot.reset_index(), hide_index=True, width="stretch")
                from analysis.figures import benchmark_figure

                st.plotly_chart(benchmark_figure(rows, task=chosen_tasks, metric=metric, filter=filt),
                                width="stretch", key="bench_bars")

        with guarded("compare the two models"):
            st.subheader("Two models compared")
            models = sorted(bench["model"].astype(str).unique())
            if len(models) < 2:
                empty_state("Comparing needs results of at least two models.")
            else:
                g = st.columns(4)
                model_a = settings.choice("Model A", models, key="b_a", container=g[0])
                model_b = settings.choice("Model B", models, key="b_b", default=models[1], container=g[1])
                both = bench[bench["model"].isin([model_a, model_b])]
                pairs = both.groupby(["task", "metric"])["model"].nunique()
                common = sorted(f"{t} · {m}" for (t, m), n in pairs.items() if n == 2)
                if model_a == model_b:
                    st.info("Pick two different models.", icon=":material/info:")
                elif not common:
                    empty_state(f"{model_a} and {model_b} share no task and metric.")
                else:
                    pick = settings.choice("Task · metric", common, key="b_pair", container=g[2])
                    alpha = settings.choice("Interval", [0.05, 0.1], key="b_alpha", container=g[3],
                                            format_func=lambda a: level(a))
                    task, metric_ab = pick.split(" · ", 1)
                    from analysis.benchmarks import compare_models

                    filters_ab = sorted(both[(both["task"] == task) & (both["metric"] == metric_ab)]["filter"]
                                        .fillna("").unique())
                    cmp = compare_models(bench, model_a, model_b, task, metric_ab,
                                         filter=filters_ab[0] if len(filters_ab) > 1 else None, alpha=alpha)
                    h = st.columns(3)
                    h[0].metric(model_a, _value_text(cmp.value_a, cmp.stderr_a))
                    h[1].metric(model_b, _value_text(cmp.value_b, cmp.stderr_b))
                    ci = ("no interval" if not math.isfinite(cmp.ci_lower)
                          else f"{level(alpha)} CI {cmp.ci_lower:+.4g} to {cmp.ci_upper:+.4g}")
                    h[2].metric(f"A − B on {task} ({metric_ab})", f"{cmp.difference:+.4g}", ci, delta_color="off", delta_arrow="off")
                    if cmp.note:
                        st.warning(cmp.note, icon=":material/warning:")

    with guarded("compare the models document by document"):
        from app.paired_section import show_paired_section

        show_paired_section()

with minima:
    with guarded("show the MiniMA table"):
        from analysis.benchmarks import load_minima_table

        table = load_minima_table()
        shown = table.assign(params=table["params"].map(size),
                             train_compute_flops=table["train_compute_flops"].map(
                                 lambda v: "—" if pd.isna(v) else f"{v:.3g} FLOPs"))
        st.caption("Scores in percent, as in the MiniMA README (github.com/GeneZC/MiniMA); compute in FLOPs.")
        st.dataframe(shown, hide_index=True, width="stretch")
    with guarded("draw the compute frontier"):
        from analysis.figures import frontier_figure

        scores = [col for col in table.columns if col.endswith("shot")]
        y = settings.choice("Score on the frontier", scores, key="b_front", default=scores[0])
        st.plotly_chart(frontier_figure(table, x="train_compute_flops", y=y), width="stretch", key="frontier")
