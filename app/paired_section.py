"""The Benchmarks page's paired comparison: models compared document by document from lm-eval per-sample logs.

Sources flow in without an upload: every finished lm-eval run of the workspace (<workspace>/lmeval/<model>/, written
by `python -m eval_runs lmeval` or the Runs page, samples files beside the results), plus benchmark uploads that are
zips of an lm-eval output folder with samples in them. The numbers are analysis.paired's; the table, the power
sentence and the forest plot are analysis.paired_report's; this module holds the widgets and the caching.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import settings
from app.display import empty_state, md, show_refusal

CORRECTIONS = {"holm": "Holm (family-wise error)", "bh": "Benjamini–Hochberg (false discovery rate)"}
ALL_TASKS = "(every shared task)"


def _sources() -> dict[str, tuple[str, str, str]]:
    """label -> (kind, path, fingerprint): workspace lm-eval runs with samples files, zip uploads."""
    from app.datasets import BENCHMARK_KIND, stored_uploads
    from app.runs_data import finished_lmeval_runs

    out = {}
    for run in finished_lmeval_runs():
        samples = sorted(run.path.glob("samples_*.json*"))
        if samples:
            newest = max(p.stat().st_mtime_ns for p in samples)
            out[f"run: {run.model}"] = ("run", str(run.path), f"{run.fingerprint}:{len(samples)}:{newest}")
    for entry in stored_uploads(BENCHMARK_KIND):
        if entry.path is not None and Path(entry.path).suffix.lower() == ".zip":
            out[f"upload: {entry.label}"] = ("zip", str(entry.path), entry.key)
    return out


def n_sources() -> int:
    """How many runs or uploads may hold per-sample logs (read lazily: this only looks at names)."""
    return len(_sources())


@st.cache_data(show_spinner="Reading the per-sample logs…", max_entries=32)
def _read(kind: str, path: str, fingerprint: str):
    """(SampleRun, None) or (None, the reason it cannot be read)."""
    from analysis.samples_io import SamplesError, read_samples, read_samples_zip

    try:
        if kind == "zip":
            return read_samples_zip(Path(path).read_bytes(), Path(path).name), None
        return read_samples(path), None
    except (SamplesError, OSError) as error:
        return None, str(error)


@st.cache_data(show_spinner="Comparing document by document…", max_entries=32)
def _compare(keys: tuple, task: str | None, metric: str | None, cluster: str | None, correction: str,
             alpha: float = 0.05):
    """(ComparisonSet, None) or (None, the reason nothing could be compared)."""
    from analysis.paired import PairedError, compare_many
    from analysis.samples_io import SamplesError

    runs = {label: _read(*key)[0] for label, key in keys}
    try:
        return compare_many(runs, task=task, metric=metric, cluster=cluster or None, correction=correction,
                            alpha=alpha), None
    except (PairedError, SamplesError) as error:
        return None, str(error)


def chosen_comparison(alpha: float = 0.05):
    """(ComparisonSet or None, message): the comparison the page's current settings name (also for the report)."""
    sources = _sources()
    readable = {label: key for label, key in sources.items() if _read(*key)[0] is not None}
    raw = settings.raw("bp_models")
    picked = [m for m in ([raw] if isinstance(raw, str) else raw or []) if m in readable] or list(readable)[:2]
    if len(picked) < 2:
        return None, "fewer than two lm-eval runs with per-sample logs"
    task = settings.value_of("bp_task", ALL_TASKS)
    metric = settings.value_of("bp_metric", "acc")
    return _compare(tuple((m, readable[m]) for m in picked), None if task == ALL_TASKS else task,
                    metric or None, settings.value_of("bp_cluster", "") or None,
                    settings.value_of("bp_corr", "holm"), alpha)


def show_paired_section() -> None:
    """The section: pick models (two or more), task, metric, clusters and correction; the paired table with the
    unpaired numbers beside it, the forest plot, the power line, pooled rows and the ranking."""
    from analysis.paired_report import comparison_table, forest_figure, power_sentence
    from analysis.paper_tables import paired_table
    from app.paper_exports import paper_table_downloads

    st.subheader("Paired comparison, document by document")
    st.caption("Both models answered the same questions, so their per-document outcomes are paired: McNemar's "
               "exact test (0/1 metrics) or a paired t interval and bootstrap (continuous ones) use that; the "
               "unpaired numbers beside them are what the two aggregate scores and their stderrs alone say.")
    sources = _sources()
    failures = {label: _read(*key)[1] for label, key in sources.items() if _read(*key)[0] is None}
    readable = {label: key for label, key in sources.items() if label not in failures}
    for label, reason in failures.items():
        st.caption(f"Not usable: {md(label)}: {md(reason)}")
    if len(readable) < 2:
        empty_state("Paired comparisons need per-sample logs of at least two models: run lm-eval on the **Runs** "
                    "page (it writes samples files), or upload a zip of an lm-eval output folder made with "
                    "`--log_samples` on the **Data** page.")
        return
    c = st.columns([3, 2, 1, 2, 2])
    models = settings.choices("Models", list(readable), key="bp_models", default=list(readable)[:2],
                              container=c[0])
    if len(models) < 2:
        empty_state("Pick at least two models.")
        return
    runs = {m: _read(*readable[m])[0] for m in models}
    tasks = sorted(set.intersection(*(set(r.logs) | set(r.groups) for r in runs.values())))
    task = settings.choice("Task", [ALL_TASKS] + tasks, key="bp_task", container=c[1])
    metrics = sorted({m for r in runs.values() for log in r.logs.values() for m in log.metrics})
    metric = settings.choice("Metric", metrics or ["acc"], key="bp_metric", default="acc", container=c[2])
    cluster = settings.text("Cluster by (document field, or task)", key="bp_cluster", container=c[3],
                            help="Documents in groups (an MMLU subject, questions on one passage) are not "
                                 "independent: name the field of the logged documents, or `task` to pool a group's "
                                 "subtasks with each subtask a cluster.")
    correction = settings.choice("Correction", list(CORRECTIONS), key="bp_corr", container=c[4],
                                 format_func=CORRECTIONS.get)
    result, error = _compare(tuple((m, readable[m]) for m in models), None if task == ALL_TASKS else task,
                             metric, cluster.strip() or None, correction)
    if result is None:
        show_refusal(f"No paired comparison: {error}")
        return
    st.markdown(f"{len(result.comparisons)} comparison(s); p-values adjusted by **{CORRECTIONS[correction]}** over "
                f"all of them; 95% intervals.")
    st.dataframe(comparison_table(result), hide_index=True, width="stretch")
    st.plotly_chart(forest_figure(result), width="stretch", key="paired_forest")
    paper_table_downloads({"paired": paired_table(result.frame(), alpha=0.05)}, key="paired_tables",
                          caption=f"paired comparison from per-document logs; 95% intervals; p-values adjusted by "
                                  f"{CORRECTIONS[correction]}")
    first = result.comparisons[0]
    st.info(f"Power ({md(first.task)}, {md(first.metric)}): {md(power_sentence(first))}", icon=":material/bolt:")
    if len(result.comparisons) > 1:
        with st.expander("Power line of every comparison"):
            for comp in result.comparisons:
                st.caption(f"{md(comp.task)} · {md(comp.metric)} · {md(comp.filter)} ({md(comp.model_a)} − "
                           f"{md(comp.model_b)}): {md(power_sentence(comp))}")
    if result.pooled:
        st.markdown("**Pooled over tasks** (each task weighted equally)")
        st.dataframe([{k: v for k, v in row.items() if k != "tasks"} for row in result.pooled], hide_index=True)
    if result.ranking:
        st.markdown("**Ranking**: a range where the differences are not significant after adjustment")
        st.dataframe(result.ranking, hide_index=True)
    for refusal in result.refused:
        show_refusal(f"Not compared: {refusal.reason}")
    for note in result.notes:
        st.caption(md(note))


def paired_report_section(alpha: float = 0.05):
    """The report's paired section (table + forest plot + power lines), or None without two logged runs."""
    from analysis.paired_report import comparison_table, forest_figure, power_sentence
    from analysis.report import ReportSection

    result, error = chosen_comparison(alpha)
    if result is None:
        if error and "fewer than two" in error:
            return None
        return ReportSection("Paired comparison", f"No paired comparison: {error}")
    text = (f"Models compared document by document from lm-eval per-sample logs; p-values adjusted by "
            f"{CORRECTIONS[result.correction]}. The unpaired columns are what the aggregate scores alone say.")
    notes = tuple(f"{c.task} · {c.metric}: {power_sentence(c)}" for c in result.comparisons)
    return ReportSection("Paired comparison", text, figure=forest_figure(result), table=comparison_table(result),
                         notes=notes + tuple(f"Not compared: {r.reason}" for r in result.refused))
