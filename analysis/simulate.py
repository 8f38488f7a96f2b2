"""Simulated distillation results with a planted law of capacity gap (SIMULATED data, never measurements).

For each family, data-token budget and student size S, teachers are tried at S * teacher_ratios, and each
(student, teacher, seed) gets one row of the distillation-results contract (DESIGN.md):

    T*(S)  = slope * S + intercept_params                       # the planted law (raw parameter counts)
    value  = base(S, D) + curvature * (ln T - ln T*(S))**2 + noise * N(0, 1)     # metric "val_loss"

so every student's curve is a parabola in log teacher size whose vertex is the planted optimum: below T* a larger
teacher helps, above it the student gets worse (the "curse of capacity gap"). The defaults plant the law as
reported by Zhang et al. (ACL 2025, arXiv 2311.07052): T* = 2.498 S - 11.498 (millions of parameters).

base(S, D) follows the Chinchilla loss fit L = E + A / N**alpha + B / D**beta (Hoffmann et al. 2022, arXiv
2203.15556, approach 3: E=1.69, A=406.4, alpha=0.34, B=410.7, beta=0.28); the data term is left out when
`data_tokens` is None. It only sets a realistic level; the analysis never depends on it.

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


def planted_optimum(student_params, *, slope: float = 2.498, intercept_params: float = -11.498e6) -> np.ndarray:
    """T*(S) = slope * S + intercept_params (raw params) for each student size."""
    return slope * np.asarray(student_params, dtype=float) + intercept_params


def simulate_distillation(
    *,
    slope: float = 2.498,  # planted optimal-teacher params per student param (as reported by Zhang et al.)
    intercept_params: float = -11.498e6,  # planted intercept, raw params (-11.498 in millions, as reported)
    student_params=DEFAULT_STUDENT_PARAMS,  # student sizes, raw params
    teacher_ratios=DEFAULT_TEACHER_RATIOS,  # teachers tried per student, as multiples of the student size
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
            # grid: (n_students, n_teachers, n_seeds)
            s = students[:, None, None]
            t = np.rint(students[:, None] * ratios[None, :])[:, :, None]
            base = _CHINCHILLA_E + 0.01 * fi + _CHINCHILLA_A / s ** _CHINCHILLA_ALPHA
            if np.isfinite(d):
                base = base + _CHINCHILLA_B / d ** _CHINCHILLA_BETA
            shape = (students.size, ratios.size, n_seeds)
            value = base + curvature * (np.log(t) - np.log(optimum)[:, None, None]) ** 2
            value = value + noise * rng.standard_normal(shape)
            seeds = np.broadcast_to(np.arange(n_seeds)[None, None, :], shape)
            frames.append(pd.DataFrame({
                "student_params": np.broadcast_to(s, shape).ravel().astype(np.int64),
                "teacher_params": np.broadcast_to(t, shape).ravel().astype(np.int64),
                "value": value.ravel(),
                "family": family,
                "data_tokens": d,
                "seed": seeds.ravel(),
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
        "seed": int(seed),
    }
    return out
