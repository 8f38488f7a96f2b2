"""Plan the next runs: which distillations shrink the law's slope interval most per unit of compute.

`plan_runs(results, metric, ...)` takes one metric's runs (every (family, data_tokens) group is planned on its
own), a budget (a number of runs and/or a cost limit under a `CostModel`) and a ladder of teacher sizes, and
returns one `RunPlan` per group: the recommended runs ranked, each with its cost, the slope interval expected after
it (and after every run ranked above it), its effect on that student's optimum, and the reason in words.

The method: preposterior analysis of the one-stage model of analysis.collapse, linearised (a Laplace
approximation), averaged over what the data still allow.

1. The model is analysis.collapse's eq. (1): value = level[s] + c (S / S_ref)^gamma g(ln T - ln T*(S; law) - u[s])
   + noise, with parameters phi = (law, gamma, a, ln r, depth c, one level and one optimum offset u per student).
   u[s] ~ N(0, tau^2), tau the law's scatter (CollapseFit.scatter, floored at MIN_SCATTER): a student's own optimum
   strays from the law, so however many runs one student gets, it informs the law only as one point with that
   scatter, the reason the fit's interval is cluster-robust by student. Without it the design would pile every run
   onto the cheapest student.
2. Draws: N_DRAWS draws of (law, gamma, a, ln r) from the fit's estimate and covariance (normal, clipped to the fit's
   bounds), so the plan is judged across the laws the data still allow, not only at the estimate.
3. For each draw, the Fisher information of the runs already made, J' W J / sigma^2 (J: d mean / d phi at each
   (student, teacher) cell, W: its runs, sigma^2 the fit's noise variance). A planned run adds j j' / sigma^2. In a
   linearised Gaussian model the covariance after a run does not depend on the run's outcome, so the expectation
   over the planned runs' outcomes is exact at this order; what is averaged numerically (by the median over draws:
   a draw near a degenerate shape can make one infinite) is the law's uncertainty.
   Weak priors keep the information invertible: 1 / bound^2 on gamma, a and ln r (the fit's bounds), a negligible
   one on levels of students not yet run.
4. First, for every student whose best teacher is at the edge of its grid, the cheapest teacher beyond that edge
   (within an e-fold of the ln(T / T*) range the data cover) when affordable: that optimum is only a bound, and the fit's
   interval there rests on the shape's extrapolation. Then greedy: the candidate with the largest drop of the expected slope interval width per unit cost is added, its
   information joins, and so on until the budget is spent or no candidate narrows the interval at all (by
   MIN_STEP_GAIN of its width).
5b. The check by simulation (preposterior, not linearised): the greedy plan and the plain extension of the grids
   (the nearest teacher beyond each side of each student's grid, cheapest first, as far as the budget goes) are
   each drawn N_SIM times from the fit (its expected values plus its noise), appended to the runs and refitted
   (analysis.collapse.fit_collapse, profile intervals and all); the plan with the larger narrowing per unit cost
   is kept (`chosen_by`). The linearisation trusts the fitted shape; the refit is the estimator itself, and on
   planted laws the extension often beat the linearised choice (bench/plan_bench.py).
5. Calibration: the ratio of the fit's own interval (profile likelihood, cluster-robust inflation) to the
   linearised width now scales every expected width; the t quantile follows the residual degrees of freedom.
6. The verdict: "tight" when the interval is already narrower than `tight` (relative width) at the estimate,
   "nothing_helps" when the whole affordable plan narrows it by less than `min_gain`, else "shrinks"; with no law
   (analysis.collapse.LawRefused) "refused": the plan is the cheapest runs that would bracket enough students'
   optima (a larger teacher above an optimum at the top of its grid, a smaller one below one at the bottom, seeds
   where every teacher is tied), and no width is promised.

Candidates: one more seed of every tested (student, teacher) cell; teachers from the ladder not yet tested for a
student (by default the group's own teachers plus one step beyond its smallest and two beyond its largest, the step
being the median ratio of its consecutive teachers); and new students (between and beyond the tested ones), each
a bundle of three runs around its predicted optimum.

Costs (CostModel): by default (teacher + student parameters) x distillation tokens per run, the forward pass of the
teacher plus the student's training being linear in both; teachers are taken as available (pretraining a new one is
`teacher_pretrain` extra, 0 by default). Checked on planted laws in bench/plan_bench.py (bench/RESULTS.md).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from analysis.sizes import format_size

SCHEMA_VERSION = 1
N_DRAWS = 16  # draws of the law from its uncertainty (the plan's ranking is stable from ~8 on, bench/plan_bench.py)
MIN_STEP_GAIN = 1e-4  # a candidate narrowing the slope interval by less than 0.01% of its width does not help
MIN_GAIN = 0.05  # a whole plan narrowing it by less than 5% is "nothing helps"
TIGHT = 0.10  # a slope interval narrower than 10% of the slope (about +-5%) is already tight
NEW_STUDENT_TEACHERS = (0.5, 1.0, 2.0)  # a new student's teachers, as multiples of its predicted optimum
X_MARGIN = 1.0  # ln-units a new teacher may sit beyond the ln(T / T*) range the data cover
MAX_SEEDS_PER_CELL = 8  # more repeats of one cell than this: a different cell is better value
RECOMMENDATION_KEYS = ["rank", "kind", "family", "data_tokens", "student_params", "teacher_params", "teacher_name",
                       "n_seeds", "cost", "expected_slope_ci_width_after", "slope_ci_width_reduction",
                       "optimum_ci_ratio_before", "expected_optimum_ci_ratio_after", "brackets_edge",
                       "expected_value", "reason"]
N_SIM = 2  # outcome draws per plan when the linearised plan is checked against the grid extension by refitting
MIN_SCATTER = 0.05  # floor of the law's scatter tau (ln T*) in the design: a fit can estimate tau = 0 by chance
_PRIOR_LEVEL = 1e-6  # prior precision of a level, in units of 1 / sigma^2: negligible once a student has a run


@dataclass(frozen=True)
class CostModel:
    """Cost of one distillation run: (teacher_weight T + student_weight S) x tokens + per_run, plus teacher_pretrain
    once for a teacher size the group has not used yet. Units are the user's (default: parameter-tokens)."""

    teacher_weight: float = 1.0  # per teacher parameter and token (a forward pass is ~2 FLOPs per param-token)
    student_weight: float = 1.0  # per student parameter and token (forward + backward is ~6; set 3 for FLOP-like)
    per_run: float = 0.0  # fixed cost of a run (queueing, evaluation)
    teacher_pretrain: float = 0.0  # a teacher that has to be trained first (0: public checkpoints)
    unit: str = "param-tokens"  # how the app and the CSV name a cost

    def __post_init__(self):
        for name in ("teacher_weight", "student_weight", "per_run", "teacher_pretrain"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0:
                raise ValueError(f"cost model, {name}: expected a finite number >= 0, found {value!r}")
        if self.teacher_weight == 0 and self.student_weight == 0 and self.per_run == 0:
            raise ValueError("cost model: every run would be free; give a teacher, student or per-run cost")

    def run_cost(self, student_params, teacher_params, data_tokens) -> np.ndarray:
        tokens = 1.0 if data_tokens is None or not np.isfinite(data_tokens) else float(data_tokens)
        s, t = np.asarray(student_params, dtype=float), np.asarray(teacher_params, dtype=float)
        return (self.teacher_weight * t + self.student_weight * s) * tokens + self.per_run


# ---------------------------------------------------------------------------------------------- ladders
def parse_ladder(text: str) -> tuple[np.ndarray, list[str]]:
    """(sizes, names) from "70M,160M,1.4B" or "catalog:Pythia" (the catalog's checkpoints of a family)."""
    from analysis.sizes import parse_size

    text = str(text).strip()
    if len(text) > 10_000:
        raise ValueError("ladder: expected a short list of sizes, found more than 10,000 characters")
    if text.lower().startswith("catalog:"):
        from analysis.catalog import load_catalog

        family = text.split(":", 1)[1].strip()
        cat = load_catalog()
        rows = cat[cat["family"].str.lower() == family.lower()].sort_values("params")
        if rows.empty:
            raise ValueError(f"ladder: no catalog family {family!r}; families: {sorted(cat['family'].unique())}")
        return rows["params"].to_numpy(dtype=float), rows["model"].astype(str).tolist()
    parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    if not parts or len(parts) > 200:
        raise ValueError(f"ladder: expected 1 to 200 comma-separated sizes (e.g. 160M,410M,1B), found {len(parts)}")
    sizes = np.array([parse_size(p.strip()) for p in parts], dtype=float)
    if np.any(sizes <= 0):
        raise ValueError("ladder: sizes must be positive")
    order = np.argsort(sizes)
    return sizes[order], [""] * sizes.size


def _snap(size: float) -> float:
    """A size rounded to two significant digits (a plan names a model size, not a fraction of a parameter)."""
    if size <= 0:
        return size
    mag = 10 ** (math.floor(math.log10(size)) - 1)
    return float(round(size / mag) * mag)


def _student_ladder(tested: np.ndarray) -> np.ndarray:
    """Without a user ladder, a student's new teachers: one log-step below its smallest, two above its largest (the
    step: the median ratio of its consecutive teachers, within 1.2-4), and the midpoints of its grid."""
    t = np.sort(np.asarray(tested, dtype=float))
    step = float(np.exp(np.median(np.diff(np.log(t))))) if t.size > 1 else 2.0
    step = min(max(step, 1.2), 4.0)
    sizes = {_snap(t[0] / step), _snap(t[-1] * step), _snap(t[-1] * step * step)}
    sizes |= {_snap(v) for v in np.sqrt(t[1:] * t[:-1])}
    return np.array(sorted(sizes))


# ---------------------------------------------------------------------------------------------- results
@dataclass
class RunPlan:
    """The plan of one (family, data_tokens) group."""

    family: str
    data_tokens: float
    metric: str
    form: str
    verdict: str  # "shrinks" | "tight" | "nothing_helps" | "refused"
    message: str  # the verdict in words
    recommendations: pd.DataFrame  # RECOMMENDATION_KEYS, one row per (student, teacher) cell to run
    parameter: str = "slope"  # the law parameter whose interval is planned ("exponent" for the power form)
    estimate: float = float("nan")
    ci_width_before: float = float("nan")
    ci_width_expected_after: float = float("nan")
    cost_total: float = 0.0
    n_runs: int = 0
    n_candidates: int = 0
    alpha: float = 0.05
    cost_model: CostModel = field(default_factory=CostModel)
    simulated_width_after: float = float("nan")  # mean refit width over the simulated outcomes of the chosen plan
    chosen_by: str = "linearised"  # which plan the simulation chose: "linearised" or "extension"
    n_simulated_refits: int = 0
    planned_cells: list = field(default_factory=list)  # [{student_params, teacher_params, n_runs_before, n_seeds}]
    seeds_by_cell: dict = field(default_factory=dict)  # (student, teacher) -> next free seed number

    @property
    def label(self) -> str:
        tokens = "" if pd.isna(self.data_tokens) else f", {format_size(self.data_tokens)} tokens"
        return f"{self.family}{tokens}"

    def to_dict(self) -> dict:
        """The plan JSON of this group (also what the app stores to compare after the runs are added)."""
        from analysis.json_safe import json_number, json_safe

        recs = []
        for row in self.recommendations.to_dict("records"):
            recs.append({k: row.get(k) for k in RECOMMENDATION_KEYS})
        return json_safe({
            "family": self.family, "data_tokens": json_number(self.data_tokens, integer=True),
            "metric": self.metric, "form": self.form, "parameter": self.parameter, "alpha": self.alpha,
            "verdict": self.verdict, "message": self.message,
            "estimate": json_number(self.estimate),
            "ci_width_before": json_number(self.ci_width_before),
            "ci_width_expected_after": json_number(self.ci_width_expected_after),
            "cost_total": json_number(self.cost_total), "n_runs": int(self.n_runs),
            "ci_width_simulated_after": json_number(self.simulated_width_after), "chosen_by": self.chosen_by,
            "n_simulated_refits": int(self.n_simulated_refits),
            "n_candidates": int(self.n_candidates), "cost_model": asdict(self.cost_model),
            "planned_cells": self.planned_cells,
            "recommendations": recs,
        })


# ---------------------------------------------------------------------------------------------- the model
class _Model:
    """The one-stage model of a CollapseFit, as a mean function of phi over (student, teacher) cells."""

    def __init__(self, fit, students: np.ndarray):
        from analysis import collapse as co

        self.co = co
        self.fit = fit
        self.p = co.n_law_params(fit.form)
        self.students = np.asarray(students, dtype=float)  # every student in the design (data + candidates)
        self.n_theta = fit.theta.size  # law, gamma, a, ln r
        G = self.students.size
        self.n_phi = self.n_theta + 1 + 2 * G  # + depth c + a level and an optimum offset per student
        self.sigma2 = fit.rss / max(fit.df_resid, 1.0)
        self.tau = max(float(fit.scatter), MIN_SCATTER)
        lo, hi = co._bounds(fit.form)
        self.lo, self.hi = lo, hi
        prior = np.zeros(self.n_phi)
        prior[self.p:self.n_theta] = 1.0 / np.array([co._GAMMA_BOUND, co._A_BOUND, co._LOG_R_BOUND]) ** 2
        prior[self.n_theta + 1:self.n_theta + 1 + G] = _PRIOR_LEVEL / self.sigma2
        prior[self.n_theta + 1 + G:] = 1.0 / self.tau ** 2
        self.prior = prior

    def _shape_term(self, theta: np.ndarray, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        """(D, N) exp(gamma ls) g(x - ln T*): the curve's shape at cells (s, t), draws theta (D, n_theta)."""
        co, p = self.co, self.p
        s_m, x = s / co._UNIT, np.log(t / co._UNIT)
        ls = np.log(s / self.fit.s_ref)
        out = np.empty((theta.shape[0], s.size))
        for d, th in enumerate(theta):
            log_t = co._log_tstar(self.fit.form, th[:p], s_m)
            out[d] = np.exp(th[p] * ls) * co._shape(x - log_t, th[p + 1], th[p + 2])
        return out

    def jacobian(self, theta: np.ndarray, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        """(D, N, n_phi) d mean / d phi at cells (s, t) for draws theta (D, n_theta); c at the fit's depth."""
        c = self.fit.depth
        D, N = theta.shape[0], s.size
        jac = np.zeros((D, N, self.n_phi))
        base = self._shape_term(theta, s, t)
        for k in range(self.n_theta):
            h = 1e-5 * max(1.0, abs(float(self.fit.theta[k])))
            up, down = theta.copy(), theta.copy()
            up[:, k] += h
            down[:, k] -= h
            jac[:, :, k] = c * (self._shape_term(up, s, t) - self._shape_term(down, s, t)) / (2 * h)
        jac[:, :, self.n_theta] = base
        g = np.searchsorted(self.students, s)
        jac[:, np.arange(N), self.n_theta + 1 + g] = 1.0
        # the student's own optimum offset u (ln T*_s = law + u): moving it shifts its curve along ln T
        h = 1e-5
        jac[:, np.arange(N), self.n_theta + 1 + self.students.size + g] = \
            c * (self._shape_term(theta, s, t * math.exp(-h)) - self._shape_term(theta, s, t * math.exp(h))) / (2 * h)
        return jac

    def draws(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, n_theta) draws of theta: the estimate first, then normal draws from its covariance, clipped."""
        th = self.fit.theta
        cov = 0.5 * (self.fit.cov + self.fit.cov.T)
        try:
            z = rng.multivariate_normal(th, cov, size=max(n - 1, 0), method="eigh")
        except (ValueError, np.linalg.LinAlgError):
            z = np.repeat(th[None, :], max(n - 1, 0), axis=0)
        out = np.vstack([th[None, :], z]) if n > 1 else th[None, :]
        return np.clip(out, np.nextafter(self.lo, np.inf), np.nextafter(self.hi, -np.inf))


def _slope_index(form: str) -> int:
    return 1 if form == "power" else 0


def _var_target(info: np.ndarray, j: int) -> np.ndarray:
    """[info^-1]_jj over the leading batch dimensions (inf where singular)."""
    e = np.zeros(info.shape[-1])
    e[j] = 1.0
    d = np.sqrt(np.maximum(np.diagonal(info, axis1=-2, axis2=-1), 1e-300))  # scaled to a unit diagonal: the levels'
    scaled = info / (d[..., :, None] * d[..., None, :])  # and the law's information differ by orders of magnitude
    scaled = scaled + 1e-10 * np.eye(info.shape[-1])  # a ridge far below any real information, for stability
    try:
        x = np.linalg.solve(scaled, np.broadcast_to(e, info.shape[:-1])[..., None])[..., 0]
    except np.linalg.LinAlgError:
        x = np.stack([np.linalg.lstsq(m, e, rcond=None)[0] for m in scaled.reshape(-1, *info.shape[-2:])]
                     ).reshape(info.shape[:-1])
    v = x[..., j] / d[..., j] ** 2
    return np.where(v > 0, v, np.inf)


def _law_log_se(model: _Model, info: np.ndarray, theta: np.ndarray, students: np.ndarray) -> np.ndarray:
    """(D, n_students) sd of ln T*(S) of the law, from the inverse information (delta method)."""
    co, p, form = model.co, model.p, model.fit.form
    inv = np.linalg.pinv(info)[:, :p, :p]  # (D, p, p)
    s_m = students / co._UNIT
    out = np.empty((theta.shape[0], students.size))
    for d, th in enumerate(theta):
        if form == "linear":
            lin = np.maximum(th[0] * s_m + th[1], 1e-12)
            grad = np.stack([s_m / lin, 1 / lin], axis=1)
        elif form == "proportional":
            grad = np.ones((s_m.size, 1))
        else:
            grad = np.stack([np.ones_like(s_m), np.log(s_m)], axis=1)
        out[d] = np.sqrt(np.maximum(np.einsum("ni,ij,nj->n", grad, inv[d], grad), 0))
    return out


# ---------------------------------------------------------------------------------------------- candidates
@dataclass
class _Candidate:
    kind: str  # "seed" | "teacher" | "student"
    student: float
    teachers: tuple  # teacher sizes (one run each)
    names: tuple  # teacher names ("" when none)
    cost: float
    reason: str
    brackets_edge: bool = False
    grid_lo: float = 0.0  # the student's smallest and largest tested teachers (0 / inf for a new student)
    grid_hi: float = float("inf")


def _candidates(fit, cells: pd.DataFrame, optima: pd.DataFrame, ladder: np.ndarray, names: list[str],
                cost_model: CostModel, tokens: float, user_ladder: bool) -> list[_Candidate]:
    """Extra seeds of tested cells, new teachers per student (inside the ln(T / T*) range the data cover), and new
    students with three teachers each (module docstring)."""
    out: list[_Candidate] = []
    used = set(cells["teacher_params"].astype(float))
    name_of = dict(zip(ladder.tolist(), names))

    def teacher_cost(t):
        return cost_model.teacher_pretrain if t not in used else 0.0

    for row in cells.to_dict("records"):
        s, t = float(row["student_params"]), float(row["teacher_params"])
        if row["n_runs"] >= MAX_SEEDS_PER_CELL:
            continue
        out.append(_Candidate("seed", s, (t,), (str(row.get("teacher_name") or ""),),
                              float(cost_model.run_cost(s, t, tokens)),
                              f"one more seed of the {format_size(s)} student with the {format_size(t)} teacher "
                              f"(now {int(row['n_runs'])} run{'s' if row['n_runs'] != 1 else ''})"))
    opt = optima.set_index("student_params")
    # the shape is known only where runs have been: a new teacher must sit, relative to its student's optimum by the
    # law, inside the range of ln(T / T*) the data already cover (plus a quarter e-fold), or the planner would be
    # trusting the shape's extrapolation, which is an assumption, not data
    x_seen = cells["x"].to_numpy(dtype=float)
    x_lo, x_hi = float(x_seen.min()) - X_MARGIN, float(x_seen.max()) + X_MARGIN
    for s, grp in cells.groupby("student_params"):
        s = float(s)
        tested = np.sort(grp["teacher_params"].to_numpy(dtype=float))
        edge = opt.at[int(s), "edge"] if int(s) in opt.index and "edge" in opt else None
        log_tstar = float(np.log(fit.predict_quiet([s])["mean"].iloc[0]))
        own = ladder if user_ladder else _student_ladder(tested)
        for t in own:
            if t <= s * 1.05 or np.any(np.isclose(tested, t, rtol=1e-3)):
                continue
            if not x_lo <= math.log(t) - log_tstar <= x_hi:
                continue
            above, below = t > tested[-1], t < tested[0]
            brackets = (edge == "largest" and above) or (edge == "smallest" and below)
            if brackets:
                side = "largest" if above else "smallest"
                reason = (f"the {format_size(s)} student's optimum is at the {side} teacher tried "
                          f"({format_size(tested[-1] if above else tested[0])}): a {format_size(t)} teacher bounds it")
            elif above or below:
                reason = (f"a {format_size(t)} teacher for the {format_size(s)} student, beyond its tested "
                          f"{format_size(tested[0])}-{format_size(tested[-1])}: pins the far side of its curve")
            else:
                reason = (f"a {format_size(t)} teacher for the {format_size(s)} student, between its tested teachers: "
                          f"a finer grid near the curve's bend")
            out.append(_Candidate("teacher", s, (float(t),), (name_of.get(float(t), ""),),
                                  float(cost_model.run_cost(s, t, tokens)) + teacher_cost(float(t)), reason,
                                  brackets_edge=bool(brackets), grid_lo=float(tested[0]), grid_hi=float(tested[-1])))
    students = np.sort(cells["student_params"].unique().astype(float))
    if students.size >= 2:
        mids = np.sqrt(students[1:] * students[:-1])
        new = [_snap(m) for m in mids] + [_snap(students[0] / 2), _snap(students[-1] * 2)]
        pred = fit.predict_quiet(np.array(new))["mean"].to_numpy()
        for s, tstar in zip(new, pred):
            if not np.isfinite(tstar) or tstar <= s or np.any(np.isclose(students, s, rtol=0.05)):
                continue
            teachers = []
            for mult in NEW_STUDENT_TEACHERS:
                want = tstar * mult
                t = float(ladder[np.argmin(np.abs(np.log(ladder / want)))]) if user_ladder else _snap(want)
                if t > s * 1.05 and t not in teachers:
                    teachers.append(t)
            if len(teachers) < 2:
                continue
            teachers.sort()
            cost = float(np.sum(cost_model.run_cost(s, np.array(teachers), tokens)))
            cost += sum(teacher_cost(t) for t in set(teachers))
            where = ("between " + " and ".join(format_size(v) for v in students[[np.searchsorted(students, s) - 1,
                                                                                  np.searchsorted(students, s)]])
                     if students[0] < s < students[-1] else
                     ("below the smallest" if s < students[0] else "above the largest") + " tested")
            out.append(_Candidate("student", float(s), tuple(teachers), tuple(name_of.get(t, "") for t in teachers),
                                  cost, f"a new {format_size(s)} student ({where}) with teachers "
                                        f"{', '.join(format_size(t) for t in teachers)} around its predicted optimum "
                                        f"({format_size(tstar)}): a law point where the law is least constrained"))
    return out


# ---------------------------------------------------------------------------------------------- planning
def plan_group(fit, *, ladder=None, ladder_names=None, n_runs: int | None = 10, max_cost: float | None = None,
               cost_model: CostModel | None = None, n_draws: int = N_DRAWS, min_gain: float = MIN_GAIN,
               tight: float = TIGHT, bracket_edges: bool = True, n_sim: int = N_SIM, seed: int = 0) -> RunPlan:
    """The plan for one group with a law (a CollapseFit; module docstring, steps 1-6)."""
    cost_model = cost_model or CostModel()
    _check_budget(n_runs, max_cost)
    form, alpha = fit.form, fit.alpha
    parameter = "exponent" if form == "power" else "slope"
    cells = fit.cells
    tokens = fit.group.get("data_tokens", float("nan"))
    family = str(fit.group.get("family", "default"))
    ladder_arr, names, user_ladder = _ladder_or_default(ladder, ladder_names)
    cands = _candidates(fit, cells, fit.optima, ladder_arr, names, cost_model, tokens, user_ladder)
    ci = fit.conf_int().loc[parameter]
    est = float(fit.params[parameter])
    width_now = float(ci["upper"] - ci["lower"])
    open_note = ""
    if not np.isfinite(width_now):  # the profile interval is open: calibrate to the Wald width, and say so
        width_now = float(2 * fit._q(alpha) * fit.bse[parameter])
        open_note = (f" (the {parameter}'s profile interval is open on one side; widths here are the Wald ones, "
                     f"which understate it)")
    base = RunPlan(family=family, data_tokens=float(tokens) if tokens is not None else float("nan"),
                   metric=str(fit.metric), form=form, verdict="shrinks", message="",
                   recommendations=pd.DataFrame(columns=RECOMMENDATION_KEYS), parameter=parameter, estimate=est,
                   ci_width_before=width_now, alpha=alpha, cost_model=cost_model, n_candidates=len(cands))
    if np.isfinite(width_now) and abs(est) > 0 and width_now / abs(est) <= tight:
        base.verdict = "tight"
        base.ci_width_expected_after = width_now
        base.message = (f"The {parameter}'s {_level(alpha)} interval is already tight: {ci['lower']:.4g} to "
                        f"{ci['upper']:.4g} (width {width_now:.3g}, {100 * width_now / abs(est):.1f}% of "
                        f"{est:.4g}; the target is {100 * tight:.0f}%). More runs are not needed for the law.")
        return base

    students_all = np.unique(np.r_[cells["student_params"].to_numpy(dtype=float),
                                   [c.student for c in cands]])
    model = _Model(fit, students_all)
    rng = np.random.default_rng(seed)
    theta = model.draws(n_draws, rng)  # (D, n_theta)
    j = _slope_index(form)
    s_c, t_c = cells["student_params"].to_numpy(dtype=float), cells["teacher_params"].to_numpy(dtype=float)
    w_c = cells["n_runs"].to_numpy(dtype=float)
    jac = model.jacobian(theta, s_c, t_c)  # (D, C, P)
    info = np.einsum("dci,dcj,c->dij", jac, jac, w_c) / model.sigma2 + np.diag(model.prior)  # (D, P, P)
    # candidate information: one run per teacher of each candidate
    cand_s = np.concatenate([[c.student] * len(c.teachers) for c in cands]) if cands else np.zeros(0)
    cand_t = np.concatenate([list(c.teachers) for c in cands]) if cands else np.zeros(0)
    cand_of = np.concatenate([[k] * len(c.teachers) for k, c in enumerate(cands)]) if cands else np.zeros(0, int)
    jc = model.jacobian(theta, cand_s, cand_t)  # (D, N, P)
    outer = np.einsum("dni,dnj->dnij", jc, jc) / model.sigma2
    delta = np.zeros((theta.shape[0], len(cands), model.n_phi, model.n_phi))
    np.add.at(delta, (slice(None), cand_of), outer)
    cost = np.array([c.cost for c in cands])
    runs = np.array([len(c.teachers) for c in cands])

    def width_lin(v: np.ndarray) -> np.ndarray:  # median over draws of sqrt(var): (D, ...) -> (...); the median
        return np.median(np.sqrt(v), axis=0)   # because a draw near a degenerate shape can make one of them infinite

    lin_now = float(width_lin(_var_target(info, j)))
    calib = width_now / lin_now if np.isfinite(width_now) and np.isfinite(lin_now) and lin_now > 0 else float("nan")
    df0 = fit.df_resid

    def expected_width(lin: float, added_runs: int) -> float:
        from scipy import special

        q_ratio = special.stdtrit(df0 + added_runs, 1 - alpha / 2) / special.stdtrit(df0, 1 - alpha / 2)
        return float(calib * lin * q_ratio) if np.isfinite(calib) else float("nan")

    info0_all = info.copy()
    picks: list[int] = []
    spent, used_runs, cur_lin = 0.0, 0, lin_now
    picks_per_cell: dict = {}
    if bracket_edges:  # an optimum at the edge of its grid is a bound: the fit's interval there rests on the
        # shape's extrapolation past the grid, so the cheapest teacher that brackets it comes first, whatever its
        # expected narrowing per cost
        first = {}
        for k, c in enumerate(cands):
            if c.brackets_edge and (c.student not in first or c.cost < cands[first[c.student]].cost):
                first[c.student] = k
        for k in sorted(first.values(), key=lambda k: cands[k].cost):
            if (n_runs is not None and used_runs + runs[k] > n_runs) or \
                    (max_cost is not None and spent + cost[k] > max_cost):
                continue
            picks.append(k)
            info = info + delta[:, k]
            spent += cost[k]
            used_runs += int(runs[k])
        cur_lin = float(width_lin(_var_target(info, j)))
    prepicked = list(picks)
    while cands:
        left_runs = np.inf if n_runs is None else n_runs - used_runs
        left_cost = np.inf if max_cost is None else max_cost - spent
        ok = (runs <= left_runs) & (cost <= left_cost * (1 + 1e-9))
        for k, c in enumerate(cands):
            if c.kind == "seed" and picks_per_cell.get((c.student, c.teachers[0]), 0) + \
                    int(cells.loc[(s_c == c.student) & (t_c == c.teachers[0]), "n_runs"].sum()) >= MAX_SEEDS_PER_CELL:
                ok[k] = False
        if not ok.any():
            break
        idx = np.flatnonzero(ok)
        after = width_lin(_var_target(info[:, None] + delta[:, idx], j))  # (K_ok,)
        gain = (cur_lin - after) / cost[idx]
        best = int(np.argmax(gain))
        if cur_lin - after[best] < MIN_STEP_GAIN * cur_lin:
            break  # nothing left narrows the interval noticeably
        k = int(idx[best])
        picks.append(k)
        info = info + delta[:, k]
        cur_lin = float(after[best])
        spent += cost[k]
        used_runs += int(runs[k])
        for t in cands[k].teachers:
            picks_per_cell[(cands[k].student, t)] = picks_per_cell.get((cands[k].student, t), 0) + 1

    # step 5b: the linearised plan against the plain extension of the grids, judged by simulating both
    if n_sim > 0 and cands:
        extend = _extension_picks(cands, prepicked, runs, cost, n_runs, max_cost)
        options = {"linearised": picks, "extension": extend}
        scores = {name: _simulated_gain(fit, cands, opt, cost, n_sim, rng) for name, opt in options.items() if opt}
        if scores:
            chosen = max(scores, key=lambda name: scores[name][0])
            picks = options[chosen]
            info = info0_all + sum(delta[:, k] for k in picks) if picks else info0_all
            cur_lin = float(width_lin(_var_target(info, j)))
            base.simulated_width_after = scores[chosen][1]
            base.chosen_by = chosen
            base.n_simulated_refits = n_sim * len(scores)

    # the per-student law band (ratio upper / lower of T*) before and after the whole plan
    sd_before = np.median(_law_log_se(model, info - sum(delta[:, k] for k in picks) if picks else info, theta,
                                    students_all), axis=0)
    sd_after = np.median(_law_log_se(model, info, theta, students_all), axis=0)
    # the fit's own band at each student (upper / lower T*), narrowed in log by the linearised ratio
    band = fit.predict_quiet(students_all)
    ratio_now = (band["mean_ci_upper"] / band["mean_ci_lower"]).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_after = np.exp(np.log(ratio_now) * np.where(sd_before > 0, sd_after / sd_before, 1.0))
    band_before, band_after = dict(zip(students_all, ratio_now)), dict(zip(students_all, ratio_after))
    info0 = info - sum(delta[:, k] for k in picks) if picks else info
    recs, planned = _merge(picks, cands, info0, delta, j, cells, width_lin)
    rows = []
    prev = width_now
    # cumulative expected widths: linearised, made non-increasing (more runs never lose information), and, when the
    # plan was simulated, rescaled so that the whole plan's narrowing is the refits' (the estimator's own) narrowing
    lin_w = np.minimum.accumulate([expected_width(lin_after, sum(len(cands[i].teachers) * r
                                                                 for i, r, _l in recs[:rank]))
                                   for rank, (_k, _n, lin_after) in enumerate(recs, start=1)]) if recs else []
    sim_w = base.simulated_width_after
    if len(lin_w) and np.isfinite(sim_w) and np.isfinite(width_now) and width_now - lin_w[-1] > 0:
        lin_w = width_now - (width_now - np.asarray(lin_w)) * max(width_now - sim_w, 0.0) / (width_now - lin_w[-1])
    for rank, (k, n_rep, _lin_after) in enumerate(recs, start=1):
        c = cands[k]
        w_after = float(lin_w[rank - 1])
        for t, name in zip(c.teachers, c.names):
            rows.append({
                "rank": rank, "kind": c.kind, "family": family, "data_tokens": tokens,
                "student_params": int(c.student), "teacher_params": int(t), "teacher_name": name or None,
                "n_seeds": int(n_rep), "cost": float(cost_model.run_cost(c.student, t, tokens)) * n_rep
                + (cost_model.teacher_pretrain if c.kind != "seed" and t not in set(t_c) else 0.0),
                "expected_slope_ci_width_after": w_after,
                "slope_ci_width_reduction": prev - w_after if np.isfinite(prev) else float("nan"),
                "optimum_ci_ratio_before": float(band_before.get(c.student, np.nan)) if c.kind != "student"
                else None,
                "expected_optimum_ci_ratio_after": float(band_after.get(c.student, np.nan)),
                "brackets_edge": bool(c.brackets_edge),
                "expected_value": expected_value(fit, c.student, t),
                "reason": _reason(c, n_rep, w_after, parameter),
            })
        prev = w_after
    base.recommendations = pd.DataFrame(rows, columns=RECOMMENDATION_KEYS)
    base.planned_cells = planned
    base.n_runs = int(sum(len(cands[k].teachers) * r for k, r, _l in recs))
    base.cost_total = float(base.recommendations["cost"].sum()) if rows else 0.0
    total_after = float(lin_w[-1]) if len(lin_w) else width_now
    base.ci_width_expected_after = total_after
    rel = (width_now - total_after) / width_now if np.isfinite(width_now) and width_now > 0 else \
        (lin_now - cur_lin) / lin_now
    budget = _budget_words(n_runs, max_cost, cost_model)
    if not cands:
        base.verdict, base.message = "nothing_helps", "No candidate runs: give a teacher ladder with new sizes."
        base.recommendations = base.recommendations.iloc[0:0]
    elif not picks or rel < min_gain:
        affordable = np.flatnonzero((runs <= (n_runs or np.inf)) & (cost <= (max_cost or np.inf)))
        base.verdict = "nothing_helps"
        base.message = (f"No affordable run helps: within {budget} the best plan of {len(cands)} candidates "
                        f"would narrow the {parameter}'s interval by {100 * max(rel, 0):.1f}% (less than "
                        f"{100 * min_gain:.0f}%)" if affordable.size else
                        f"No candidate run fits {budget}: the cheapest costs {cost.min():.3g} {cost_model.unit}")
        base.message += "; the interval is limited by what the data can say, not by a missing run."
        base.recommendations = base.recommendations.iloc[0:0]
        base.planned_cells, base.n_runs, base.cost_total = [], 0, 0.0
        base.ci_width_expected_after = width_now
    else:
        base.message = (f"{base.n_runs} runs ({base.cost_total:.3g} {cost_model.unit}) are expected to narrow the "
                        f"{parameter}'s {_level(alpha)} interval from width {width_now:.3g} to about "
                        f"{total_after:.3g} ({100 * rel:.0f}% narrower).")
    base.message += open_note
    return base


def _merge(picks, cands, info0, delta, j, cells, width_lin):
    """Greedy picks merged by candidate (repeats become n_seeds), in first-pick order, with the cumulative linearised
    width after each; and the planned cells with their runs before."""
    order = list(dict.fromkeys(picks))
    counts = {k: picks.count(k) for k in order}
    info = info0.copy()
    out = []
    runs_now = {(float(r["student_params"]), float(r["teacher_params"])): int(r["n_runs"])
                for r in cells.to_dict("records")}
    planned = []
    for k in order:
        info = info + counts[k] * delta[:, k]
        lin = float(width_lin(_var_target(info, j)))
        out.append((k, counts[k], lin))
        for t in cands[k].teachers:
            planned.append({"student_params": int(cands[k].student), "teacher_params": int(t),
                            "n_runs_before": runs_now.get((cands[k].student, t), 0), "n_seeds": counts[k]})
    return out, planned


def _reason(c: _Candidate, n_rep: int, w_after: float, parameter: str) -> str:
    text = c.reason
    if c.kind == "seed" and n_rep > 1:
        text = text.replace("one more seed", f"{n_rep} more seeds")
    elif c.kind != "seed" and n_rep > 1:
        text += f" ({n_rep} seeds each)"
    if np.isfinite(w_after):
        text += f"; the {parameter}'s interval is then expected to be about {w_after:.3g} wide"
    return text


def _level(alpha: float) -> str:
    return f"{100 * (1 - alpha):g}%"


def _budget_words(n_runs, max_cost, cost_model: CostModel) -> str:
    parts = []
    if n_runs is not None:
        parts.append(f"{n_runs} run{'s' if n_runs != 1 else ''}")
    if max_cost is not None:
        parts.append(f"{max_cost:.3g} {cost_model.unit}")
    return " and ".join(parts) or "an unlimited budget"


def _check_budget(n_runs, max_cost) -> None:
    if n_runs is None and max_cost is None:
        raise ValueError("budget: give a number of runs, a cost limit, or both")
    if n_runs is not None and (isinstance(n_runs, bool) or not isinstance(n_runs, (int, np.integer))
                               or not 1 <= n_runs <= 10_000):
        raise ValueError(f"budget: expected a whole number of runs from 1 to 10,000, found {n_runs!r}")
    if max_cost is not None and not (isinstance(max_cost, (int, float)) and math.isfinite(max_cost) and max_cost > 0):
        raise ValueError(f"budget: expected a positive cost limit, found {max_cost!r}")


def _ladder_or_default(ladder, ladder_names) -> tuple[np.ndarray, list[str], bool]:
    if ladder is None or len(ladder) == 0:
        return np.zeros(0), [], False
    arr = np.asarray(ladder, dtype=float)
    if arr.ndim != 1 or np.any(~np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError("ladder: expected positive teacher sizes")
    names = list(ladder_names) if ladder_names is not None else [""] * arr.size
    order = np.argsort(arr)
    return arr[order], [names[i] for i in order], True


def expected_value(fit, student: float, teacher: float) -> float:
    """The fit's mean of a run at (student, teacher); a new student's level interpolated in ln S between its
    neighbours' (the ghost point's height on the curse curves)."""
    co = __import__("analysis.collapse", fromlist=["_profile"])
    sign = -1.0 if fit.higher_is_better else 1.0
    cells, students, _ref = co._cells_of(fit.cells, sign)
    p = co.n_law_params(fit.form)
    z = co._shape_values(cells, co._log_tstar(fit.form, fit.theta[:p], cells.s_m), *fit.theta[p:])
    levels = co._profile(cells, z)[2]
    level = float(np.interp(math.log(student), np.log(students.astype(float)), levels))
    log_t = float(co._log_tstar(fit.form, fit.theta[:p], np.array([student / co._UNIT]))[0])
    x = math.log(teacher / co._UNIT) - log_t
    shape = float(co._shape(np.array([x]), fit.theta[p + 1], fit.theta[p + 2])[0])
    return sign * (level + fit.depth * math.exp(fit.theta[p] * math.log(student / fit.s_ref)) * shape)


def plan_figure(figure, plans: list[RunPlan]):
    """`figure` (analysis.figures.curse_figure) with the planned runs as ghost points (open markers, trace
    "planned runs"): at the value the fit expects, or the student's best value when there is no law yet."""
    import plotly.graph_objects as go

    frame = pd.concat([p.recommendations for p in plans], ignore_index=True) if plans else pd.DataFrame()
    if frame.empty:
        return figure
    y = pd.to_numeric(frame["expected_value"], errors="coerce").to_numpy(dtype=float)
    text = [f"planned #{r['rank']}: student {format_size(r['student_params'])}, teacher "
            f"{format_size(r['teacher_params'])} x{r['n_seeds']}<br>{r['kind']}"
            for r in frame.to_dict("records")]
    figure.add_trace(go.Scatter(x=frame["teacher_params"].to_numpy(dtype=float), y=y, mode="markers",
                                name="planned runs", text=text, hovertemplate="%{text}<extra></extra>",
                                marker=dict(symbol="circle-open", size=13, line=dict(width=2), color="#888")))
    return figure


# ---------------------------------------------------------------------------------------------- no law yet
def plan_refused(optima: pd.DataFrame, refused: str, *, family: str, data_tokens: float, metric: str,
                 form: str = "linear", ladder=None, ladder_names=None, n_runs: int | None = 10,
                 max_cost: float | None = None, cost_model: CostModel | None = None, seeds_per_run: int = 2,
                 alpha: float = 0.05) -> RunPlan:
    """The plan for a group whose law is refused: the cheapest runs that would bracket enough students' optima for
    the law to be fitted (analysis.collapse.check_bracketed), then more of the same while the budget lasts. No width
    is promised: there is no fit to expect one from."""
    from analysis.collapse import bracketed_mask, min_bracketed

    cost_model = cost_model or CostModel()
    _check_budget(n_runs, max_cost)
    ladder_arr, names, user_ladder = _ladder_or_default(ladder, ladder_names)
    name_of = dict(zip(ladder_arr.tolist(), names))
    need = min_bracketed(form)
    ok = bracketed_mask(optima)
    options = []  # (cost, student, [(teacher, n_seeds, kind)], reason)
    for row in optima.loc[~ok].to_dict("records"):
        s = float(row["student_params"])
        lo, hi = float(row["grid_min"]), float(row["grid_max"])
        tested = np.array(sorted(set(row.get("tied_teachers") or []) | {lo, hi}), dtype=float)
        step = float(np.exp(np.median(np.diff(np.log(tested))))) if tested.size > 1 else 2.0
        step = min(max(step, 1.5), 4.0)
        # an edge optimum is bracketed only if the curve visibly rises past it: aim an e-fold (x2.7) beyond the edge,
        # where a curve of typical depth has risen by its depth per ln^2, not one small grid step (often still tied)
        far = max(step, math.e)
        up = ladder_arr[ladder_arr > hi * 1.05] if user_ladder else np.array([_snap(hi * far)])
        down = ladder_arr[(ladder_arr < lo / 1.05) & (ladder_arr > s * 1.05)] if user_ladder else \
            np.array([v for v in [_snap(lo / far)] if v > s * 1.05])
        if user_ladder and up.size:  # the ladder's teacher nearest an e-fold beyond, at least one step out
            up = up[np.argsort(np.abs(np.log(up / (hi * far))))][:1]
        if user_ladder and down.size:
            down = down[np.argsort(np.abs(np.log(down / (lo / far))))][:1]
        n_t = int(row.get("n_teachers") or 0)
        if row.get("method") == "tied" and n_t >= 2:
            cells = [(t, seeds_per_run, "seed") for t in sorted({lo, hi, float(row["teacher_params"])})]
            why = (f"the {format_size(s)} student's {n_t} teachers cannot be told apart from the best: "
                   f"{seeds_per_run} more seeds at its best and its extreme teachers separate them")
        elif n_t < 2:
            cells = [(float(t), seeds_per_run, "teacher") for t in (down[-1:].tolist() + up[:1].tolist())]
            why = f"the {format_size(s)} student has one teacher: teachers on both sides locate its optimum"
        elif row.get("edge") == "smallest":
            if not down.size:
                continue  # no teacher between the student and its smallest one: this student cannot be bracketed
            cells = [(float(down[-1]), seeds_per_run, "teacher")]
            why = (f"the {format_size(s)} student's optimum is at the smallest teacher tried ({format_size(lo)}): a "
                   f"{format_size(down[-1])} teacher bounds it")
        else:
            if not up.size:
                continue
            cells = [(float(up[0]), seeds_per_run, "teacher")]
            why = (f"the {format_size(s)} student's optimum is at the largest teacher tried ({format_size(hi)}): a "
                   f"{format_size(up[0])} teacher bounds it")
        if not cells:
            continue
        cost = float(sum(cost_model.run_cost(s, t, data_tokens) * n for t, n, _k in cells))
        options.append((cost, s, cells, why))
    if len(optima) < need:  # too few students for any law: new ones, over the teacher/student ratios tested
        ratios = np.array([r for row in optima.to_dict("records")
                           for r in (row["grid_min"] / row["student_params"], row["grid_max"] / row["student_params"])])
        ratios = np.exp(np.linspace(np.log(ratios.min()), np.log(max(ratios.max(), ratios.min() * 4)), 3))
        top = float(optima["student_params"].max())
        for k in range(need - len(optima)):
            s = _snap(top * 2 ** (k + 1))
            teachers = [float(ladder_arr[np.argmin(np.abs(np.log(ladder_arr / (s * r))))]) if user_ladder
                        else _snap(s * r) for r in ratios]
            teachers = sorted({t for t in teachers if t > s * 1.05})
            if len(teachers) < 2:
                continue
            cells = [(t, seeds_per_run, "student") for t in teachers]
            cost = float(sum(cost_model.run_cost(s, t, data_tokens) * n for t, n, _k in cells))
            options.append((cost, s, cells, f"the data hold {len(optima)} students and a {form} law needs {need}: "
                                            f"a new {format_size(s)} student with teachers "
                                            f"{', '.join(format_size(t) for t in teachers)} (the ratios tested)"))
    options.sort(key=lambda o: o[0])
    best_value = dict(zip(optima["student_params"].astype(float), optima["best_value"].astype(float)))
    rows, spent, used, n_now = [], 0.0, 0, int(ok.sum())
    for cost, s, cells, why in options:
        runs = sum(n for _t, n, _k in cells)
        if (n_runs is not None and used + runs > n_runs) or (max_cost is not None and spent + cost > max_cost):
            continue
        spent, used = spent + cost, used + runs
        n_now += 1
        status = (f"; with it {min(n_now, need)} of the {need} bracketed students a {form} law needs"
                  if n_now <= need else "")
        for t, n, kind in cells:
            rows.append({"rank": len({r["student_params"] for r in rows}) + 1 if not rows or
                         rows[-1]["student_params"] != int(s) else rows[-1]["rank"],
                         "kind": kind, "family": family, "data_tokens": data_tokens, "student_params": int(s),
                         "teacher_params": int(t), "teacher_name": name_of.get(float(t)) or None, "n_seeds": int(n),
                         "cost": float(cost_model.run_cost(s, t, data_tokens) * n),
                         "expected_slope_ci_width_after": None, "slope_ci_width_reduction": None,
                         "optimum_ci_ratio_before": None, "expected_optimum_ci_ratio_after": None,
                         "brackets_edge": kind == "teacher", "expected_value": float(best_value.get(s, np.nan)),
                         "reason": why + status})
    plan = RunPlan(family=family, data_tokens=data_tokens, metric=metric, form=form, verdict="refused",
                   message="", recommendations=pd.DataFrame(rows, columns=RECOMMENDATION_KEYS),
                   parameter="exponent" if form == "power" else "slope", alpha=alpha, cost_model=cost_model,
                   n_candidates=len(options), n_runs=used, cost_total=spent)
    plan.planned_cells = [{"student_params": r["student_params"], "teacher_params": r["teacher_params"],
                           "n_runs_before": 0, "n_seeds": r["n_seeds"]} for r in rows]
    budget = _budget_words(n_runs, max_cost, cost_model)
    if n_now >= need and rows:
        plan.message = (f"No law yet ({refused}) These {used} runs would bring {n_now} students' optima inside their "
                        f"grids, enough to fit one; no interval width is expected before there is a law to fit.")
    elif rows:
        plan.message = (f"No law yet ({refused}) Within {budget} these runs bracket {n_now} of the {need} students "
                        f"a {form} law needs: a larger budget is needed before a law can be fitted.")
    else:
        plan.message = (f"No law yet ({refused}) No affordable run within {budget} would bracket another student's "
                        f"optimum.")
    return plan


# ---------------------------------------------------------------------------------------------- entry point
def plan_runs(results: pd.DataFrame, metric: str, *, form: str = "linear", alpha: float = 0.05,
              n_runs: int | None = 10, max_cost: float | None = None, ladder=None, ladder_names=None,
              cost_model: CostModel | None = None, n_draws: int = N_DRAWS, tight: float = TIGHT,
              min_gain: float = MIN_GAIN, laws=None, seed: int = 0) -> list[RunPlan]:
    """One RunPlan per (family, data_tokens) group of `results` (one metric), each with its own budget. `laws`:
    analysis.law.fit_laws' result for the same rows, when already computed (the app passes its cached one)."""
    from analysis.law import fit_laws

    if laws is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            laws = fit_laws(results, metric, form=form, alpha=alpha)
    plans = []
    for law in laws:
        if law.fit is not None:
            plan = plan_group(law.fit, ladder=ladder, ladder_names=ladder_names, n_runs=n_runs, max_cost=max_cost,
                              cost_model=cost_model, n_draws=n_draws, min_gain=min_gain, tight=tight, seed=seed)
        elif law.optima is not None and len(law.optima):
            plan = plan_refused(law.optima, law.refused, family=law.family, data_tokens=law.data_tokens,
                                metric=metric, form=form, ladder=ladder, ladder_names=ladder_names, n_runs=n_runs,
                                max_cost=max_cost, cost_model=cost_model, alpha=alpha)
        else:
            plan = RunPlan(family=law.family, data_tokens=law.data_tokens, metric=metric, form=form,
                           verdict="refused", message=f"No plan: {law.refused}",
                           recommendations=pd.DataFrame(columns=RECOMMENDATION_KEYS), alpha=alpha)
        _number_seeds(plan, results, metric)
        plans.append(plan)
    return plans


def _number_seeds(plan: RunPlan, results: pd.DataFrame, metric: str) -> None:
    """The first free seed number of every planned cell (existing seeds of that cell + 1; 0 for a new cell)."""
    rows = results[results["metric"] == metric]
    if "family" in rows:
        rows = rows[rows["family"].astype(str) == plan.family]
    seeds = pd.to_numeric(rows["seed"], errors="coerce") if "seed" in rows else pd.Series(np.nan, index=rows.index)
    frame = pd.DataFrame({"s": rows["student_params"].astype(float),
                          "t": pd.to_numeric(rows["teacher_params"], errors="coerce"), "seed": seeds})
    for cell in plan.planned_cells:
        mine = frame[(frame["s"] == cell["student_params"]) & (frame["t"] == cell["teacher_params"])]
        top = mine["seed"].max() if mine["seed"].notna().any() else len(mine) - 1
        plan.seeds_by_cell[(cell["student_params"], cell["teacher_params"])] = int(top) + 1 if len(mine) else 0


def plans_to_dict(plans: list[RunPlan], *, metric: str, n_runs, max_cost, data_hash: str | None = None) -> dict:
    """The plan JSON: schema_version, metric, budget, groups (each RunPlan.to_dict()) and `recommendations` (every
    group's, in order). Stored beside an exported plan so the app can compare the interval after the runs."""
    from analysis.json_safe import json_safe

    groups = [p.to_dict() for p in plans]
    return json_safe({"schema_version": SCHEMA_VERSION, "kind": "capgap_run_plan", "metric": metric,
                      "budget": {"n_runs": n_runs, "max_cost": max_cost}, "data_hash": data_hash,
                      "groups": groups, "recommendations": [r for g in groups for r in g["recommendations"]]})


def plans_to_csv(plans: list[RunPlan]) -> str:
    """The recommendations of every group as CSV (for the user's own cluster); text cells a spreadsheet would run
    as a formula are prefixed with a quote."""
    from analysis.csv_safe import to_safe_csv

    frame = pd.concat([p.recommendations for p in plans], ignore_index=True) if plans else \
        pd.DataFrame(columns=RECOMMENDATION_KEYS)
    return to_safe_csv(frame)


def sweep_plans(plans: list[RunPlan], *, name: str = "plan", model_family: str = "llama",
                default_tokens: int = 500_000) -> list[tuple[str, str]]:
    """[(file name, TOML text)]: the plan as eval_runs sweep plans (flat TOML that eval_runs.sweep.read_plan
    loads). A sweep runs every teacher x student pair, so the runs are split into one plan per (student, token
    budget, seeds): each plan runs exactly its recommended cells. The expectation rides along as comments."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,60}", name):
        raise ValueError(f"plan name {name!r}: expected letters, digits, '_', '.', '-' (at most 61 characters)")
    out = []
    for plan in plans:
        groups: dict = {}
        for row in plan.recommendations.to_dict("records"):
            s, t, n = int(row["student_params"]), int(row["teacher_params"]), int(row["n_seeds"])
            first = plan.seeds_by_cell.get((s, t), 0)
            key = (s, tuple(range(first, first + n)))
            groups.setdefault(key, []).append(t)
        tokens = default_tokens if pd.isna(plan.data_tokens) else int(plan.data_tokens)
        for (s, seeds), teachers in sorted(groups.items()):
            teachers = sorted(set(teachers))
            ratios = [t / s for t in teachers]
            fname = f"{name}-{len(out) + 1:02d}"
            lines = [f"# {fname}: runs recommended by `python -m analysis plan` ({plan.metric}, group "
                     f"{_toml_comment(plan.label)})",
                     f"# verdict: {plan.verdict}; {plan.parameter} interval width now "
                     f"{_fmt(plan.ci_width_before)}, expected after the whole plan {_fmt(plan.ci_width_expected_after)}",
                     "# the expectation is stored in the plan JSON; the app compares it with the interval after the runs",
                     f'name = "{fname}"', f'family = "{model_family}"',
                     f"student_params = [{s}]", f"teacher_params = [{', '.join(str(t) for t in teachers)}]",
                     f"data_tokens = [{tokens}]", f"seeds = [{', '.join(str(v) for v in seeds)}]",
                     f"min_teacher_ratio = {min(ratios) * 0.99:.6g}", f"max_teacher_ratio = {max(ratios) * 1.01:.6g}",
                     "random_init_baseline = false"]
            if pd.isna(plan.data_tokens):
                lines.insert(3, f"# the results give no distillation-token budget: {tokens} tokens assumed")
            out.append((fname + ".toml", "\n".join(lines) + "\n"))
    return out


def _fmt(v) -> str:
    return "unknown" if v is None or not np.isfinite(v) else f"{v:.4g}"


def _toml_comment(text: str) -> str:
    return " ".join(str(text).split())[:200]


# ---------------------------------------------------------------------------------------------- closing the loop
def compare_with_plan(plan_json: dict, laws) -> list[dict]:
    """After the runs: per planned group, the interval width before, what the plan expected, and now (from `laws`,
    analysis.law.fit_laws' result on the data with the new runs), and how many planned runs are in.
    Rows: family, data_tokens, parameter, ci_width_before, ci_width_expected_after, ci_width_now, runs_planned,
    runs_done, verdict_then, note."""
    if not isinstance(plan_json, dict) or plan_json.get("kind") != "capgap_run_plan" or \
            not isinstance(plan_json.get("groups"), list):
        raise ValueError("plan: expected the JSON of a run plan (kind 'capgap_run_plan', with 'groups')")
    rows = []
    for g in plan_json["groups"][:1000]:
        if not isinstance(g, dict):
            raise ValueError("plan: every group must be an object")
        fam, tok = str(g.get("family")), g.get("data_tokens")
        law = next((lw for lw in laws if lw.family == fam and
                    ((tok is None and pd.isna(lw.data_tokens)) or (tok is not None and lw.data_tokens == tok))), None)
        param = g.get("parameter") if g.get("parameter") in ("slope", "exponent") else "slope"
        now, done, note = float("nan"), 0, ""
        planned = [c for c in (g.get("planned_cells") or []) if isinstance(c, dict)]
        if law is None:
            note = "this group is not in the data now"
        elif law.fit is None:
            note = f"no law on the data now: {law.refused}"
        else:
            ci = law.fit.conf_int().loc[param]
            now = float(ci["upper"] - ci["lower"])
            cells = law.fit.cells
            for c in planned:
                try:
                    here = cells[(cells["student_params"] == int(c["student_params"])) &
                                 (cells["teacher_params"] == int(c["teacher_params"]))]["n_runs"].sum()
                    done += int(min(max(int(here) - int(c.get("n_runs_before") or 0), 0), int(c["n_seeds"])))
                except (KeyError, TypeError, ValueError):
                    continue
            if not np.isfinite(now):
                note = "the interval is open on one side now"
        rows.append({"family": fam, "data_tokens": tok, "parameter": param,
                     "ci_width_before": g.get("ci_width_before"),
                     "ci_width_expected_after": g.get("ci_width_expected_after"),
                     "ci_width_now": now if np.isfinite(now) else None,
                     "runs_planned": int(sum(int(c.get("n_seeds") or 0) for c in planned)), "runs_done": done,
                     "verdict_then": g.get("verdict"), "note": note})
    return rows


# ---------------------------------------------------------------------------------------------- simulation check
def _extension_picks(cands, prepicked, runs, cost, n_runs, max_cost) -> list[int]:
    """The grids extended: the nearest new teacher beyond each side of each student's grid (then the next ones out),
    cheapest first within a ring, after the edge-bracketing picks, as far as the budget goes."""
    sides: dict = {}
    for k, c in enumerate(cands):
        t = c.teachers[0]
        if c.kind == "teacher" and (t > c.grid_hi or t < c.grid_lo):
            sides.setdefault((c.student, t > c.grid_hi), []).append(k)
    rings = []
    for (_s, above), ks in sides.items():
        ks = sorted(ks, key=lambda k: cands[k].teachers[0] if above else -cands[k].teachers[0])
        rings += [(i, float(cost[k]), k) for i, k in enumerate(ks)]
    picks = list(prepicked)
    used, spent = int(sum(runs[k] for k in picks)), float(sum(cost[k] for k in picks))
    for _ring, _c, k in sorted(rings):
        if k in picks:
            continue
        if (n_runs is not None and used + runs[k] > n_runs) or (max_cost is not None and spent + cost[k] > max_cost):
            continue
        picks.append(k)
        used += int(runs[k])
        spent += float(cost[k])
    return picks


def _pseudo_runs(fit) -> pd.DataFrame:
    """Runs with exactly the fit's cell means and within-cell sums of squares (so a refit reproduces the fit)."""
    cells = fit.cells
    rows = []
    for r in cells.to_dict("records"):
        n = int(r["n_runs"])
        if n == 1:
            z = np.zeros(1)
        else:
            z = np.linspace(-1.0, 1.0, n)
            z = (z - z.mean()) / math.sqrt(np.sum((z - z.mean()) ** 2)) * math.sqrt(float(r["ss_within"]))
        for v in float(r["mean"]) + z:
            rows.append((float(r["student_params"]), float(r["teacher_params"]), str(r.get("teacher_name") or ""), v))
    frame = pd.DataFrame(rows, columns=["student_params", "teacher_params", "teacher_name", "value"])
    return frame.assign(metric=str(fit.metric), higher_is_better=bool(fit.higher_is_better),
                        family=str(fit.group.get("family", "default")),
                        data_tokens=float(fit.group.get("data_tokens", float("nan"))))


def _simulated_gain(fit, cands, picks, cost, n_sim, rng) -> tuple[float, float]:
    """(relative narrowing per unit cost, mean width after) of a plan, over n_sim outcome draws from the fit."""
    from analysis.collapse import fit_collapse

    parameter = "exponent" if fit.form == "power" else "slope"
    base = _pseudo_runs(fit)
    width0 = _fit_width(fit, parameter)
    sd = math.sqrt(fit.rss / max(fit.df_resid, 1.0))
    cells = [(cands[k].student, t) for k in picks for t in cands[k].teachers]
    mean = np.array([expected_value(fit, s, t) for s, t in cells])
    widths = []
    for _ in range(n_sim):
        new = pd.DataFrame({"student_params": [s for s, _t in cells], "teacher_params": [t for _s, t in cells],
                            "teacher_name": "", "value": mean + sd * rng.standard_normal(len(cells))})
        new = new.assign(**{c: base[c].iloc[0] for c in ("metric", "higher_is_better", "family", "data_tokens")})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                refit = fit_collapse(pd.concat([base, new], ignore_index=True), fit.metric, form=fit.form,
                                     alpha=fit.alpha)
                widths.append(_fit_width(refit, parameter))
            except ValueError:  # the law refused after the runs: no narrowing
                widths.append(width0)
    w = float(np.mean(widths))
    total = float(sum(cost[k] for k in picks))
    return ((width0 - w) / width0 / total if total > 0 and width0 > 0 else 0.0), w


def _fit_width(fit, parameter: str) -> float:
    ci = fit.conf_int().loc[parameter]
    w = float(ci["upper"] - ci["lower"])
    return w if np.isfinite(w) else float(2 * fit._q(fit.alpha) * fit.bse[parameter])
