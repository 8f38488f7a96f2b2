"""The one-stage law fit ("curve collapse"): every student's curve of one (family, data_tokens) group at once.

    value[s, T] = level[s] + c * (S / S_ref) ** gamma * g(ln T - ln T*(S; law)) + noise           (1)
    g(x)        = 2 (exp(a x) - a x - 1) / a ** 2 * (r if x > 0 else 1)

g is a linex curve (x ** 2 at a = 0; a > 0 rises exponentially on the big-teacher side) with a kink r (the big
side r times steeper): a parabola (a = 0, r = 1), a linex curve (r = 1) and a kinked parabola (a = 0) are all in
the family, so a teacher that is too big may hurt more than one that is too small, smoothly or not.
level[s] is free per student (a student's own loss level), the curve's depth c >= 0, its scaling with the student
gamma and its shape (a, r) are shared, and the law's parameters (slope, intercept_params | slope | coefficient,
exponent; the forms of analysis.law) place every student's optimum. So every teacher of every student informs the
slope, a student with two teachers still counts, and an optimum at the edge of a grid is never taken as a point:
the shape carries it. If the law holds, the curves plotted against ln(T / T*(S)) fall on one curve (the collapse
figure, `collapse_points`).

How it is fitted and what its intervals rest on:
- Nonlinear least squares (scipy.optimize.least_squares) on the cell means (one cell = one student and one
  teacher, weighted by its runs, which is the same fit as on the runs) with the levels and c profiled out (variable
  projection: for fixed law, gamma, a and r, (1) is linear in them), started from four shapes.
- The law's parameters get profile-likelihood intervals (the residual sum of squares, minimised over everything
  else, rising by t^2 times the noise variance; an open side where a bound is reached first), with the noise
  variance inflated where the cluster-robust (by student) standard error is wider than the model-based one; the
  power form's coefficient and the bands of predict() use the delta method on ln T*. Planted-law studies
  (bench/coverage_study.py, shapes the fit does not assume included) are where these choices were checked.
- The law's scatter: a second fit frees every student's optimum (one ln T* per student, same shape); its
  extra fit over (1) is an F test of the law (`lack_of_fit`), and the spread of those optima around the law beyond
  their own error is the scatter tau a new student's optimum gets in the prediction band (obs_ci_*).
- Refusal: curves whose fitted shape does not beat flat lines (an F test at alpha, conservative: every curve
  parameter counted) locate no optimum; and with fewer bracketed students (best teacher inside the grid, not every
  teacher tied with it; see analysis.optimum) than the law has parameters plus one, no law is fitted:
  `LawRefused` names the students and the teachers to add.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from analysis.caveats import CapacityGapWarning, ExtrapolationWarning
from analysis.fit_text import EQUATIONS, FitResults, law_json, param_lines
from analysis.json_safe import json_number
from analysis.optimum import emit_caveats, find_optima, teacher_cells
from analysis.sizes import format_size
from analysis.validate import check_alpha, positive_sizes

FORMS = ("linear", "proportional", "power")
PARAM_NAMES = {"linear": ("slope", "intercept_params"), "proportional": ("slope",),
               "power": ("coefficient", "exponent")}
PREDICTION_COLUMNS = ["mean", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]
EXTRAPOLATION_FACTOR = 2.0  # predict() warns beyond 2x the largest / below 1/2 the smallest fitted student
_UNIT = 1e6  # the fit runs in millions of parameters
_LOG_UNIT = math.log(_UNIT)
_SHAPE_STARTS = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (-1.0, 0.0))  # (a, ln r) the fit starts from
# |a| <= 4 (the linex side e^4 ~ 55x steeper at one e-fold), |gamma| <= 3 (depth ~ S^gamma), r within 1/10 .. 10:
# wide enough for any curse curve seen or planted, narrow enough that a sparse grid cannot send the shape to a
# degenerate corner (a curve flat on one side) that trades against the optimum's place
_A_BOUND, _GAMMA_BOUND, _LOG_R_BOUND = 4.0, 3.0, math.log(10.0)
_SHAPE_LO, _SHAPE_HI = (-_GAMMA_BOUND, -_A_BOUND, -_LOG_R_BOUND), (_GAMMA_BOUND, _A_BOUND, _LOG_R_BOUND)


class LawRefused(ValueError):
    """The data cannot support a law: too few students whose optimum is bracketed by the tested teachers.

    str() is the message for the user; `.students` (raw sizes of the students that need teachers) and
    `.suggestions` (one sentence per student: which teacher to add) say what to run next."""

    def __init__(self, message: str, students=(), suggestions=()):
        super().__init__(message)
        self.students = list(students)
        self.suggestions = list(suggestions)


def n_law_params(form: str) -> int:
    return len(PARAM_NAMES[form])


def min_bracketed(form: str) -> int:
    """Bracketed students a law needs: one per parameter plus one to check it (two for the proportional form)."""
    return n_law_params(form) + 1


def bracketed_mask(optima: pd.DataFrame) -> np.ndarray:
    """(n,) bool: the best observed teacher has a tested teacher on each side (it is not at the grid's edge), and
    not every teacher is tied with it (method "tied": the runs locate no optimum)."""
    ok = np.ones(len(optima), dtype=bool)
    if "at_grid_edge" in optima:
        ok &= ~optima["at_grid_edge"].fillna(True).astype(bool).to_numpy()
    if "method" in optima:
        ok &= (optima["method"] != "tied").to_numpy()
    return ok


def check_bracketed(optima: pd.DataFrame, form: str) -> None:
    """Raise LawRefused when fewer than min_bracketed(form) of the optima are bracketed (bracketed_mask).

    Why that many: a law with p parameters passes exactly through p optima, so p + 1 are the fewest that can show
    whether it holds (and leave a residual degree of freedom for the two-stage fit's interval); an optimum at the
    edge of its grid only bounds T*, and what lies past the grid is the shape's extrapolation, not data."""
    need = min_bracketed(form)
    bracketed = bracketed_mask(optima)
    n = int(bracketed.sum())
    if n >= need:
        return
    suggestions = []
    for row in optima.loc[~bracketed].to_dict("records"):
        student = format_size(row["student_params"])
        lo, hi = row.get("grid_min"), row.get("grid_max")
        if row.get("method") == "tied" and row.get("n_teachers", 0) >= 2:
            suggestions.append(f"{student} student: its {int(row['n_teachers'])} teachers cannot be told apart from "
                               f"the best; add seeds, or teachers further out (e.g. {format_size(lo / 2)} or "
                               f"{format_size(hi * 2)})")
        elif row.get("n_teachers", 0) < 2:
            suggestions.append(f"{student} student: one teacher tested; add teachers on both sides "
                               f"(e.g. {format_size(lo / 2)} and {format_size(hi * 2)})")
        elif row.get("edge", "smallest" if row["teacher_params"] <= lo else "largest") == "smallest":
            suggestions.append(f"{student} student: the best teacher is the smallest tested ({format_size(lo)}); "
                               f"add a smaller teacher (e.g. {format_size(lo / 2)})")
        else:
            suggestions.append(f"{student} student: the best teacher is the largest tested ({format_size(hi)}); "
                               f"add a larger teacher (e.g. {format_size(hi * 2)})")
    msg = (f"No law: a {form} law needs at least {need} students whose best teacher is bracketed (a tested "
           f"teacher on each side of it, not tied with every other); this data has {n} of {len(optima)}. "
           + ("; ".join(suggestions[:8]) + ("; …" if len(suggestions) > 8 else "") + "."
              if suggestions else "Add students."))
    raise LawRefused(msg, students=optima.loc[~bracketed, "student_params"].tolist(), suggestions=suggestions)


# ---------------------------------------------------------------------------------------------- the model
def _linex(x: np.ndarray, a: float) -> np.ndarray:
    if abs(a) < 1e-4:  # series of 2 (e^{ax} - ax - 1) / a^2 = x^2 + a x^3 / 3 + ...
        return x * x * (1 + a * x / 3)
    ax = np.clip(a * x, -60.0, 60.0)
    return 2 * (np.expm1(ax) - ax) / (a * a)


def _log_tstar(form: str, theta: np.ndarray, s_m: np.ndarray) -> np.ndarray:
    """ln T*(S) in millions for students s_m (millions)."""
    if form == "linear":
        return np.log(np.maximum(theta[0] * s_m + theta[1], 1e-6 * s_m))
    if form == "proportional":
        return theta[0] + np.log(s_m)
    return theta[0] + theta[1] * np.log(s_m)


@dataclass(frozen=True, eq=False)
class _Cells:
    """One group's cells (student x teacher), sign-adjusted so that lower is better."""

    y: np.ndarray  # (C,) cell means
    w: np.ndarray  # (C,) runs per cell
    x: np.ndarray  # (C,) ln teacher (millions)
    g: np.ndarray  # (C,) student index
    s_m: np.ndarray  # (G,) student sizes (millions)
    ls: np.ndarray  # (C,) ln(S / S_ref) of the cell's student
    ss_within: float  # sum over cells of squared deviations of runs from their cell mean
    n_runs: int
    frame: pd.DataFrame  # the cells as a table (teacher_cells)


def _profile(cells: _Cells, z: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """(residuals sqrt(w) (y~ - c z~), c, levels): levels and c >= 0 profiled out for the shape values z."""
    G = cells.s_m.size
    wsum = np.bincount(cells.g, weights=cells.w, minlength=G)
    ybar = np.bincount(cells.g, weights=cells.w * cells.y, minlength=G) / wsum
    zbar = np.bincount(cells.g, weights=cells.w * z, minlength=G) / wsum
    yt, zt = cells.y - ybar[cells.g], z - zbar[cells.g]
    den = float(np.sum(cells.w * zt * zt))
    c = max(0.0, float(np.sum(cells.w * yt * zt)) / den) if den > 0 else 0.0
    return np.sqrt(cells.w) * (yt - c * zt), c, ybar - c * zbar


def _shape(x: np.ndarray, a: float, log_r: float) -> np.ndarray:
    """g(x) of (1): linex with rate a, the big side (x > 0) scaled by r = exp(log_r)."""
    return _linex(x, a) * np.where(x > 0, math.exp(log_r), 1.0)


def _shape_values(cells: _Cells, log_tstar: np.ndarray, gamma: float, a: float, log_r: float) -> np.ndarray:
    return np.exp(gamma * cells.ls) * _shape(cells.x - log_tstar[cells.g], a, log_r)


def _law_start(form: str, optima: pd.DataFrame) -> np.ndarray:
    s = optima["student_params"].to_numpy(dtype=float) / _UNIT
    t = optima["teacher_params"].to_numpy(dtype=float) / _UNIT
    ratio = float(np.median(np.log(t / s)))
    if form == "linear":
        return np.array([math.exp(ratio), 0.0])
    if form == "proportional":
        return np.array([ratio])
    return np.array([ratio, 1.0])


def _bounds(form: str) -> tuple[np.ndarray, np.ndarray]:
    law_lo = {"linear": [1e-6, -np.inf], "proportional": [-20.0], "power": [-20.0, -5.0]}[form]
    law_hi = {"linear": [1e6, np.inf], "proportional": [20.0], "power": [20.0, 5.0]}[form]
    return (np.array(law_lo + list(_SHAPE_LO)), np.array(law_hi + list(_SHAPE_HI)))


def _solve(fun, starts, lo, hi):
    best = None
    for x0 in starts:
        x0 = np.minimum(np.maximum(x0, np.nextafter(lo, np.inf)), np.nextafter(hi, -np.inf))
        try:
            res = optimize.least_squares(fun, x0, bounds=(lo, hi), method="trf", x_scale="jac", max_nfev=400)
        except ValueError:
            continue
        if best is None or res.cost < best.cost:
            best = res
    if best is None:
        raise ValueError("the one-stage fit did not converge from any start")
    return best


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False, repr=False)
class CollapseFit(FitResults):
    """A one-stage fit of the law T*(S) to every curve of one group. Sizes in and out are raw parameter counts.

    Follows analysis.law.LawFit: params, bse, conf_int(alpha), predict(S, alpha) with statsmodels' summary_frame
    columns, invert(T), rsquared, nobs, optima, caveats, summary(), to_dict()."""

    METHOD = "one-stage"  # how repr names the estimator (a class attribute, not a field)
    form: str
    alpha: float
    metric: str | None
    optima: pd.DataFrame  # find_optima's table for the same runs (per-student optima, tied sets, bounds)
    theta: np.ndarray = field(repr=False)  # law params on the fitting scale, then gamma, a, ln r
    cov: np.ndarray = field(repr=False)  # covariance of theta (the wider of model-based and cluster-robust)
    df_resid: float = 0.0
    rss: float = float("nan")  # residual sum of squares over the runs
    n_runs: int = 0
    depth: float = 0.0  # c: the curve's depth (metric units per ln^2 at S_ref)
    s_ref: float = 1.0  # params; the student size where the depth is c
    scatter: float = 0.0  # tau: sd of the students' own optima around the law (ln scale), beyond their error
    lack_of_fit: dict = field(default_factory=dict)  # F test of the law against a free optimum per student
    cells: pd.DataFrame = field(default=None, repr=False)  # the fitted cells (teacher_cells + fitted, x)
    profile: dict = field(default_factory=dict)  # law param index -> (lower, upper) on the fitting scale at alpha
    higher_is_better: bool = False
    group: dict = field(default_factory=dict)  # family, data_tokens of the fitted group
    caveats: list = field(default_factory=list)
    method: str = "one_stage"
    weights: str = "runs"

    @property
    def names(self) -> tuple[str, ...]:
        return PARAM_NAMES[self.form]

    @property
    def nobs(self) -> int:
        """Students fitted (the law's points)."""
        return len(self.optima)

    @property
    def asymmetry(self) -> float:
        """g(1) / g(-1) of the fitted shape: how much more a teacher e times too big costs than one e times too
        small (1 = symmetric)."""
        g = self.shape_curve([1.0, -1.0])
        return float(g[0] / g[1]) if g[1] > 0 else float("inf")

    @property
    def linex_rate(self) -> float:
        return float(self.theta[-2])

    @property
    def kink(self) -> float:
        """r: the big side's extra steepness at the optimum."""
        return float(math.exp(self.theta[-1]))

    @property
    def gamma(self) -> float:
        return float(self.theta[-3])

    def _q(self, alpha: float) -> float:
        return float(special.stdtrit(max(self.df_resid, 1.0), 1 - alpha / 2))

    def _bounds(self, alpha: float, th: np.ndarray, se: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
        """Fitting-scale bounds of the law params: the profile intervals at the fit's alpha, Wald elsewhere."""
        lo, hi = th - q * se, th + q * se
        if alpha == self.alpha:
            for j, (a, b) in self.profile.items():
                lo[j], hi[j] = a, b
        return lo, hi

    def _table(self, alpha: float) -> pd.DataFrame:
        p = len(self.names)
        th, cov, q = self.theta[:p], self.cov[:p, :p], self._q(alpha)
        se = np.sqrt(np.maximum(np.diag(cov), 0))
        blo, bhi = self._bounds(alpha, th.copy(), se, q)
        if self.form == "linear":
            est = np.array([th[0], th[1] * _UNIT])
            bse = np.array([se[0], se[1] * _UNIT])
            lo, hi = np.array([blo[0], blo[1] * _UNIT]), np.array([bhi[0], bhi[1] * _UNIT])
        elif self.form == "proportional":
            est = np.array([math.exp(th[0])])
            bse = est * se
            lo, hi = np.exp(blo), np.exp(bhi)
        else:  # ln coefficient (raw units) = b0 + (1 - p) ln 1e6: a linear contrast of (b0, p)
            cvec = np.array([1.0, -_LOG_UNIT])
            log_coef = th[0] + (1 - th[1]) * _LOG_UNIT
            se_log = float(np.sqrt(max(cvec @ cov @ cvec, 0)))
            est = np.array([math.exp(log_coef), th[1]])
            bse = np.array([est[0] * se_log, se[1]])
            lo = np.array([math.exp(log_coef - q * se_log), blo[1]])
            hi = np.array([math.exp(log_coef + q * se_log), bhi[1]])
        return pd.DataFrame({"estimate": est, "bse": bse, "lower": lo, "upper": hi}, index=list(self.names))

    # -- predictions
    def _log_pred(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ln T* (millions) and its standard error at students s (params), by the delta method."""
        p = len(self.names)
        th = self.theta[:p]
        s_m = s / _UNIT
        mu = _log_tstar(self.form, th, s_m)
        if self.form == "linear":
            lin = th[0] * s_m + th[1]
            grad = np.stack([s_m / lin, 1 / lin], axis=1)
        elif self.form == "proportional":
            grad = np.ones((s.size, 1))
        else:
            grad = np.stack([np.ones_like(s_m), np.log(s_m)], axis=1)
        var = np.einsum("ni,ij,nj->n", grad, self.cov[:p, :p], grad)
        with np.errstate(invalid="ignore"):
            return mu, np.sqrt(np.maximum(var, 0))

    def _note_extrapolation(self, sizes: np.ndarray, stacklevel: int = 3) -> None:
        s = self.optima["student_params"].to_numpy(dtype=float)
        lo, hi = float(s.min()), float(s.max())
        far = sizes[np.isfinite(sizes) & ((sizes > EXTRAPOLATION_FACTOR * hi) | (sizes < lo / EXTRAPOLATION_FACTOR))]
        if far.size:
            cav = ExtrapolationWarning.for_students(np.unique(far), lo, hi, EXTRAPOLATION_FACTOR)
            if cav not in self.caveats:
                self.caveats.append(cav)
            warnings.warn(cav, stacklevel=stacklevel)

    def predict(self, student_params, alpha: float | None = None) -> pd.DataFrame:
        """T* (raw params): mean (the law), mean_ci_* (confidence band, log-scale delta method, so always
        positive where the law is), obs_ci_* (where a new student's optimum would fall: adds the law's scatter)."""
        alpha = self.alpha if alpha is None else check_alpha(alpha)
        s = positive_sizes(student_params, "student_params")
        caveats = self._note_extrapolation(s)
        mu, se = self._log_pred(s)
        q = self._q(alpha)
        lin_ok = np.ones(s.size, dtype=bool)
        if self.form == "linear":
            lin_ok = self.theta[0] * s / _UNIT + self.theta[1] > 0
        se_obs = np.sqrt(se * se + self.scatter ** 2)
        cols = {"mean": mu, "mean_ci_lower": mu - q * se, "mean_ci_upper": mu + q * se,
                "obs_ci_lower": mu - q * se_obs, "obs_ci_upper": mu + q * se_obs}
        with np.errstate(over="ignore"):
            out = pd.DataFrame({k: np.where(lin_ok, np.exp(v) * _UNIT, np.nan) for k, v in cols.items()},
                               index=pd.Index(s, name="student_params"))
        out = out[PREDICTION_COLUMNS]
        out.attrs["caveats"] = caveats  # the prediction carries its caveats; the fit is not changed
        return out

    def invert(self, teacher_params, alpha: float | None = None) -> pd.DataFrame:
        """The student each teacher serves best (raw params; columns as predict): the root of the law, and the
        students whose confidence (mean_ci_*) or prediction (obs_ci_*) band contains T. NaN where none is found."""
        alpha = self.alpha if alpha is None else check_alpha(alpha)
        t = positive_sizes(teacher_params, "teacher_params")
        grid = np.exp(np.linspace(math.log(1e3), math.log(1e14), 2001))
        band = self.predict_quiet(grid, alpha)
        out = {k: np.full(t.size, np.nan) for k in PREDICTION_COLUMNS}
        for i, ti in enumerate(t):
            for col, src in (("mean", "mean"), ("mean_ci_lower", "mean_ci_upper"),
                             ("mean_ci_upper", "mean_ci_lower"), ("obs_ci_lower", "obs_ci_upper"),
                             ("obs_ci_upper", "obs_ci_lower")):
                out[col][i] = _crossing(grid, band[src].to_numpy(), ti)
        frame = pd.DataFrame(out, index=pd.Index(t, name="teacher_params"))[PREDICTION_COLUMNS]
        frame.attrs["caveats"] = self._note_extrapolation(frame["mean"].to_numpy())
        return frame

    def predict_quiet(self, student_params, alpha: float | None = None) -> pd.DataFrame:
        """predict without the extrapolation caveat (for curves drawn across a range)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExtrapolationWarning)
            return self.predict(student_params, alpha)

    @property
    def fitted(self) -> pd.Series:
        """T* of the law at the fitted students (params)."""
        s = self.optima["student_params"].to_numpy(dtype=float)
        return pd.Series(np.exp(_log_tstar(self.form, self.theta, s / _UNIT)) * _UNIT, index=self.optima.index,
                         name="fitted")

    @property
    def resid(self) -> pd.Series:
        """Per-student optimum (find_optima's point) minus the law's, in params."""
        return pd.Series(self.optima["teacher_params"].to_numpy(dtype=float) - self.fitted.to_numpy(),
                         index=self.optima.index, name="resid")

    @property
    def rsquared(self) -> float:
        """R^2 of the bracketed students' optima (find_optima's points) around the law, on the teacher-size scale
        as in the paper (NaN with fewer than 2 bracketed students)."""
        ok = bracketed_mask(self.optima)
        t = self.optima["teacher_params"].to_numpy(dtype=float)[ok]
        if t.size < 2:
            return float("nan")
        r = self.resid.to_numpy()[ok]
        sst = float(np.sum((t - t.mean()) ** 2))
        return 1 - float(np.sum(r * r)) / sst if sst > 0 else float("nan")

    @property
    def n_params_total(self) -> int:
        """Every estimated number: the law, gamma, a, r, the depth, one level per student, the noise variance."""
        return int(self.theta.size + 1 + self.nobs + 1)

    @property
    def aic(self) -> float:
        """AIC of the runs (Gaussian noise of one variance): comparable across forms fitted to the same runs."""
        n = self.n_runs
        return float(n * math.log(self.rss / n) + 2 * self.n_params_total) if n and self.rss > 0 else float("nan")

    @property
    def bic(self) -> float:
        n = self.n_runs
        return (float(n * math.log(self.rss / n) + math.log(n) * self.n_params_total) if n and self.rss > 0
                else float("nan"))

    def collapse_points(self) -> pd.DataFrame:
        """The cells on the collapse axes: x = ln(T / T*(S)) by the law, y = (mean - level) / depth at S (the
        shared shape's units); `shape` = the fitted curve at x. Columns student_params, teacher_params, n_runs,
        x, y, shape."""
        return self.cells[["student_params", "teacher_params", "n_runs", "x", "y", "shape"]].copy()

    def student_influence(self) -> pd.DataFrame:
        """How much each student carries the law: the law's params refitted without it (point fits from this fit's
        estimate). Columns student_params, then each param NAME and NAME_change (refit minus this fit; NaN where
        the rest cannot be fitted). No student should move the slope by more than its interval's half-width."""
        p = len(self.names)
        lo, hi = _bounds(self.form)
        rows = []
        names = self.cells["student_name"].astype(str) if "student_name" in self.cells else ""
        for student, name in zip(self.optima["student_params"], self.optima.get("student_name", [""] * self.nobs)):
            mine = (self.cells["student_params"] == student) & (names == (name or ""))
            rest = self.cells[~mine].reset_index(drop=True)
            row = {"student_params": int(student), "student_name": name or ""}
            if len(rest.groupby(["student_params"] + (["student_name"] if "student_name" in rest else [])))\
                    >= min_bracketed(self.form):
                cells, _students, _ref = _cells_of(rest, -1.0 if self.higher_is_better else 1.0)

                def resid(theta, cells=cells):
                    return _profile(cells, _shape_values(cells, _log_tstar(self.form, theta[:p], cells.s_m),
                                                         *theta[p:]))[0]
                theta = _solve(resid, [self.theta], lo, hi).x
                est = _raw_law_params(self.form, theta[:p])
            else:
                est = np.full(p, np.nan)
            for name, value, base in zip(self.names, est, self.params.to_numpy()):
                row[name], row[f"{name}_change"] = value, value - base
            rows.append(row)
        return pd.DataFrame(rows)

    def shape_curve(self, x) -> np.ndarray:
        """The fitted shared shape g_a(x) (the collapse figure's line)."""
        return _shape(np.asarray(x, dtype=float), self.linex_rate, float(self.theta[-1]))

    # -- reporting
    def summary(self) -> str:
        """A readable text table: equation, fit, params with intervals, shape, lack of fit, caveats."""
        s = self.optima["student_params"]
        lines = [
            f"Law of capacity gap, {self.form} form: {EQUATIONS[self.form]}",
            f"  one-stage fit of every curve (curve collapse){'' if self.metric is None else f' on {self.metric}'}; "
            f"{self.nobs} students {format_size(s.min())} to {format_size(s.max())}, "
            f"{len(self.cells)} (student, teacher) cells; residual df {self.df_resid:g}",
            "",
        ]
        lines += param_lines(self, self._table(self.alpha))
        lof = self.lack_of_fit
        lines += ["", f"  curve shape: a teacher e-fold too big costs {self.asymmetry:.3g}x what one e-fold too small "
                      f"does (linex rate {self.linex_rate:.3g}, kink {self.kink:.3g}); depth {self.depth:.3g} per ln^2 "
                      f"at {format_size(self.s_ref)}, scaling S^{self.gamma:.2g}",
                  f"  R^2 of the bracketed optima around the law {self.rsquared:.4f}; law scatter tau "
                  f"{self.scatter:.3g} (ln T*)"]
        if lof.get("p_value") is not None:
            lines.append(f"  lack of fit (law vs a free optimum per student): F = {lof['f']:.3g}, "
                         f"p = {lof['p_value']:.3g}")
        if self.caveats:
            lines += ["", "Caveats:"] + [f"  - {c}" for c in self.caveats]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The law JSON (the keys of LawFit.to_dict, plus method, shape, scatter, lack_of_fit, group)."""
        return {
            **law_json(self, self._table(self.alpha)),
            "method": self.method,
            "declined": False,
            "group": {"family": self.group.get("family"),
                      "data_tokens": json_number(self.group.get("data_tokens"), integer=True)},
            "shape": {"asymmetry": json_number(self.asymmetry), "linex_rate": json_number(self.linex_rate),
                      "kink": json_number(self.kink), "depth": json_number(self.depth),
                      "depth_scaling": json_number(self.gamma), "s_ref": json_number(self.s_ref, integer=True)},
            "scatter": json_number(self.scatter),
            "lack_of_fit": {k: json_number(v) for k, v in self.lack_of_fit.items()},
            "df_resid": json_number(self.df_resid),
            "n_cells": len(self.cells),
        }


def _crossing(grid: np.ndarray, values: np.ndarray, target: float) -> float:
    """The first S on grid where values crosses target (log-linear interpolation); NaN if it never does."""
    ok = np.isfinite(values)
    v, g = values[ok], grid[ok]
    if v.size < 2:
        return float("nan")
    d = np.log(v) - math.log(target)
    idx = np.flatnonzero(np.sign(d[:-1]) != np.sign(d[1:]))
    if idx.size == 0:
        return float("nan")
    i = idx[0]
    f = d[i] / (d[i] - d[i + 1])
    return float(math.exp(math.log(g[i]) + f * (math.log(g[i + 1]) - math.log(g[i]))))


def _raw_law_params(form: str, th: np.ndarray) -> np.ndarray:
    """Fitting-scale law params -> the reported ones (raw units, PARAM_NAMES order)."""
    if form == "linear":
        return np.array([th[0], th[1] * _UNIT])
    if form == "proportional":
        return np.array([math.exp(th[0])])
    return np.array([math.exp(th[0] + (1 - th[1]) * _LOG_UNIT), th[1]])


# ---------------------------------------------------------------------------------------------- fitting
def _group_of(results: pd.DataFrame, metric: str) -> dict:
    rows = results[results["metric"] == metric]
    fam = rows["family"].astype(str).unique() if "family" in rows else np.array(["default"])
    tok = (pd.to_numeric(rows["data_tokens"], errors="coerce").unique() if "data_tokens" in rows
           else np.array([np.nan]))
    if fam.size > 1 or pd.Series(tok).nunique(dropna=False) > 1:
        raise ValueError(f"fit_collapse fits one (family, data_tokens) group; these rows hold families "
                         f"{sorted(fam.tolist())} and token budgets {sorted(map(str, tok.tolist()))}: filter them "
                         f"first, or use analysis.law.fit_laws to fit each group")
    return {"family": str(fam[0]) if fam.size else "default", "data_tokens": float(tok[0]) if tok.size else np.nan}


def fit_collapse(results: pd.DataFrame, metric: str, *, form: str = "linear", alpha: float = 0.05,
                 optima: pd.DataFrame | None = None) -> CollapseFit:
    """Fit the law T*(S) to every (student, teacher) cell of one (family, data_tokens) group at once (module
    docstring). `optima`: find_optima's table of the same rows, when already computed.

    Raises LawRefused when too few students are bracketed, ValueError for rows of several groups or a group
    whose curves show no curse at all (c = 0). Emits and records the optima's caveats."""
    if form not in FORMS:
        raise ValueError(f"form: expected one of {FORMS}, found {form!r}")
    alpha = check_alpha(alpha)
    group = _group_of(results, metric)
    caveats: list[CapacityGapWarning] = []
    if optima is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CapacityGapWarning)
            optima = find_optima(results, metric, alpha=alpha)
        caveats += [w.message for w in caught if isinstance(w.message, CapacityGapWarning)]
    check_bracketed(optima, form)

    table = teacher_cells(results, metric)
    table = table[table["student_params"].isin(optima["student_params"])].reset_index(drop=True)
    higher = bool(optima.attrs.get("higher_is_better", False))
    sign = -1.0 if higher else 1.0
    cells, students, s_ref = _cells_of(table, sign)
    g, s_m = cells.g, cells.s_m
    p = n_law_params(form)
    G = students.size

    def resid(theta):
        return _profile(cells, _shape_values(cells, _log_tstar(form, theta[:p], s_m), *theta[p:]))[0]

    law0 = _law_start(form, optima.loc[optima["student_params"].isin(students)])
    lo, hi = _bounds(form)
    res = _solve(resid, [np.r_[law0, 0.0, a0, r0] for a0, r0 in _SHAPE_STARTS], lo, hi)
    theta = res.x
    r, depth, levels = _profile(cells, _shape_values(cells, _log_tstar(form, theta[:p], s_m), *theta[p:]))
    n_shape = theta.size + 1  # law, gamma, a, r and the depth c: what the curve adds to the students' levels
    r_flat = _profile(cells, np.zeros_like(cells.y))[0]  # every student at its own level, no curve
    rss_flat = float(r_flat @ r_flat)
    df_curve = float(cells.n_runs - G - n_shape)
    curse_p = (float(stats.f.sf(((rss_flat - float(r @ r)) / n_shape) / ((float(r @ r) + cells.ss_within)
                                                                          / df_curve), n_shape, df_curve))
               if df_curve > 0 and depth > 0 else 1.0)
    if depth <= 0 or curse_p > alpha:
        raise LawRefused(f"No law: the {metric} curves show no curse of capacity gap that the runs can tell from "
                         f"noise (F test of the fitted curve against flat curves: p = {curse_p:.2g}), so they do "
                         f"not locate an optimal teacher. Add seeds or teachers further from the best one.",
                         students=list(students))
    n_params = theta.size
    n_obs = cells.n_runs
    df_resid = float(n_obs - G - 1 - n_params)
    rss = float(r @ r) + cells.ss_within
    if df_resid <= 0:
        raise LawRefused(f"No law: the one-stage fit has {n_obs} runs for {G + 1 + n_params} parameters; add runs.",
                         students=list(students))
    sigma2 = rss / df_resid
    jac = res.jac
    cov, inflation = _covariance(jac, r, g, G, sigma2)
    q = float(special.stdtrit(df_resid, 1 - alpha / 2))
    profile = {}
    for j in range(p):
        if form == "power" and j == 0:
            continue  # the coefficient's interval is the Wald one of ln coefficient (a contrast of two params)
        target = q * q * sigma2 * inflation[j] ** 2
        profile[j] = _profile_ci(resid, theta, j, lo, hi, float(r @ r), target, float(np.sqrt(cov[j, j])))

    # the law's scatter and lack of fit: every student's optimum freed (same shape), one extra param per student
    scatter, lof = _free_optima(cells, form, theta, p, s_m, rss, n_obs)

    fitted_log_t = _log_tstar(form, theta[:p], s_m)
    x_c = cells.x - fitted_log_t[g]
    amp = depth * np.exp(theta[p] * cells.ls)
    shape_at = _shape(x_c, theta[p + 1], theta[p + 2])
    table = table.assign(x=x_c, y=(cells.y - levels[g]) / amp, shape=shape_at,
                         fitted=sign * (levels[g] + amp * shape_at))
    fit = CollapseFit(form=form, alpha=alpha, metric=metric, optima=optima.reset_index(drop=True), theta=theta,
                      cov=cov, df_resid=df_resid, rss=rss, n_runs=n_obs, depth=depth, s_ref=s_ref, scatter=scatter,
                      lack_of_fit=lof, cells=table, higher_is_better=higher, group=group, profile=profile,
                      caveats=list(dict.fromkeys(caveats)))
    emit_caveats(fit.caveats, stacklevel=2)
    return fit


def _profile_ci(resid, theta: np.ndarray, j: int, lo: np.ndarray, hi: np.ndarray, rss: float, target: float,
                se: float) -> tuple[float, float]:
    """(lower, upper) of theta[j]: where the residual sum of squares, minimised over every other parameter, has
    risen by `target` above its minimum `rss` (a profile-likelihood interval: it follows the fit's curvature where a
    Wald interval assumes a quadratic). NaN on a side where the bound of theta[j] is reached first."""
    free = np.array([i for i in range(theta.size) if i != j])
    if not np.isfinite(se) or se <= 0:
        return float("nan"), float("nan")

    def excess(value: float, x0: np.ndarray) -> tuple[float, np.ndarray]:
        def r_fixed(x):
            th = theta.copy()
            th[free], th[j] = x, value
            return resid(th)
        res = optimize.least_squares(r_fixed, x0, bounds=(lo[free], hi[free]), method="trf", x_scale="jac",
                                     max_nfev=200)
        return float(res.fun @ res.fun) - rss - target, res.x

    bounds = []
    for side in (-1.0, 1.0):
        x_prev, v_prev = theta[free], float(theta[j])
        found = float("nan")
        for mult in (1.0, 1.6, 2.5, 4.0, 6.5, 10.0, 16.0):
            v = float(np.clip(theta[j] + side * mult * se, lo[j], hi[j]))
            e, x = excess(v, np.clip(x_prev, np.nextafter(lo[free], np.inf), np.nextafter(hi[free], -np.inf)))
            if e >= 0:
                a, b = sorted((v_prev, v))
                try:
                    found = optimize.brentq(lambda val, x=x: excess(val, x)[0], a, b, xtol=1e-4 * se, maxiter=30)
                except ValueError:
                    found = v
                break
            x_prev, v_prev = x, v
            if v in (lo[j], hi[j]):
                break
        bounds.append(found)
    return bounds[0], bounds[1]


def _cells_of(table: pd.DataFrame, sign: float) -> tuple[_Cells, np.ndarray, float]:
    """(cells, sorted students, S_ref = their geometric mean) of a teacher_cells table."""
    # a student is its size and its name (two checkpoints of one size are two students, each with its own level)
    names = table["student_name"].astype(str) if "student_name" in table else pd.Series("", index=table.index)
    keys = pd.MultiIndex.from_arrays([table["student_params"].to_numpy(), names.to_numpy()])
    g, uniques = pd.factorize(keys, sort=True)
    students = uniques.get_level_values(0).to_numpy()
    s_ref = float(np.exp(np.mean(np.log(students.astype(float)))))
    cells = _Cells(y=sign * table["mean"].to_numpy(dtype=float), w=table["n_runs"].to_numpy(dtype=float),
                   x=np.log(table["teacher_params"].to_numpy(dtype=float) / _UNIT), g=g,
                   s_m=students.astype(float) / _UNIT, ls=np.log(students.astype(float) / s_ref)[g],
                   ss_within=float(table["ss_within"].sum()), n_runs=int(table["n_runs"].sum()), frame=table)
    return cells, students, s_ref


def _covariance(jac: np.ndarray, r: np.ndarray, g: np.ndarray, G: int, sigma2: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """The wider (elementwise on the diagonal, as a whole matrix) of sigma^2 (J'J)^-1 and the cluster-robust
    (by student, CR1) sandwich: misfit of the shape is correlated within a student, which the model-based one
    ignores; with few students the sandwich is itself noisy, which the model-based one guards against. Also returns
    the per-parameter inflation of the standard error (>= 1) that the choice applied."""
    bread = np.linalg.pinv(jac.T @ jac)
    model = sigma2 * bread
    scores = np.zeros((G, jac.shape[1]))
    np.add.at(scores, g, jac * r[:, None])
    meat = scores.T @ scores * (G / max(G - 1, 1))
    robust = bread @ meat @ bread
    scale = np.sqrt(np.maximum(np.diag(robust), 0) / np.maximum(np.diag(model), 1e-300))
    factor = np.maximum(scale, 1.0)
    return model * np.outer(factor, factor), factor


def _free_optima(cells: _Cells, form: str, theta: np.ndarray, p: int, s_m: np.ndarray, rss_law: float,
                 n_obs: int) -> tuple[float, dict]:
    """Refit with ln T* free per student (same shape family): (tau, lack-of-fit F test)."""
    G = s_m.size
    start = np.r_[_log_tstar(form, theta[:p], s_m), theta[p:]]
    lo, hi = np.r_[np.full(G, -20.0), _SHAPE_LO], np.r_[np.full(G, 20.0), _SHAPE_HI]

    def resid(th):
        return _profile(cells, _shape_values(cells, th[:G], *th[G:]))[0]

    try:
        res = _solve(resid, [start], lo, hi)
    except ValueError:
        return 0.0, {}
    r = res.fun
    rss_free = float(r @ r) + cells.ss_within
    df_free = float(n_obs - G - 1 - (G + 3))
    out: dict = {}
    if df_free > 0 and G - p > 0:
        extra = max(rss_law - rss_free, 0.0) / (G - p)
        f = extra / (rss_free / df_free)
        out = {"f": f, "df_num": float(G - p), "df_den": df_free, "p_value": float(stats.f.sf(f, G - p, df_free))}
    # tau: the free optima's spread around the law beyond their own sampling error (method of moments)
    sigma2 = rss_free / max(df_free, 1.0)
    cov = sigma2 * np.linalg.pinv(res.jac.T @ res.jac)
    dev = res.x[:G] - _log_tstar(form, theta[:p], s_m)
    within = np.diag(cov)[:G]
    well = np.isfinite(within) & (within < 1.0)  # students whose own optimum the curve locates within e-fold
    if well.sum() <= p:
        return 0.0, out
    tau2 = (float(np.sum(dev[well] ** 2)) - float(np.sum(within[well]))) / max(int(well.sum()) - p, 1)
    return math.sqrt(max(tau2, 0.0)), out


def compare_collapse_forms(results: pd.DataFrame, metric: str, *, alpha: float = 0.05,
                           optima: pd.DataFrame | None = None) -> pd.DataFrame:
    """The three forms fitted one-stage to the same runs: one row per form with form, n_points, r2, aic, bic,
    delta_aic and each parameter NAME with NAME_ci_lower / NAME_ci_upper (NaN where a form lacks it, or where the
    form is refused; `refused` says why). The exponent's interval tests exponent = 1 (proportionality)."""
    names = ["slope", "intercept_params", "coefficient", "exponent"]
    cols = ["form", "n_points", "r2", "aic", "bic", "delta_aic"] + [f"{n}{s}" for n in names
                                                                     for s in ("", "_ci_lower", "_ci_upper")]
    rows = []
    for form in FORMS:
        try:
            fit = fit_collapse(results, metric, form=form, alpha=alpha, optima=optima)
        except ValueError as error:  # LawRefused included
            rows.append({"form": form, "refused": str(error)})
            continue
        row = {"form": form, "n_points": fit.nobs, "r2": fit.rsquared, "aic": fit.aic, "bic": fit.bic, "refused": ""}
        ci = fit.conf_int()
        for name, est in fit.params.items():
            row[name], row[f"{name}_ci_lower"], row[f"{name}_ci_upper"] = est, ci.at[name, "lower"], \
                ci.at[name, "upper"]
        rows.append(row)
    table = pd.DataFrame(rows).reindex(columns=cols + ["refused"])
    table["delta_aic"] = table["aic"] - table["aic"].min()
    return table
