"""What-if questions on the law of capacity gap: S -> T* (with intervals) and real teachers for it; T -> S.

`whatif(S, law=...)` works from a fitted law (a LawFit: source "fit", with confidence and prediction intervals)
or from the law as reported (a ReportedLaw: source "reported", no interval). It ranks the model catalog's
checkpoints for the student (see `analysis.catalog.rank_teachers`) and gathers the caveats a reader must see.
`WhatIf.to_dict()` is the `whatif` JSON of the CLI contract (README, "Command line").
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.catalog import rank_teachers
from analysis.json_safe import json_number, json_value
from analysis.caveats import CapacityGapWarning, ExtrapolationWarning
from analysis.reported_law import PREDICTION_COLUMNS, ReportedLaw
from analysis.fit_text import fmt_signed_size
from analysis.sizes import format_size, parse_model_size

SCHEMA_VERSION = 2  # 2: declined, reason, extrapolated added (a declined answer has null sizes, no candidates)
DECLINE_FACTOR = 10.0  # a student more than 10x outside the fitted students gets no answer unless extrapolating


@dataclass(frozen=True)
class WhatIf:
    """The answer to "which teacher for a student of this size?"."""

    student_params: int  # the student asked about (raw params)
    source: str  # "fit" (a law fitted to data) or "reported" (Zhang et al., as reported)
    law_label: str  # how to name the law in words, e.g. "as reported" or "fit (linear)"
    alpha: float | None  # interval level 1 - alpha; None for the reported law (no interval)
    teacher_params: dict[str, float]  # PREDICTION_COLUMNS -> raw params (NaN where undefined)
    candidates: pd.DataFrame  # catalog.RANKING_COLUMNS
    caveats: tuple[str, ...] = field(default_factory=tuple)  # sentences for the reader
    metric: str | None = None  # the metric of the penalty column, when there is one
    declined: bool = False  # no answer: the data cannot support one (reason says why); sizes are NaN
    reason: str = ""  # why the answer was declined, or what makes it an extrapolation
    extrapolated: bool = False  # the user asked to extrapolate past where the tool would decline

    def to_dict(self) -> dict:
        """The whatif JSON: schema_version, student_params, source, teacher_params{...}, candidates[...].

        Numbers are numbers (sizes in raw parameter counts), NaN / NA become None.
        """
        return {
            "schema_version": SCHEMA_VERSION,
            "student_params": int(self.student_params),
            "source": self.source,
            "teacher_params": {k: json_number(self.teacher_params.get(k)) for k in PREDICTION_COLUMNS},
            "candidates": [{k: json_value(v) for k, v in rec.items()}
                           for rec in self.candidates.to_dict(orient="records")],
            "declined": bool(self.declined),
            "reason": self.reason or None,
            "extrapolated": bool(self.extrapolated),
        }


def declined(student_params, reason: str, *, alpha: float | None = 0.05, source: str = "fit",
             law_label: str = "no law") -> WhatIf:
    """A what-if answer that declines: no size, no checkpoint ranking, the reason in words."""
    from analysis.catalog import RANKING_COLUMNS

    return WhatIf(student_params=_student_size(student_params), source=source, law_label=law_label, alpha=alpha,
                  teacher_params={c: float("nan") for c in PREDICTION_COLUMNS},
                  candidates=pd.DataFrame(columns=RANKING_COLUMNS), caveats=(reason,), declined=True, reason=reason)


def _decline_reason(s: int, row: dict, law, reported: bool) -> str:
    """Why the law cannot answer for student s ("" when it can). The reported law only where it gives no positive
    size (it has no interval and no fitted range to judge by)."""
    if reported:
        if np.isfinite(row["mean"]) and row["mean"] > 0:
            return ""
        return (f"The reported law gives no positive teacher size for a {format_size(s)} student (T* = "
                f"{fmt_signed_size(row['mean'])} params): it does not describe students this small.")
    fitted = getattr(law, "optima", None)
    if fitted is not None and len(fitted):
        lo, hi = float(fitted["student_params"].min()), float(fitted["student_params"].max())
        if s > DECLINE_FACTOR * hi or s < lo / DECLINE_FACTOR:
            return (f"A {format_size(s)} student lies more than {DECLINE_FACTOR:g}x outside the students the law was "
                    f"fitted on ({format_size(lo)} to {format_size(hi)}): the data say nothing about it. Tick "
                    f"'extrapolate' (--extrapolate) to see the law's guess anyway.")
    try:
        key_ci = law.conf_int().iloc[-1 if getattr(law, "form", "") == "power" else 0]
    except (AttributeError, KeyError, IndexError, ValueError):
        key_ci = None
    if key_ci is not None and not (np.isfinite(key_ci["lower"]) and np.isfinite(key_ci["upper"])):
        return (f"The data do not bound the law's {key_ci.name} (its interval is open), so no teacher size can be "
                f"given with an honest interval. Add seeds, or teachers on both sides of the best ones, or tick "
                f"'extrapolate' (--extrapolate) to see the law's guess anyway.")
    mean, lower = row.get("mean"), row.get("mean_ci_lower")
    if not (np.isfinite(mean) and mean > 0):
        return (f"The fitted law gives no positive teacher size for a {format_size(s)} student, so it cannot answer "
                f"there.")
    if not (np.isfinite(lower) and lower > 0):
        return (f"The law's interval for a {format_size(s)} student reaches zero or negative teacher sizes (or cannot "
                f"be computed): the data cannot say which teacher is best there. Add students near this size, or "
                f"tick 'extrapolate' (--extrapolate) to see the law's guess anyway.")
    return ""


def whatif(student_params, *, law, alpha: float = 0.05, catalog: pd.DataFrame | None = None,
           results: pd.DataFrame | None = None, metric: str | None = None, top: int | None = 10,
           extrapolate: bool = False) -> WhatIf:
    """S -> the optimal teacher T* with its intervals, the closest real teachers, and the caveats.

    law: a fitted law (`analysis.law.fit_laws`' fit: CollapseFit or LawFit) or a ReportedLaw
    (`analysis.reported_law.load_reported_law()`).
    results / metric: distillation results for the expected penalty of each candidate (per-student curves).
    A fitted law declines (declined=True, no sizes, no candidates, `reason`) when its interval at S reaches zero or
    negative sizes or S lies more than 10x outside the fitted students, unless `extrapolate`; then the answer is
    given and labelled as an extrapolation. Statistical caveats raised while predicting are re-emitted as
    warnings and also listed in `caveats`.
    """
    s = _student_size(student_params)
    reported = isinstance(law, ReportedLaw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prediction = law.predict([s], alpha=alpha)
    for w in caught:  # let the caller's own warning handling see them too
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    row = {c: float(prediction[c].iloc[0]) for c in PREDICTION_COLUMNS}
    label = law.label if reported else f"fit ({getattr(law, 'form', 'law')})"
    reason = _decline_reason(s, row, law, reported)
    # a non-positive size from the reported law has no number and no checkpoints, even when extrapolating
    if reason and (reported or not extrapolate):
        return declined(s, reason, alpha=None if reported else alpha, source="reported" if reported else "fit",
                        law_label=label)
    if reason:
        reason = "Extrapolation (asked for): " + reason.split(":")[0].rstrip(".") + "; every number below is a guess."

    caveats = list(law.caveats) if reported else [str(c) for c in getattr(law, "caveats", [])]
    caveats += [str(w.message) for w in caught if _is_caveat(w.category)]
    caveats += _size_caveats(s, row["mean"], law, reported)
    if reason:
        caveats.insert(0, reason)
    if results is not None and metric is not None:
        results = results[results["metric"] == metric]
    candidates = rank_teachers(s, row, catalog, curves=results, top=top, metric=metric)
    return WhatIf(
        student_params=s,
        source="reported" if reported else "fit",
        law_label=label,
        alpha=None if reported else alpha,
        teacher_params=row,
        candidates=candidates,
        caveats=tuple(dict.fromkeys(caveats)),  # drop repeats, keep order
        metric=metric,
        reason=reason,
        extrapolated=bool(reason),
    )


def best_served_student(teacher_params, law, alpha: float = 0.05) -> pd.Series:
    """T -> the student size this teacher serves best, from law.invert: a Series with PREDICTION_COLUMNS
    (raw params; NaN intervals for the reported law), named by the teacher size."""
    t = _student_size(teacher_params, name="teacher_params")
    out = law.invert([t], alpha=alpha).iloc[0][list(PREDICTION_COLUMNS)].astype(float)
    out.name = t
    return out


# ---------------------------------------------------------------------------------------------- helpers
def _student_size(value, name: str = "student_params") -> int:
    """A model's size: a number of params, or text such as "1.3B" (analysis.sizes.parse_model_size: a bare 1.3 is
    a size missing its unit, refused with a hint, never a one-parameter model)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        if not math.isfinite(float(value)):
            raise ValueError(f"{name}: expected a positive size such as 1.3B or 1300000000, found {value!r}")
        value = float(value) if float(value) != int(value) else int(value)
    try:
        return parse_model_size(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc


def _size_caveats(student: int, t_star: float, law, reported: bool) -> list[str]:
    """Caveats about where the student lies relative to the data behind the law, each also emitted as an
    ExtrapolationWarning. A LawFit judges its own extrapolation (it warns in predict; those are caught above);
    the reported law's range (models below 3B) is checked here."""
    out = []
    if not np.isfinite(t_star) or t_star <= 0:
        out.append(f"The law predicts no positive teacher size for a {format_size(student)} student "
                   f"(T* = {format_size(t_star)} params): the student is below the range the line describes.")
    elif t_star <= student:
        out.append(f"The predicted optimal teacher ({format_size(t_star)}) is not larger than the "
                   f"{format_size(student)} student: the law does not describe this range.")
    elif reported and max(t_star, student) > law.fit_max_params:
        out.append(f"The reported law was fitted on models below {format_size(law.fit_max_params)} parameters; "
                   f"a {format_size(student)} student with a {format_size(t_star)} teacher is an extrapolation "
                   f"(the paper checked one such case: for a 3B student, a 7B teacher did best among 7B, 13B "
                   f"and 70B).")
    for message in out:
        warnings.warn(ExtrapolationWarning(message), stacklevel=3)  # point at whatif()'s caller
    return out


def _is_caveat(category) -> bool:
    return issubclass(category, CapacityGapWarning)



