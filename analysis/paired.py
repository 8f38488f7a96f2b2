"""Paired comparisons of models on the same documents, from lm-eval per-sample logs (analysis.samples_io).

Two models answered the same questions, so their per-document outcomes are paired and usually positively
correlated; the difference of their means has a much smaller standard error than the unpaired one (the two
aggregate stderrs added in quadrature) that lm-eval's own model comparison uses. Here, per (task, metric, filter):

  0/1 metrics     diff = (b - c) / n from the discordant counts b (A right, B wrong) and c (B right, A wrong);
                  p-value: McNemar's exact test (a two-sided binomial test of b out of b + c at 1/2; scipy);
                  95% interval: Agresti & Min (2005)'s adjusted Wald interval for matched proportions (half a
                  document added to each cell of the 2x2 table), which holds its level where the plain Wald
                  interval does not (few discordant pairs).
  continuous      the paired t interval and test on the per-document differences, and a paired bootstrap
                  percentile interval (documents resampled with replacement, both models together).
  clusters        when documents come in groups (an MMLU subject, several questions on one passage), documents are
                  not independent: the interval and p-value come from the cluster-robust standard error of the
                  mean difference (statsmodels OLS, cov_type="cluster", t with G - 1 degrees of freedom) and the
                  bootstrap resamples whole clusters. McNemar's test assumes independent documents and is not used.
  corpus-level    metrics logged per document as lists (f1, bleu, perplexities) are not means over documents:
                  refused with the reason, no number.

Many tasks: every comparison's p-value is adjusted over the whole set (Holm's step-down by default, which controls
the family-wise error; Benjamini-Hochberg on request, which controls the false discovery rate), and a pooled
difference per (metric, filter) weighs every task equally (tasks assumed independent). k models: all pairs and a
ranking whose ranks are ranges: a model's best rank is 1 + the number of models significantly better than it, its
worst is k - the number significantly worse, so only significant differences separate models.

Power (Connor 1987, for McNemar's test): documents needed to detect a difference d with power 1 - beta at level
alpha, given the observed discordance psi = (b + c) / n:  n = (z_{1-alpha/2} sqrt(psi) + z_{1-beta}
sqrt(psi - d^2))^2 / d^2; for continuous metrics n = ((z_{1-alpha/2} + z_{1-beta}) s_d / d)^2; with clusters both
are multiplied by the design effect (the cluster-robust variance over the independent one).

    compare_logs(log_a, log_b) -> list[PairedComparison]       one task, every metric and filter
    compare_runs(run_a, run_b) -> ComparisonSet                all shared tasks, adjusted, pooled
    compare_many({name: run}) -> ComparisonSet                 all pairs of k models, adjusted, ranked
"""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field, replace
from statistics import NormalDist
from typing import NamedTuple

import numpy as np
import pandas as pd

from analysis.json_safe import json_safe
from analysis.samples_io import SampleLog, SampleRun, SamplesError, metric_kind
from analysis.validate import check_alpha

SCHEMA_VERSION = 1
CORRECTIONS = {"holm": "holm", "bh": "fdr_bh"}  # our name -> statsmodels.stats.multitest method
CORRECTION_LABELS = {"holm": "Holm (family-wise error)", "bh": "Benjamini-Hochberg (false discovery rate)"}
N_BOOT = 2000  # paired bootstrap resamples: percentile bounds of a 95% interval move by < 0.1 SE between seeds
MAX_BOOT = 100_000  # more resamples than this move a percentile bound by less than the data's own rounding
POWER = 0.8  # the power that "documents needed" targets
_UNIQUE_FOR_MULTINOMIAL = 4096  # below this many distinct differences the bootstrap draws counts per value


class PairedError(ValueError):
    """Two logs that cannot be compared (different tasks, no common documents, different documents under one id,
    a corpus-level metric); the message says which and why."""


@dataclass(frozen=True)
class PairedComparison:
    """One paired comparison A - B on one task, metric and filter (the CLI's JSON `comparisons` entries)."""

    task: str
    metric: str
    filter: str
    model_a: str
    model_b: str
    n_matched: int  # documents both logs hold (and both have a value for this metric)
    mean_a: float
    mean_b: float
    diff: float  # mean_a - mean_b over the matched documents
    ci_lower: float
    ci_upper: float
    p_value: float
    test: str  # "mcnemar_exact", "paired_t", "cluster_robust_t"
    interval: str  # how ci_lower/ci_upper were made
    alpha: float
    se: float  # standard error of diff used for pooling and power (paired; cluster-robust with clusters)
    kind: str  # "binary" or "continuous"
    n_only_a: int = 0  # documents only A's log holds (not compared)
    n_only_b: int = 0
    discordant_a_only: int | None = None  # 0/1 metrics: A right, B wrong
    discordant_b_only: int | None = None  # 0/1 metrics: B right, A wrong
    cluster: str | None = None
    n_clusters: int | None = None
    bootstrap_ci_lower: float | None = None
    bootstrap_ci_upper: float | None = None
    n_boot: int = 0
    unpaired_se: float = math.nan  # sqrt(se_a^2 + se_b^2), each sd/sqrt(n) over the matched documents
    unpaired_ci_lower: float = math.nan
    unpaired_ci_upper: float = math.nan
    unpaired_p_value: float = math.nan
    correlation: float = math.nan  # Pearson correlation of A's and B's per-document values
    discordance: float | None = None  # 0/1 metrics: (b + c) / n
    design_effect: float | None = None  # clusters: cluster-robust variance / independent variance
    detect: float | None = None  # the difference the power line is about
    n_needed: int | None = None  # documents needed to detect `detect` with 80% power (None: cannot say)
    mde: float | None = None  # smallest difference detectable with 80% power at n_matched documents
    p_adjusted: float | None = None
    correction: str | None = None
    higher_is_better: bool | None = None
    notes: tuple[str, ...] = ()

    @property
    def significant(self) -> bool:
        p = self.p_adjusted if self.p_adjusted is not None else self.p_value
        return bool(p < self.alpha)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["notes"] = list(self.notes)
        out["significant"] = self.significant
        return json_safe(out)


class Refusal(NamedTuple):
    """A (task, metric, filter) that was not compared, and why (metric and filter "" when it concerns them all)."""

    task: str
    metric: str
    filter: str
    reason: str

    def to_dict(self) -> dict:
        return self._asdict()


@dataclass
class ComparisonSet:
    """Comparisons of one or more model pairs over tasks, with their correction, pooled rows and ranking."""

    comparisons: list[PairedComparison]
    refused: list[Refusal] = field(default_factory=list)
    pooled: list[dict] = field(default_factory=list)
    ranking: list[dict] = field(default_factory=list)
    correction: str = "holm"
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """One row per comparison (the to_dict keys)."""
        return pd.DataFrame([c.to_dict() for c in self.comparisons])

    def to_dict(self) -> dict:
        return json_safe({"schema_version": SCHEMA_VERSION, "alpha": self.alpha, "correction": self.correction,
                          "correction_label": CORRECTION_LABELS[self.correction],
                          "comparisons": [c.to_dict() for c in self.comparisons],
                          "pooled": self.pooled, "ranking": self.ranking,
                          "refused": [r.to_dict() for r in self.refused], "notes": list(self.notes)})


# ---------------------------------------------------------------------------------------------- numbers
def paired_stats(a: np.ndarray, b: np.ndarray, *, clusters: np.ndarray | None = None, alpha: float = 0.05,
                 n_boot: int = N_BOOT, seed: int = 0, kind: str | None = None, detect: float | None = None) -> dict:
    """The paired comparison of two aligned arrays (one value per document each): the numbers of a
    PairedComparison as a dict. `kind` "binary" / "continuous" (default: binary when every value is 0 or 1)."""
    from scipy import stats

    check_alpha(alpha)
    if not 0 <= int(n_boot) <= MAX_BOOT:
        raise ValueError(f"n_boot must be between 0 and {MAX_BOOT:,}, found {n_boot}")
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    n = a.size
    if n < 2:
        raise PairedError(f"{n} matched document(s): a comparison needs at least 2")
    kind = kind or ("binary" if metric_kind(a) == metric_kind(b) == "binary" else "continuous")
    d = a - b
    diff = float(d.mean())
    z = NormalDist().inv_cdf(1 - alpha / 2)
    out = {"n_matched": n, "mean_a": float(a.mean()), "mean_b": float(b.mean()), "diff": diff, "alpha": alpha,
           "kind": kind}
    sd_a, sd_b, sd_d = (float(x.std(ddof=1)) for x in (a, b, d))
    out["correlation"] = float(np.corrcoef(a, b)[0, 1]) if sd_a > 0 and sd_b > 0 else math.nan
    # unpaired: what the two aggregate scores and their stderrs (lm-eval's, sd/sqrt(n)) say
    u_se = math.sqrt((sd_a ** 2 + sd_b ** 2) / n)
    out["unpaired_se"] = u_se
    out["unpaired_ci_lower"], out["unpaired_ci_upper"] = diff - z * u_se, diff + z * u_se
    out["unpaired_p_value"] = (2 * (1 - NormalDist().cdf(abs(diff) / u_se)) if u_se > 0
                               else (1.0 if diff == 0 else 0.0))
    iid_se = sd_d / math.sqrt(n)
    if kind == "binary":
        n10 = int(np.count_nonzero((a == 1) & (b == 0)))
        n01 = int(np.count_nonzero((a == 0) & (b == 1)))
        out["discordant_a_only"], out["discordant_b_only"] = n10, n01
        out["discordance"] = (n10 + n01) / n
    if clusters is not None:
        out.update(_clustered(d, clusters, alpha))
        deff = out["se"] ** 2 / iid_se ** 2 if iid_se > 0 else math.nan
        out["design_effect"] = deff
    elif kind == "binary":
        n10, n01 = out["discordant_a_only"], out["discordant_b_only"]
        out["p_value"] = float(stats.binomtest(n10, n10 + n01, 0.5).pvalue) if n10 + n01 else 1.0
        out["test"] = "mcnemar_exact"
        # Agresti & Min (2005): add 1/2 to each of the four cells, then the Wald interval for p10 - p01
        m = n + 2.0
        p10, p01 = (n10 + 0.5) / m, (n01 + 0.5) / m
        adj = p10 - p01
        se_adj = math.sqrt(max(p10 + p01 - adj ** 2, 0.0) / m)
        out["ci_lower"], out["ci_upper"] = adj - z * se_adj, adj + z * se_adj
        out["interval"] = "Agresti-Min adjusted Wald for matched proportions"
        out["se"] = iid_se
    else:
        tq = stats.t.ppf(1 - alpha / 2, n - 1)
        out["se"] = iid_se
        out["ci_lower"], out["ci_upper"] = diff - tq * iid_se, diff + tq * iid_se
        out["p_value"] = float(2 * stats.t.sf(abs(diff) / iid_se, n - 1)) if iid_se > 0 else (
            1.0 if diff == 0 else 0.0)
        out["test"] = "paired_t"
        out["interval"] = "paired t"
    if n_boot:
        lo, hi = paired_bootstrap(d, n_boot=n_boot, alpha=alpha, seed=seed, clusters=clusters)
        out["bootstrap_ci_lower"], out["bootstrap_ci_upper"], out["n_boot"] = lo, hi, n_boot
    out.update(power_line(out, detect=detect))
    return out


def _clustered(d: np.ndarray, clusters: np.ndarray, alpha: float) -> dict:
    """Cluster-robust mean difference (statsmodels OLS of d on a constant, cov_type='cluster', t with G-1 df)."""
    import statsmodels.api as sm

    codes, uniques = pd.factorize(pd.Series(clusters, dtype=object), use_na_sentinel=False)
    g = len(uniques)
    if g < 2:
        raise PairedError("every document is in one cluster: a cluster-robust error needs at least 2 clusters")
    fit = sm.OLS(d, np.ones((d.size, 1))).fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
    se = float(fit.bse[0])
    lo, hi = fit.conf_int(alpha)[0]
    p = float(fit.pvalues[0]) if se > 0 else (1.0 if d.mean() == 0 else 0.0)
    out = {"se": se, "ci_lower": float(lo), "ci_upper": float(hi), "p_value": p, "test": "cluster_robust_t",
           "interval": f"cluster-robust t ({g} clusters, {g - 1} df)", "n_clusters": g}
    if se == 0:
        out["ci_lower"] = out["ci_upper"] = float(d.mean())
    return out


def paired_bootstrap(d: np.ndarray, *, n_boot: int = N_BOOT, alpha: float = 0.05, seed: int = 0,
                     clusters: np.ndarray | None = None) -> tuple[float, float]:
    """Percentile interval of the mean of `d` over `n_boot` resamples of documents (or of whole clusters).

    The resampled mean depends only on how often each distinct value is drawn, so when d takes few distinct values
    (0/1 metrics: -1, 0, 1) a resample is one multinomial draw of counts per value: the same distribution as
    drawing n indices, at a cost that does not grow with n. Otherwise indices are drawn in blocks.
    """
    rng = np.random.default_rng(seed)
    d = np.asarray(d, dtype=float)
    n = d.size
    if clusters is not None:
        codes, uniques = pd.factorize(pd.Series(clusters, dtype=object), use_na_sentinel=False)
        sums = np.bincount(codes, weights=d)
        sizes = np.bincount(codes).astype(float)
        idx = rng.integers(0, len(uniques), size=(n_boot, len(uniques)))
        means = sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)  # a resample of clusters: the ratio estimator
    else:
        values, counts = np.unique(d, return_counts=True)
        if values.size <= _UNIQUE_FOR_MULTINOMIAL:
            draws = rng.multinomial(n, counts / n, size=n_boot)  # (n_boot, n_values)
            means = draws @ values / n
        else:
            means = np.empty(n_boot)
            block = max(1, 20_000_000 // n)  # 20 M indices at a time (80 MB as int32)
            dtype = np.int32 if n < 2**31 - 1 else np.int64  # int32 draws and gathers about 1.6x faster
            for start in range(0, n_boot, block):
                stop = min(n_boot, start + block)
                means[start:stop] = d[rng.integers(0, n, size=(stop - start, n), dtype=dtype)].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


# ---------------------------------------------------------------------------------------------- power
def documents_needed(detect: float, *, kind: str, discordance: float | None = None, sd_diff: float | None = None,
                     alpha: float = 0.05, power: float = POWER, design_effect: float = 1.0) -> int | None:
    """Documents needed to detect a difference `detect` (in the metric's units: 0.01 = one point of accuracy).

    binary: Connor (1987)'s sample size for McNemar's test from the discordance (b + c) / n; None when the
    difference cannot happen at that discordance (|detect| >= discordance) or there is no discordance to use.
    continuous: ((z_{1-alpha/2} + z_power) sd_diff / detect)^2. Both times the design effect of clusters.
    """
    d = abs(float(detect))
    if not d or not math.isfinite(d):
        return None
    za, zb = NormalDist().inv_cdf(1 - alpha / 2), NormalDist().inv_cdf(power)
    if kind == "binary":
        if not discordance or discordance <= d:
            return None
        n = (za * math.sqrt(discordance) + zb * math.sqrt(discordance - d * d)) ** 2 / d ** 2
    else:
        if not sd_diff:
            return None
        n = ((za + zb) * sd_diff / d) ** 2
    deff = design_effect if design_effect and math.isfinite(design_effect) else 1.0
    return int(math.ceil(n * deff))


def detectable_difference(n: int, *, kind: str, discordance: float | None = None, sd_diff: float | None = None,
                          alpha: float = 0.05, power: float = POWER, design_effect: float = 1.0) -> float | None:
    """The smallest |difference| that n documents detect with `power` (the inverse of documents_needed)."""
    from scipy.optimize import brentq

    deff = design_effect if design_effect and math.isfinite(design_effect) else 1.0
    za, zb = NormalDist().inv_cdf(1 - alpha / 2), NormalDist().inv_cdf(power)
    if kind != "binary":
        return None if not sd_diff else float((za + zb) * sd_diff * math.sqrt(deff / n))
    if not discordance:
        return None

    def gap(d):
        return (za * math.sqrt(discordance) + zb * math.sqrt(discordance - d * d)) ** 2 / d ** 2 * deff - n

    hi = discordance * (1 - 1e-12)
    if gap(hi) > 0:
        return None  # not even a difference as large as the discordance is detectable at this n
    return float(brentq(gap, 1e-12, hi))


def power_line(stats: dict, *, detect: float | None = None, alpha: float | None = None) -> dict:
    """`detect`, `n_needed` and `mde` for a comparison's numbers. detect defaults to one point (0.01) for 0/1
    metrics and to the observed |diff| for continuous ones."""
    alpha = stats.get("alpha", 0.05) if alpha is None else alpha
    kind = stats["kind"]
    n = stats["n_matched"]
    deff = stats.get("design_effect") or 1.0
    sd_diff = stats["se"] * math.sqrt(n) / math.sqrt(deff) if stats.get("se") else None
    if detect is None:
        detect = 0.01 if kind == "binary" else (abs(stats["diff"]) or None)
    common = dict(kind=kind, discordance=stats.get("discordance"), sd_diff=sd_diff, alpha=alpha, design_effect=deff)
    return {"detect": detect,
            "n_needed": documents_needed(detect, **common) if detect else None,
            "mde": detectable_difference(n, **common)}


# ---------------------------------------------------------------------------------------------- two logs
def compare_logs(log_a: SampleLog, log_b: SampleLog, *, model_a: str = "A", model_b: str = "B",
                 metric: str | None = None, filter: str | None = None, cluster: str | None = None,
                 alpha: float = 0.05, n_boot: int = N_BOOT, seed: int = 0, detect: float | None = None,
                 refused: list | None = None, task: str | None = None) -> list[PairedComparison]:
    """Every (metric, filter) both logs hold, compared paired. Raises PairedError when nothing can be compared
    (no common metric or filter, no common documents, a document that differs under one id, only corpus-level
    metrics); a metric only one side can compare goes to `refused` (if given) with the reason."""
    task = task or log_a.task
    refused = refused if refused is not None else []
    corpus = (set(log_a.corpus_metrics) | set(log_b.corpus_metrics))
    if metric is not None and metric in corpus:
        raise PairedError(_corpus_reason(task, metric))
    for m in sorted(corpus & (set(log_a.metrics) | set(log_a.corpus_metrics))):
        if metric is None:
            refused.append(Refusal(task, m, "", _corpus_reason(task, m)))
    metrics = _choose("metric", metric, [m for m in log_a.metrics if m in log_b.metrics and m not in corpus], task,
                      _metric_list(log_a), _metric_list(log_b))
    if not metrics:
        if corpus:
            raise PairedError(f"task {task!r}: {_corpus_reason(task, ', '.join(sorted(corpus)))}")
        raise PairedError(f"task {task!r}: no per-document metric in both logs (A: {', '.join(log_a.metrics)}; "
                          f"B: {', '.join(log_b.metrics)})")
    filters = _choose("filter", filter, [f for f in log_a.filters if f in log_b.filters], task,
                      ", ".join(log_a.filters), ", ".join(log_b.filters))
    if not filters:
        raise PairedError(f"task {task!r}: the logs share no filter (A: {', '.join(log_a.filters)}; B: "
                          f"{', '.join(log_b.filters)})")
    out = []
    for filt in filters:
        fa = log_a.frame[log_a.frame["filter"] == filt]
        fb = log_b.frame[log_b.frame["filter"] == filt]
        joined, notes = match_documents(fa, fb, task=task, filt=filt, source_a=log_a.source, source_b=log_b.source)
        groups = None
        if cluster:
            ga = log_a.field_values(cluster) if cluster != "task" else pd.Series(task, index=log_a.frame.index)
            groups = ga.loc[joined["_row_a"]].to_numpy()
        for m in metrics:
            va, vb = joined[f"{m}_a"].to_numpy(dtype=float), joined[f"{m}_b"].to_numpy(dtype=float)
            ok = np.isfinite(va) & np.isfinite(vb)
            if ok.sum() < 2:
                refused.append(Refusal(task, m, filt, f"{int(ok.sum())} document(s) with a value of {m!r} in both "
                                                      "logs: nothing to compare"))
                continue
            keep_notes = list(notes)
            if (~ok).any():
                keep_notes.append(f"{int((~ok).sum())} matched document(s) without a value of {m!r} on one side "
                                  f"are left out")
            g = None if groups is None else groups[ok]
            if g is not None and pd.Series(g).isna().any():
                raise PairedError(f"task {task!r}: {int(pd.Series(g).isna().sum())} document(s) have no "
                                  f"{cluster!r} field to cluster by")
            if g is not None and len(set(g)) < 2:
                refused.append(Refusal(task, m, filt, f"every document has the same {cluster!r}: clustering needs at "
                                                      "least 2 clusters"))
                continue
            s = paired_stats(va[ok], vb[ok], clusters=g, alpha=alpha, n_boot=n_boot, seed=seed, detect=detect)
            out.append(PairedComparison(task=task, metric=m, filter=filt, model_a=model_a, model_b=model_b,
                                        n_only_a=len(fa) - len(joined), n_only_b=len(fb) - len(joined),
                                        cluster=cluster, notes=tuple(keep_notes), **s))
    if not out:
        raise PairedError(f"task {task!r}: nothing to compare ({'; '.join(r.reason for r in refused[-3:])})")
    return out


def _choose(what: str, wanted: str | None, shared: list[str], task: str, have_a: str, have_b: str) -> list[str]:
    """`shared`, or [wanted] when the user named one (PairedError if it is not in both logs)."""
    if wanted is None:
        return shared
    if wanted not in shared:
        raise PairedError(f"task {task!r}: {what} {wanted!r} is not in both logs (A has {have_a}; B has {have_b})")
    return [wanted]


def _metric_list(log: SampleLog) -> str:
    text = ", ".join(log.metrics) or "no per-document metric"
    return text + (f"; corpus-level: {', '.join(log.corpus_metrics)}" if log.corpus_metrics else "")


def _corpus_reason(task: str, metric: str) -> str:
    return (f"{metric} on {task!r} is a corpus-level metric (logged per document as a list, e.g. [reference, "
            f"prediction] or [log-likelihood, length]): its score is computed over the whole corpus, not as a mean "
            f"of per-document scores, so it cannot be compared document by document")


def match_documents(fa: pd.DataFrame, fb: pd.DataFrame, *, task: str, filt: str, source_a: str = "A",
                    source_b: str = "B") -> tuple[pd.DataFrame, list[str]]:
    """Inner join of two logs' rows on doc_id; PairedError if none match or a document differs under one id
    (by doc_key: lm-eval's doc_hash, or the same hash of the logged document, or 0.3's reference answer)."""
    left = fa.reset_index().rename(columns={"index": "_row_a"})
    right = fb.reset_index().rename(columns={"index": "_row_b"})
    joined = left.merge(right, on="doc_id", suffixes=("_a", "_b"))
    if joined.empty:
        ids_a, ids_b = fa["doc_id"], fb["doc_id"]
        raise PairedError(f"task {task!r} (filter {filt!r}): no document in common (A holds doc_ids "
                          f"{_id_range(ids_a)}, B holds {_id_range(ids_b)}): the runs saw different documents")
    notes = []
    ka, kb = joined["doc_key_a"], joined["doc_key_b"]
    both = ka.notna() & kb.notna() & (joined["key_kind_a"] == joined["key_kind_b"])
    bad = both & (ka != kb)
    if bad.any():
        row = joined[bad].iloc[0]
        what = "the reference answer (0.3 truth)" if row["key_kind_a"] == "truth" else "doc_hash"
        raise PairedError(
            f"task {task!r}: doc_id {row['doc_id']} is a different document in the two logs ({what} "
            f"{str(row['doc_key_a'])[:12]}... in {source_a}, {str(row['doc_key_b'])[:12]}... in {source_b}; "
            f"{int(bad.sum())} of {len(joined)} matched ids differ): the runs used different data (a dataset "
            f"version or order) and cannot be paired")
    if not both.all():
        notes.append(f"{int((~both).sum())} of {len(joined)} documents matched by doc_id only (the logs hold no "
                     f"document, doc_hash or reference of the same kind to check them by)")
    pa, pb = joined["prompt_hash_a"], joined["prompt_hash_b"]
    differ = int((pa.notna() & pb.notna() & (pa != pb)).sum())
    if differ:
        notes.append(f"the prompts differ on {differ} of {len(joined)} documents (another few-shot setting or "
                     f"template): the models answered the same documents under different prompts")
    return joined, notes


def _id_range(ids: pd.Series) -> str:
    return f"{int(ids.min())}-{int(ids.max())} ({len(ids)})" if len(ids) else "none"


# ---------------------------------------------------------------------------------------------- runs
def compare_runs(run_a: SampleRun, run_b: SampleRun, *, task: str | None = None, metric: str | None = None,
                 filter: str | None = None, cluster: str | None = None, correction: str = "holm",
                 alpha: float = 0.05, n_boot: int = N_BOOT, seed: int = 0, detect: float | None = None,
                 model_a: str | None = None, model_b: str | None = None) -> ComparisonSet:
    """Every task both runs logged (or `task`: a task or a group, whose subtasks are then pooled as clusters when
    `cluster` is "task"), compared paired, p-values adjusted, pooled per (metric, filter)."""
    return compare_many({model_a or run_a.model: run_a, model_b or run_b.model: run_b}, task=task, metric=metric,
                        filter=filter, cluster=cluster, correction=correction, alpha=alpha, n_boot=n_boot, seed=seed,
                        detect=detect)


def compare_many(runs: dict, *, task: str | None = None, metric: str | None = None, filter: str | None = None,
                 cluster: str | None = None, correction: str = "holm", alpha: float = 0.05, n_boot: int = N_BOOT,
                 seed: int = 0, detect: float | None = None) -> ComparisonSet:
    """All pairs of k >= 2 runs ({name: SampleRun}), every shared task; the p-values adjusted over the whole set;
    pooled rows per (pair, metric, filter); with k > 2 a ranking per (task, metric, filter)."""
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, found {correction!r}")
    check_alpha(alpha)
    names = list(runs)
    if len(names) < 2:
        raise PairedError("a comparison needs at least two runs")
    if len(set(names)) < len(names):
        raise PairedError(f"two runs have the same model name ({names}); name them apart")
    comparisons: list[PairedComparison] = []
    refused: list[Refusal] = []
    notes: list[str] = []
    for name in names:
        notes.extend(runs[name].notes)
    for name_a, name_b in itertools.combinations(names, 2):
        run_a, run_b = runs[name_a], runs[name_b]
        pairs = _task_pairs(run_a, run_b, task, cluster)
        for label, logs_a, logs_b in pairs:
            pooled = len(logs_a) > 1  # a group: its subtasks pooled into one log, each subtask a cluster
            try:
                found = compare_logs(_pool(label, logs_a) if pooled else logs_a[0],
                                     _pool(label, logs_b) if pooled else logs_b[0], model_a=name_a,
                                     model_b=name_b, metric=metric, filter=filter,
                                     cluster="_subtask" if pooled else cluster, alpha=alpha, n_boot=n_boot,
                                     seed=seed, detect=detect, refused=refused, task=label)
            except PairedError as exc:
                if len(pairs) == 1:
                    raise
                if not any(r.task == label for r in refused):  # its metrics may be refused one by one already
                    refused.append(Refusal(label, metric or "", filter or "", str(exc)))
                continue
            comparisons += [replace(c, cluster="task") for c in found] if pooled else found
    if not comparisons:
        raise PairedError("nothing could be compared: " + "; ".join(dict.fromkeys(r.reason for r in refused)))
    hib = {}
    for run in runs.values():
        hib.update(run.higher_is_better)
    comparisons = [replace(c, higher_is_better=hib.get((c.task, c.metric))) for c in comparisons]
    comparisons = adjust(comparisons, correction)
    result = ComparisonSet(comparisons, refused, pooled=pooled_rows(comparisons, alpha), correction=correction,
                           alpha=alpha, notes=list(dict.fromkeys(notes)))
    if len(names) > 2:
        result.ranking = rank_models(comparisons, names)
    return result


def _task_pairs(run_a: SampleRun, run_b: SampleRun, task: str | None, cluster: str | None):
    """[(label, [logs of A], [logs of B])]: one entry per shared task, or the named task / group."""
    if cluster == "task" and task is None:
        raise PairedError("--cluster task pools a group's subtasks, each a cluster: name the group with --task")
    shared = [t for t in run_a.logs if t in run_b.logs]
    if task is None:
        if not shared:
            raise PairedError(f"{run_a.source} and {run_b.source} share no task: A logged "
                              f"{', '.join(run_a.logs) or 'none'}; B logged {', '.join(run_b.logs) or 'none'}")
        return [(t, [run_a.logs[t]], [run_b.logs[t]]) for t in shared]
    if task in run_a.logs and task in run_b.logs:
        return [(task, [run_a.logs[task]], [run_b.logs[task]])]
    subtasks = run_a.groups.get(task) or run_b.groups.get(task) or []
    subtasks = [t for t in subtasks if t in run_a.logs and t in run_b.logs]
    if subtasks and cluster == "task":
        return [(task, [run_a.logs[t] for t in subtasks], [run_b.logs[t] for t in subtasks])]
    if subtasks:
        return [(t, [run_a.logs[t]], [run_b.logs[t]]) for t in subtasks]
    have = [f"{'A' if run is run_a else 'B'} has {', '.join(run.logs) or 'none'}" for run in (run_a, run_b)]
    raise PairedError(f"task {task!r} is not in both runs' logs ({'; '.join(have)})")


def _pool(group: str, logs: list[SampleLog]) -> SampleLog:
    """Subtask logs as one log: doc_ids made unique per subtask, the subtask kept as a cluster field."""
    frames, docs = [], []
    offset = 0
    for log in logs:
        f = log.frame.copy()
        f["doc_id"] = f["doc_id"] + offset
        f["_subtask"] = log.task
        offset += int(log.frame["doc_id"].max()) + 1
        frames.append(f)
        docs += list(log.docs)
    metrics = tuple(m for m in logs[0].metrics if all(m in log.metrics for log in logs))
    corpus = tuple(dict.fromkeys(m for log in logs for m in log.corpus_metrics))
    return SampleLog(task=group, source=", ".join(log.source for log in logs), layout=logs[0].layout,
                     frame=pd.concat(frames, ignore_index=True), metrics=metrics, corpus_metrics=corpus,
                     docs=tuple(docs))


def adjust(comparisons: list[PairedComparison], correction: str = "holm") -> list[PairedComparison]:
    """The comparisons with `p_adjusted` over the whole list (statsmodels multipletests)."""
    from statsmodels.stats.multitest import multipletests

    if not comparisons:
        return comparisons
    p = np.array([c.p_value for c in comparisons], dtype=float)
    adjusted = multipletests(p, method=CORRECTIONS[correction])[1] if len(p) > 1 else p
    return [replace(c, p_adjusted=float(q), correction=correction) for c, q in zip(comparisons, adjusted)]


def pooled_rows(comparisons: list[PairedComparison], alpha: float = 0.05) -> list[dict]:
    """Per (model pair, metric, filter) over >= 2 tasks: the equal-weight mean of the task differences, its
    standard error sqrt(sum se_t^2) / T (tasks independent), a normal interval and p-value."""
    z = NormalDist().inv_cdf(1 - alpha / 2)
    groups: dict[tuple, list[PairedComparison]] = {}
    for c in comparisons:
        groups.setdefault((c.model_a, c.model_b, c.metric, c.filter), []).append(c)
    rows = []
    for (ma, mb, metric, filt), cs in groups.items():
        if len(cs) < 2:
            continue
        t = len(cs)
        diff = sum(c.diff for c in cs) / t
        se = math.sqrt(sum(c.se ** 2 for c in cs)) / t
        p = 2 * (1 - NormalDist().cdf(abs(diff) / se)) if se > 0 else (1.0 if diff == 0 else 0.0)
        rows.append({"model_a": ma, "model_b": mb, "metric": metric, "filter": filt, "n_tasks": t,
                     "tasks": [c.task for c in cs], "n_matched": sum(c.n_matched for c in cs), "diff": diff,
                     "se": se, "ci_lower": diff - z * se, "ci_upper": diff + z * se, "p_value": p,
                     "test": "pooled_z (tasks weighted equally)"})
    return rows


def rank_models(comparisons: list[PairedComparison], names: list[str]) -> list[dict]:
    """Per (task, metric, filter): each model's rank range. best = 1 + models significantly better, worst = k -
    models significantly worse (significance from p_adjusted); the direction from higher_is_better (default:
    higher is better)."""
    rows = []
    cells: dict[tuple, list[PairedComparison]] = {}
    for c in comparisons:
        cells.setdefault((c.task, c.metric, c.filter), []).append(c)
    for (task, metric, filt), cs in cells.items():
        means: dict[str, float] = {}
        better = {n: 0 for n in names}
        worse = {n: 0 for n in names}
        higher = cs[0].higher_is_better is not False
        for c in cs:
            means[c.model_a], means[c.model_b] = c.mean_a, c.mean_b
            if c.significant and c.diff != 0:
                a_wins = (c.diff > 0) == higher
                win, lose = (c.model_a, c.model_b) if a_wins else (c.model_b, c.model_a)
                better[lose] += 1
                worse[win] += 1
        present = [n for n in names if n in means]
        k = len(present)
        order = sorted(present, key=lambda n: -means[n] if higher else means[n])
        for n in order:
            best, worst = 1 + better[n], k - worse[n]
            rows.append({"task": task, "metric": metric, "filter": filt, "model": n, "mean": means[n],
                         "rank_best": best, "rank_worst": worst,
                         "rank": str(best) if best == worst else f"{best}-{worst}"})
    return rows


__all__ = ["PairedComparison", "ComparisonSet", "Refusal", "PairedError", "paired_stats", "paired_bootstrap",
           "documents_needed", "detectable_difference", "power_line", "compare_logs", "compare_runs",
           "compare_many", "match_documents", "adjust", "pooled_rows", "rank_models", "SCHEMA_VERSION",
           "SamplesError"]
