"""The teachers' own quality beside their size: each teacher's score (`teacher_value`, its own loss on the same
metric), which rows lack it, the teachers' size -> loss curve, and a per-student diagnosis of the teachers that
did worse than the student's best one: *too strong* (a better teacher, a worse student: the capacity gap as
Busbridge et al. describe it, in teacher loss) or *not better* (a bigger teacher that is no better, or worse, as a
teacher: its worse student says nothing about a gap in teacher quality; its size, or how the student was made
from it, is what differs).

The teachers' curve is L_T(N_T) = E + A * N_T**-alpha (a Chinchilla-style power law with a floor, Hoffmann et al.
2022, in teacher size only: the teachers' own tokens are whatever they were), fitted by least squares (scipy) to one
point per teacher; `size_for_loss` inverts it, and says when no size of this family reaches a loss (below E).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from analysis.optimum import no_teacher_mask, teacher_cells
from analysis.sizes import format_size

HOW_TO_ADD = ("Add the teacher's own score on the same metric as a `teacher_value` column (our engine writes it for "
              "every run), or import an lm-eval result of the teacher on the Benchmarks page.")
TEACHER_TOL = 0.01  # nats/token: teacher losses closer than this count as equal (about a seed-to-seed spread)


def _teacher_rows(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = results[results["metric"] == metric]
    return rows[~no_teacher_mask(rows)]


def missing_teacher_values(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows with a teacher whose teacher_value is missing: family, data_tokens, student_params, teacher_params,
    teacher_name, run_id (an empty frame when every row has it)."""
    rows = _teacher_rows(results, metric)
    tv = (pd.to_numeric(rows["teacher_value"], errors="coerce") if "teacher_value" in rows
          else pd.Series(np.nan, index=rows.index))
    cols = [c for c in ("family", "data_tokens", "student_params", "teacher_params", "teacher_name", "run_id")
            if c in rows]
    return rows.loc[tv.isna().to_numpy(), cols].reset_index(drop=True)


def teacher_table(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per (family, teacher size, teacher name): teacher_value (mean of its rows; one teacher has one
    score), n_rows, n_students."""
    rows = _teacher_rows(results, metric)
    if "teacher_value" not in rows:
        return pd.DataFrame(columns=["family", "teacher_params", "teacher_name", "teacher_value", "n_rows",
                                     "n_students"])
    frame = pd.DataFrame({
        "family": rows["family"].astype(str) if "family" in rows else "default",
        "teacher_params": pd.to_numeric(rows["teacher_params"], errors="coerce").astype("int64"),
        "teacher_name": rows["teacher_name"].fillna("").astype(str) if "teacher_name" in rows else "",
        "teacher_value": pd.to_numeric(rows["teacher_value"], errors="coerce"),
        "student_params": rows["student_params"].to_numpy()})
    frame = frame.dropna(subset=["teacher_value"])
    out = frame.groupby(["family", "teacher_params", "teacher_name"], sort=True).agg(
        teacher_value=("teacher_value", "mean"), n_rows=("teacher_value", "size"),
        n_students=("student_params", "nunique")).reset_index()
    return out


def student_vs_teacher(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The student's mean score per (family, tokens, student, teacher) cell beside the teacher's own score:
    family, data_tokens, student_params, teacher_params, teacher_name, n_runs, mean, teacher_value (NaN where the
    rows do not give it). Random-init baselines and no-teacher rows are left out (analysis.optimum's cells)."""
    cells = teacher_cells(results, metric)
    teachers = teacher_table(results, metric)
    if teachers.empty:
        return cells.assign(teacher_value=np.nan)
    key = ["family", "teacher_params", "teacher_name"]
    cells = cells.assign(family=cells["family"].astype(str), teacher_name=cells["teacher_name"].fillna("").astype(str))
    return cells.merge(teachers[key + ["teacher_value"]], on=key, how="left")


@dataclass(frozen=True)
class TeacherCurve:
    """L_T(N_T) = floor + scale * N_T**-exponent, fitted to one point per teacher (or the reason there is none)."""

    floor: float = math.nan  # E, nats/token: the loss no size of this family goes below
    scale: float = math.nan  # A
    exponent: float = math.nan  # alpha
    n_teachers: int = 0
    refused: str = ""

    def loss_at(self, teacher_params) -> np.ndarray:
        n = np.asarray(teacher_params, dtype=float)
        return self.floor + self.scale * n ** -self.exponent

    def size_for_loss(self, teacher_loss) -> np.ndarray:
        """The teacher size with this loss on the curve; NaN where none (the loss is at or below the floor, or
        there is no curve)."""
        loss = np.asarray(teacher_loss, dtype=float)
        if self.refused:
            return np.full(loss.shape, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (self.scale / (loss - self.floor)) ** (1.0 / self.exponent)
        return np.where(loss > self.floor, out, np.nan)

    def describe(self) -> str:
        if self.refused:
            return self.refused
        return (f"teachers' loss = {self.floor:.4g} + {self.scale:.4g} * N_T^-{self.exponent:.3g} "
                f"({self.n_teachers} teachers; no teacher size of this family goes below {self.floor:.4g})")


def fit_teacher_curve(teachers: pd.DataFrame) -> TeacherCurve:
    """Fit the teachers' size -> loss curve to `teacher_table` rows of one family (a teacher size with several
    names counts once, at its mean loss). Refuses with fewer than 3 sizes or when loss does not fall with size."""
    pts = teachers.groupby("teacher_params")["teacher_value"].mean()
    n, loss = pts.index.to_numpy(dtype=float), pts.to_numpy(dtype=float)
    if n.size < 3:
        return TeacherCurve(n_teachers=int(n.size), refused=f"{n.size} teacher size(s) with a score: the teachers' "
                                                             f"size -> loss curve needs at least 3.")
    if np.corrcoef(np.log(n), loss)[0, 1] >= 0:
        return TeacherCurve(n_teachers=int(n.size), refused="the teachers' loss does not fall with their size "
                                                             "here, so no size can be read off a teacher loss.")
    log_n = np.log(n)

    def resid(th):
        return th[0] + np.exp(th[1] - np.exp(th[2]) * log_n) - loss

    best = None
    for alpha0 in (0.1, 0.3, 1.0):
        floor0 = loss.min() - 0.5 * (loss.max() - loss.min())
        scale0 = math.log(max(loss.max() - floor0, 1e-6)) + alpha0 * log_n.min()
        try:
            res = optimize.least_squares(resid, [floor0, scale0, math.log(alpha0)],
                                         bounds=([0.0, -50.0, math.log(1e-3)], [loss.min(), 200.0, math.log(3.0)]))
        except ValueError:
            continue
        if best is None or res.cost < best.cost:
            best = res
    if best is None:
        return TeacherCurve(n_teachers=int(n.size), refused="the teachers' size -> loss curve could not be fitted.")
    return TeacherCurve(floor=float(best.x[0]), scale=float(math.exp(best.x[1])), exponent=float(math.exp(best.x[2])),
                        n_teachers=int(n.size))


def diagnose_teachers(results: pd.DataFrame, metric: str, *, tol: float = TEACHER_TOL) -> pd.DataFrame:
    """Each step up the teacher sizes past a student's best teacher where the student got worse: was the bigger
    teacher a better teacher than the next smaller one (verdict "too strong": a better teacher, a worse student,
    the capacity gap in teacher quality), or not ("not better": no better a teacher, so teacher quality does not
    explain the worse student; the teacher's size, or how the student was made from it, does), or is a score
    missing ("no teacher score"). Columns: family, data_tokens, student_params, best_teacher_params,
    best_teacher_value, previous_teacher_params, previous_teacher_value, teacher_params, teacher_value,
    student_loss_increase (over the previous teacher's student), teacher_loss_change (teacher minus previous
    teacher: < 0 is a better teacher), verdict, sentence. A higher-is-better metric is read the other way round;
    `tol` (the metric's units) is how close two teacher scores count as equal."""
    cells = student_vs_teacher(results, metric)
    rows = results[results["metric"] == metric]
    sign = -1.0 if "higher_is_better" in rows and rows["higher_is_better"].astype(bool).any() else 1.0
    cells = cells.assign(mean=sign * cells["mean"], teacher_value=sign * cells["teacher_value"])
    cols = ["family", "data_tokens", "student_params", "best_teacher_params", "best_teacher_value",
            "previous_teacher_params", "previous_teacher_value", "teacher_params", "teacher_value",
            "student_loss_increase", "teacher_loss_change", "verdict", "sentence"]
    out = []
    for (family, tokens, student), g in cells.groupby(["family", "data_tokens", "student_params"], dropna=False):
        g = g.groupby("teacher_params", as_index=False).agg(mean=("mean", "mean"), teacher_value=("teacher_value",
                                                                                                   "mean"))
        best = g.loc[g["mean"].idxmin()]
        past = g[g["teacher_params"] >= best["teacher_params"]].sort_values("teacher_params").to_dict("records")
        who = f"{format_size(student)} student" + ("" if pd.isna(tokens) else f" ({format_size(tokens)} tokens)")
        for prev, t in zip(past, past[1:]):
            rise = float(t["mean"] - prev["mean"])  # how much worse the student got, in the metric's units
            if rise <= 0:
                continue
            change = float(t["teacher_value"] - prev["teacher_value"])  # < 0: a better teacher
            step = f"teacher {format_size(prev['teacher_params'])} -> {format_size(t['teacher_params'])}"
            scores = f"({sign * prev['teacher_value']:.3f} -> {sign * t['teacher_value']:.3f})"
            if not np.isfinite(change):
                verdict, sentence = "no teacher score", f"{who}, {step}: a teacher has no score, so the two " \
                                                        f"causes cannot be told apart."
            elif change < -tol:
                verdict = "too strong"
                sentence = (f"{who}, {step}: a better teacher {scores} yet a student {rise:.3f} worse: a capacity "
                            f"gap in teacher quality.")
            else:
                verdict = "not better"
                sentence = (f"{who}, {step}: bigger but no better a teacher {scores}, and a student {rise:.3f} "
                            f"worse: not explained by teacher quality (size itself, or the student made from it, "
                            f"differs).")
            out.append((family, tokens, int(student), int(best["teacher_params"]), sign * float(best["teacher_value"]),
                        int(prev["teacher_params"]), sign * float(prev["teacher_value"]), int(t["teacher_params"]),
                        sign * float(t["teacher_value"]), rise, change, verdict, sentence))
    return pd.DataFrame(out, columns=cols)
