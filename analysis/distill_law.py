"""Busbridge et al.'s distillation scaling law, fitted to distillation runs: the student's cross-entropy as a
function of the teacher's cross-entropy, the student's size and the distillation tokens.

The law (Busbridge, Shidani, Weers, Ramapuram, Littwin, Webb, *Distillation Scaling Laws*, ICML 2025,
arXiv 2502.08606, Eq. 8), all losses in nats/token:

    L_S = L_T + L_T**(-c0) * (1 + (L_T / (Ls~ * d1))**(1/f1))**(-c1*f1) * (A / N_S**alpha + B / D_S**beta)**gamma

    L_S     the distilled student's cross-entropy            N_S  student parameters     D_S  distillation tokens
    L_T     the teacher's cross-entropy                      Ls~  the student's supervised cross-entropy (same
                                                                  N_S, D_S, no teacher)

(the paper writes A', B', alpha', beta', gamma' for the student term; we drop the primes). The broken power law in
L_T / (Ls~ d1) switches regimes: a teacher much weaker than what the student can learn alone (L_T >> Ls~ d1) is
matched (L_S -> L_T); a much stronger one leaves L_S ~ L_T + L_T**(-c0) * (student term), which grows as L_T falls:
the capacity gap, in teacher *loss* rather than teacher size. Source of the equation text: we could not read the
paper itself here; the form above is the one quoted, with the supervised law written out, in a public benchmark
of scaling-law discovery that lists the paper's law (and, without gamma, in a second public summary). Where the two
disagree (the exponent gamma) we keep gamma, which the fuller quote has.

What we substitute: Busbridge et al. take Ls~ from their supervised scaling law (their Eq. 1, fitted to their
supervised runs). We use the student's own runs without a teacher at the same (N_S, D_S) (teacher_params 0): the
mean of those runs is Ls~ for that cell. Cells without such runs are left out and named; with none at all the fit
is refused (the rows to add are named). For an untested (N_S, D_S) (what-if) Ls~ comes from a plane in
(ln N_S, ln D_S) through the measured baselines: an interpolation, labelled as such, not their Eq. 1.

How it is fitted (Hoffmann et al. 2022, approach 3; Besiroglu et al. 2024, *Chinchilla Scaling: A replication
attempt*): the Huber loss (delta 1e-3) of ln(predicted L_S) - ln(observed L_S) summed over runs, minimised by
L-BFGS-B (scipy) from the best few of a grid of starting points, in log-parameters (every coefficient is positive)
with the student term centred at the geometric-mean student and budget (A / N**alpha = a (N / N0)**-alpha), which
decorrelates A from alpha without changing the model. Intervals: percentile intervals of a bootstrap over runs,
resampled within each (student, tokens) cell (a cell's distilled runs and its no-teacher runs separately, so every
cell stays in every resample), each resample refitted from every *competing fit* (the local minima whose robust
loss is within 2% of the best one, at most 3) and keeping its best: on planted truths the wrong basin often wins by
a fraction of a percent, and a resample refitted from one fit only would report the neighbourhood of that fit.
Held-out error: leave one student size out (all its token budgets), refit on the others (warm-started at the full
fit), predict the held-out runs, and score the tested teacher the refit would pick (regret, nats/token).

How well it works (bench/distill_law_bench.py, bench/RESULTS.md): the optimal teacher loss per cell was inside its
95% interval in 88% of cells on data drawn from Eq. 8, but the nine coefficients are weakly identified on sweeps
of this kind (the break c1, f1, d1 barely moves the predictions): their intervals held the planted values only
25-100% of the time. Read them as a description of the runs.

Refusals (DistillLawRefused, a message that says what to add): a metric that is not a cross-entropy in nats/token;
no teacher losses (`teacher_value`); no supervised baselines; fewer than two student sizes or two token budgets
(A and B, alpha and beta cannot be told apart); fewer than three distinct teacher losses; fewer runs than three per
coefficient. A coefficient whose bootstrap interval reaches its search bound is reported with a caveat: the data
do not determine it.
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

from analysis.caveats import DataWarning
from analysis.json_safe import json_number
from analysis.optimum import no_teacher_mask
from analysis.sizes import format_size
from analysis.validate import check_alpha

SCHEMA_VERSION = 1
PARAM_NAMES = ("c0", "c1", "f1", "d1", "A", "alpha", "B", "beta", "gamma")
EQUATION = ("L_S = L_T + L_T^-c0 * (1 + (L_T / (Ls~ d1))^(1/f1))^(-c1 f1) * (A / N_S^alpha + B / D_S^beta)^gamma"
            "   (Busbridge et al. 2025, Eq. 8)")
HUBER_DELTA = 1e-3  # on ln-loss residuals, as Hoffmann et al. (2022) and Besiroglu et al. (2024)
MIN_RUNS_PER_PARAM = 3  # fewer distilled runs than 3 x 9 coefficients: no fit
# Competing fits: local minima whose robust loss is within 2% of the best one are fits the data barely tell apart
# (on planted truths the wrong one won by 0.3%). Every resample starts from each (at most 3) and keeps its best, so
# the intervals span the competing fits instead of the neighbourhood of one.
BASIN_TOL = 0.02
MAX_BASINS = 3

# Search box of the log-parameters (internal order: c0, c1, f1, d1, a, alpha, b, beta, gamma). Wide enough for the
# paper's regime and for small CPU sweeps; a bootstrap interval that reaches an edge is reported as undetermined.
_LO = np.log([1e-3, 1e-3, 1e-3, 0.05, 1e-8, 1e-3, 1e-8, 1e-3, 1e-2])
_HI = np.log([50.0, 1e4, 20.0, 20.0, 1e10, 3.0, 1e10, 3.0, 5.0])
_N_STARTS_REFINED = 6  # L-BFGS runs from the best 6 grid points (the rest are only evaluated)

# Names of metrics that are a cross-entropy in nats per token (our engine's val_loss; lm-eval's and HF's losses).
_CE_NAME = re.compile(r"^(?:[a-z]+_)*(?:loss|nll|cross_entropy|xent|ce)(?:_[a-z]+)*$")
_NOT_CE = re.compile(r"bit|bpb|byte|ppl|perplex|acc|score|f1|exact|bleu|rouge")


class DistillLawRefused(ValueError):
    """The data cannot support the distillation scaling law: str() says why and what to add."""


def is_cross_entropy(metric: str) -> bool:
    """True for metric names that denote a cross-entropy in nats/token (val_loss, loss, eval_loss, nll, ...)."""
    name = str(metric).strip().lower()
    return bool(_CE_NAME.match(name)) and not _NOT_CE.search(name)


def check_cross_entropy(metric: str) -> None:
    """DistillLawRefused unless `metric` names a cross-entropy in nats/token, with how to convert common ones."""
    if is_cross_entropy(metric):
        return
    raise DistillLawRefused(
        f"metric {metric!r} is not a cross-entropy in nats/token: Busbridge et al.'s law relates cross-entropies "
        f"(student, teacher and the student's supervised loss, all in nats/token), so it is not fitted to other "
        f"metrics. Use the held-out loss (our engine's val_loss); a perplexity's logarithm, or bits/token times "
        f"ln 2, is a cross-entropy in nats/token, but bits per byte is not (it depends on the tokenizer).")


# ---------------------------------------------------------------------------------------------- the law
def predict_student_loss(teacher_loss, student_params, data_tokens, supervised_loss, params) -> np.ndarray:
    """Eq. 8 with the paper's coefficients `params` (a mapping or Series with PARAM_NAMES): the student's loss."""
    p = {k: float(params[k]) for k in PARAM_NAMES}
    lt, n, d, ls = (np.asarray(x, dtype=float) for x in (teacher_loss, student_params, data_tokens, supervised_loss))
    s = (np.log(lt) - np.log(ls) - math.log(p["d1"])) / p["f1"]
    log_z = np.logaddexp(math.log(p["A"]) - p["alpha"] * np.log(n), math.log(p["B"]) - p["beta"] * np.log(d))
    return lt + np.exp(-p["c0"] * np.log(lt) - p["c1"] * p["f1"] * np.logaddexp(0.0, s) + p["gamma"] * log_z)


def optimal_teacher_loss(student_params, data_tokens, supervised_loss, params, *, lo: float, hi: float
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The teacher loss that minimises Eq. 8 for each (N_S, D_S, Ls~), searched in [lo, hi] (nats/token) on a
    log grid of 2048 points; returns (L_T*, at_edge) where at_edge marks a minimum at the end of the range."""
    n, d, ls = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, dtype=float))
                                     for x in (student_params, data_tokens, supervised_loss)))
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), 2048))
    pred = predict_student_loss(grid[None, :], n[:, None], d[:, None], ls[:, None], params)
    k = np.nanargmin(pred, axis=1)
    return grid[k], (k == 0) | (k == grid.size - 1)


# ---------------------------------------------------------------------------------------------- the data
@dataclass
class _Runs:
    """The runs a fit sees: one entry per distilled run, cells are (student, tokens)."""

    loss: np.ndarray  # (n,) student loss, nats/token
    lt: np.ndarray  # (n,) teacher loss
    n: np.ndarray  # (n,) student params
    d: np.ndarray  # (n,) distillation tokens
    cell: np.ndarray  # (n,) index into cells
    cells: pd.DataFrame  # student_params, data_tokens, supervised_loss, n_supervised
    sup_values: list  # per cell: the no-teacher runs' losses (np.ndarray)
    teacher_params: np.ndarray  # (n,) teacher size (for the tables)
    n0: float = 1.0  # centring of the student term (geometric means)
    d0: float = 1.0


def _cross_entropy_rows(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    check_cross_entropy(metric)
    rows = results[results["metric"] == metric].reset_index(drop=True)
    if rows.empty:
        raise DistillLawRefused(f"no rows with metric {metric!r}")
    values = pd.to_numeric(rows["value"], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(values) & (values > 0)):
        raise DistillLawRefused(f"{metric} values must be positive cross-entropies in nats/token; found "
                                f"{int((~(np.isfinite(values) & (values > 0))).sum())} that are not")
    return rows


def prepare_runs(results: pd.DataFrame, metric: str) -> tuple[_Runs, list]:
    """The distilled runs with teacher loss, tokens and a supervised baseline, or DistillLawRefused; caveats
    (DataWarning) count the rows left out and why."""
    rows = _cross_entropy_rows(results, metric)
    caveats = []
    tokens = (pd.to_numeric(rows["data_tokens"], errors="coerce") if "data_tokens" in rows
              else pd.Series(np.nan, index=rows.index)).to_numpy(dtype=float)
    none = no_teacher_mask(rows)
    tv = (pd.to_numeric(rows["teacher_value"], errors="coerce") if "teacher_value" in rows
          else pd.Series(np.nan, index=rows.index)).to_numpy(dtype=float)
    distilled = ~none
    has_tv = np.isfinite(tv) & (tv > 0)
    if not (distilled & has_tv).any():
        raise DistillLawRefused(
            f"no {metric} row with a teacher has the teacher's own loss (teacher_value): the law needs each "
            f"teacher's cross-entropy. Add a teacher_value column (the teacher's {metric} on the same held-out "
            f"text), or import an lm-eval result of each teacher; our engine writes it for every run.")
    if not np.isfinite(tokens).any():
        raise DistillLawRefused("no row gives its distillation tokens (data_tokens): the law needs D_S.")
    lacking = distilled & ~has_tv
    if lacking.any():
        caveats.append(DataWarning(f"{int(lacking.sum())} {metric} row(s) with a teacher lack the teacher's loss "
                                   f"(teacher_value) and were left out of the scaling-law fit.",
                                   n_rows=int(lacking.sum())))
    no_tok = ~np.isfinite(tokens)
    if no_tok.any():
        caveats.append(DataWarning(f"{int(no_tok.sum())} {metric} row(s) give no data_tokens and were left out of "
                                   f"the scaling-law fit.", n_rows=int(no_tok.sum())))
    students = rows["student_params"].to_numpy(dtype=float)
    from analysis.optimum import baseline_mask

    use = distilled & has_tv & ~no_tok & ~baseline_mask(rows)
    sup = none & ~no_tok
    keys = pd.DataFrame({"s": students, "d": tokens})
    cell_keys = sorted(set(map(tuple, keys[use].to_numpy())))
    sup_values, kept, missing = [], [], []
    for s, d in cell_keys:
        vals = rows["value"].to_numpy(dtype=float)[sup & (students == s) & (tokens == d)]
        (kept if vals.size else missing).append((s, d))
        if vals.size:
            sup_values.append(vals)
    if not kept:
        raise DistillLawRefused(
            f"no supervised baseline: the law needs each student's loss without a teacher (Ls~) at the same size "
            f"and token budget. Add runs with teacher_params 0 for: "
            f"{', '.join(f'{format_size(s)} student on {format_size(d)} tokens' for s, d in missing[:6])}.")
    if missing:
        caveats.append(DataWarning(
            f"{len(missing)} (student, tokens) cell(s) have no run without a teacher and were left out of the "
            f"scaling-law fit: {', '.join(f'{format_size(s)} on {format_size(d)} tokens' for s, d in missing[:6])}. "
            f"Add runs with teacher_params 0 for them.", cells=missing))
    index = {k: i for i, k in enumerate(kept)}
    cell = np.array([index.get((s, d), -1) for s, d in zip(students, tokens)])
    use &= cell >= 0
    cells = pd.DataFrame({"student_params": [k[0] for k in kept], "data_tokens": [k[1] for k in kept],
                          "supervised_loss": [v.mean() for v in sup_values],
                          "n_supervised": [v.size for v in sup_values]})
    runs = _Runs(loss=rows["value"].to_numpy(dtype=float)[use], lt=tv[use], n=students[use], d=tokens[use],
                 cell=cell[use], cells=cells, sup_values=sup_values,
                 teacher_params=pd.to_numeric(rows["teacher_params"], errors="coerce").to_numpy(dtype=float)[use])
    _check_identified(runs, metric)
    runs.n0 = float(np.exp(np.mean(np.log(cells["student_params"]))))
    runs.d0 = float(np.exp(np.mean(np.log(cells["data_tokens"]))))
    return runs, caveats


def _check_identified(runs: _Runs, metric: str) -> None:
    sizes, budgets = np.unique(runs.n), np.unique(runs.d)
    if sizes.size < 2:
        raise DistillLawRefused(f"a single student size ({format_size(sizes[0])}): the law's student term "
                                f"A / N_S^alpha cannot be separated from the rest. Add distilled runs (with their "
                                f"no-teacher baselines) of at least one more student size.")
    if budgets.size < 2:
        raise DistillLawRefused(f"a single token budget ({format_size(budgets[0])}): the law's data term "
                                f"B / D_S^beta cannot be told apart from A / N_S^alpha. Distil the students on at "
                                f"least one more token budget (with its no-teacher baselines).")
    if np.unique(np.round(runs.lt, 6)).size < 3:
        raise DistillLawRefused("fewer than three distinct teacher losses: the law's teacher terms (c0, c1, f1, "
                                "d1) need teachers of different quality. Add teachers.")
    need = MIN_RUNS_PER_PARAM * len(PARAM_NAMES)
    if runs.loss.size < need:
        raise DistillLawRefused(f"{runs.loss.size} distilled {metric} runs with teacher loss and baseline: the law "
                                f"has {len(PARAM_NAMES)} coefficients and needs at least {need} runs "
                                f"({MIN_RUNS_PER_PARAM} per coefficient). Add students, teachers or token budgets.")


# ---------------------------------------------------------------------------------------------- the fit
def _loss_and_grad(theta: np.ndarray, lt, log_lt, log_ls, log_n, log_d, log_obs, w, wsum) -> tuple[float, np.ndarray]:
    """Mean Huber loss of ln-residuals and its gradient in the log-parameters theta (internal order)."""
    c0, c1, f1, d1, a, al, b, be, ga = np.exp(theta)
    s = (log_lt - log_ls - theta[3]) / f1
    lg = np.logaddexp(0.0, s)
    xn = theta[4] - al * log_n
    xd = theta[6] - be * log_d
    log_z = np.logaddexp(xn, xd)
    pn = np.exp(xn - log_z)  # share of the size term in the student term
    log_r = -c0 * log_lt - c1 * f1 * lg + ga * log_z
    r_ = np.exp(log_r)
    pred = lt + r_
    res = np.log(pred) - log_obs
    psi = np.clip(res, -HUBER_DELTA, HUBER_DELTA)
    rho = np.where(np.abs(res) <= HUBER_DELTA, 0.5 * res * res, HUBER_DELTA * (np.abs(res) - 0.5 * HUBER_DELTA))
    sig = special.expit(s)
    k = w * psi * r_ / pred  # d rho / d log_r, weighted
    jac = (-c0 * log_lt, -c1 * f1 * lg, -c1 * f1 * lg + c1 * f1 * sig * s, c1 * sig,
           ga * pn, -ga * pn * al * log_n, ga * (1 - pn), -ga * (1 - pn) * be * log_d, ga * log_z)
    grad = np.array([np.dot(k, j) for j in jac])
    scale = HUBER_DELTA * wsum
    return float(np.dot(w, rho)) / scale, grad / scale


def _args(runs: _Runs, w: np.ndarray, ls_cell: np.ndarray) -> tuple:
    return (runs.lt, np.log(runs.lt), np.log(ls_cell[runs.cell]), np.log(runs.n / runs.n0),
            np.log(runs.d / runs.d0), np.log(runs.loss), w, float(w.sum()))


def _start_grid(runs: _Runs, ls_cell: np.ndarray) -> np.ndarray:
    """Starting points (216): c0 x c1 x f1 x d1 x gamma x (alpha = beta), the student term's level set so the
    median run's excess over its teacher is matched."""
    excess = float(np.median(np.maximum(runs.loss - runs.lt, 0.05)))
    lt_med = float(np.median(runs.lt))
    starts = []
    for c0 in (1.0, 4.0, 10.0):
        for c1 in (1.0, 10.0, 100.0):
            for f1 in (0.1, 1.0):
                for d1 in (0.7, 1.0, 1.4):
                    for ga in (0.5, 1.0):
                        z = (excess * lt_med ** c0) ** (1.0 / ga)
                        half = max(min(z / 2, 1e9), 1e-7)
                        for ex in (0.2, 0.5):
                            starts.append([c0, c1, f1, d1, half, ex, half, ex, ga])
    return np.clip(np.log(np.array(starts)), _LO, _HI)


# L-BFGS-B stopping rules: the full fit polishes harder than a warm-started resample, whose error only needs to be
# small against the spread of the resamples (1e-9 relative change of a mean Huber loss of order 1).
_FULL_FIT = {"maxiter": 1000, "ftol": 1e-11, "gtol": 1e-7}
_RESAMPLE = {"maxiter": 500, "ftol": 1e-9, "gtol": 1e-6}


def _minimise(theta0: np.ndarray, args: tuple, options: dict = _FULL_FIT) -> tuple[np.ndarray, float]:
    res = optimize.minimize(_loss_and_grad, theta0, args=args, jac=True, method="L-BFGS-B",
                            bounds=list(zip(_LO, _HI)), options=options)
    return res.x, float(res.fun)


def _local_minima(runs: _Runs, w: np.ndarray, ls_cell: np.ndarray, starts: np.ndarray) -> list[tuple]:
    """L-BFGS-B from the best _N_STARTS_REFINED grid points: the distinct local minima (theta, objective), best
    first (two minima are distinct when some log-parameter differs by more than 0.05)."""
    args = _args(runs, w, ls_cell)
    values = np.array([_loss_and_grad(t, *args)[0] for t in starts])
    found = sorted((_minimise(starts[i], args)[::-1] for i in np.argsort(values)[:_N_STARTS_REFINED]),
                   key=lambda m: m[0])
    distinct = []
    for f, theta in found:
        if all(np.abs(theta - t).max() > 0.05 for t, _ in distinct):
            distinct.append((theta, f))
    return distinct


def _fit_theta(runs: _Runs, w: np.ndarray, ls_cell: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return _local_minima(runs, w, ls_cell, starts)[0][0]


def _competing(minima: list[tuple], tol: float) -> list[np.ndarray]:
    """The local minima whose objective is within a fraction `tol` of the best one's (the best first)."""
    best = minima[0][1]
    return [theta for theta, f in minima if f <= best * (1 + tol)][:MAX_BASINS]


def _paper_params(theta: np.ndarray, n0: float, d0: float) -> np.ndarray:
    """Internal log-parameters -> the paper's (c0, c1, f1, d1, A, alpha, B, beta, gamma)."""
    c0, c1, f1, d1, a, al, b, be, ga = np.exp(theta)
    return np.array([c0, c1, f1, d1, a * n0 ** al, al, b * d0 ** be, be, ga])


def _resample(runs: _Runs, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One bootstrap draw: run weights (multinomial counts within each cell) and each cell's resampled Ls~."""
    w = np.zeros(runs.loss.size)
    for c in range(len(runs.cells)):
        idx = np.flatnonzero(runs.cell == c)
        np.add.at(w, rng.choice(idx, size=idx.size), 1.0)
    ls = np.array([rng.choice(v, size=v.size).mean() for v in runs.sup_values])
    return w, ls


# ---------------------------------------------------------------------------------------------- results
@dataclass
class DistillLawFit:
    """A fitted distillation scaling law (statsmodels-style): params, conf_int(alpha), predict, the optimal
    teacher loss per student cell, the leave-one-student-out error, summary(), to_dict()."""

    metric: str
    alpha: float
    family: str
    runs: _Runs
    theta: np.ndarray  # internal log-parameters of the fit
    theta_boot: np.ndarray  # (n_boot, 9) the resamples' (NaN rows: a resample that failed)
    ls_boot: np.ndarray  # (n_boot, n_cells) the resamples' supervised losses
    loso: pd.DataFrame | None = None  # per held-out student: n_runs, rmse, mae (nats/token) or refusal
    caveats: list = field(default_factory=list)
    n_basins: int = 1  # competing fits each resample started from (BASIN_TOL)

    @property
    def params(self) -> pd.Series:
        return pd.Series(_paper_params(self.theta, self.runs.n0, self.runs.d0), index=PARAM_NAMES)

    @property
    def params_boot(self) -> pd.DataFrame:
        return pd.DataFrame([_paper_params(t, self.runs.n0, self.runs.d0) for t in self.theta_boot],
                            columns=list(PARAM_NAMES))

    @property
    def nobs(self) -> int:
        return int(self.runs.loss.size)

    @property
    def n_boot(self) -> int:
        return int(np.isfinite(self.theta_boot[:, 0]).sum())

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """Percentile bootstrap intervals (lower, upper) of the paper's coefficients."""
        alpha = self.alpha if alpha is None else check_alpha(alpha)
        boot = self.params_boot.dropna()
        if boot.empty:
            return pd.DataFrame({"lower": np.nan, "upper": np.nan}, index=list(PARAM_NAMES))
        return pd.DataFrame({"lower": boot.quantile(alpha / 2).to_numpy(),
                             "upper": boot.quantile(1 - alpha / 2).to_numpy()}, index=list(PARAM_NAMES))

    def undetermined(self) -> list[str]:
        """Coefficients whose bootstrap values reach the search bound in more than alpha/2 of resamples: the data
        do not determine them (their interval is the search box's edge, not a statement about the truth)."""
        ok = np.isfinite(self.theta_boot[:, 0])
        if not ok.any():
            return []
        tb = self.theta_boot[ok]
        hit = (np.isclose(tb, _LO, atol=1e-6) | np.isclose(tb, _HI, atol=1e-6)).mean(axis=0)
        at_fit = np.isclose(self.theta, _LO, atol=1e-6) | np.isclose(self.theta, _HI, atol=1e-6)
        return [n for n, h, f in zip(PARAM_NAMES, hit, at_fit) if h > self.alpha / 2 or f]

    def predict(self, teacher_loss, student_params, data_tokens, supervised_loss) -> np.ndarray:
        """The student's loss by Eq. 8 at the fitted coefficients (nats/token)."""
        return predict_student_loss(teacher_loss, student_params, data_tokens, supervised_loss, self.params)

    @property
    def fitted(self) -> np.ndarray:
        r = self.runs
        return self.predict(r.lt, r.n, r.d, r.cells["supervised_loss"].to_numpy()[r.cell])

    @property
    def teacher_loss_range(self) -> tuple[float, float]:
        """Where optimal teacher losses are searched: half the best tested teacher's loss to twice the worst."""
        return float(self.runs.lt.min()) / 2, float(self.runs.lt.max()) * 2

    def optimal_teachers(self, alpha: float | None = None) -> pd.DataFrame:
        """Per (student, tokens) cell: the teacher loss the law calls best (teacher_loss_opt) with its bootstrap
        interval, whether it lies within the tested teachers' losses, and the loss the law predicts there."""
        alpha = self.alpha if alpha is None else check_alpha(alpha)
        c = self.runs.cells
        lo, hi = self.teacher_loss_range
        n, d, ls = (c[k].to_numpy(dtype=float) for k in ("student_params", "data_tokens", "supervised_loss"))
        opt, edge = optimal_teacher_loss(n, d, ls, self.params, lo=lo, hi=hi)
        boots = []
        for t, lsb in zip(self.theta_boot, self.ls_boot):
            if np.isfinite(t[0]):
                p = dict(zip(PARAM_NAMES, _paper_params(t, self.runs.n0, self.runs.d0)))
                boots.append(optimal_teacher_loss(n, d, lsb, p, lo=lo, hi=hi)[0])
        boots = np.array(boots) if boots else np.full((1, len(c)), np.nan)
        tested_lo = np.array([self.runs.lt[self.runs.cell == i].min() for i in range(len(c))])
        tested_hi = np.array([self.runs.lt[self.runs.cell == i].max() for i in range(len(c))])
        return pd.DataFrame({
            "student_params": n.astype(np.int64), "data_tokens": d.astype(np.int64), "supervised_loss": ls,
            "teacher_loss_opt": opt, "ci_lower": np.nanquantile(boots, alpha / 2, axis=0),
            "ci_upper": np.nanquantile(boots, 1 - alpha / 2, axis=0),
            "within_tested": (opt >= tested_lo) & (opt <= tested_hi), "at_search_edge": edge,
            "tested_teacher_loss_min": tested_lo, "tested_teacher_loss_max": tested_hi,
            "student_loss_at_opt": self.predict(opt, n, d, ls),
            "distillation_beats_supervised": self.predict(opt, n, d, ls) < ls,
        })

    def summary(self) -> str:
        ci = self.conf_int()
        level = f"{100 * (1 - self.alpha):g}%"
        lines = [f"Distillation scaling law (Busbridge et al. 2025, Eq. 8), family {self.family}, {self.metric} "
                 f"(nats/token)", f"  {EQUATION}",
                 f"  {self.nobs} distilled runs, {len(self.runs.cells)} (student, tokens) cells, "
                 f"{self.n_boot} bootstrap resamples; Huber (delta {HUBER_DELTA:g}) on ln loss, L-BFGS-B",
                 f"  {'param':<8}{'estimate':>12}{'ci_lower':>12}{'ci_upper':>12}   ({level}, percentile bootstrap)"]
        undetermined = set(self.undetermined())
        for name, value in self.params.items():
            flag = "   (not determined by the data)" if name in undetermined else ""
            lines.append(f"  {name:<8}{value:>12.4g}{ci.at[name, 'lower']:>12.4g}{ci.at[name, 'upper']:>12.4g}{flag}")
        if self.loso is not None and not self.loso.empty:
            ok = self.loso.dropna(subset=["rmse"])
            if not ok.empty:
                lines.append(f"  leave-one-student-out RMSE: {_pooled_rmse(ok):.4g} nats/token over {len(ok)} "
                             f"held-out students")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        ci = self.conf_int()
        und = set(self.undetermined())
        opt = self.optimal_teachers()
        loso = [] if self.loso is None else self.loso.to_dict("records")
        ok = None if self.loso is None else self.loso.dropna(subset=["rmse"])
        return {
            "schema_version": SCHEMA_VERSION, "method": "busbridge_eq8", "metric": self.metric,
            "units": "nats/token", "family": self.family, "alpha": self.alpha, "equation": EQUATION,
            "n_runs": self.nobs, "n_cells": len(self.runs.cells), "n_boot": self.n_boot,
            "huber_delta": HUBER_DELTA, "n_competing_fits": self.n_basins,
            "params": {n: {"estimate": json_number(v), "ci_lower": json_number(ci.at[n, "lower"]),
                           "ci_upper": json_number(ci.at[n, "upper"]), "determined": n not in und}
                       for n, v in self.params.items()},
            "optimal_teachers": opt.to_dict("records"),
            "loso": {"rmse": None if ok is None or ok.empty else _pooled_rmse(ok), "students": loso},
            "caveats": [str(c) for c in self.caveats],
        }


def _pooled_rmse(loso: pd.DataFrame) -> float:
    return float(np.sqrt((loso["rmse"] ** 2 * loso["n_runs"]).sum() / loso["n_runs"].sum()))


def fit_distill_law(results: pd.DataFrame, metric: str, *, alpha: float = 0.05, n_boot: int = 1000, seed: int = 0,
                    loso: bool = True) -> DistillLawFit:
    """Fit Eq. 8 to the runs of one family (`results` holding one family; see fit_distill_laws for several).
    Raises DistillLawRefused when the data cannot support it (module docstring)."""
    alpha = check_alpha(alpha)
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"n_boot: expected a count >= 0, found {n_boot!r}")
    families = sorted(set(results["family"].astype(str))) if "family" in results else ["default"]
    if len(families) > 1:
        raise ValueError(f"fit_distill_law fits one family; found {families}: use fit_distill_laws")
    runs, caveats = prepare_runs(results, metric)
    ls = runs.cells["supervised_loss"].to_numpy()
    w = np.ones(runs.loss.size)
    minima = _local_minima(runs, w, ls, _start_grid(runs, ls))
    theta = minima[0][0]
    basins = _competing(minima, BASIN_TOL)
    rng = np.random.default_rng(seed)
    theta_boot = np.full((n_boot, len(PARAM_NAMES)), np.nan)
    ls_boot = np.full((n_boot, len(ls)), np.nan)
    for b in range(n_boot):
        wb, lsb = _resample(runs, rng)
        try:
            args = _args(runs, wb, lsb)
            theta_boot[b] = min((_minimise(t, args, _RESAMPLE) for t in basins), key=lambda m: m[1])[0]
            ls_boot[b] = lsb
        except (ValueError, FloatingPointError):
            continue
    fit = DistillLawFit(metric=metric, alpha=alpha, family=families[0], runs=runs, theta=theta,
                        theta_boot=theta_boot, ls_boot=ls_boot, caveats=caveats)
    fit.n_basins = len(basins)
    if len(basins) > 1:
        differ = [n for j, n in enumerate(PARAM_NAMES) if np.ptp([t[j] for t in basins]) > 0.1]
        fit.caveats.append(DataWarning(
            f"{len(basins)} fits with nearly the same error (within {BASIN_TOL:.0%}) differ in {', '.join(differ)}: "
            f"the data barely tell them apart. The intervals come from resamples refitted from each of them.",
            params=differ))
    und = fit.undetermined()
    if und:
        fit.caveats.append(DataWarning(
            f"The data do not determine {', '.join(und)}: the fit or its resamples reach the search bound, so "
            f"their intervals are the bound, not a statement about the truth. Teachers on both sides of the "
            f"student's own loss (weaker and stronger than it) pin the break (c1, f1, d1).", params=und))
    if loso:
        fit.loso = leave_one_student_out(runs, theta)
    for cav in fit.caveats:
        warnings.warn(cav, stacklevel=2)
    return fit


def leave_one_student_out(runs: _Runs, theta: np.ndarray) -> pd.DataFrame:
    """Refit without each student size (all its token budgets; L-BFGS warm-started at the full fit) and predict
    its runs: n_runs, rmse, mae (nats/token), regret (of the tested teacher the refit law picks), or a `refused`
    reason when the rest cannot support a fit."""
    out = []
    for s in np.unique(runs.n):
        held = runs.n == s
        keep_cells = np.unique(runs.cell[~held])
        rest = _subset(runs, ~held, keep_cells)
        row = {"student_params": int(s), "n_runs": int(held.sum()), "rmse": np.nan, "mae": np.nan, "regret": np.nan,
               "refused": ""}
        try:
            _check_identified(rest, "held-in")
        except DistillLawRefused as why:
            row["refused"] = str(why)
            out.append(row)
            continue
        ls = rest.cells["supervised_loss"].to_numpy()
        # warm start from the full fit, re-expressed at the held-in centring (the same model, other a and b)
        start = theta.copy()
        start[4] -= np.exp(theta[5]) * math.log(rest.n0 / runs.n0)
        start[6] -= np.exp(theta[7]) * math.log(rest.d0 / runs.d0)
        th = _minimise(np.clip(start, _LO, _HI), _args(rest, np.ones(rest.loss.size), ls))[0]
        p = dict(zip(PARAM_NAMES, _paper_params(th, rest.n0, rest.d0)))
        pred = predict_student_loss(runs.lt[held], runs.n[held], runs.d[held],
                                    runs.cells["supervised_loss"].to_numpy()[runs.cell[held]], p)
        err = pred - runs.loss[held]
        row.update(rmse=float(np.sqrt(np.mean(err ** 2))), mae=float(np.mean(np.abs(err))),
                   regret=_pick_regret(runs, held, pred))
        out.append(row)
    return pd.DataFrame(out)


def _pick_regret(runs: _Runs, held: np.ndarray, pred: np.ndarray) -> float:
    """Mean over the held-out student's token budgets of (observed mean loss of the teacher the law picks among
    the tested ones) - (observed mean loss of the best tested teacher), nats/token: 0 when the law picks the best."""
    frame = pd.DataFrame({"cell": runs.cell[held], "teacher": runs.teacher_params[held], "lt": runs.lt[held],
                          "obs": runs.loss[held], "pred": pred})
    cells = frame.groupby(["cell", "teacher", "lt"], sort=False)[["obs", "pred"]].mean().reset_index()
    regrets = [g["obs"].iloc[int(np.argmin(g["pred"].to_numpy()))] - g["obs"].min() for _, g in cells.groupby("cell")]
    return float(np.mean(regrets))


def _subset(runs: _Runs, mask: np.ndarray, keep_cells: np.ndarray) -> _Runs:
    remap = -np.ones(len(runs.cells), dtype=int)
    remap[keep_cells] = np.arange(keep_cells.size)
    cells = runs.cells.iloc[keep_cells].reset_index(drop=True)
    sub = _Runs(loss=runs.loss[mask], lt=runs.lt[mask], n=runs.n[mask], d=runs.d[mask], cell=remap[runs.cell[mask]],
                cells=cells, sup_values=[runs.sup_values[i] for i in keep_cells],
                teacher_params=runs.teacher_params[mask])
    sub.n0 = float(np.exp(np.mean(np.log(cells["student_params"])))) if len(cells) else 1.0
    sub.d0 = float(np.exp(np.mean(np.log(cells["data_tokens"])))) if len(cells) else 1.0
    return sub
