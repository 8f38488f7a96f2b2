"""Simulated distillation results with a planted law of capacity gap (SIMULATED data, never measurements).

For each family, data-token budget and student size S, teachers are tried at S * teacher_ratios, and each
(student, teacher, seed) gets one row of the distillation-results contract (DESIGN.md):

    T*(S)  = slope * S + intercept_params                       # the planted law (raw parameter counts)
    value  = base(S, D) + curvature * shape(ln T - ln T*(S)) + noise * N(0, 1)     # metric "val_loss"

with a shape whose minimum (0) is at 0, so the planted optimum is the curve's minimum: below T* a larger teacher
helps, above it the student gets worse (the "curse of capacity gap"). Shapes (`shape`, `asymmetry` r = how much
steeper the big-teacher side is than the small one, at one e-fold from the optimum):

    "parabola"  x**2                                     (symmetric; r is ignored)
    "linex"     2 (exp(a x) - a x - 1) / a**2            (a solved from r; exponential on the big side, linear on
                                                          the small side: the shape of a Varian linex loss)
    "split"     x**2 for x < 0, r x**2 for x > 0          (a kinked parabola: no single smooth family has it)
    "huber"     (2 w^2 (sqrt(1 + (x / w)^2) - 1)) times r on the big side, w = 0.5   (pseudo-Huber: quadratic
                                                          near the optimum, straight tails: neither exponential
                                                          nor quadratic far from it)

Teachers are either a per-student grid (`teacher_ratios` times the student) or one shared ladder of absolute sizes
(`teacher_ladder`, as with Pythia or Qwen2.5 checkpoints), of which each student gets the teachers larger than
itself, so big students get few. The defaults plant the law as reported by Zhang et al. (ACL 2025,
arXiv 2311.07052): T* = 2.498 S - 11.498 (millions of parameters) on parabolas and per-student grids.

base(S, D) follows the Chinchilla loss fit L = E + A / N**alpha + B / D**beta (Hoffmann et al. 2022, arXiv
2203.15556, approach 3: E=1.69, A=406.4, alpha=0.34, B=410.7, beta=0.28); the data term is left out when
`data_tokens` is None. It only sets a realistic level; the analysis never depends on it.

`simulate_distill_scaling` plants a different truth: Busbridge et al.'s distillation scaling law (Eq. 8; see
analysis.distill_law), student loss from the teacher's *loss*, with teacher scores (`teacher_value`), no-teacher
baseline rows, and cases the fit does not assume (heavy-tailed noise, noisy teacher scores, a penalty on teacher
size that Eq. 8 cannot express).

Every row has `source == "simulated"` and the frame's `attrs["simulated"]` holds the planted truth, so the data is
labelled as simulated wherever it goes. Deterministic for a given `seed`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SIMULATED_SOURCE = "simulated"  # the `source` column of every simulated row

# Students: Pythia-like sizes from 70M to 2.8B (a decade and a half, as in distillation sweeps of that scale).
DEFAULT_STUDENT_PARAMS = (70_000_000, 160_000_000, 410_000_000, 1_000_000_000, 1_400_000_000, 2_800_000_000)
# Teachers as multiples of the student: log-spaced from 1.25x to 16x (about x1.5 per step), which brackets the
# planted optimum (about 2.3x-2.5x the student) with teachers on both sides.
DEFAULT_TEACHER_RATIOS = (1.25, 1.8, 2.6, 3.8, 5.5, 8.0, 11.0, 16.0)

# Chinchilla loss fit, Hoffmann et al. (2022), approach 3.
_CHINCHILLA_E, _CHINCHILLA_A, _CHINCHILLA_ALPHA = 1.69, 406.4, 0.34
_CHINCHILLA_B, _CHINCHILLA_BETA = 410.7, 0.28


SHAPES = ("parabola", "linex", "split", "huber")
HUBER_WIDTH = 0.5  # ln-units where the pseudo-Huber shape turns from quadratic to straight


def linex_rate(asymmetry: float) -> float:
    """The linex rate a whose big side is `asymmetry` times steeper than its small side at |x| = 1."""
    from scipy.optimize import brentq

    if asymmetry == 1:
        return 0.0
    if asymmetry < 1:  # the small side steeper: the mirror image
        return -linex_rate(1 / asymmetry)
    return float(brentq(lambda a: (np.exp(a) - a - 1) / (np.exp(-a) + a - 1) - asymmetry, 1e-6, 30.0))


def shape_penalty(x, shape: str = "parabola", asymmetry: float = 1.0) -> np.ndarray:
    """The planted curve shape at x = ln T - ln T* (0 at x = 0, positive elsewhere)."""
    x = np.asarray(x, dtype=float)
    if shape == "parabola" or (asymmetry == 1 and shape != "huber"):
        return x * x
    if shape == "linex":
        a = linex_rate(asymmetry)
        return 2 * (np.expm1(a * x) - a * x) / (a * a)
    if shape == "split":
        return np.where(x > 0, asymmetry, 1.0) * x * x
    if shape == "huber":
        w = HUBER_WIDTH
        return np.where(x > 0, asymmetry, 1.0) * 2 * w * w * (np.sqrt(1 + (x / w) ** 2) - 1)
    raise ValueError(f"shape: expected one of {SHAPES}, found {shape!r}")


def planted_optimum(student_params, *, slope: float = 2.498, intercept_params: float = -11.498e6) -> np.ndarray:
    """T*(S) = slope * S + intercept_params (raw params) for each student size."""
    return slope * np.asarray(student_params, dtype=float) + intercept_params


def simulate_distillation(
    *,
    slope: float = 2.498,  # planted optimal-teacher params per student param (as reported by Zhang et al.)
    intercept_params: float = -11.498e6,  # planted intercept, raw params (-11.498 in millions, as reported)
    student_params=DEFAULT_STUDENT_PARAMS,  # student sizes, raw params
    teacher_ratios=DEFAULT_TEACHER_RATIOS,  # teachers tried per student, as multiples of the student size
    teacher_ladder=None,  # or: one shared list of teacher sizes (raw params); each student gets those above it
    shape: str = "parabola",  # the curve's shape in ln T - ln T* (module docstring)
    asymmetry: float = 1.0,  # how much steeper the big-teacher side is (linex, split); 1 = symmetric
    n_seeds: int = 3,  # repeated runs per (student, teacher); 3 is a typical budget for a sweep
    noise: float = 0.01,  # sd of a run's val_loss around its curve (nats/token): typical seed-to-seed spread
    curvature: float = 0.03,  # val_loss penalty per (ln T - ln T*)^2: a 2.7x-off teacher costs 0.03 nats
    families=("default",),  # one planted law per family (same law; a small per-family loss offset)
    data_tokens=None,  # None, or distillation-token budgets (each one a separate grouping key)
    seed: int = 0,  # random seed; the same arguments and seed give the same frame
) -> pd.DataFrame:
    """Simulated distillation results in the contract of DESIGN.md (metric "val_loss", lower is better).

    Columns: student_params, teacher_params (int64), metric, value, higher_is_better, family, data_tokens
    (float64, NaN when not given), seed (Int64), run_id, source ("simulated"). `attrs["simulated"]` holds the
    planted law and the planted optimum per student. Raises ValueError when the planted optimum is not positive
    for some student.
    """
    students = np.asarray(student_params, dtype=float)
    ratios = np.asarray(teacher_ratios, dtype=float)
    if students.ndim != 1 or students.size == 0 or np.any(~np.isfinite(students)) or np.any(students <= 0):
        raise ValueError(f"student_params: expected positive parameter counts, found {student_params!r}")
    if ratios.ndim != 1 or ratios.size == 0 or np.any(~np.isfinite(ratios)) or np.any(ratios <= 0):
        raise ValueError(f"teacher_ratios: expected positive multiples of the student size, found {teacher_ratios!r}")
    if n_seeds < 1:
        raise ValueError(f"n_seeds: expected at least 1, found {n_seeds}")
    if shape not in SHAPES:
        raise ValueError(f"shape: expected one of {SHAPES}, found {shape!r}")
    if not (np.isfinite(asymmetry) and asymmetry > 0):
        raise ValueError(f"asymmetry: expected a positive ratio, found {asymmetry!r}")
    if teacher_ladder is not None:
        ladder = np.sort(np.asarray(teacher_ladder, dtype=float))
        if ladder.ndim != 1 or ladder.size == 0 or np.any(~np.isfinite(ladder)) or np.any(ladder <= 0):
            raise ValueError(f"teacher_ladder: expected positive parameter counts, found {teacher_ladder!r}")
        if np.any(ladder.max() <= students):
            raise ValueError("teacher_ladder: every student needs at least one teacher larger than itself")
    if noise < 0 or curvature <= 0:
        raise ValueError(f"expected noise >= 0 and curvature > 0, found noise={noise}, curvature={curvature}")
    optimum = planted_optimum(students, slope=slope, intercept_params=intercept_params)
    if np.any(optimum <= 0):
        bad = students[optimum <= 0]
        raise ValueError(f"the planted law T* = {slope} * S + {intercept_params:g} gives a non-positive optimal "
                         f"teacher for student(s) {bad.astype(np.int64).tolist()}; use larger students or a "
                         f"smaller negative intercept")
    tokens = [np.nan] if data_tokens is None else [float(d) for d in np.atleast_1d(data_tokens)]
    if any(not np.isfinite(d) or d <= 0 for d in tokens if data_tokens is not None):
        raise ValueError(f"data_tokens: expected positive token counts, found {data_tokens!r}")
    families = [str(f) for f in ([families] if isinstance(families, str) else families)]

    rng = np.random.default_rng(seed)
    frames = []
    for fi, family in enumerate(families):
        for d in tokens:
            # grid: (n_students, n_teachers, n_seeds); a ladder's missing teachers are NaN, dropped below
            s = students[:, None, None]
            if teacher_ladder is None:
                t = np.rint(students[:, None] * ratios[None, :])[:, :, None]
            else:
                t = np.where(ladder[None, :] > students[:, None], ladder[None, :], np.nan)[:, :, None]
            base = _CHINCHILLA_E + 0.01 * fi + _CHINCHILLA_A / s ** _CHINCHILLA_ALPHA
            if np.isfinite(d):
                base = base + _CHINCHILLA_B / d ** _CHINCHILLA_BETA
            dims = (students.size, t.shape[1], n_seeds)
            value = base + curvature * shape_penalty(np.log(t) - np.log(optimum)[:, None, None], shape, asymmetry)
            value = value + noise * rng.standard_normal(dims)
            seeds = np.broadcast_to(np.arange(n_seeds)[None, None, :], dims)
            keep = np.isfinite(np.broadcast_to(t, dims)).ravel()
            frames.append(pd.DataFrame({
                "student_params": np.broadcast_to(s, dims).ravel()[keep].astype(np.int64),
                "teacher_params": np.broadcast_to(t, dims).ravel()[keep].astype(np.int64),
                "value": value.ravel()[keep],
                "family": family,
                "data_tokens": d,
                "seed": seeds.ravel()[keep],
            }))
    out = pd.concat(frames, ignore_index=True)
    out.insert(2, "metric", "val_loss")
    out.insert(4, "higher_is_better", False)
    out["data_tokens"] = out["data_tokens"].astype("float64")
    out["seed"] = out["seed"].astype("Int64")
    out["run_id"] = [f"sim-{i:06d}" for i in range(len(out))]
    out["source"] = SIMULATED_SOURCE
    out.attrs["simulated"] = {
        "note": "SIMULATED data with a planted law; not measurements",
        "slope": float(slope),
        "intercept_params": float(intercept_params),
        "planted_optimum": {int(s): float(o) for s, o in zip(students, optimum)},
        "noise": float(noise),
        "curvature": float(curvature),
        "shape": shape,
        "asymmetry": float(asymmetry),
        "seed": int(seed),
    }
    return out


# ---------------------------------------------------------------------------------------------- a second lens
# Busbridge et al.'s supervised law (their Eq. 1, L = E + (A / N**alpha + B / D**beta)**gamma) with the coefficients
# as quoted in a public summary of the paper; here it only sets realistic teacher and baseline losses.
SUPERVISED_LAW = {"E": 1.220, "A": 3355.0, "alpha": 0.408, "B": 18186.0, "beta": 0.431, "gamma": 0.452}
# Planted coefficients of the distillation law (Eq. 8). Ours, not the paper's: chosen so that every default student
# has its best teacher inside the default teacher pool (a U-shaped curve in teacher loss) and the weakest teachers
# sit past the break (weaker than what the student learns alone), so every coefficient is exercised.
DISTILL_LAW = {"c0": 8.0, "c1": 5.0, "f1": 0.3, "d1": 1.0, "A": 3355.0 * 7000, "alpha": 0.408,
               "B": 18186.0 * 7000, "beta": 0.431, "gamma": 0.452}
# Teachers: one shared pool, 50M to 100B parameters, each trained on 20 tokens per parameter (Chinchilla-optimal).
DEFAULT_TEACHER_POOL = (5e7, 1e8, 2e8, 4e8, 1e9, 2e9, 4e9, 1e10, 3e10, 1e11)
DEFAULT_DISTILL_TOKENS = (2e9, 2e10, 2e11)
SCALING_CASES = ("law", "heavy_tails", "teacher_noise", "size_gap")


def supervised_loss(params, tokens, law=None) -> np.ndarray:
    """Busbridge et al.'s Eq. 1 form E + (A / N**alpha + B / D**beta)**gamma (nats/token)."""
    p = SUPERVISED_LAW if law is None else law
    n, d = np.asarray(params, dtype=float), np.asarray(tokens, dtype=float)
    return p["E"] + (p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]) ** p["gamma"]


def simulate_distill_scaling(
    *,
    student_params=(7e7, 1.6e8, 4.1e8, 1e9, 2.8e9),  # student sizes, raw params
    data_tokens=DEFAULT_DISTILL_TOKENS,  # distillation-token budgets (each student distilled on each)
    teacher_params=DEFAULT_TEACHER_POOL,  # the shared teacher pool (every student from every teacher)
    teacher_tokens_per_param: float = 20.0,  # each teacher's pretraining tokens per parameter
    law=None,  # planted Eq. 8 coefficients (default DISTILL_LAW)
    n_seeds: int = 2,  # distilled runs per (student, tokens, teacher)
    n_supervised: int = 3,  # no-teacher runs per (student, tokens): the supervised baseline Ls~
    noise: float = 0.01,  # sd of a run's loss (nats/token), distilled and supervised alike
    case: str = "law",  # "law" (Gaussian noise on Eq. 8) or a case the fit does not assume (below)
    seed: int = 0,
) -> pd.DataFrame:
    """Simulated runs whose student loss follows Busbridge et al.'s Eq. 8 (SIMULATED, never measurements).

    case: "law" Gaussian noise; "heavy_tails" Student-t noise (3 d.o.f., same scale); "teacher_noise" each
    teacher's recorded loss (teacher_value) off its true loss by N(0, noise); "size_gap" Eq. 8 plus a penalty
    0.05 * max(0, ln(T / S) - ln 8)**2 that depends on teacher *size*, not teacher loss (Eq. 8 cannot express it).
    Rows: the distillation-results contract with teacher_value (the teacher's loss) and teacher_params 0 rows
    for the baselines; attrs["simulated"] holds the planted coefficients and each cell's true optimal teacher loss.
    """
    from analysis.distill_law import optimal_teacher_loss, predict_student_loss

    if case not in SCALING_CASES:
        raise ValueError(f"case: expected one of {SCALING_CASES}, found {case!r}")
    if n_seeds < 1 or n_supervised < 1 or noise < 0:
        raise ValueError("expected n_seeds >= 1, n_supervised >= 1 and noise >= 0")
    p = dict(DISTILL_LAW if law is None else law)
    rng = np.random.default_rng(seed)
    students = np.asarray(student_params, dtype=float)
    tokens = np.asarray(data_tokens, dtype=float)
    teachers = np.asarray(teacher_params, dtype=float)
    true_lt = supervised_loss(teachers, teacher_tokens_per_param * teachers)
    recorded_lt = true_lt + (noise * rng.standard_normal(true_lt.size) if case == "teacher_noise" else 0.0)

    def draw(size):
        if case == "heavy_tails":
            return noise * rng.standard_t(3, size=size) / np.sqrt(3.0)  # unit variance t_3, scaled
        return noise * rng.standard_normal(size)

    rows, truth = [], []
    for s in students:
        for d in tokens:
            ls = float(supervised_loss(s, d))
            mean = predict_student_loss(true_lt, s, d, ls, p)
            if case == "size_gap":
                mean = mean + 0.05 * np.maximum(0.0, np.log(teachers / s) - np.log(8.0)) ** 2
            for k in range(n_seeds):
                values = mean + draw(teachers.size)
                rows += [(s, t, v, d, k, lt) for t, v, lt in zip(teachers, values, recorded_lt)]
            rows += [(s, 0.0, ls + float(draw(1)[0]), d, k, np.nan) for k in range(n_supervised)]
            opt = optimal_teacher_loss(s, d, ls, p, lo=float(true_lt.min()) / 2, hi=float(true_lt.max()) * 2)[0][0]
            truth.append({"student_params": int(s), "data_tokens": int(d), "supervised_loss": ls,
                          "teacher_loss_opt": float(opt)})
    out = pd.DataFrame(rows, columns=["student_params", "teacher_params", "value", "data_tokens", "seed",
                                      "teacher_value"])
    out["student_params"] = out["student_params"].astype(np.int64)
    out["teacher_params"] = out["teacher_params"].astype(np.int64)
    out.insert(2, "metric", "val_loss")
    out.insert(4, "higher_is_better", False)
    out.insert(5, "family", "default")
    out["data_tokens"] = out["data_tokens"].astype("float64")
    out["seed"] = out["seed"].astype("Int64")
    out["run_id"] = [f"simd-{i:06d}" for i in range(len(out))]
    out["source"] = SIMULATED_SOURCE
    out.attrs["simulated"] = {"note": "SIMULATED data with a planted distillation scaling law; not measurements",
                              "law": p, "case": case, "noise": float(noise), "seed": int(seed),
                              "teacher_loss": dict(zip(teachers.astype(np.int64).tolist(), true_lt.tolist())),
                              "optimal_teachers": truth}
    return out
