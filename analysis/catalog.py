"""The model catalog (real checkpoints and their public parameter counts) and ranking them as teachers.

`analysis/data/model_catalog.csv` holds one row per checkpoint: family, model (Hugging Face id), params,
non_embedding_params (blank where the source gives none), source (model card / paper), note (how the count
is stated: exact, or rounded as the source prints it). The sources are listed in `analysis/data/README.md`.

`rank_teachers` orders the catalog's checkpoints larger than a student by closeness to a predicted optimal
teacher T* in log size, flags those inside the confidence / prediction interval, and, where a per-student curve
exists (the student's metric against log teacher size, from distillation results), estimates the metric lost by
choosing that checkpoint instead of the curve's best teacher: the "expected penalty", in metric units.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.metric_direction import infer_higher_is_better
from analysis.tabular import DataError, read_table
from analysis.sizes import format_size

CATALOG_PATH = Path(__file__).parent / "data" / "model_catalog.csv"
CATALOG_COLUMNS = ("family", "model", "params", "non_embedding_params", "source", "note")
RANKING_COLUMNS = ("rank", "model", "family", "params", "non_embedding_params", "log10_distance",
                   "within_ci", "within_pi", "expected_penalty", "penalty_note")

# A per-student curve is used for a what-if student only if an observed student lies within this distance in
# log10 size (0.1 = a factor of 1.26): the curse curve moves with the student, so a distant student's curve
# would put the optimum in the wrong place.
MAX_STUDENT_LOG10_GAP = 0.1
MIN_TEACHERS_FOR_CURVE = 3  # a quadratic needs three distinct teachers


# ---------------------------------------------------------------------------------------------- the catalog
def load_catalog(source: str | os.PathLike | bytes | None = None) -> pd.DataFrame:
    """Read and validate a model catalog (default: the bundled one). Errors name the file, row and column.

    Rows are numbered as lines of the file (the header is line 1). Returns the CATALOG_COLUMNS with params
    int64 and non_embedding_params nullable Int64 (NA where unknown).
    """
    name = "model_catalog.csv" if source is None else \
        ("catalog" if isinstance(source, bytes) else Path(source).name)
    try:
        table = read_table(CATALOG_PATH if source is None else source, name=name, file_format="csv", as_text=True)
    except DataError as exc:
        raise ValueError(f"{name}: cannot read the catalog: {exc.reason}") from None
    if table.pre_dropped:
        row, _, why = table.pre_dropped[0]
        raise ValueError(f"{name}, row {row}: {why}")
    raw = table.frame
    missing = [c for c in CATALOG_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {', '.join(map(repr, missing))}; "
                         f"expected {', '.join(CATALOG_COLUMNS)}")
    raw = raw[list(CATALOG_COLUMNS)].apply(lambda col: col.str.strip())
    params, non_embedding = [], []
    for i, row in zip(table.rows, raw.itertuples(index=False)):
        where = f"{name}, row {i}"
        for col in ("family", "model", "source"):
            if not getattr(row, col):
                raise ValueError(f"{where}, column {col!r}: expected a non-empty text, found ''")
        p = _count(row.params, f"{where}, column 'params'", required=True)
        ne = _count(row.non_embedding_params, f"{where}, column 'non_embedding_params'", required=False)
        if ne is not None and ne > p:
            raise ValueError(f"{where}, column 'non_embedding_params': expected at most params ({p}), found {ne}")
        params.append(p)
        non_embedding.append(ne)
    dup = raw["model"].duplicated(keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise ValueError(f"{name}, row {table.rows[i]}, column 'model': duplicate model {raw['model'].iloc[i]!r}")
    out = raw.copy()
    out["params"] = pd.Series(params, dtype="int64", index=raw.index)
    out["non_embedding_params"] = pd.array(non_embedding, dtype="Int64")
    return out.reset_index(drop=True)


def _count(text: str, where: str, *, required: bool) -> int | None:
    """A positive whole parameter count written as digits (the catalog stores raw counts, no units)."""
    if text == "":
        if required:
            raise ValueError(f"{where}: expected a positive parameter count such as 1300000000, found ''")
        return None
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"{where}: expected a positive parameter count such as 1300000000, found {text!r}")
    return int(text)


# ---------------------------------------------------------------------------------------------- student curves
def fit_log_quadratic(teacher_params, values) -> np.ndarray:
    """Least-squares coefficients (c2, c1, c0) of value = c2*x^2 + c1*x + c0 with x = log10(teacher_params)."""
    x = np.log10(np.asarray(teacher_params, dtype=float))
    y = np.asarray(values, dtype=float)
    if len(np.unique(x)) < MIN_TEACHERS_FOR_CURVE:
        raise ValueError(f"a quadratic in log teacher size needs {MIN_TEACHERS_FOR_CURVE} distinct teachers, "
                         f"found {len(np.unique(x))}")
    return np.polyfit(x, y, 2)


class NoStudentCurve(LookupError):
    """No per-student curve can be made; the message says why (shown as the penalty note)."""


@dataclass(frozen=True)
class StudentCurve:
    """One student's metric against log10 teacher size: value = c2*x^2 + c1*x + c0, x = log10(teacher params).

    Fitted to the mean value per teacher of one (family, data_tokens, student) group. Valid only inside the
    tested teacher range; `penalty` is NaN outside it.
    """

    student_params: int
    metric: str
    higher_is_better: bool
    coef: tuple[float, float, float]  # (c2, c1, c0), metric units per log10(params)^k
    teacher_min_params: int  # smallest tested teacher
    teacher_max_params: int  # largest tested teacher
    n_teachers: int
    n_runs: int
    family: str = "default"
    data_tokens: float = float("nan")

    def predict(self, teacher_params) -> np.ndarray:
        """The curve's metric value at each teacher size (metric units)."""
        return np.polyval(self.coef, np.log10(np.asarray(teacher_params, dtype=float)))

    @property
    def has_interior_optimum(self) -> bool:
        """True if the parabola opens toward worse values (a best teacher between two worse ones)."""
        c2 = self.coef[0]
        return c2 < 0 if self.higher_is_better else c2 > 0

    @property
    def best_teacher_params(self) -> float:
        """The teacher size with the best curve value inside the tested range (the vertex, or an end)."""
        lo, hi = self.teacher_min_params, self.teacher_max_params
        if self.has_interior_optimum:
            vertex = 10 ** (-self.coef[1] / (2 * self.coef[0]))
            if lo <= vertex <= hi:
                return float(vertex)
        ends = np.array([lo, hi], dtype=float)
        vals = self.predict(ends)
        return float(ends[np.argmax(vals) if self.higher_is_better else np.argmin(vals)])

    @property
    def best_value(self) -> float:
        return float(self.predict([self.best_teacher_params])[0])

    def penalty(self, teacher_params) -> np.ndarray:
        """How much worse (metric units, >= 0) each teacher's student is than with the best teacher; NaN
        for teachers outside the tested range (a quadratic says nothing reliable there)."""
        t = np.asarray(teacher_params, dtype=float)
        lost = self.predict(t) - self.best_value
        lost = -lost if self.higher_is_better else lost
        inside = (t >= self.teacher_min_params) & (t <= self.teacher_max_params)
        return np.where(inside, np.maximum(lost, 0.0), np.nan)

    def describe(self) -> str:
        group = "" if self.family == "default" else f", family {self.family}"
        if np.isfinite(self.data_tokens):
            group += f", {format_size(self.data_tokens)} tokens"
        shape = "" if self.has_interior_optimum else \
            "; the curve has no interior optimum, so the best tested end is the reference"
        return (f"{self.metric} curve of the {format_size(self.student_params)} student{group} "
                f"({self.n_teachers} teachers {format_size(self.teacher_min_params)}-"
                f"{format_size(self.teacher_max_params)}, quadratic in log10 teacher size){shape}")


def student_curve(results: pd.DataFrame, student_params: float, *, metric: str | None = None,
                  max_log10_gap: float = MAX_STUDENT_LOG10_GAP) -> StudentCurve:
    """The curve of the observed student nearest to `student_params` (in log size) in distillation results.

    Raises NoStudentCurve (its message says why) when the metric is missing, no observed student is within
    `max_log10_gap`, or fewer than three teachers were tested for it. Several (family, data_tokens) groups for
    that student: the one with the most runs is used (filter `results` to choose another).
    """
    if results is None or len(results) == 0:
        raise NoStudentCurve("no distillation results loaded, so no per-student curve")
    metrics = sorted(set(results["metric"]))
    if metric is None:
        if len(metrics) != 1:
            raise NoStudentCurve(f"several metrics ({', '.join(metrics)}): say which one the penalty is in")
        metric = metrics[0]
    rows = results[results["metric"] == metric]
    teachers = pd.to_numeric(rows["teacher_params"], errors="coerce")
    rows = rows[teachers > 0]  # a student trained without a teacher is a level, not a point of the curve
    if rows.empty:
        raise NoStudentCurve(f"no results with metric {metric!r} and a teacher (found {', '.join(metrics)})")
    students = np.unique(rows["student_params"].to_numpy(dtype=float))
    gaps = np.abs(np.log10(students) - np.log10(float(student_params)))
    nearest = students[int(np.argmin(gaps))]
    if gaps.min() > max_log10_gap:
        raise NoStudentCurve(f"no per-student curve: the nearest observed student ({format_size(nearest)}) is "
                             f"more than {10 ** max_log10_gap:.2g}x away from {format_size(student_params)}")
    rows = rows[rows["student_params"].to_numpy(dtype=float) == nearest].copy()
    rows["_family"] = rows["family"].astype(str) if "family" in rows else "default"
    rows["_tokens"] = rows["data_tokens"].astype(float).fillna(-1.0) if "data_tokens" in rows else -1.0
    counts = rows.groupby(["_family", "_tokens"]).size().sort_values(ascending=False, kind="stable")
    family, tokens = counts.index[0]
    group = rows[(rows["_family"] == family) & (rows["_tokens"] == tokens)]
    per_teacher = group.groupby("teacher_params")["value"].mean()
    if len(per_teacher) < MIN_TEACHERS_FOR_CURVE:
        raise NoStudentCurve(f"only {len(per_teacher)} teacher(s) tested for the {format_size(nearest)} student; "
                             f"a curve needs {MIN_TEACHERS_FOR_CURVE}")
    higher = _higher_is_better(group, metric)
    coef = fit_log_quadratic(per_teacher.index.to_numpy(dtype=float), per_teacher.to_numpy(dtype=float))
    return StudentCurve(
        student_params=int(nearest), metric=metric, higher_is_better=higher,
        coef=tuple(float(c) for c in coef),
        teacher_min_params=int(per_teacher.index.min()), teacher_max_params=int(per_teacher.index.max()),
        n_teachers=len(per_teacher), n_runs=len(group), family=str(family),
        data_tokens=float("nan") if tokens == -1.0 else float(tokens),
    )


def _higher_is_better(rows: pd.DataFrame, metric: str) -> bool:
    if "higher_is_better" in rows and rows["higher_is_better"].notna().any():
        return bool(rows["higher_is_better"].dropna().iloc[0])
    guess = infer_higher_is_better(metric)
    if guess is None:
        raise NoStudentCurve(f"whether higher {metric!r} is better is unknown; add a higher_is_better column")
    return bool(guess)


# ---------------------------------------------------------------------------------------------- ranking
def rank_teachers(student_params, prediction_row, catalog: pd.DataFrame | None = None, *,
                  curves: pd.DataFrame | StudentCurve | None = None, top: int | None = 10,
                  metric: str | None = None) -> pd.DataFrame:
    """Catalog checkpoints larger than the student, closest to the predicted optimal teacher first.

    prediction_row: one row of LawFit.predict / ReportedLaw.predict (mean, mean_ci_lower, mean_ci_upper,
        obs_ci_lower, obs_ci_upper; raw params), as a Series, a dict or a one-row DataFrame.
    curves: distillation results (the per-student curve of the nearest observed student is fitted, see
        `student_curve`) or a ready StudentCurve; None gives NaN penalties with a note saying so.
    Returns RANKING_COLUMNS: log10_distance = |log10(params) - log10(T*)| (NaN when T* <= 0), within_ci /
    within_pi (NA where the law has no interval), expected_penalty in metric units (NaN where unknown) and
    penalty_note saying where it came from or why it is missing.
    """
    s = float(student_params)
    row = _one_row(prediction_row)
    catalog = load_catalog() if catalog is None else catalog
    cand = catalog[catalog["params"].astype(float) > s].copy()
    if "non_embedding_params" not in cand:
        cand["non_embedding_params"] = pd.array([pd.NA] * len(cand), dtype="Int64")
    params = cand["params"].to_numpy(dtype=float)
    t_star = row.get("mean", np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        distance = np.abs(np.log10(params) - np.log10(t_star)) if t_star > 0 else np.full(len(cand), np.nan)
    cand["log10_distance"] = distance
    cand["within_ci"] = _within(params, row.get("mean_ci_lower"), row.get("mean_ci_upper"))
    cand["within_pi"] = _within(params, row.get("obs_ci_lower"), row.get("obs_ci_upper"))
    cand["expected_penalty"], cand["penalty_note"] = _penalties(params, s, curves, metric)
    cand = cand.sort_values(["log10_distance", "params"], na_position="last", kind="stable")
    if top is not None:
        cand = cand.head(int(top))
    cand["rank"] = np.arange(1, len(cand) + 1)
    return cand[list(RANKING_COLUMNS)].reset_index(drop=True)


def _one_row(prediction_row) -> dict:
    if isinstance(prediction_row, pd.DataFrame):
        if len(prediction_row) != 1:
            raise ValueError(f"prediction_row: expected one row of a prediction, found {len(prediction_row)}")
        prediction_row = prediction_row.iloc[0]
    row = {k: float(v) if v is not None and not pd.isna(v) else np.nan for k, v in dict(prediction_row).items()}
    if "mean" not in row:
        raise ValueError(f"prediction_row: expected a 'mean' (the predicted optimal teacher), found {sorted(row)}")
    return row


def _within(params: np.ndarray, lower, upper) -> pd.arrays.BooleanArray:
    """params inside [lower, upper]; NA for every row when the interval is unknown (NaN)."""
    if lower is None or upper is None or not (np.isfinite(lower) and np.isfinite(upper)):
        return pd.array([pd.NA] * len(params), dtype="boolean")
    return pd.array((params >= lower) & (params <= upper), dtype="boolean")


def _penalties(params: np.ndarray, student: float, curves, metric) -> tuple[np.ndarray, list[str]]:
    nan = np.full(len(params), np.nan)
    if curves is None:
        return nan, ["no per-student curve (load distillation results to estimate the penalty)"] * len(params)
    try:
        curve = curves if isinstance(curves, StudentCurve) else student_curve(curves, student, metric=metric)
    except NoStudentCurve as why:
        return nan, [str(why)] * len(params)
    penalty = curve.penalty(params)
    source = f"from the {curve.describe()}; best teacher there {format_size(curve.best_teacher_params)}"
    outside = (f"outside the teachers tested for the {format_size(curve.student_params)} student "
               f"({format_size(curve.teacher_min_params)}-{format_size(curve.teacher_max_params)})")
    return penalty, [source if np.isfinite(p) else outside for p in penalty]
