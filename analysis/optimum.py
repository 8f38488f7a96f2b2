"""The optimal teacher per student: the best tested teacher (or a log-parabola's vertex), the teachers tied with
it, and the grid interval of T* that holds whatever the curve's shape (steps 6-7); edges are bounds.

For each group (family x data_tokens x student, a student being its size and, where names identify students,
its `student_name`) of one metric:

1. Average the runs (seeds) of each tested teacher: the cell means.
2. argmin (argmax when higher is better) of the cell means over the tested teachers. Ties go to the smaller
   teacher (the cheaper one).
3. Smooth estimate: least squares of the cell means on a quadratic in u = scaled ln(teacher_params), weighted by
   the runs per cell (identical to OLS on the individual runs). When the group has >= 3 teachers, the parabola
   opens toward the optimum (convex for a loss, concave for an accuracy) and its vertex lies inside the tested
   teacher range, the vertex is the estimate (method "log_parabola"); otherwise the argmin is (method "argmin")
   and `note` says why the smooth estimate was refused.
4. at_grid_edge: the argmin is the smallest or the largest teacher tested; the true optimum may lie outside
   (EdgeOptimumWarning). A refused parabola because it is not convex gives a NonConvexWarning.
5. Resampling (for the two-stage pipeline bootstrap, analysis.law.bootstrap_law): the optimum recomputed, with the
   same rule (steps 2-3), on `n_boot` resamples. How a group is resampled (column `ci_method`):
   - "runs" (every tested teacher has >= 2 runs): each cell's mean is redrawn as its observed mean plus the mean
     of n resampled residuals (n = its runs). Residuals are run minus cell mean, scaled by sqrt(n / (n - 1)) so
     that their mean square is the cell's variance s^2 (the plain bootstrap gives (n - 1) / n of it). Each one
     comes from the cell's own runs with probability d / (d + POOLED_DF), d = n - 1, else from all the runs of
     its group, so a redrawn mean has variance (d s^2 + POOLED_DF s_group^2) / ((d + POOLED_DF) n), with
     s_group^2 the run-weighted mean of the group's cell variances: each cell's variance is moderated toward its
     group's with POOLED_DF prior degrees of freedom, as in limma (Smyth 2004, Stat. Appl. Genet. Mol. Biol.
     3:3). With 2-3 seeds a cell's own s^2 (1-2 degrees of freedom) is too unreliable alone: on planted-law
     simulations, 95% intervals from resampling each teacher alone covered the optimum 87% (2 seeds) and 90%
     (3 seeds) of the time; moderated, 90.5% and 92% (bench/coverage_study.py, with unequal noise too).
   - "residuals" (some teacher has a single run, but the parabola was accepted and there are >= 5 teachers, i.e.
     >= 2 residual degrees of freedom): a residual bootstrap of the weighted parabola (leverage-adjusted,
     centred residuals). It assumes the parabola describes the curve, which is why it is used only when the
     parabola was accepted.
   - None: no interval (NaN) and a note: one run per teacher and too few teachers (or no accepted parabola)
     leave nothing honest to resample.

6. Tied teachers: the teachers whose mean is not shown worse than every other's, a confidence set for the best
   tested teacher (Gupta's subset selection with Bonferroni: teacher j is kept when m_j - m_i <= q se_ij for every
   other teacher i, q the one-sided t quantile at alpha / (K - 1); se_ij from the moderated cell variances of step
   5, or, with one run everywhere, from the pseudo-residuals of consecutive teachers, Gasser, Sroka &
   Jennen-Steinmetz 1986, Biometrika 73:625, by their median: robust to the curve's own bend). It holds the best
   tested teacher with probability >= 1 - alpha whatever the curve's shape.
7. The interval of T* (ci_lower, ci_upper) is the grid around the tied teachers: from the tested teacher just below
   the smallest tied one to the one just above the largest. For any curve that falls then rises (unimodal: no
   parabola, no symmetry assumed) the optimum lies between the neighbours of the best tested teacher, so the
   interval covers T* at least as often as the tied set holds the best teacher; it carries the grid's resolution.
   When the tied set reaches the smallest (largest) tested teacher the interval is open on that side: `censored`
   is "left" (only T* below ci_upper is known), "right" (T* above ci_lower) or "both", and the open bound is NaN.
   The point estimate (steps 2-3) stays inside the interval (an outside vertex falls back to the argmin).
8. Teachers are identified by name where `teacher_name` is given: two checkpoints of one size are two teachers
   (a DataWarning names the duplicate size), never two seeds of one; students likewise, where `student_name` names
   a checkpoint that covers several runs (Qwen2.5-3B and Llama-3.2-3B are two students of one size; names that
   each label one run, as the engine's run ids do, are provenance). Rows without a teacher (teacher_params 0:
   the loader's reading of an empty, `none` or `0` cell) are the student's no-distillation reference:
   `no_teacher_value` is its mean and `no_teacher_helps` says whether the student alone is as good as the best
   teacher (within the tied set's margin).

Everything is vectorised over groups and resamples (numpy; no per-group Python loop in the bootstrap), so the
same machinery serves `analysis.law.bootstrap_law`'s 1000-resample pipeline bootstrap.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from analysis.caveats import CapacityGapWarning, DataWarning, EdgeOptimumWarning, NonConvexWarning, _who
from analysis.json_safe import json_number
from analysis.sizes import format_size
from analysis.validate import check_alpha

# 2: an optimum's interval is the grid around its tied teachers, open (null) on a censored side; keys censored,
#    tied_teachers, tied_teacher_names, teacher_name, no_teacher_value, no_teacher_helps added; the law JSON adds
#    method, declined, group, shape, scatter, lack_of_fit; the whatif JSON adds declined, reason, extrapolated
SCHEMA_VERSION = 2
MIN_TEACHERS_PARABOLA = 3  # a quadratic needs 3 distinct teachers
MIN_TEACHERS_RESIDUAL_BOOTSTRAP = 5  # quadratic (3 params) + >= 2 residual degrees of freedom to resample
POOLED_DF = 2.0  # prior degrees of freedom given to the group's variance (module docstring, step 5; chosen on
#                  planted-law simulations with equal and unequal noise: bench/coverage_study.py)
_CHI2_1_MEDIAN = 0.454936423119572  # median of a chi-square variable with 1 degree of freedom
_DRAWS_PER_CHUNK = 2_000_000  # bootstrap random draws held at once (16 MB per float64 array)

OPTIMA_COLUMNS = ["family", "data_tokens", "student_params", "teacher_params", "ci_lower", "ci_upper", "method",
                  "n_teachers", "at_grid_edge", "convex", "note", "best_value", "n_runs", "ci_method", "censored",
                  "tied_teachers", "tied_teacher_names", "teacher_name", "grid_min", "grid_max", "no_teacher_value",
                  "no_teacher_helps", "edge", "student_name"]
# The keys of one optimum in the CLI/law JSON (more follow them: optima_records).
OPTIMUM_JSON_KEYS = ["family", "data_tokens", "student_params", "teacher_params", "ci_lower", "ci_upper", "method",
                     "n_teachers", "at_grid_edge"]
_REQUIRED = ("student_params", "teacher_params", "metric", "value")


# ---------------------------------------------------------------------------------------------- layout
@dataclass(frozen=True, eq=False)
class _Layout:
    """One metric's runs sorted into cells (group x teacher) and groups (family x data_tokens x student).

    R rows (runs), C cells, G groups, K = most teachers in a group. Values are sign-adjusted so that lower is
    better everywhere below (y = value, or -value when higher is better).
    """

    metric: str
    higher_is_better: bool
    groups: pd.DataFrame  # (G,) family, data_tokens, student_params
    y: np.ndarray  # (R,) sign-adjusted values, sorted by cell
    cell_start: np.ndarray  # (C,) first row of each cell
    cell_n: np.ndarray  # (C,) runs per cell (the quadratic's weights)
    cell_group: np.ndarray  # (C,) group of each cell
    cell_teacher: np.ndarray  # (C,) teacher params (float)
    cell_name: np.ndarray  # (C,) teacher name ("" when not given)
    cell_var: np.ndarray  # (C,) within-cell variance of the runs (NaN with one run)
    cell_basis: np.ndarray  # (C, 3) [1, u, u^2], u = ln T scaled to [-1, 1] within the group
    cell_leverage: np.ndarray  # (C,) leverage of each cell in its group's weighted quadratic
    proj: np.ndarray  # (C, 3) coefficients of group g = sum over its cells of cell_mean * proj[c]
    group_start: np.ndarray  # (G,) first cell of each group
    group_n_teachers: np.ndarray  # (G,)
    group_center: np.ndarray  # (G,) mid-point of ln T over the tested teachers
    group_half: np.ndarray  # (G,) half the ln T range (0 with one teacher)
    pad: np.ndarray  # (G, K) cell index of the group's k-th teacher (ascending), -1 past its last one

    @property
    def sign(self) -> float:
        return -1.0 if self.higher_is_better else 1.0

    def cell_means(self) -> np.ndarray:
        """(C,) sign-adjusted mean of each cell."""
        return np.add.reduceat(self.y, self.cell_start) / self.cell_n


def _check_results(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results: expected a pandas DataFrame, found {type(results).__name__}")
    missing = [c for c in _REQUIRED if c not in results.columns]
    if missing:
        raise ValueError(f"results: missing column(s) {missing}; expected the distillation-results contract "
                         f"(student_params, teacher_params, metric, value, ...), found {list(results.columns)}")
    rows = results[results["metric"] == metric]
    if rows.empty:
        found = sorted(map(str, results["metric"].dropna().unique()))
        raise ValueError(f"results: no rows with metric {metric!r}; metrics found: {found}")
    if "higher_is_better" not in rows.columns:
        raise ValueError(f"results: no 'higher_is_better' column; say whether a higher {metric} is better "
                         f"(the loader infers it from the metric name)")
    directions = rows["higher_is_better"].dropna().unique()
    if len(directions) != 1 or rows["higher_is_better"].isna().any():
        raise ValueError(f"results, column 'higher_is_better': expected one True/False for metric {metric!r}, "
                         f"found {sorted(map(str, rows['higher_is_better'].unique()))}")
    for col in ("student_params", "teacher_params", "value"):
        vals = pd.to_numeric(rows[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(vals) | ((vals <= 0) if col != "value" else False)
        if bad.any():
            first = rows.index[np.flatnonzero(bad)[0]]
            what = "a finite number" if col == "value" else "a positive parameter count"
            raise ValueError(f"results, row {first}, column {col!r}: expected {what}, found {rows.at[first, col]!r} "
                             f"({int(bad.sum())} such row(s) for metric {metric!r})")
    return rows


def _teacher_names(rows: pd.DataFrame, column: str = "teacher_name") -> np.ndarray:
    """(R,) object: each row's teacher (or, with column="student_name", student) name, "" where none is given."""
    if column not in rows.columns:
        return np.full(len(rows), "", dtype=object)
    return rows[column].astype("string").fillna("").str.strip().to_numpy(dtype=object)


def student_names(rows: pd.DataFrame) -> np.ndarray:
    """(R,) object: each row's student name where names identify students, else "" everywhere.

    A name identifies a student when it covers several runs (a checkpoint distilled from several teachers). Names
    that each label a single run (the engine writes the run id there) are provenance, not identities: grouping by
    them would make every run its own student."""
    names = _teacher_names(rows, "student_name")
    filled = names[names != ""]
    if filled.size == 0 or pd.Series(filled).value_counts().max() < 2:
        return np.full(len(rows), "", dtype=object)
    return names


def _build_layout(results: pd.DataFrame, metric: str) -> _Layout:
    rows = _check_results(results, metric)
    higher = bool(rows["higher_is_better"].iloc[0])
    sign = -1.0 if higher else 1.0
    n = len(rows)
    family = rows["family"].astype(str).to_numpy() if "family" in rows else np.full(n, "default", dtype=object)
    tokens = (pd.to_numeric(rows["data_tokens"], errors="coerce").to_numpy(dtype=float) if "data_tokens" in rows
              else np.full(n, np.nan))
    s = rows["student_params"].to_numpy(dtype=np.int64)
    t = rows["teacher_params"].to_numpy(dtype=np.int64)
    v = rows["value"].to_numpy(dtype=float)
    names = _teacher_names(rows)
    snames = student_names(rows)
    fam_codes, fam_uniques = pd.factorize(family, sort=True)
    # a student is its size and its name, like a teacher: Qwen2.5-3B and Llama-3.2-3B are two students of one size
    sn_codes = pd.factorize(snames, sort=True)[0]
    tok_codes, tok_uniques = pd.factorize(tokens, sort=True, use_na_sentinel=False)
    # a teacher is its size and its name: codes ordered by size, then name
    teacher_key = pd.MultiIndex.from_arrays([t, names])
    key_codes, key_uniques = pd.factorize(teacher_key, sort=True)
    # sort by group, teacher, then value: the layout (hence every bootstrap draw) ignores the input row order
    order = np.lexsort((v, key_codes, sn_codes, s, tok_codes, fam_codes))
    fs, ks, ss, ts, y = fam_codes[order], tok_codes[order], s[order], t[order], sign * v[order]
    tk, sns = key_codes[order], sn_codes[order]

    new_group = np.r_[True, (fs[1:] != fs[:-1]) | (ks[1:] != ks[:-1]) | (ss[1:] != ss[:-1])
                      | (sns[1:] != sns[:-1])]
    new_cell = new_group | np.r_[True, tk[1:] != tk[:-1]]
    cell_start = np.flatnonzero(new_cell)
    n_cells = cell_start.size
    cell_n = np.diff(np.r_[cell_start, n]).astype(float)
    cell_group = (np.cumsum(new_group) - 1)[cell_start]
    group_start = np.flatnonzero(np.r_[True, cell_group[1:] != cell_group[:-1]])
    n_groups = group_start.size
    group_n_teachers = np.diff(np.r_[group_start, n_cells])

    # u = ln T scaled to [-1, 1] within each group: a well-conditioned quadratic whatever the sizes
    cell_teacher = ts[cell_start].astype(float)
    cell_name = names[order][cell_start]
    cell_sum = np.add.reduceat(y, cell_start)
    with np.errstate(invalid="ignore", divide="ignore"):
        cell_var = np.where(cell_n > 1, (np.add.reduceat(y * y, cell_start) - cell_sum ** 2 / cell_n)
                            / (cell_n - 1), np.nan)
    cell_var = np.where(np.isfinite(cell_var), np.maximum(cell_var, 0.0), np.nan)
    lt = np.log(cell_teacher)
    lo, hi = np.minimum.reduceat(lt, group_start), np.maximum.reduceat(lt, group_start)
    center, half = (lo + hi) / 2, (hi - lo) / 2
    u = (lt - center[cell_group]) / np.where(half > 0, half, 1.0)[cell_group]
    basis = np.stack([np.ones_like(u), u, u * u], axis=1)  # (C, 3)

    # weighted normal equations per group, A_g = sum_c w_c b_c b_c^T, solved once: the weights (runs per cell) do
    # not change under resampling, so every bootstrap coefficient is a fixed linear map of the cell means
    m = [np.add.reduceat(cell_n * u ** k, group_start) for k in range(5)]
    a = np.stack([np.stack([m[i + j] for j in range(3)], -1) for i in range(3)], -2)  # (G, 3, 3)
    can_fit = group_n_teachers >= MIN_TEACHERS_PARABOLA
    a[~can_fit] = np.eye(3)
    a_inv = np.linalg.inv(a)[cell_group]  # (C, 3, 3)
    a_inv_b = np.einsum("cij,cj->ci", a_inv, basis)
    proj = cell_n[:, None] * a_inv_b
    leverage = cell_n * np.einsum("ci,ci->c", basis, a_inv_b)
    proj[~can_fit[cell_group]] = np.nan
    leverage[~can_fit[cell_group]] = np.nan

    pad = np.full((n_groups, int(group_n_teachers.max())), -1, dtype=np.int64)
    pad[cell_group, np.arange(n_cells) - group_start[cell_group]] = np.arange(n_cells)

    first_row = order[cell_start[group_start]]
    groups = pd.DataFrame({
        "family": family[first_row].astype(str),
        "data_tokens": tokens[first_row].astype("float64"),
        "student_params": s[first_row].astype(np.int64),
        "student_name": snames[first_row].astype(str),
    })
    return _Layout(metric=metric, higher_is_better=higher, groups=groups, y=y, cell_start=cell_start,
                   cell_n=cell_n, cell_group=cell_group, cell_teacher=cell_teacher, cell_name=cell_name,
                   cell_var=cell_var, cell_basis=basis,
                   cell_leverage=leverage, proj=proj, group_start=group_start, group_n_teachers=group_n_teachers,
                   group_center=center, group_half=half, pad=pad)


# ---------------------------------------------------------------------------------------------- the rule
class _Optimum(NamedTuple):
    log_teacher: np.ndarray  # (B, G) ln T* by the rule
    smooth: np.ndarray  # (B, G) bool: the parabola's vertex was used
    convex: np.ndarray  # (B, G) bool: the parabola opens toward an optimum (False when it cannot be fitted)
    vertex_log_teacher: np.ndarray  # (B, G) ln T at the vertex (NaN when not convex)
    arg_cell: np.ndarray  # (B, G) cell of the best observed teacher
    arg_pos: np.ndarray  # (B, G) its rank among the group's teachers (0 = smallest)
    coef: np.ndarray  # (B, G, 3) quadratic coefficients in u (sign-adjusted)


def _optimum_from_means(lay: _Layout, means: np.ndarray) -> _Optimum:
    """Apply the optimum rule to cell means `means` (B, C), all B resamples and G groups at once."""
    coef = np.stack([np.add.reduceat(means * lay.proj[:, k], lay.group_start, axis=1) for k in range(3)], -1)
    c1, c2 = coef[..., 1], coef[..., 2]
    can_fit = lay.group_n_teachers >= MIN_TEACHERS_PARABOLA
    convex = can_fit & (c2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        u_star = np.where(convex, -c1 / (2 * c2), np.nan)
    smooth = convex & (np.abs(u_star) <= 1 + 1e-12)
    vertex = lay.group_center + lay.group_half * u_star

    padded = np.where(lay.pad >= 0, means[:, np.maximum(lay.pad, 0)], np.inf)  # (B, G, K)
    arg_pos = np.argmin(padded, axis=2)  # first minimum: ties go to the smaller teacher
    arg_cell = lay.pad[np.arange(lay.pad.shape[0]), arg_pos]
    log_teacher = np.where(smooth, vertex, np.log(lay.cell_teacher[arg_cell]))
    return _Optimum(log_teacher, smooth, convex, vertex, arg_cell, arg_pos, coef)


# ---------------------------------------------------------------------------------------------- resampling
def _ci_methods(lay: _Layout, point: _Optimum) -> np.ndarray:
    """(G,) object: "runs", "residuals" or None (see the module docstring)."""
    min_runs = np.minimum.reduceat(lay.cell_n, lay.group_start)
    out = np.full(lay.group_start.size, None, dtype=object)
    out[(lay.group_n_teachers >= MIN_TEACHERS_RESIDUAL_BOOTSTRAP) & point.smooth[0]] = "residuals"
    out[min_runs >= 2] = "runs"
    return out


def _run_redraws(lay: _Layout, means: np.ndarray, runs_cells: np.ndarray):
    """redraw(rng, b) -> (b, len(runs_cells)): b redrawn means of the "runs" cells (module docstring, step 5).

    Each cell draws one scaled residual per run, from its own runs with probability p_own, else from its group's.
    """
    cell_of_row = np.repeat(np.arange(means.size), lay.cell_n.astype(np.int64))
    n_row = lay.cell_n[cell_of_row]
    resid = (lay.y - means[cell_of_row]) * np.sqrt(n_row / np.maximum(n_row - 1, 1))  # (R,) mean square s^2
    n_sel = lay.cell_n[runs_cells].astype(np.int64)
    sel_start_local = np.r_[0, np.cumsum(n_sel)[:-1]]
    group_of_sel = lay.cell_group[runs_cells]
    # index arithmetic in float32 / int32: several times faster than float64 -> int64 for 10M draws
    idx_type = np.int32 if lay.y.size < 2 ** 31 else np.int64
    own_base = np.repeat(lay.cell_start[runs_cells], n_sel).astype(idx_type)  # (R_sel,) first row of the cell
    own_n = np.repeat(n_sel, n_sel).astype(np.float32)
    group_base = np.repeat(lay.cell_start[lay.group_start[group_of_sel]], n_sel).astype(idx_type)  # its group's
    group_n = np.repeat(np.add.reduceat(lay.cell_n, lay.group_start)[group_of_sel], n_sel).astype(np.float32)
    p_own = ((own_n - 1) / (own_n - 1 + POOLED_DF)).astype(np.float32)
    with np.errstate(divide="ignore"):  # p_own = 1 when POOLED_DF = 0: the group is never drawn from
        own_scale = own_n / p_own
        group_scale = group_n / (1 - p_own)
    own_last = (own_base + own_n - 1).astype(idx_type)  # float32 rounding of u * scale can reach n: clip
    group_last = (group_base + group_n - 1).astype(idx_type)
    m_sel = means[runs_cells]

    def redraw(rng: np.random.Generator, b: int) -> np.ndarray:
        # one uniform per residual picks both its source and its row: u < p_own -> row floor(u / p_own * n_own)
        # of the cell, else row floor((u - p_own) / (1 - p_own) * n_group) of the group; each is uniform
        u = rng.random((b, own_base.size), dtype=np.float32)
        own = u < p_own
        from_own = np.minimum((u * own_scale).astype(idx_type) + own_base, own_last)
        with np.errstate(invalid="ignore"):  # inf * 0 where the group is never drawn from
            from_group = np.minimum(((u - p_own) * group_scale).astype(idx_type) + group_base, group_last)
        idx = np.where(own, from_own, from_group)
        return m_sel + np.add.reduceat(resid[idx], sel_start_local, axis=1) / n_sel

    return redraw


def _resampled_log_optima(lay: _Layout, means: np.ndarray, point: _Optimum, ci_method: np.ndarray,
                          n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, G) ln T* recomputed on resampled cell means; groups without a ci_method keep their point value."""
    n_cells = means.size
    cell_mode = ci_method[lay.cell_group]
    runs_cells = np.flatnonzero(cell_mode == "runs")
    res_cells = np.flatnonzero(cell_mode == "residuals")
    redraw_runs = _run_redraws(lay, means, runs_cells) if runs_cells.size else None

    # "residuals": fitted parabola + leverage-adjusted, centred standardized residuals of the same group
    if res_cells.size:
        fitted = np.einsum("ci,ci->c", point.coef[0][lay.cell_group[res_cells]], lay.cell_basis[res_cells])
        w = lay.cell_n[res_cells]
        z = np.sqrt(w) * (means[res_cells] - fitted) / np.sqrt(np.maximum(1 - lay.cell_leverage[res_cells], 1e-12))
        g_res = lay.cell_group[res_cells]
        first = np.r_[True, g_res[1:] != g_res[:-1]]
        seg = np.flatnonzero(first)
        seg_n = np.diff(np.r_[seg, res_cells.size])
        z = z - np.repeat(np.add.reduceat(z, seg) / seg_n, seg_n)
        pool_start = np.repeat(seg, seg_n).astype(float)
        pool_n = np.repeat(seg_n, seg_n).astype(float)

    out = np.empty((n_boot, lay.group_start.size))
    chunk = max(1, _DRAWS_PER_CHUNK // max(int(lay.cell_n[runs_cells].sum()) + res_cells.size, 1))
    for b0 in range(0, n_boot, chunk):
        b = min(chunk, n_boot - b0)
        draws = np.broadcast_to(means, (b, n_cells)).copy()
        if redraw_runs is not None:
            draws[:, runs_cells] = redraw_runs(rng, b)
        if res_cells.size:
            pick = (pool_start + np.floor(rng.random((b, res_cells.size)) * pool_n)).astype(np.int64)
            draws[:, res_cells] = fitted + z[pick] / np.sqrt(w)
        out[b0:b0 + b] = _optimum_from_means(lay, draws).log_teacher
    return out


# ---------------------------------------------------------------------------------------------- public API
class OptimaResamples(NamedTuple):
    """find_optima's table plus what a pipeline bootstrap needs from it."""

    optima: pd.DataFrame  # the find_optima table
    log_teacher_boot: np.ndarray  # (n_boot, G) ln T* per resample, rows of `optima` in order
    caveats: list  # CapacityGapWarning instances (already in `optima.note`; not yet emitted)


def resample_optima(results: pd.DataFrame, metric: str, *, alpha: float = 0.05, n_boot: int = 200,
                    seed: int = 0) -> OptimaResamples:
    """find_optima without emitting warnings, also returning the (n_boot, G) resampled ln T* (for bootstrap_law)."""
    alpha = check_alpha(alpha)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"n_boot: expected a whole number of resamples, 0 or more, found {n_boot!r}")
    results, baseline_caveats = _without_baselines(results, metric)
    results, references, ref_caveats = _split_references(results, metric)
    baseline_caveats += ref_caveats
    lay = _build_layout(results, metric)
    means = lay.cell_means()
    point = _optimum_from_means(lay, means[None, :])
    ci_method = _ci_methods(lay, point)
    rng = np.random.default_rng(seed)
    boot = _resampled_log_optima(lay, means, point, ci_method, n_boot, rng)
    optima, caveats = _optima_table(lay, means, point, ci_method, boot, alpha, references)
    optima.attrs["seed"] = seed
    return OptimaResamples(optima, boot, baseline_caveats + caveats)


# `student_init` values of baseline students that were not made from their teacher (eval_runs writes "random"
# for its random-init baselines): they are comparison points, not points of a student's teacher curve.
BASELINE_INITS = frozenset({"random", "random_init", "scratch"})


def baseline_mask(results: pd.DataFrame) -> np.ndarray:
    """(N,) bool: rows of random-init baseline students (`student_init` in BASELINE_INITS)."""
    if "student_init" not in results.columns:
        return np.zeros(len(results), dtype=bool)
    init = results["student_init"].astype("string").str.lower()
    return init.isin(BASELINE_INITS).fillna(False).to_numpy(dtype=bool)


def _without_baselines(results: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, list]:
    """Leave random-init baseline rows out of the optima, with a DataWarning that counts them."""
    if not isinstance(results, pd.DataFrame) or "student_init" not in results.columns:
        return results, []
    baseline = baseline_mask(results) & (results["metric"] == metric).to_numpy()
    n = int(baseline.sum())
    if n == 0:
        return results, []
    return results[~baseline], [DataWarning(
        f"{n} {metric} row{'s' if n != 1 else ''} of random-init baseline students "
        f"(student_init = random) were left out of the optimal teachers: they show what distillation without "
        f"pruning gives, not a point of a student's teacher curve.", n_rows=n)]


def no_teacher_mask(results: pd.DataFrame) -> np.ndarray:
    """(N,) bool: rows of a student trained without a teacher (teacher_params 0 or missing)."""
    t = pd.to_numeric(results["teacher_params"], errors="coerce").to_numpy(dtype=float)
    return ~np.isfinite(t) | (t == 0)


def _split_references(results: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, pd.DataFrame | None, list]:
    """(rows with a teacher, this metric's no-teacher reference rows, caveats about students with only those)."""
    if not isinstance(results, pd.DataFrame) or "teacher_params" not in results.columns:
        return results, None, []
    none = no_teacher_mask(results)
    if not none.any():
        return results, None, []
    refs = results[none & (results["metric"] == metric).to_numpy()]
    rest = results[~none]
    caveats = []
    if not refs.empty:
        with_teacher = set(rest.loc[rest["metric"] == metric, "student_params"].astype(np.int64))
        alone = sorted(set(refs["student_params"].astype(np.int64)) - with_teacher)
        if alone:
            caveats.append(DataWarning(
                f"{len(alone)} student(s) ({', '.join(format_size(a) for a in alone[:6])}) have only runs without a "
                f"teacher for {metric}: they have no teacher curve and no optimal teacher.", students=alone))
    return rest, refs, caveats


def teacher_cells(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The (group, student, teacher) cells of one metric's runs with a teacher (baselines and no-teacher rows left
    out), as the layout defines them: family, data_tokens, student_params, teacher_params, teacher_name, n_runs,
    mean, ss_within (sum of the runs' squared deviations from their mean). Teachers are size and name."""
    rows = _split_references(_without_baselines(results, metric)[0], metric)[0]
    lay = _build_layout(rows, metric)
    groups = lay.groups.iloc[lay.cell_group].reset_index(drop=True)
    return groups.assign(teacher_params=lay.cell_teacher.astype(np.int64), teacher_name=lay.cell_name,
                         n_runs=lay.cell_n.astype(np.int64), mean=lay.sign * lay.cell_means(),
                         ss_within=np.nan_to_num(lay.cell_var) * (lay.cell_n - 1))


def find_optima(results: pd.DataFrame, metric: str, *, alpha: float = 0.05, n_boot: int = 0,
                seed: int = 0) -> pd.DataFrame:
    """The optimal teacher for each family x data_tokens x student, with its (1 - alpha) grid interval.

    n_boot, seed: accepted so that older calls run; the table draws no resamples (its interval comes from the tied
    teachers, step 7), so they change nothing. The two-stage pipeline bootstrap resamples through resample_optima.

    Columns (one row per group, sorted by family, data_tokens, student_params):
      family, data_tokens (NaN when absent), student_params;
      teacher_params  the estimate T* (params, rounded to a whole count);
      ci_lower, ci_upper  the grid interval around the tied teachers (module docstring, step 7; NaN on an open side);
      method  "log_parabola" (vertex of the quadratic in ln T), "argmin" (best observed teacher) or "tied" (every
              teacher tied with the best: no optimum; teacher_params is then the best observed one, not an
              estimate, and the JSON gives null);
      n_teachers, n_runs  distinct teachers (size + name) and runs in the group;
      at_grid_edge  the best observed teacher is the smallest or largest tested;
      convex  the parabola opens toward an optimum (<NA> with fewer than 3 teachers);
      note  why the smooth estimate was refused, edge and interval caveats ("" when none);
      best_value  the metric at the optimum: the parabola's value at its vertex, or the best observed mean;
      ci_method  "runs", "residuals" or None: how the two-stage pipeline bootstrap resamples the group (step 5);
      censored  None (bracketed), "left", "right" or "both" (step 7);
      tied_teachers, tied_teacher_names  the confidence set of the best tested teacher (step 6);
      teacher_name  the best observed teacher's name ("" when none); grid_min, grid_max  the tested range;
      no_teacher_value, no_teacher_helps  the no-distillation reference (step 8; NaN / <NA> without one);
      edge  "smallest" / "largest" where the best observed teacher is at that end of the grid, else None.
    attrs: metric, alpha, higher_is_better, seed, variance_source. Emits EdgeOptimumWarning /
    NonConvexWarning / DataWarning.
    """
    out = resample_optima(results, metric, alpha=alpha, n_boot=0, seed=seed)
    emit_caveats(out.caveats, stacklevel=2)
    return out.optima


def emit_caveats(caveats, stacklevel: int = 2) -> None:
    """warnings.warn each caveat once (the same sentence twice is one caveat); stacklevel as for the caller of
    emit_caveats (2 = the caller's caller)."""
    for cav in dict.fromkeys(caveats):
        warnings.warn(cav, stacklevel=stacklevel + 1)


def _variance_source(lay: _Layout, means: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(G,) prior run variance s0^2 of each group and its degrees of freedom, and where it came from: the group's
    own replicates, else all groups' replicates, else the pseudo-residuals of consecutive teachers (one run
    everywhere; Gasser et al. 1986: each interior teacher against the straight line through its neighbours)."""
    d = np.where(lay.cell_n > 1, lay.cell_n - 1, 0.0)
    ss = np.where(d > 0, d * np.nan_to_num(lay.cell_var), 0.0)
    d_g, ss_g = np.add.reduceat(d, lay.group_start), np.add.reduceat(ss, lay.group_start)
    if d.sum() > 0:
        s_all = ss.sum() / d.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            s0 = np.where(d_g > 0, ss_g / d_g, s_all)
        return s0, np.where(d_g > 0, d_g, d.sum()), "replicates"
    resid, n_res = [], 0
    lt = np.log(lay.cell_teacher)
    for g in range(lay.group_start.size):
        k = lay.pad[g][lay.pad[g] >= 0]
        x, y = lt[k], means[k]
        if k.size < 3:
            continue
        h1, h2 = x[1:-1] - x[:-2], x[2:] - x[1:-1]
        ok = (h1 > 0) & (h2 > 0)
        a, b = h2[ok] / (h1[ok] + h2[ok]), h1[ok] / (h1[ok] + h2[ok])
        e = (a * y[:-2][ok] + b * y[2:][ok] - y[1:-1][ok]) / np.sqrt(a * a + b * b + 1)
        resid.append(e)
        n_res += e.size
    if n_res == 0:
        return np.full(lay.group_start.size, np.nan), np.zeros(lay.group_start.size), "none"
    # the median of the squared pseudo-residuals over its value for pure noise (chi-square(1) median, 0.4549): a
    # curve's own bend inflates the pseudo-residuals where it is steep (far from the optimum), and the median
    # leaves those few out where a mean would take the bend for noise and tie every teacher
    s_pseudo = float(np.median(np.concatenate(resid) ** 2) / _CHI2_1_MEDIAN)
    return np.full(lay.group_start.size, s_pseudo), np.full(lay.group_start.size, float(n_res)), "pseudo_residuals"


def _cell_se2(lay: _Layout, s0: np.ndarray) -> np.ndarray:
    """(C,) variance of each cell mean: its runs' variance moderated toward the group's (POOLED_DF prior df)."""
    d = lay.cell_n - 1
    prior = s0[lay.cell_group]
    with np.errstate(invalid="ignore"):
        v = np.where(d > 0, (d * np.nan_to_num(lay.cell_var) + POOLED_DF * prior) / (d + POOLED_DF), prior)
    return v / lay.cell_n


class _Tied(NamedTuple):
    mask: np.ndarray  # (C,) the cell is tied with the best of its group
    lower: np.ndarray  # (G,) teacher just below the smallest tied one (NaN: censored left)
    upper: np.ndarray  # (G,) teacher just above the largest tied one (NaN: censored right)
    q: np.ndarray  # (G,) the quantile used (NaN where nothing tells the teachers apart)


def _tied_teachers(lay: _Layout, means: np.ndarray, arg_cell: np.ndarray, alpha: float,
                   se2: np.ndarray, df: np.ndarray) -> _Tied:
    """Subset selection (module docstring, step 6) and the grid interval around it (step 7)."""
    from scipy import stats

    n_groups = lay.group_start.size
    mask = np.zeros(means.size, dtype=bool)
    lower, upper, qs = np.full(n_groups, np.nan), np.full(n_groups, np.nan), np.full(n_groups, np.nan)
    for g in range(n_groups):
        k = lay.pad[g][lay.pad[g] >= 0]
        K = k.size
        sizes = lay.cell_teacher[k]
        if K == 1 or not np.all(np.isfinite(se2[k])) or df[g] <= 0:
            tied = np.ones(K, dtype=bool)  # nothing tells the teachers apart
        else:
            q = float(stats.t.ppf(1 - alpha / (K - 1), df[g]))
            m, v = means[k], se2[k]
            diff = m[:, None] - m[None, :] - q * np.sqrt(v[:, None] + v[None, :])  # (j, i)
            np.fill_diagonal(diff, -np.inf)
            tied = diff.max(axis=1) <= 0
            tied[k == arg_cell[g]] = True
            qs[g] = q
        mask[k] = tied
        lo_t, hi_t = sizes[tied].min(), sizes[tied].max()
        below, above = sizes[sizes < lo_t], sizes[sizes > hi_t]
        lower[g] = below.max() if below.size else np.nan
        upper[g] = above.min() if above.size else np.nan
    return _Tied(mask, lower, upper, qs)


def _optima_table(lay: _Layout, means: np.ndarray, point: _Optimum, ci_method: np.ndarray,
                  boot: np.ndarray, alpha: float, references: pd.DataFrame | None = None
                  ) -> tuple[pd.DataFrame, list[CapacityGapWarning]]:
    n_groups = lay.group_start.size
    log_t = point.log_teacher[0].copy()
    smooth, convex = point.smooth[0].copy(), point.convex[0]
    arg_cell, arg_pos = point.arg_cell[0], point.arg_pos[0]
    n_t = lay.group_n_teachers
    at_edge = (arg_pos == 0) | (arg_pos == n_t - 1)
    c0, c1, c2 = point.coef[0].T
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex_value = c0 - c1 * c1 / (4 * c2)

    s0, df, var_source = _variance_source(lay, means)
    se2 = _cell_se2(lay, s0)
    df_q = np.where(var_source == "replicates", df + POOLED_DF, df)
    tied = _tied_teachers(lay, means, arg_cell, alpha, se2, df_q)
    # the vertex must lie inside the grid interval; outside it, the best observed teacher is the estimate
    inside = (np.nan_to_num(tied.lower, nan=0.0) < np.exp(log_t)) & (np.exp(log_t) < np.nan_to_num(tied.upper,
                                                                                                      nan=np.inf))
    censored = np.where(np.isnan(tied.lower) & np.isnan(tied.upper), "both",
                        np.where(np.isnan(tied.lower), "left", np.where(np.isnan(tied.upper), "right", None)))
    # tied from the smallest to the largest teacher: a flat curve (or noise) locates no optimum, so none is given
    all_tied = (censored == "both") & (n_t >= 2)
    outside_vertex = smooth & ~inside
    smooth &= inside & ~all_tied
    log_t = np.where(smooth, log_t, np.log(lay.cell_teacher[arg_cell]))
    best = lay.sign * np.where(smooth, vertex_value, means[arg_cell])

    lo_t = lay.cell_teacher[lay.pad[:, 0]]
    hi_t = lay.cell_teacher[lay.pad[np.arange(n_groups), n_t - 1]]
    ref = _reference_means(lay, references)
    no_teacher_value = np.full(n_groups, np.nan)
    helps = pd.array([None] * n_groups, dtype="boolean")
    notes, caveats, tied_sizes, tied_names = [], [], [], []
    g = lay.groups
    for i in range(n_groups):
        parts = []
        who = dict(family=g.at[i, "family"], data_tokens=g.at[i, "data_tokens"], student_name=g.at[i, "student_name"])
        student, best_t = int(g.at[i, "student_params"]), float(lay.cell_teacher[arg_cell[i]])
        k = lay.pad[i][lay.pad[i] >= 0]
        kt = k[tied.mask[k]]
        tied_sizes.append([int(v) for v in lay.cell_teacher[kt]])
        tied_names.append([str(v) for v in lay.cell_name[kt]])
        sizes = lay.cell_teacher[k]
        dup = np.unique(sizes[np.r_[False, sizes[1:] == sizes[:-1]]])
        if dup.size:
            caveats.append(DataWarning(
                f"The teachers of {_who(student, **who)} include two checkpoints of the same size "
                f"({', '.join(format_size(d) for d in dup)}; names "
                f"{', '.join(repr(n) for n in lay.cell_name[k][np.isin(sizes, dup)])}): they are kept apart as two "
                f"teachers, not pooled as seeds.", kind="duplicate_teacher_size", student_params=student))
        if n_t[i] < MIN_TEACHERS_PARABOLA:
            parts.append(f"fewer than {MIN_TEACHERS_PARABOLA} teachers: no smooth estimate, best observed teacher used")
        elif not convex[i]:
            parts.append("the curve does not open toward an optimum (not convex): smooth estimate refused, "
                         "best observed teacher used")
            caveats.append(NonConvexWarning.for_student(student, best_t, lay.metric,
                                                        higher_is_better=lay.higher_is_better, **who))
        elif outside_vertex[i]:
            parts.append("the parabola's vertex lies outside the grid interval of the tied teachers: best observed "
                         "teacher used")
        elif not point.smooth[0][i]:
            v = math.exp(point.vertex_log_teacher[0, i])
            parts.append(f"the parabola's vertex ({format_size(v)}) lies outside the tested teachers "
                         f"({format_size(lo_t[i])} to {format_size(hi_t[i])}): smooth estimate refused, best observed "
                         f"teacher used")
        if all_tied[i]:
            parts.append("every teacher from the smallest to the largest tested is tied with the best: the runs do "
                         "not locate an optimum (a flat curve, or noise larger than its depth)")
            caveats.append(DataWarning(
                f"The teachers of {_who(student, **who)} cannot be told apart from the best one from the smallest "
                f"to the largest tested: no optimal teacher is given (a flat curve, or add seeds).",
                kind="all_tied", student_params=student))
        elif at_edge[i]:
            edge = "largest" if arg_pos[i] == n_t[i] - 1 else "smallest"
            if n_t[i] == 1:
                parts.append("only one teacher tested: the optimum is unknown")
            else:
                parts.append(f"best observed teacher is the {edge} tested: the true optimum may be "
                             f"{'larger' if edge == 'largest' else 'smaller'}")
            caveats.append(EdgeOptimumWarning.for_student(student, best_t, edge, n_teachers=int(n_t[i]), **who))
        if not np.isfinite(s0[i]):
            parts.append("no run-to-run variance can be estimated (one run per teacher and too few teachers): "
                         "every teacher is kept as tied, so the interval is open; add seeds")
        elif len(kt) > 1:
            parts.append(f"{len(kt)} teachers tied with the best ({', '.join(format_size(v) for v in lay.cell_teacher[kt])})"
                         + ("" if var_source != "pseudo_residuals" else
                            "; one run per teacher: the noise is estimated from neighbouring teachers"))
        if censored[i] == "left":
            parts.append(f"censored: the tied teachers include the smallest tested, so only T* < "
                         f"{format_size(tied.upper[i])} is known")
        elif censored[i] == "right":
            parts.append(f"censored: the tied teachers include the largest tested, so only T* > "
                         f"{format_size(tied.lower[i])} is known")
        key = (g.at[i, "family"], _token_key(g.at[i, "data_tokens"]), student, g.at[i, "student_name"])
        if key in ref:
            r_mean, r_n, r_var = ref[key]
            no_teacher_value[i] = lay.sign * r_mean
            r_se2 = (r_var if np.isfinite(r_var) and r_n > 1 else s0[i]) / r_n
            if np.isfinite(r_se2) and np.isfinite(tied.q[i]):
                margin = tied.q[i] * math.sqrt(se2[arg_cell[i]] + r_se2)
                helps[i] = not (r_mean - means[arg_cell[i]] <= margin)
            else:
                helps[i] = not (r_mean <= means[arg_cell[i]])
            if not helps[i]:
                parts.append("no teacher helps here: the student trained without a teacher is as good as the best "
                             "teacher")
        notes.append("; ".join(parts))

    optima = pd.DataFrame({
        "family": g["family"].astype(str),
        "data_tokens": g["data_tokens"].astype("float64"),
        "student_params": g["student_params"].astype(np.int64),
        "teacher_params": np.rint(np.exp(log_t)).astype(np.int64),
        "ci_lower": np.rint(tied.lower),
        "ci_upper": np.rint(tied.upper),
        "method": np.where(all_tied, "tied", np.where(smooth, "log_parabola", "argmin")),
        "n_teachers": n_t.astype(np.int64),
        "at_grid_edge": at_edge.astype(bool),
        "convex": pd.array(np.where(n_t >= MIN_TEACHERS_PARABOLA, convex, None), dtype="boolean"),
        "note": notes,
        "best_value": best.astype(float),
        "n_runs": np.add.reduceat(lay.cell_n, lay.group_start).astype(np.int64),
        "ci_method": pd.Series(ci_method, dtype=object),
        "censored": pd.Series(censored, dtype=object),
        "tied_teachers": tied_sizes,
        "tied_teacher_names": tied_names,
        "teacher_name": [str(v) for v in lay.cell_name[arg_cell]],
        "grid_min": lo_t.astype(float),
        "grid_max": hi_t.astype(float),
        "no_teacher_value": no_teacher_value,
        "no_teacher_helps": helps,
        "edge": pd.Series(np.where(~at_edge, None, np.where(arg_pos == n_t - 1, "largest", "smallest")),
                          dtype=object),
        "student_name": g["student_name"].astype(str),
    }, columns=OPTIMA_COLUMNS)
    optima.attrs.update(metric=lay.metric, alpha=float(alpha), higher_is_better=lay.higher_is_better,
                        n_boot=int(boot.shape[0]), variance_source=var_source)
    return optima, caveats


def _reference_means(lay: _Layout, references: pd.DataFrame | None) -> dict:
    """{(family, data_tokens, student, student name): (sign-adjusted mean, runs, variance)} of the no-teacher
    rows."""
    if references is None or references.empty:
        return {}
    fam = references["family"].astype(str) if "family" in references else pd.Series("default", index=references.index)
    tok = (pd.to_numeric(references["data_tokens"], errors="coerce") if "data_tokens" in references
           else pd.Series(np.nan, index=references.index))
    frame = pd.DataFrame({"family": fam, "data_tokens": tok.astype(float),
                          "student_params": references["student_params"].astype(np.int64),
                          "student_name": (_teacher_names(references, "student_name")
                                           if (lay.groups["student_name"] != "").any() else ""),
                          "y": lay.sign * pd.to_numeric(references["value"], errors="coerce")})
    out = {}
    for (f, d, st, sn), grp in frame.groupby(["family", "data_tokens", "student_params", "student_name"],
                                             dropna=False):
        y = grp["y"].to_numpy(dtype=float)
        out[(f, _token_key(d), int(st), str(sn))] = (float(y.mean()), y.size,
                                            float(y.var(ddof=1)) if y.size > 1 else float("nan"))
    return out


def _token_key(tokens) -> float:
    """data_tokens as a dict key (NaN never equals itself)."""
    return -1.0 if pd.isna(tokens) else float(tokens)


def optima_records(optima: pd.DataFrame) -> list[dict]:
    """The optima as JSON records (sizes in raw params, null for missing; an open interval side is null)."""
    records = []
    for row in optima.to_dict("records"):
        records.append({
            "family": None if row.get("family") is None else str(row["family"]),
            "data_tokens": json_number(row.get("data_tokens"), integer=True),
            "student_params": json_number(row.get("student_params"), integer=True),
            "teacher_params": (None if row.get("method") == "tied"
                               else json_number(row.get("teacher_params"), integer=True)),
            "ci_lower": json_number(row.get("ci_lower"), integer=True),
            "ci_upper": json_number(row.get("ci_upper"), integer=True),
            "method": None if row.get("method") is None else str(row["method"]),
            "n_teachers": json_number(row.get("n_teachers"), integer=True),
            "at_grid_edge": None if row.get("at_grid_edge") is None else bool(row["at_grid_edge"]),
            "censored": row.get("censored") if isinstance(row.get("censored"), str) else None,
            "tied_teachers": [int(v) for v in (row.get("tied_teachers") or [])],
            "tied_teacher_names": [str(v) for v in (row.get("tied_teacher_names") or [])],
            "teacher_name": row.get("teacher_name") or None,
            "student_name": row.get("student_name") or None,
            "no_teacher_value": json_number(row.get("no_teacher_value")),
            "no_teacher_helps": (None if row.get("no_teacher_helps") is None or pd.isna(row.get("no_teacher_helps"))
                                 else bool(row["no_teacher_helps"])),
        })
    return records


def optima_to_dict(optima: pd.DataFrame, metric: str | None = None) -> dict:
    """The optimum JSON: {"schema_version", "metric", "optima": [...]}; json.dumps(allow_nan=False)-safe."""
    return {"schema_version": SCHEMA_VERSION, "metric": metric if metric is not None else optima.attrs.get("metric"),
            "optima": optima_records(optima)}
