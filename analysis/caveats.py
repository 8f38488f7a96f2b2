"""Statistical caveats: Warning subclasses whose str() is a sentence a user understands.

The analysis emits them with `warnings.warn` and also records them on its results (`LawFit.caveats`, the optima's
`note` column), so the CLI prints them and the app shows them beside the numbers they qualify.

    CapacityGapWarning        base class (a UserWarning)
    FewPointsWarning          a law fitted to fewer than 3 optimal teachers
    EdgeOptimumWarning        the best teacher is the smallest or largest one tested
    NonConvexWarning          a student's curve does not open toward a best teacher (smooth estimate refused)
    ExtrapolationWarning      a prediction far outside the fitted students
    DataWarning               anything else about the data that qualifies a result

Build them with the `for_*` class methods so the wording stays the same everywhere; each instance also keeps the
numbers it talks about in `.context` (a dict) for the UI.
"""
from __future__ import annotations

import math

from analysis.sizes import format_size


def _size(n_params: float) -> str:
    """'1.3B' for a finite size, '?' otherwise (a caveat must never fail to format)."""
    try:
        return format_size(n_params) if n_params is not None and math.isfinite(float(n_params)) else "?"
    except (TypeError, ValueError):
        return "?"


def _who(student_params: float, family: str | None = None, data_tokens: float | None = None,
         student_name: str = "") -> str:
    """'the 125M student' / 'the 125M student (family gpt2, 2.0B tokens)' / 'the 3B student Qwen2.5-3B'."""
    extra = []
    if family not in (None, "", "default"):
        extra.append(f"family {family}")
    if data_tokens is not None and not (isinstance(data_tokens, float) and math.isnan(data_tokens)):
        extra.append(f"{_size(data_tokens)} tokens")
    name = f" {student_name}" if student_name else ""
    return f"the {_size(student_params)} student{name}" + (f" ({', '.join(extra)})" if extra else "")


def _list_sizes(sizes, limit: int = 6) -> str:
    shown = [_size(s) for s in list(sizes)[:limit]]
    more = len(list(sizes)) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


class CapacityGapWarning(UserWarning):
    """A statistical caveat. `str(w)` is the full sentence; `w.context` holds the numbers it refers to."""

    def __init__(self, message: str, **context):
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message

    def __eq__(self, other) -> bool:  # two caveats saying the same thing are the same caveat (de-duplication)
        return type(self) is type(other) and self.message == other.message

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.message))


class FewPointsWarning(CapacityGapWarning):
    """The law is fitted to too few optimal teachers for its intervals to mean much."""

    @classmethod
    def for_law(cls, n_points: int, form: str, intervals_defined: bool) -> "FewPointsWarning":
        tail = ("its intervals are very wide and rest on few degrees of freedom" if intervals_defined
                else "its intervals cannot be computed (shown as missing)")
        return cls(f"The {form} law is fitted to only {n_points} optimal teacher{'s' if n_points != 1 else ''}; "
                   f"with fewer than 3 points {tail}: add students to the sweep.",
                   n_points=n_points, form=form)


class EdgeOptimumWarning(CapacityGapWarning):
    """The best observed teacher is the smallest or the largest one tested: the true optimum may lie outside."""

    @classmethod
    def for_student(cls, student_params: float, teacher_params: float, edge: str, *, family: str | None = None,
                    data_tokens: float | None = None, n_teachers: int = 2,
                    student_name: str = "") -> "EdgeOptimumWarning":
        who = _who(student_params, family, data_tokens, student_name)
        if n_teachers < 2:
            msg = (f"Only one teacher ({_size(teacher_params)}) was tested for {who}; it cannot tell where the best "
                   f"teacher lies: test smaller and larger teachers.")
        else:
            larger = edge == "largest"
            msg = (f"The best teacher for {who} is the {edge} one tested "
                   f"({_size(teacher_params)}); the true optimum may be {'larger' if larger else 'smaller'}: "
                   f"test {'bigger' if larger else 'smaller'} teachers.")
        return cls(msg, student_params=student_params, teacher_params=teacher_params, edge=edge, family=family,
                   data_tokens=data_tokens)

    @classmethod
    def for_law(cls, edge_students, n_points: int) -> "EdgeOptimumWarning":
        k = len(edge_students)
        edge_students = sorted(set(edge_students))
        return cls(f"{k} of the {n_points} optimal teachers in this law (student{'s' if k != 1 else ''} "
                   f"{_list_sizes(edge_students)}) {'are' if k != 1 else 'is'} at the edge of the tested teachers; "
                   f"the true optimum there may lie outside the grid, so the law may be biased: extend those grids.",
                   edge_students=edge_students, n_points=n_points)


class NonConvexWarning(CapacityGapWarning):
    """A student's metric-vs-log-teacher curve does not open toward an optimum."""

    @classmethod
    def for_student(cls, student_params: float, teacher_params: float, metric: str, *, higher_is_better: bool,
                    family: str | None = None, data_tokens: float | None = None,
                    student_name: str = "") -> "NonConvexWarning":
        shape = "downward (toward a maximum)" if higher_is_better else "upward (toward a minimum)"
        return cls(f"The {metric} curve of {_who(student_params, family, data_tokens, student_name)} does not open "
                   f"{shape} in log teacher size, so it has no smooth best teacher; the best observed teacher "
                   f"({_size(teacher_params)}) is used instead. Check the runs or add seeds.",
                   student_params=student_params, teacher_params=teacher_params, metric=metric, family=family,
                   data_tokens=data_tokens)


class ExtrapolationWarning(CapacityGapWarning):
    """A prediction is asked far outside the students the law was fitted on."""

    @classmethod
    def for_students(cls, asked, fitted_min: float, fitted_max: float, factor: float) -> "ExtrapolationWarning":
        asked = sorted(asked)
        return cls(f"The prediction for student{'s' if len(asked) != 1 else ''} {_list_sizes(asked)} extrapolates "
                   f"beyond the fitted students ({_size(fitted_min)} to {_size(fitted_max)}, more than {factor:g}x "
                   f"outside); treat it as a guess, not a measurement.",
                   asked=asked, fitted_min=fitted_min, fitted_max=fitted_max, factor=factor)


class DataWarning(CapacityGapWarning):
    """Anything else about the data that qualifies a result (pooled families, missing intervals, ...)."""
