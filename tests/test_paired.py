"""Paired comparisons checked against independently computed numbers (scipy, statsmodels, hand formulas) and on
planted truths from a generator: interval coverage with and without clustered documents (a case the plain
interval does not assume), the power formula against simulated studies, the case where the unpaired comparison
sees nothing and the paired one finds the difference, corrections, pooling and the ranking."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from analysis.paired import (PairedError, compare_many, compare_runs, detectable_difference, documents_needed, paired_bootstrap,
                             paired_stats)
from analysis.samples_io import SampleLog, SampleRun


def _run(name: str, values: dict, clusters=None) -> SampleRun:
    """A SampleRun from {task: per-document acc values} (doc_ids 0..n-1, documents with a `subject`)."""
    logs = {}
    for task, vals in values.items():
        n = len(vals)
        frame = pd.DataFrame({"filter": "none", "doc_id": np.arange(n), "doc_key": None, "key_kind": None,
                              "prompt_hash": None, "acc": np.asarray(vals, dtype=float)})
        docs = tuple({"subject": str(clusters[i]) if clusters is not None else "s"} for i in range(n))
        logs[task] = SampleLog(task=task, source=f"{name}/{task}", layout="0.4 jsonl", frame=frame, metrics=("acc",),
                               docs=docs)
    return SampleRun(model=name, source=name, logs=logs)


def _binary_pair(rng, n, p_a, p10, p01):
    """Paired 0/1 outcomes with P(A right, B wrong) = p10 and P(A wrong, B right) = p01."""
    u = rng.random(n)
    a = (u < p_a).astype(float)
    b = a.copy()
    flip = rng.random(n)
    b[(a == 1) & (flip < p10 / p_a)] = 0
    b[(a == 0) & (flip < p01 / (1 - p_a))] = 1
    return a, b


def test_mcnemar_and_the_paired_t_agree_with_scipy_and_statsmodels():
    rng = np.random.default_rng(1)
    a, b = _binary_pair(rng, 400, 0.6, 0.1, 0.05)
    s = paired_stats(a, b, n_boot=0)
    table = [[np.sum((a == 1) & (b == 1)), np.sum((a == 1) & (b == 0))],
             [np.sum((a == 0) & (b == 1)), np.sum((a == 0) & (b == 0))]]
    assert s["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-10)
    assert (s["discordant_a_only"], s["discordant_b_only"]) == (table[0][1], table[1][0])
    assert s["diff"] == pytest.approx((table[0][1] - table[1][0]) / 400, rel=1e-12)
    x, y = rng.normal(0.5, 0.2, 300), rng.normal(0.45, 0.2, 300)
    s = paired_stats(x, y, n_boot=0)
    assert s["test"] == "paired_t" and s["p_value"] == pytest.approx(stats.ttest_rel(x, y).pvalue, rel=1e-10)
    ci = stats.ttest_rel(x, y).confidence_interval(0.95)
    assert (s["ci_lower"], s["ci_upper"]) == (pytest.approx(ci.low, rel=1e-10), pytest.approx(ci.high, rel=1e-10))
    se_a, se_b = x.std(ddof=1) / math.sqrt(300), y.std(ddof=1) / math.sqrt(300)  # lm-eval's stderr of a mean
    assert s["unpaired_se"] == pytest.approx(math.hypot(se_a, se_b), rel=1e-12)


def test_the_cluster_robust_error_is_the_sandwich_formula():
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(12), rng.integers(3, 9, 12))
    d = rng.normal(0, 1, g.size) + rng.normal(0, 1, 12)[g]
    s = paired_stats(d + 1, np.ones_like(d), clusters=g, n_boot=0)
    resid = d - d.mean()
    by = np.bincount(g, weights=resid)
    se = math.sqrt(12 / 11 * np.sum(by ** 2)) / d.size
    assert s["se"] == pytest.approx(se, rel=1e-10) and s["n_clusters"] == 12 and s["test"] == "cluster_robust_t"
    t = stats.t.ppf(0.975, 11)
    assert s["ci_lower"] == pytest.approx(d.mean() - t * se, rel=1e-10)


def test_the_counting_bootstrap_has_the_distribution_of_the_index_bootstrap():
    rng = np.random.default_rng(3)
    d = rng.choice([-1.0, 0.0, 1.0], size=500, p=[0.1, 0.75, 0.15])
    lo, hi = paired_bootstrap(d, n_boot=20_000, seed=1)  # few distinct values: multinomial counts
    idx = np.random.default_rng(2).integers(0, 500, size=(20_000, 500))
    ref = np.quantile(d[idx].mean(axis=1), [0.025, 0.975])
    assert lo == pytest.approx(ref[0], abs=0.004) and hi == pytest.approx(ref[1], abs=0.004)
    cont = rng.normal(0.1, 1.0, 5000)  # many distinct values: indices drawn in blocks
    lo, hi = paired_bootstrap(cont, n_boot=2000, seed=1)
    se = cont.std(ddof=1) / math.sqrt(5000)
    assert lo == pytest.approx(cont.mean() - 1.96 * se, abs=0.15 * se)
    assert hi == pytest.approx(cont.mean() + 1.96 * se, abs=0.15 * se)


@pytest.mark.parametrize("n, p10, p01", [(40, 0.10, 0.05), (300, 0.06, 0.02), (1000, 0.03, 0.03)])
def test_the_matched_proportions_interval_holds_its_level_on_planted_differences(n, p10, p01):
    rng = np.random.default_rng(n)
    hits = 0
    reps = 1000
    for _ in range(reps):
        a, b = _binary_pair(rng, n, 0.5, p10, p01)
        s = paired_stats(a, b, n_boot=0)
        hits += s["ci_lower"] <= p10 - p01 <= s["ci_upper"]
    assert 0.93 <= hits / reps <= 0.985  # 1000 reps: +-0.014 is two binomial standard errors around 0.95


def test_clustered_documents_break_the_plain_interval_and_the_cluster_robust_one_holds():
    """Questions on one passage share a passage effect: the independent-documents interval undercovers."""
    rng = np.random.default_rng(7)
    n_clusters, per = 40, 10
    g = np.repeat(np.arange(n_clusters), per)
    plain = robust = 0
    reps = 600
    for _ in range(reps):
        effect = rng.normal(0, 0.25, n_clusters)[g]  # A's advantage varies by passage; the mean is 0.05
        d_true = 0.05 + effect
        a = (rng.random(g.size) < 0.5 + d_true / 2).astype(float)
        b = (rng.random(g.size) < 0.5 - d_true / 2).astype(float)
        truth = 0.05  # E[a - b] = E[d_true]
        s0 = paired_stats(a, b, n_boot=0)
        s1 = paired_stats(a, b, clusters=g, n_boot=0)
        plain += s0["ci_lower"] <= truth <= s0["ci_upper"]
        robust += s1["ci_lower"] <= truth <= s1["ci_upper"]
    assert robust / reps >= 0.92
    assert plain / reps < robust / reps - 0.04


def test_the_paired_comparison_finds_a_difference_the_unpaired_one_calls_noise():
    # 1,000 documents; the models agree on 960 and split the other 40 as 30 for A, 10 for B: two points apart
    a = np.r_[np.ones(500), np.zeros(460), np.ones(30), np.zeros(10)]
    b = np.r_[np.ones(500), np.zeros(460), np.zeros(30), np.ones(10)]
    s = paired_stats(a, b, n_boot=0)
    assert s["diff"] == pytest.approx(0.02)
    assert s["unpaired_p_value"] > 0.3 and s["unpaired_ci_lower"] < 0 < s["unpaired_ci_upper"]
    assert s["p_value"] == pytest.approx(stats.binomtest(30, 40).pvalue) and s["p_value"] < 0.01
    assert s["ci_lower"] > 0


def test_documents_needed_gives_80_percent_power_in_simulated_studies():
    psi, d = 0.2, 0.05
    n = int(documents_needed(d, kind="binary", discordance=psi))
    expected = (1.959964 * math.sqrt(psi) + 0.841621 * math.sqrt(psi - d * d)) ** 2 / d ** 2  # Connor (1987)
    assert n == math.ceil(expected)
    rng = np.random.default_rng(11)
    reps = 500
    hits = 0
    for _ in range(reps):
        cells = rng.multinomial(n, [(psi + d) / 2, (psi - d) / 2, 1 - psi])
        hits += stats.binomtest(cells[0], cells[0] + cells[1]).pvalue < 0.05
    assert 0.74 <= hits / reps <= 0.86
    sd = 0.3
    n_cont = int(documents_needed(0.02, kind="continuous", sd_diff=sd))
    hits = sum(stats.ttest_1samp(rng.normal(0.02, sd, n_cont), 0).pvalue < 0.05 for _ in range(reps))
    assert 0.74 <= hits / reps <= 0.86
    mde = detectable_difference(n, kind="binary", discordance=psi)
    assert mde == pytest.approx(d, rel=0.01)  # the inverse of documents_needed
    assert documents_needed(0.25, kind="binary", discordance=psi) is None  # larger than the discordance itself


def test_many_tasks_are_adjusted_by_holm_or_bh_and_pooled_with_equal_weights():
    rng = np.random.default_rng(5)
    tasks_a, tasks_b = {}, {}
    for k, (p10, p01) in enumerate([(0.12, 0.04), (0.08, 0.06), (0.05, 0.05)]):
        tasks_a[f"t{k}"], tasks_b[f"t{k}"] = _binary_pair(rng, 300, 0.5, p10, p01)
    run_a, run_b = _run("A", tasks_a), _run("B", tasks_b)
    for correction, method in (("holm", "holm"), ("bh", "fdr_bh")):
        result = compare_runs(run_a, run_b, correction=correction, n_boot=0)
        raw = [c.p_value for c in result.comparisons]
        assert [c.p_adjusted for c in result.comparisons] == pytest.approx(list(multipletests(raw, method=method)[1]))
    (pooled,) = result.pooled
    cs = result.comparisons
    assert pooled["diff"] == pytest.approx(np.mean([c.diff for c in cs]))
    assert pooled["se"] == pytest.approx(math.sqrt(sum(c.se ** 2 for c in cs)) / 3)


def test_k_models_are_ranked_apart_only_where_the_difference_is_significant():
    rng = np.random.default_rng(9)
    n = 2000
    base = rng.random(n)
    strong = (base < 0.75).astype(float)
    mid1 = (base < 0.55).astype(float)
    mid2 = mid1.copy()
    swap = rng.choice(n, 20, replace=False)
    mid2[swap] = 1 - mid2[swap]  # 20 documents flipped either way: indistinguishable from mid1
    result = compare_many({"strong": _run("strong", {"t": strong}), "mid1": _run("mid1", {"t": mid1}),
                           "mid2": _run("mid2", {"t": mid2})}, n_boot=0)
    ranks = {r["model"]: r["rank"] for r in result.ranking}
    assert ranks == {"strong": "1", "mid1": "2-3", "mid2": "2-3"}
    assert len(result.comparisons) == 3


def test_clusters_by_a_document_field_and_the_design_effect_reach_the_power_line():
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(30), 20)
    shift = rng.normal(0, 0.3, 30)[g]
    a = (rng.random(600) < 0.55 + shift / 2).astype(float)
    b = (rng.random(600) < 0.50 - shift / 2).astype(float)
    (c,) = compare_runs(_run("A", {"t": a}, g), _run("B", {"t": b}, g), cluster="subject", n_boot=200).comparisons
    assert c.test == "cluster_robust_t" and c.n_clusters == 30 and c.cluster == "subject"
    assert c.design_effect > 1.5
    plain = documents_needed(0.01, kind="binary", discordance=c.discordance)
    assert c.n_needed == pytest.approx(math.ceil(plain * c.design_effect), rel=0.01)


def test_the_forest_plot_has_its_traces_and_shows_names_from_files_as_text():
    rng = np.random.default_rng(6)
    a, b = _binary_pair(rng, 200, 0.5, 0.1, 0.05)
    c, d = _binary_pair(rng, 200, 0.5, 0.05, 0.05)
    from analysis.paired_report import forest_figure

    result = compare_runs(_run("A", {"<a href='x'>t</a>": a, "t2": c}), _run("B", {"<a href='x'>t</a>": b, "t2": d}),
                          n_boot=0)
    fig = forest_figure(result)
    assert [t.name for t in fig.data] == ["unpaired", "paired", "pooled"]
    assert all("<a" not in label for label in fig.data[1].y) and "&lt;a href" in fig.data[1].y[0]
    assert list(fig.data[1].x) == pytest.approx([x.diff for x in result.comparisons])


def test_a_groups_subtasks_pool_into_one_comparison_with_each_subtask_a_cluster():
    rng = np.random.default_rng(12)
    va = {f"sub{k}": _binary_pair(rng, 100, 0.5, 0.08 + 0.04 * k, 0.05) for k in range(4)}
    run_a = _run("A", {t: v[0] for t, v in va.items()})
    run_b = _run("B", {t: v[1] for t, v in va.items()})
    run_a = SampleRun(run_a.model, run_a.source, run_a.logs, groups={"grp": list(va)})
    (c,) = compare_runs(run_a, run_b, task="grp", cluster="task", n_boot=0).comparisons
    assert (c.task, c.cluster, c.n_clusters, c.n_matched) == ("grp", "task", 4, 400)
    d = np.concatenate([v[0] - v[1] for v in va.values()])
    assert c.diff == pytest.approx(d.mean())
    by = np.array([(v[0] - v[1] - d.mean()).sum() for v in va.values()])
    assert c.se == pytest.approx(math.sqrt(4 / 3 * np.sum(by ** 2)) / 400, rel=1e-10)
    each = compare_runs(run_a, run_b, task="grp", n_boot=0).comparisons  # without --cluster task: one per subtask
    assert [x.task for x in each] == list(va)
    with pytest.raises(PairedError, match="name the group with --task"):
        compare_runs(run_a, run_b, cluster="task")
