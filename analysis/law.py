"""The law of capacity gap T*(S) per (family, data_tokens) group (`fit_laws`, one-stage by default: see
analysis.collapse), the test of equal slopes across groups, and the paper's two-stage fit (optima -> regression:
`fit_law`, its results object, forms comparison and the whole-pipeline bootstrap), kept for comparison.

Three forms of the optimal teacher T* against the student S (both raw parameter counts):

    linear        T* = slope * S + intercept_params     (Zhang et al., ACL 2025: slope 2.498, intercept -11.498M)
    proportional  T* = slope * S                        (no intercept)
    power         T* = coefficient * S ** exponent      (OLS of ln T* on ln S; exponent = 1 is proportionality)

Fits use statsmodels OLS, or WLS with weights 1 / var from the optima's intervals (`weights="ci"`, var =
((ci_upper - ci_lower) / (2 z))^2, on the log scale for the power form). Numerically the fit runs in millions of
parameters (so X'X and the interval arithmetic are well conditioned) and every reported number is converted
back: intercept_params in params, slope dimensionless, coefficient in params^(1 - exponent).

`LawFit` follows statsmodels' results objects: params, bse, conf_int(alpha), predict(S, alpha) with the columns
of `get_prediction().summary_frame(alpha)` (mean, mean_ci_lower/upper = confidence band, obs_ci_lower/upper =
prediction band), invert(T), rsquared, aic, bic, resid, fitted, summary(), to_dict().

Statistical choices (each also in the docstring where it applies):
- Power form: the fit is linear on the log scale, so its back-transformed `mean` is the *median* T* at S (the
  geometric mean), not the arithmetic mean, and both bands are bands for that median / a new optimum.
- Points: only bracketed optima are fitted (an optimum at the edge of its grid, or with every teacher tied, only
  bounds T*); with fewer than the law's parameters plus one, LawRefused names the teachers to add.
- invert(T): the student S that teacher T best serves is the root of predict(S) = T; its interval is the set of S
  whose band contains T (inverting the confidence band for mean_ci_*, the prediction band for obs_ci_*): the
  Fieller / calibration interval. When the slope is not significantly non-zero at `alpha` that set is unbounded
  and the bounds are NaN.
- R^2 is the unweighted, centred R^2 on the teacher-size scale for every form (comparable across forms and to the
  reported 0.9957); AIC/BIC are on the teacher-size scale for every form (the power form's log-scale likelihood
  gets the Jacobian term), so `compare_forms` can rank forms.
- OLS assumes equally precise optima, known exactly; they are neither. On the planted-law study
  (bench/coverage_study.py) this fit's 95% slope interval covered 0.69-0.72 on parabolas and as little as 0.00 on
  asymmetric curves, whose argmin sits off the optimum: that is why the one-stage fit is the default.
- `bootstrap_law` resamples runs within each (group, teacher) cell (see analysis.optimum), recomputes every
  optimum with the same rule, refits the law by OLS on each resample, and reports percentile intervals. It carries
  the optima's uncertainty, which the OLS intervals of one fit ignore.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import special, stats

from analysis.caveats import (CapacityGapWarning, DataWarning, EdgeOptimumWarning, ExtrapolationWarning,
                              FewPointsWarning)
from analysis.collapse import bracketed_mask, check_bracketed
from analysis.fit_text import EQUATIONS, FitResults, fmt_number, fmt_params, law_json, param_lines
from analysis.json_safe import json_number
from analysis.optimum import emit_caveats, resample_optima
from analysis.sizes import format_size
from analysis.validate import check_alpha, positive_sizes

FORMS = ("linear", "proportional", "power")
PARAM_NAMES = {"linear": ("slope", "intercept_params"), "proportional": ("slope",),
               "power": ("coefficient", "exponent")}
PREDICTION_COLUMNS = ["mean", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]
WEIGHTS = ("none", "ci", "auto")  # auto: "ci" when some optimum has an interval, else "none" (with a caveat)
EXTRAPOLATION_FACTOR = 2.0  # predict() warns beyond 2x the largest / below 1/2 the smallest fitted student
_UNIT = 1e6  # the fit runs in millions of parameters
_LOG_UNIT = math.log(_UNIT)


# ---------------------------------------------------------------------------------------------- form algebra
def _design(form: str, s_m: np.ndarray) -> np.ndarray:
    """(n, p) design on the fitting scale; s_m = student params in millions."""
    if form == "linear":
        return np.column_stack([np.ones_like(s_m), s_m])
    if form == "proportional":
        return s_m[:, None]
    return np.column_stack([np.ones_like(s_m), np.log(s_m)])


def _response(form: str, t_m: np.ndarray) -> np.ndarray:
    return np.log(t_m) if form == "power" else t_m


def _to_params(form: str, eta: np.ndarray) -> np.ndarray:
    """Fitting-scale prediction -> teacher params (raw counts)."""
    return np.exp(eta) * _UNIT if form == "power" else eta * _UNIT


def _raw_params(form: str, beta: np.ndarray) -> np.ndarray:
    """Fitting-scale coefficients (..., p) -> reported params (..., p) in PARAM_NAMES order, raw units."""
    beta = np.asarray(beta, dtype=float)
    if form == "linear":  # beta = [intercept (M), slope]
        return np.stack([beta[..., 1], beta[..., 0] * _UNIT], -1)
    if form == "proportional":
        return beta.copy()
    # power: ln T_M = b0 + p ln S_M  =>  T = exp(b0 + (1 - p) ln 1e6) * S^p
    return np.stack([np.exp(beta[..., 0] + (1 - beta[..., 1]) * _LOG_UNIT), beta[..., 1]], -1)


def _fieller(y: np.ndarray, b0: float, b1: float, v00: float, v01: float, v11: float, extra_var: float,
             q: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of {z : (y - b0 - b1 z)^2 <= q^2 (v00 + 2 v01 z + v11 z^2 + extra_var)}; NaN where unbounded."""
    a = b1 * b1 - q * q * v11
    b = 2 * (b1 * (b0 - y) - q * q * v01)
    c = (y - b0) ** 2 - q * q * (v00 + extra_var)
    disc = b * b - 4 * a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(np.where(disc >= 0, disc, np.nan))
        lo, hi = (-b - root) / (2 * a), (-b + root) / (2 * a)
    bounded = (a > 0) & np.isfinite(root)
    return np.where(bounded, lo, np.nan), np.where(bounded, hi, np.nan)


# ---------------------------------------------------------------------------------------------- results object
@dataclass(frozen=True, eq=False, repr=False)
class LawFit(FitResults):
    """A fitted law T*(S). Sizes in and out are raw parameter counts; `results` is statsmodels' own results
    object on the fitting scale (millions of params; ln of millions for the power form)."""

    METHOD = "two-stage"  # how repr names the estimator (a class attribute, not a field)
    form: str  # "linear" | "proportional" | "power"
    alpha: float  # default for conf_int / predict / invert (0.05 -> 95% intervals)
    weights: str  # "none" (OLS) or "ci" (WLS, 1/var from the optima's intervals)
    metric: str | None  # the metric the optima were found on (for to_dict)
    optima: pd.DataFrame  # the points fitted (rows of find_optima), index 0..n-1
    results: object = field(repr=False)  # statsmodels RegressionResultsWrapper
    caveats: list = field(default_factory=list)  # CapacityGapWarning instances, fit and later predict/invert ones

    # -- basics
    @property
    def names(self) -> tuple[str, ...]:
        return PARAM_NAMES[self.form]

    @property
    def nobs(self) -> int:
        return int(self.results.nobs)

    @property
    def df_resid(self) -> float:
        return float(self.results.df_resid)

    def _q(self, alpha: float) -> float:
        # scipy.special.stdtrit is stats.t.ppf without the distribution-object overhead
        return float(special.stdtrit(self.df_resid, 1 - alpha / 2)) if self.df_resid > 0 else float("nan")

    def _cov(self) -> np.ndarray:
        if self.df_resid <= 0:
            return np.full((len(self.names),) * 2, np.nan)
        return np.asarray(self.results.cov_params())

    def _table(self, alpha: float) -> pd.DataFrame:
        """estimate, bse, lower, upper per reported parameter (raw units)."""
        beta = np.asarray(self.results.params, dtype=float)
        cov, q = self._cov(), self._q(alpha)
        se = np.sqrt(np.diag(cov))
        est = _raw_params(self.form, beta)
        if self.form == "linear":
            bse = np.array([se[1], se[0] * _UNIT])
            lo, hi = est - q * bse, est + q * bse
        elif self.form == "proportional":
            bse = se.copy()
            lo, hi = est - q * bse, est + q * bse
        else:  # ln coefficient = b0 - L * p + L: a linear contrast of (b0, p), exponentiated
            c = np.array([1.0, -_LOG_UNIT])
            se_log = float(np.sqrt(c @ cov @ c))
            log_coef = math.log(est[0])
            bse = np.array([est[0] * se_log, se[1]])  # delta method for the coefficient
            lo = np.array([math.exp(log_coef - q * se_log), est[1] - q * se[1]])
            hi = np.array([math.exp(log_coef + q * se_log), est[1] + q * se[1]])
        return pd.DataFrame({"estimate": est, "bse": bse, "lower": lo, "upper": hi}, index=list(self.names))

    @property
    def _s(self) -> np.ndarray:
        return self.optima["student_params"].to_numpy(dtype=float)

    @property
    def _t(self) -> np.ndarray:
        return self.optima["teacher_params"].to_numpy(dtype=float)

    @property
    def fitted(self) -> pd.Series:
        """T* of the law at the fitted students (params; the median for the power form)."""
        return pd.Series(_to_params(self.form, np.asarray(self.results.fittedvalues, dtype=float)),
                         index=self.optima.index, name="fitted")

    @property
    def resid(self) -> pd.Series:
        """Observed minus fitted optimal teacher, in params (for every form; the power form's log-scale residuals
        are `results.resid`)."""
        return pd.Series(self._t - self.fitted.to_numpy(), index=self.optima.index, name="resid")

    @property
    def rsquared(self) -> float:
        """Unweighted centred R^2 on the teacher-size scale (same definition for every form)."""
        t = self._t
        sst = float(np.sum((t - t.mean()) ** 2))
        return 1 - float(np.sum(self.resid.to_numpy() ** 2)) / sst if sst > 0 else float("nan")

    def _jacobian(self) -> float:
        # power: density of T_M = density of ln T_M / T_M, so llf_T = llf_log - sum ln T_M
        return 2 * float(np.sum(np.log(self._t / _UNIT))) if self.form == "power" else 0.0

    @property
    def aic(self) -> float:
        """AIC of the teacher sizes (millions of params), comparable across forms."""
        return float(self.results.aic) + self._jacobian()

    @property
    def bic(self) -> float:
        return float(self.results.bic) + self._jacobian()

    # -- predictions
    def _note_extrapolation(self, sizes: np.ndarray, stacklevel: int = 3) -> list:
        """Warn an ExtrapolationWarning for sizes far outside the fitted students and return it (in a list, for the
        prediction's attrs["caveats"]); the fit itself is never changed."""
        lo, hi = float(self._s.min()), float(self._s.max())
        far = sizes[np.isfinite(sizes) & ((sizes > EXTRAPOLATION_FACTOR * hi) | (sizes < lo / EXTRAPOLATION_FACTOR))]
        if not far.size:
            return []
        cav = ExtrapolationWarning.for_students(np.unique(far), lo, hi, EXTRAPOLATION_FACTOR)
        warnings.warn(cav, stacklevel=stacklevel)
        return [cav]

    def predict(self, student_params, alpha: float | None = None) -> pd.DataFrame:
        """T* (raw params) for each student: mean, mean_ci_lower/upper (confidence band), obs_ci_lower/upper
        (prediction band: where a new optimum would fall). statsmodels' summary_frame columns, index
        student_params. The power form's mean is the median. WLS: the prediction band is for an optimum of
        average weight. Warns (ExtrapolationWarning) far outside the fitted students."""
        alpha = self.alpha if alpha is None else check_alpha(alpha)
        s = positive_sizes(student_params, "student_params")
        caveats = self._note_extrapolation(s)
        exog = _design(self.form, s / _UNIT)
        if self.df_resid > 0:
            frame = self.results.get_prediction(exog).summary_frame(alpha=alpha)
            cols = {c: frame[c].to_numpy() for c in PREDICTION_COLUMNS}
        else:
            mean = exog @ np.asarray(self.results.params)
            cols = {c: (mean if c == "mean" else np.full(s.size, np.nan)) for c in PREDICTION_COLUMNS}
        out = pd.DataFrame({c: _to_params(self.form, v) for c, v in cols.items()},
                           index=pd.Index(s, name="student_params"))
        out = out[PREDICTION_COLUMNS]
        out.attrs["caveats"] = caveats  # the prediction carries its caveats; the fit is not changed
        return out

    def invert(self, teacher_params, alpha: float | None = None) -> pd.DataFrame:
        """The student size each teacher best serves (raw params), with the same columns as predict (index
        teacher_params). mean: the root of predict(S).mean = T; mean_ci_*: the students whose confidence band
        contains T; obs_ci_*: the students whose prediction band contains T (Fieller / calibration intervals).
        NaN where the set is unbounded (slope not significantly non-zero) or no positive student exists."""
        alpha = self.alpha if alpha is None else check_alpha(alpha)
        t = positive_sizes(teacher_params, "teacher_params")
        y = _response(self.form, t / _UNIT)
        beta = np.asarray(self.results.params, dtype=float)
        cov = self._cov()
        if self.form == "proportional":
            b0, b1, v00, v01, v11 = 0.0, beta[0], 0.0, 0.0, cov[0, 0]
        else:
            b0, b1, v00, v01, v11 = beta[0], beta[1], cov[0, 0], cov[0, 1], cov[1, 1]
        q = self._q(alpha)
        scale = float(self.results.scale) if self.df_resid > 0 else float("nan")
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (y - b0) / b1
        mlo, mhi = _fieller(y, b0, b1, v00, v01, v11, 0.0, q)
        olo, ohi = _fieller(y, b0, b1, v00, v01, v11, scale, q)
        cols = dict(mean=z, mean_ci_lower=mlo, mean_ci_upper=mhi, obs_ci_lower=olo, obs_ci_upper=ohi)
        if self.form == "power":
            out = {k: np.exp(v) * _UNIT for k, v in cols.items()}
        else:  # student sizes are positive: intersect the sets with S > 0
            out = {k: v * _UNIT for k, v in cols.items()}
            ok = out["mean"] > 0
            for k in PREDICTION_COLUMNS:
                out[k] = np.where(ok, out[k], np.nan)
            for k in ("mean_ci_lower", "obs_ci_lower"):
                out[k] = np.where(out[k] < 0, 0.0, out[k])
        frame = pd.DataFrame(out, index=pd.Index(t, name="teacher_params"))[PREDICTION_COLUMNS]
        frame.attrs["caveats"] = self._note_extrapolation(frame["mean"].to_numpy())
        return frame

    # -- reporting
    def summary(self) -> str:
        """A readable text table: equation, fit, params with intervals, R^2/AIC/BIC, caveats."""
        s = self._s
        lines = [
            f"Law of capacity gap, {self.form} form: {EQUATIONS[self.form]}",
            f"  {'OLS' if self.weights == 'none' else 'WLS (weights 1/var from the optima intervals)'}"
            f"{'' if self.metric is None else f' on optima of {self.metric}'}; {self.nobs} points, students "
            f"{format_size(s.min())} to {format_size(s.max())}; residual df {self.df_resid:g}",
            "",
        ]
        lines += param_lines(self, self._table(self.alpha))
        lines += ["", f"  R^2 {self.rsquared:.4f}    AIC {self.aic:.2f}    BIC {self.bic:.2f}"
                      "    (teacher-size scale, millions of params)"]
        if self.form == "power":
            lines.append("  exponent = 1 means proportional; predictions are medians (geometric means) of T*.")
            lines.append("  coefficient is in params^(1 - exponent).")
        if self.caveats:
            lines += ["", "Caveats:"] + [f"  - {c}" for c in self.caveats]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The law JSON of the CLI contract (README, "Command line"); json.dumps(..., allow_nan=False)-safe."""
        return law_json(self, self._table(self.alpha))


# ---------------------------------------------------------------------------------------------- fitting
def _points(optima: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(optima, pd.DataFrame):
        raise TypeError(f"optima: expected the DataFrame from find_optima, found {type(optima).__name__}")
    missing = [c for c in ("student_params", "teacher_params") if c not in optima.columns]
    if missing:
        raise ValueError(f"optima: missing column(s) {missing}; expected find_optima's table, "
                         f"found {list(optima.columns)}")
    if {"metric", "value"} <= set(optima.columns):
        raise ValueError("optima: this is a table of runs (it has metric and value columns), not of optimal "
                         "teachers: pass it through analysis.find_optima first, or fit it with fit_laws / "
                         "fit_collapse, which take runs")
    pts = optima.reset_index(drop=True)
    for col in ("student_params", "teacher_params"):
        vals = pd.to_numeric(pts[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(vals) | (vals <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"optima, row {i}, column {col!r}: expected a positive parameter count, "
                             f"found {pts.at[i, col]!r}")
    return pts


def _ci_weights(pts: pd.DataFrame, form: str, ci_alpha: float) -> tuple[np.ndarray, list]:
    """WLS weights 1/var from the optima intervals, normalised to mean 1 (see fit_law)."""
    for col in ("ci_lower", "ci_upper"):
        if col not in pts.columns:
            raise ValueError(f"optima: weights='ci' needs column {col!r} (find_optima's intervals)")
    lo = pd.to_numeric(pts["ci_lower"], errors="coerce").to_numpy(dtype=float)
    hi = pd.to_numeric(pts["ci_upper"], errors="coerce").to_numpy(dtype=float)
    z = stats.norm.ppf(1 - ci_alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        width = np.log(hi / lo) if form == "power" else (hi - lo) / _UNIT
        var = (width / (2 * z)) ** 2
    good = np.isfinite(var) & (var > 0)
    caveats = []
    if not good.any():
        raise ValueError("weights='ci': no optimum has an interval of positive width (ci_lower < ci_upper); "
                         "add seeds, or fit with weights='none'")
    if not good.all():
        bad_students = pts.loc[~good, "student_params"].tolist()
        caveats.append(DataWarning(
            f"{int((~good).sum())} of the {len(pts)} optima (students "
            f"{', '.join(format_size(s) for s in bad_students[:6])}) have no interval or one of zero width; they "
            f"get the median variance of the others in the weighted fit.", students=bad_students))
        var = np.where(good, var, np.median(var[good]))
    w = 1 / var
    return w / w.mean(), caveats


def _has_intervals(pts: pd.DataFrame) -> bool:
    """Whether some optimum has an interval of positive width (so that weights="ci" can weigh the points)."""
    if not {"ci_lower", "ci_upper"} <= set(pts.columns):
        return False
    lo = pd.to_numeric(pts["ci_lower"], errors="coerce").to_numpy(dtype=float)
    hi = pd.to_numeric(pts["ci_upper"], errors="coerce").to_numpy(dtype=float)
    return bool((np.isfinite(lo) & np.isfinite(hi) & (hi > lo) & (lo > 0)).any())


UNEQUAL_PRECISION_RATIO = 4.0  # OLS caveat when the optima's interval widths differ more than this (variance 16x)


def _unequal_precision(pts: pd.DataFrame, form: str) -> list:
    """A DataWarning when OLS is fitted to optima whose intervals (on the fitting scale) differ a lot in width:
    OLS treats them as equally precise, and its intervals can then be far too narrow (on simulated sweeps with
    students spanning 40x, OLS slope intervals covered the planted slope only ~70% of the time; WLS and the
    pipeline bootstrap ~93-95%)."""
    if not {"ci_lower", "ci_upper"} <= set(pts.columns):
        return []
    lo = pd.to_numeric(pts["ci_lower"], errors="coerce").to_numpy(dtype=float)
    hi = pd.to_numeric(pts["ci_upper"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        width = np.log(hi / lo) if form == "power" else hi - lo
    width = width[np.isfinite(width) & (width > 0)]
    if width.size < 2 or width.max() <= UNEQUAL_PRECISION_RATIO * width.min():
        return []
    ratio = width.max() / width.min()
    return [DataWarning(f"The optimal teachers' intervals differ {ratio:.0f}-fold in width, but OLS treats them as "
                        f"equally precise, so its intervals can be too narrow: prefer weights='ci' or the pipeline "
                        f"bootstrap.", kind="unequal_precision", ratio=float(ratio))]


def fit_law(optima: pd.DataFrame, *, form: str = "linear", alpha: float = 0.05, weights: str = "none",
            metric: str | None = None) -> LawFit:
    """Fit T*(S) to the optima table (find_optima's; columns student_params, teacher_params, and for
    weights="ci" ci_lower/ci_upper). All rows are fitted together (filter families first to fit one).

    weights: "none" (OLS), "auto" ("ci" when some optimum has an interval, else OLS with a DataWarning), or "ci" (WLS, weights 1/var with var = ((ci_upper - ci_lower)/(2 z))^2 and z the normal
    quantile of the optima's alpha, `optima.attrs["alpha"]` or `alpha`; log scale for the power form; an optimum
    without a usable interval gets the median variance, with a DataWarning). Weights are normalised to mean 1, so
    the prediction band is for an optimum of average precision.

    Raises ValueError for fewer than 2 points (or, except proportional, fewer than 2 distinct students). With 2
    points the fit is returned with NaN intervals where no residual df is left, and a FewPointsWarning. Emits and
    records (in .caveats) FewPointsWarning, EdgeOptimumWarning (any optimum at_grid_edge), DataWarning (pooled
    families / token budgets, missing intervals, and for OLS optima whose intervals differ > 4x in width).
    """
    if form not in FORMS:
        raise ValueError(f"form: expected one of {FORMS}, found {form!r}")
    if weights not in WEIGHTS:
        raise ValueError(f"weights: expected one of {WEIGHTS}, found {weights!r}")
    alpha = check_alpha(alpha)
    pts = _points(optima)
    check_bracketed(pts, form)
    bracketed = bracketed_mask(pts)
    edge_students = pts.loc[~bracketed, "student_params"].tolist()
    pts = pts.loc[bracketed].reset_index(drop=True)
    n = len(pts)
    s = pts["student_params"].to_numpy(dtype=float)
    t = pts["teacher_params"].to_numpy(dtype=float)
    if form != "proportional" and np.unique(s).size < 2:
        raise ValueError(f"the {form} law needs at least 2 distinct student sizes; found only "
                         f"{format_size(s[0])}. Add students, or use form='proportional'.")
    caveats: list[CapacityGapWarning] = []
    if weights == "auto":
        weights = "ci" if _has_intervals(pts) else "none"
        if weights == "none":
            caveats.append(DataWarning(
                "No optimal teacher has an interval (one run per teacher, and too few teachers for a residual "
                "bootstrap), so the law is fitted by OLS with equal weights: add seeds for a weighted fit and "
                "honest intervals.", kind="no_intervals"))
    x, y = _design(form, s / _UNIT), _response(form, t / _UNIT)
    if weights == "ci":
        w, more = _ci_weights(pts, form, float(optima.attrs.get("alpha", alpha)))
        caveats += more
        model = sm.WLS(y, x, weights=w)
    else:
        model = sm.OLS(y, x)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # df_resid = 0: statsmodels divides by zero; we report NaN
        results = model.fit()
    if weights == "none":
        caveats += _unequal_precision(pts, form)
    if n < 3:
        caveats.append(FewPointsWarning.for_law(n, form, intervals_defined=results.df_resid > 0))
    if edge_students:
        caveats.append(EdgeOptimumWarning(
            f"{len(edge_students)} student(s) ({', '.join(format_size(v) for v in edge_students[:6])}) have their "
            f"best teacher at the edge of the tested teachers: that only bounds T*, so the two-stage fit leaves them "
            f"out (the one-stage fit uses their curves).", edge_students=edge_students, n_points=n))
    for col, what in (("family", "families"), ("data_tokens", "token budgets")):
        if col in pts.columns and pts[col].nunique(dropna=False) > 1:
            vals = [str(v) for v in pts[col].drop_duplicates().tolist()]
            caveats.append(DataWarning(f"This law pools optima from {len(vals)} {what} ({', '.join(vals[:6])}); "
                                       f"fit each separately if their laws may differ.", column=col, values=vals))
    fit = LawFit(form=form, alpha=alpha, weights=weights,
                 metric=metric if metric is not None else optima.attrs.get("metric"),
                 optima=pts, results=results, caveats=caveats)
    emit_caveats(caveats, stacklevel=2)
    return fit


def compare_forms(optima: pd.DataFrame, *, alpha: float = 0.05, weights: str = "none") -> pd.DataFrame:
    """Fit the three forms; one row per form: form, n_points, r2, aic, bic, delta_aic (to the best), and for each
    parameter NAME of any form the columns NAME, NAME_ci_lower, NAME_ci_upper (NaN where the form lacks it).
    The power form's exponent interval tests exponent = 1 (proportionality). Caveats are emitted once."""
    rows = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CapacityGapWarning)
        for form in FORMS:
            fit = fit_law(optima, form=form, alpha=alpha, weights=weights)
            row = {"form": form, "n_points": fit.nobs, "r2": fit.rsquared, "aic": fit.aic, "bic": fit.bic}
            ci = fit.conf_int()
            for name, est in fit.params.items():
                row[name], row[f"{name}_ci_lower"], row[f"{name}_ci_upper"] = est, ci.at[name, "lower"], \
                    ci.at[name, "upper"]
            rows.append(row)
    emit_caveats([w.message for w in caught if isinstance(w.message, CapacityGapWarning)], stacklevel=2)
    for w in caught:
        if not isinstance(w.message, CapacityGapWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    names = ["slope", "intercept_params", "coefficient", "exponent"]
    cols = ["form", "n_points", "r2", "aic", "bic", "delta_aic"] + [f"{n}{s}" for n in names
                                                                     for s in ("", "_ci_lower", "_ci_upper")]
    table = pd.DataFrame(rows)
    table["delta_aic"] = table["aic"] - table["aic"].min()
    return table.reindex(columns=cols)


# ---------------------------------------------------------------------------------------------- bootstrap
@dataclass(frozen=True, eq=False)
class LawBootstrap:
    """Percentile intervals from resampling the whole pipeline (runs -> optima -> law). The point estimates are
    those of `fit` (OLS on the optima of all runs); `params_boot` holds one row of params per resample."""

    form: str
    alpha: float
    n_boot: int
    seed: int
    fit: LawFit  # the point fit (OLS) on the full data's optima
    coef_boot: np.ndarray = field(repr=False)  # (n_boot, p) coefficients on the fitting scale
    obs_noise: np.ndarray = field(repr=False)  # (n_boot,) N(0, scale) draws on the fitting scale for obs bands
    log_teacher_boot: np.ndarray = field(repr=False)  # (n_boot, n_groups) ln T* of every optimum per resample
    caveats: list = field(default_factory=list)

    @property
    def optima(self) -> pd.DataFrame:
        """The optima the point fit used (the bracketed ones)."""
        return self.fit.optima

    @property
    def params(self) -> pd.Series:
        return self.fit.params

    @property
    def params_boot(self) -> pd.DataFrame:
        """(n_boot, params) reported params (raw units) of each resample's law."""
        return pd.DataFrame(_raw_params(self.form, self.coef_boot), columns=list(PARAM_NAMES[self.form]))

    @property
    def bse(self) -> pd.Series:
        """Bootstrap standard deviation of each param."""
        return self.params_boot.std(ddof=1)

    def _pct(self, values: np.ndarray, alpha: float | None, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
        alpha = self.alpha if alpha is None else check_alpha(alpha)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices (no obs noise) -> NaN
            q = np.nanquantile(values, [alpha / 2, 1 - alpha / 2], axis=axis)
        return q[0], q[1]

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """Percentile intervals of the params (index: param names; columns lower, upper)."""
        lo, hi = self._pct(_raw_params(self.form, self.coef_boot), alpha)
        return pd.DataFrame({"lower": lo, "upper": hi}, index=list(PARAM_NAMES[self.form]))

    def _eta(self, s: np.ndarray) -> np.ndarray:
        return _design(self.form, s / _UNIT) @ self.coef_boot.T  # (n_S, n_boot)

    def predict(self, student_params, alpha: float | None = None) -> pd.DataFrame:
        """As LawFit.predict: mean = the point fit; mean_ci_* = percentiles of the resampled laws at S;
        obs_ci_* = percentiles of resampled law + N(0, residual variance of the point fit) (a new optimum)."""
        s = positive_sizes(student_params, "student_params")
        caveats = self.fit._note_extrapolation(s, stacklevel=4)
        mean = _to_params(self.form, _design(self.form, s / _UNIT) @ np.asarray(self.fit.results.params))
        eta = self._eta(s)
        mlo, mhi = self._pct(_to_params(self.form, eta), alpha, axis=1)
        olo, ohi = self._pct(_to_params(self.form, eta + self.obs_noise), alpha, axis=1)
        out = pd.DataFrame({"mean": mean, "mean_ci_lower": mlo, "mean_ci_upper": mhi, "obs_ci_lower": olo,
                            "obs_ci_upper": ohi}, index=pd.Index(s, name="student_params"))
        out.attrs["caveats"] = caveats
        return out

    def invert(self, teacher_params, alpha: float | None = None) -> pd.DataFrame:
        """As LawFit.invert, from the resampled laws: each resample's root of law(S) = T (mean_ci_*), and of
        law(S) + noise = T (obs_ci_*); mean = the point fit's root."""
        t = positive_sizes(teacher_params, "teacher_params")
        y = _response(self.form, t / _UNIT)[:, None]  # (n_T, 1)
        mean = self.fit.invert(t)["mean"].to_numpy()
        c = self.coef_boot
        b0, b1 = (np.zeros(len(c)), c[:, 0]) if self.form == "proportional" else (c[:, 0], c[:, 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            z, z_obs = (y - b0) / b1, (y - self.obs_noise - b0) / b1
        back = (lambda v: np.exp(v) * _UNIT) if self.form == "power" else (lambda v: v * _UNIT)
        mlo, mhi = self._pct(back(z), alpha, axis=1)
        olo, ohi = self._pct(back(z_obs), alpha, axis=1)
        return pd.DataFrame({"mean": mean, "mean_ci_lower": mlo, "mean_ci_upper": mhi, "obs_ci_lower": olo,
                             "obs_ci_upper": ohi}, index=pd.Index(t, name="teacher_params"))

    def summary(self) -> str:
        level = f"{100 * (1 - self.alpha):g}%"
        ci = self.conf_int()
        lines = [f"Pipeline bootstrap of the {self.form} law ({self.n_boot} resamples of runs -> optima -> law, "
                 f"OLS), {level} percentile intervals:"]
        for name, est in self.params.items():
            fmt = fmt_params if name == "intercept_params" else fmt_number
            lines.append(f"  {name:<18}{fmt(est):>14}   [{fmt(ci.at[name, 'lower'])}, {fmt(ci.at[name, 'upper'])}]")
        if self.caveats:
            lines += ["", "Caveats:"] + [f"  - {c}" for c in self.caveats]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The law JSON (as LawFit.to_dict) with the bootstrap's percentile intervals for params and optima."""
        out = self.fit.to_dict()
        ci = self.conf_int()
        for name in out["params"]:
            out["params"][name]["ci_lower"] = json_number(ci.at[name, "lower"])
            out["params"][name]["ci_upper"] = json_number(ci.at[name, "upper"])
        return out


def bootstrap_law(results: pd.DataFrame, metric: str, *, form: str = "linear", n_boot: int = 1000,
                  alpha: float = 0.05, seed: int = 0) -> LawBootstrap:
    """Resample the whole pipeline n_boot times: runs within each (group, teacher) cell (the resampling of
    analysis.optimum, `ci_method`), optima by the same rule, then the law by OLS; percentile intervals.

    All groups of `metric` are pooled in one law (filter `results` to fit one family). Vectorised: the design
    matrix is the same for every resample, so all n_boot laws are one matrix product. Groups that cannot be
    resampled (ci_method None) keep their optimum fixed, with a DataWarning. Emits the caveats of find_optima and
    fit_law once, and records them in `.caveats`.
    """
    if form not in FORMS:
        raise ValueError(f"form: expected one of {FORMS}, found {form!r}")
    alpha = check_alpha(alpha)
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ValueError(f"n_boot: expected at least 2 resamples (1000 is typical), found {n_boot!r}")
    res = resample_optima(results, metric, alpha=alpha, n_boot=int(n_boot), seed=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CapacityGapWarning)
        fit = fit_law(res.optima, form=form, alpha=alpha, metric=metric)
    caveats = list(res.caveats) + [w.message for w in caught if isinstance(w.message, CapacityGapWarning)
                                   and w.message.context.get("kind") != "unequal_precision"]  # OLS CIs unused
    fixed = res.optima["ci_method"].isna().to_numpy()[bracketed_mask(res.optima)]
    if fixed.all():
        caveats.append(DataWarning(
            "None of the optima could be resampled (one run per teacher and no accepted parabola with enough "
            "teachers), so the pipeline bootstrap has no interval: add seeds.", students=[]))
    elif fixed.any():
        caveats.append(DataWarning(
            f"{int(fixed.sum())} of the {len(fixed)} optima could not be resampled (one run per teacher and no "
            f"accepted parabola with enough teachers); the bootstrap holds them fixed, so its intervals are too "
            f"narrow: add seeds.", students=fit.optima.loc[fixed, "student_params"].tolist()))
    caveats = list(dict.fromkeys(caveats))

    keep = bracketed_mask(res.optima)  # the optima the point fit uses (edges only bound T*)
    s_m = res.optima["student_params"].to_numpy(dtype=float)[keep] / _UNIT
    x = _design(form, s_m)  # (G, p), fixed across resamples
    y = _response(form, np.exp(res.log_teacher_boot[:, keep]) / _UNIT)  # (n_boot, G)
    coef = y @ np.linalg.pinv(x).T  # (n_boot, p): OLS of every resample at once
    if fixed.all():  # every resample is the point fit: a zero-width interval would be a lie
        coef = np.full_like(coef, np.nan)
    rng = np.random.default_rng([seed, 1])  # a stream apart from the resampling's
    sigma = math.sqrt(fit.results.scale) if fit.df_resid > 0 else float("nan")
    noise = sigma * rng.standard_normal(int(n_boot))
    boot = LawBootstrap(form=form, alpha=alpha, n_boot=int(n_boot), seed=seed, fit=fit, coef_boot=coef,
                        obs_noise=noise, log_teacher_boot=res.log_teacher_boot, caveats=caveats)
    emit_caveats(caveats, stacklevel=2)
    return boot


# ---------------------------------------------------------------------------------------------- groups
METHODS = ("one_stage", "two_stage")  # the default: the one-stage fit (analysis.collapse); see fit_laws
GROUP_KEYS = ("family", "data_tokens")


@dataclass
class GroupLaw:
    """The law of one (family, data_tokens) group: a fit, or the reason there is none."""

    family: str
    data_tokens: float  # NaN when the rows give no token budget
    fit: object | None = None  # CollapseFit (one_stage) or LawFit (two_stage)
    optima: pd.DataFrame | None = None  # find_optima's table of the group
    refused: str = ""  # why there is no fit (LawRefused's message, or another error in words)
    caveats: list = field(default_factory=list)  # CapacityGapWarning instances of the group

    @property
    def label(self) -> str:
        tokens = "" if pd.isna(self.data_tokens) else f", {format_size(self.data_tokens)} tokens"
        return f"{self.family}{tokens}"


def fit_laws(results: pd.DataFrame, metric: str, *, form: str = "linear", alpha: float = 0.05,
             method: str = "one_stage", weights: str = "none") -> list[GroupLaw]:
    """Fit the law per (family, data_tokens) group of the runs `results` (one metric). Never raises for a group
    the data cannot support: its GroupLaw carries `refused` instead (LawRefused's message names the students and
    the teachers to add).

    method: "one_stage" (the default: every curve at once, analysis.collapse.fit_collapse; on the planted-law
    study, bench/coverage_study.py, its 95% slope intervals held the truth 92-100% of the time for symmetric and
    asymmetric curves on per-student grids and shared teacher ladders) or "two_stage" (the paper's: each student's optimum, then OLS /
    WLS of the bracketed ones, fit_law; its intervals ignore how uncertain the optima are and its slope is biased
    when curves are asymmetric). weights: the two-stage fit's (fit_law)."""
    from analysis.collapse import LawRefused, fit_collapse
    from analysis.optimum import find_optima

    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, found {method!r}")
    if form not in FORMS:
        raise ValueError(f"form: expected one of {FORMS}, found {form!r}")
    rows = results[results["metric"] == metric].reset_index(drop=True)  # a stacked frame may repeat labels
    if rows.empty:
        raise ValueError(f"results: no rows with metric {metric!r}")
    fam = rows["family"].astype(str) if "family" in rows else pd.Series("default", index=rows.index)
    tok = (pd.to_numeric(rows["data_tokens"], errors="coerce") if "data_tokens" in rows
           else pd.Series(np.nan, index=rows.index))
    out = []
    for (family, tokens), idx in pd.DataFrame({"f": fam, "t": tok}).groupby(["f", "t"], dropna=False,
                                                                            sort=True).groups.items():
        group_rows = rows.loc[idx]
        law = GroupLaw(family=str(family), data_tokens=float(tokens))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CapacityGapWarning)
            try:
                law.optima = find_optima(group_rows, metric, alpha=alpha)
                if method == "one_stage":
                    law.fit = fit_collapse(group_rows, metric, form=form, alpha=alpha, optima=law.optima)
                else:
                    law.fit = fit_law(law.optima, form=form, alpha=alpha, weights=weights, metric=metric)
            except LawRefused as refusal:
                law.refused = str(refusal)
            except ValueError as error:
                law.refused = f"No law: {error}"
        law.caveats = list(dict.fromkeys(w.message for w in caught if isinstance(w.message, CapacityGapWarning)))
        out.append(law)
    return out


def group_rows(results: pd.DataFrame, family: str, data_tokens: float) -> pd.DataFrame:
    """The rows of one (family, data_tokens) group (data_tokens NaN: the rows that give no budget)."""
    rows = results[results["family"].astype(str) == family] if "family" in results else results
    if "data_tokens" not in rows:
        return rows
    tokens = pd.to_numeric(rows["data_tokens"], errors="coerce")
    return rows[tokens.isna()] if pd.isna(data_tokens) else rows[tokens == data_tokens]


def slope_difference_test(laws: list[GroupLaw], by: str = "family") -> dict:
    """Whether the law's slope (the exponent for the power form) differs across values of `by` ("family" or
    "data_tokens"): a Wald chi-square test of equal slopes among the fitted groups, within each value of the other
    key, summed (Cochran's Q with the fits' standard errors). Returns statistic, df, p_value, n_groups, param and a
    one-sentence `sentence`; statistic and p_value are None when fewer than two fitted groups differ in `by`."""
    if by not in GROUP_KEYS:
        raise ValueError(f"by: expected one of {GROUP_KEYS}, found {by!r}")
    other = "data_tokens" if by == "family" else "family"
    fitted = [law for law in laws if law.fit is not None]
    param = "exponent" if fitted and fitted[0].fit.form == "power" else "slope"
    strata: dict = {}
    for law in fitted:
        key = getattr(law, other)
        strata.setdefault(-1.0 if pd.isna(key) else key, []).append(law)
    stat, df, n_groups = 0.0, 0, 0
    for members in strata.values():
        if len(members) < 2:
            continue
        est = np.array([float(m.fit.params[param]) for m in members])
        se = np.array([float(m.fit.bse[param]) for m in members])
        if not np.all(np.isfinite(se) & (se > 0)):
            continue
        w = 1 / se ** 2
        mean = float(np.sum(w * est) / np.sum(w))
        stat += float(np.sum(w * (est - mean) ** 2))
        df += len(members) - 1
        n_groups += len(members)
    what = "families" if by == "family" else "token budgets"
    if df == 0:
        return {"by": by, "param": param, "statistic": None, "df": 0, "p_value": None, "n_groups": n_groups,
                "sentence": f"No test of whether the {param} differs across {what}: it needs at least two "
                            f"{what} with a fitted law (and the same {other.replace('_', ' ')})."}
    p = float(stats.chi2.sf(stat, df))
    verdict = ("differs" if p < 0.05 else "shows no evidence of differing")
    return {"by": by, "param": param, "statistic": stat, "df": df, "p_value": p, "n_groups": n_groups,
            "sentence": f"The {param} {verdict} across {what} (Wald chi-square test of equal {param}s over "
                        f"{n_groups} fitted groups: chi2 = {stat:.3g}, df = {df}, p = {p:.3g})."}
