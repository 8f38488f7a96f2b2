"""Both laws on the same runs: the law of capacity gap (T* linear in S, analysis.law) and Busbridge et al.'s
distillation scaling law (analysis.distill_law), side by side per student.

Per (family, tokens, student): the linear law's optimal teacher size with its interval; the scaling law's optimal
teacher *loss* with its bootstrap interval, mapped to a size through the teachers' own size -> loss curve
(analysis.teacher_quality; that mapping ignores the curve's own uncertainty, and is empty where no teacher size of
the family reaches the loss); whether the two sizes' intervals overlap. Held-out students: each law refitted
without one student size and asked to pick that student's teacher among the ones it was tested with; the regret is
the observed loss of the pick minus that of the best tested teacher (nats/token, 0 = the best), the same yardstick
for both laws. The scaling law also predicts the held-out runs' loss (RMSE), which the linear law does not.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.caveats import CapacityGapWarning
from analysis.distill_law import SCHEMA_VERSION, DistillLawFit, DistillLawRefused, fit_distill_law
from analysis.json_safe import json_safe
from analysis.teacher_quality import (TeacherCurve, diagnose_teachers, fit_teacher_curve, missing_teacher_values,
                                      teacher_table)


@dataclass
class FamilyComparison:
    """One family: the scaling-law fit (or its refusal), the teachers' curve, the side-by-side table, held-out
    regrets of both laws and the teacher diagnosis."""

    family: str
    fit: DistillLawFit | None
    refused: str
    curve: TeacherCurve
    side_by_side: pd.DataFrame
    held_out: pd.DataFrame
    diagnosis: pd.DataFrame
    caveats: list = field(default_factory=list)

    def to_dict(self) -> dict:
        ho = self.held_out
        return {
            "family": self.family, "declined": self.fit is None, "reason": self.refused or None,
            "scaling_law": None if self.fit is None else self.fit.to_dict(),
            "teacher_curve": {"floor": self.curve.floor, "scale": self.curve.scale, "exponent": self.curve.exponent,
                              "n_teachers": self.curve.n_teachers, "refused": self.curve.refused or None},
            "side_by_side": self.side_by_side.to_dict("records"),
            "held_out": {"students": ho.to_dict("records"),
                         "linear_law_mean_regret": _mean(ho, "linear_regret"),
                         "scaling_law_mean_regret": _mean(ho, "scaling_regret"),
                         "better": better_law(ho)},
            "diagnosis": self.diagnosis.drop(columns=["sentence"]).to_dict("records"),
            "diagnosis_sentences": self.diagnosis["sentence"].tolist(),
            "caveats": [str(c) for c in self.caveats],
        }


def _mean(frame: pd.DataFrame, col: str):
    vals = frame[col].dropna() if col in frame else pd.Series(dtype=float)
    return None if vals.empty else float(vals.mean())


def better_law(held_out: pd.DataFrame) -> str:
    """Which law picked better teachers for held-out students, on the students both laws could answer:
    "linear", "scaling", "tie", or "undecided" (no student both answer)."""
    both = held_out.dropna(subset=["linear_regret", "scaling_regret"]) if not held_out.empty else held_out
    if both.empty:
        return "undecided"
    lin, sca = both["linear_regret"].mean(), both["scaling_regret"].mean()
    return "tie" if np.isclose(lin, sca, atol=1e-9) else ("linear" if lin < sca else "scaling")


def compare_laws(results: pd.DataFrame, metric: str, *, form: str = "linear", alpha: float = 0.05,
                 n_boot: int = 1000, seed: int = 0) -> list[FamilyComparison]:
    """Both laws per family of `results` (one metric); never raises for a family the data cannot support."""
    from analysis.law import fit_laws

    rows = results[results["metric"] == metric]
    if rows.empty:
        raise ValueError(f"results: no rows with metric {metric!r}")
    out = []
    fams = rows["family"].astype(str) if "family" in rows else pd.Series("default", index=rows.index)
    for family in sorted(set(fams)):
        fam_rows = rows[fams == family]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CapacityGapWarning)
            fit, refused = None, ""
            try:
                fit = fit_distill_law(fam_rows, metric, alpha=alpha, n_boot=n_boot, seed=seed)
            except DistillLawRefused as why:
                refused = str(why)
            teachers = teacher_table(fam_rows, metric)
            curve = fit_teacher_curve(teachers) if not teachers.empty else TeacherCurve(
                refused="no teacher has a score (teacher_value).")
            laws = fit_laws(fam_rows, metric, form=form, alpha=alpha)
            table = _side_by_side(laws, fit, curve, alpha)
            held = _held_out(fam_rows, metric, form, alpha, fit)
            diagnosis = diagnose_teachers(fam_rows, metric)
        caveats = list(dict.fromkeys(w.message for w in caught if isinstance(w.message, CapacityGapWarning)))
        out.append(FamilyComparison(family, fit, refused, curve, table, held, diagnosis, caveats))
    return out


def _side_by_side(laws, fit: DistillLawFit | None, curve: TeacherCurve, alpha: float) -> pd.DataFrame:
    cols = ["data_tokens", "student_params", "linear_teacher_params", "linear_ci_lower", "linear_ci_upper",
            "linear_refused", "scaling_teacher_loss", "scaling_ci_lower", "scaling_ci_upper",
            "scaling_teacher_params", "scaling_params_ci_lower", "scaling_params_ci_upper", "scaling_within_tested",
            "distillation_beats_supervised", "intervals_overlap"]
    opt = fit.optimal_teachers(alpha) if fit is not None else None
    records = []
    for law in laws:
        students = (law.optima["student_params"].to_numpy(dtype=float) if law.optima is not None
                    and not law.optima.empty else np.array([]))
        pred = None
        if law.fit is not None and students.size:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CapacityGapWarning)
                pred = law.fit.predict(students, alpha)
        for i, s in enumerate(students):
            rec = dict.fromkeys(cols, np.nan)
            rec.update(data_tokens=law.data_tokens, student_params=int(s), linear_refused=law.refused or "")
            if pred is not None:
                rec.update(linear_teacher_params=float(pred["mean"].iloc[i]),
                           linear_ci_lower=float(pred["mean_ci_lower"].iloc[i]),
                           linear_ci_upper=float(pred["mean_ci_upper"].iloc[i]))
            if opt is not None:
                m = opt[(opt["student_params"] == int(s)) & np.isclose(opt["data_tokens"], law.data_tokens)]
                if not m.empty:
                    o = m.iloc[0]
                    size = curve.size_for_loss([o["teacher_loss_opt"], o["ci_upper"], o["ci_lower"]])
                    rec.update(scaling_teacher_loss=o["teacher_loss_opt"], scaling_ci_lower=o["ci_lower"],
                               scaling_ci_upper=o["ci_upper"], scaling_teacher_params=size[0],
                               scaling_params_ci_lower=size[1], scaling_params_ci_upper=size[2],
                               scaling_within_tested=bool(o["within_tested"]),
                               distillation_beats_supervised=bool(o["distillation_beats_supervised"]))
            lo = np.nanmax([rec["linear_ci_lower"], rec["scaling_params_ci_lower"]])
            hi = np.nanmin([rec["linear_ci_upper"], rec["scaling_params_ci_upper"]])
            if np.isfinite(rec["linear_ci_lower"]) and np.isfinite(rec["scaling_params_ci_lower"]):
                rec["intervals_overlap"] = bool(lo <= hi)
            records.append(rec)
    return pd.DataFrame(records, columns=cols)


def _held_out(rows: pd.DataFrame, metric: str, form: str, alpha: float, fit: DistillLawFit | None) -> pd.DataFrame:
    """Per student size: the linear law's held-out regret (mean over its token budgets) beside the scaling law's
    (from its leave-one-student-out refits) and the scaling law's held-out RMSE."""
    from analysis.law import fit_laws
    from analysis.optimum import teacher_cells

    cells = teacher_cells(rows, metric)
    out = []
    for s in sorted(set(cells["student_params"].astype(np.int64))):
        regrets, refusals = [], []
        rest = rows[rows["student_params"].astype(np.int64) != s]
        for (tokens, g) in cells[cells["student_params"] == s].groupby("data_tokens", dropna=False):
            rest_g = rest if pd.isna(tokens) else rest[np.isclose(pd.to_numeric(rest["data_tokens"],
                                                                                 errors="coerce"), tokens)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CapacityGapWarning)
                law = fit_laws(rest_g, metric, form=form, alpha=alpha)[0] if not rest_g.empty else None
                if law is None or law.fit is None:
                    refusals.append(law.refused if law is not None else "no other student")
                    continue
                tstar = float(law.fit.predict([float(s)], alpha)["mean"].iloc[0])
            means = g.groupby("teacher_params")["mean"].mean()
            if not np.isfinite(tstar) or tstar <= 0:
                refusals.append("the law predicts no positive teacher size")
                continue
            pick = means.index[int(np.argmin(np.abs(np.log(means.index.to_numpy(dtype=float)) - np.log(tstar))))]
            regrets.append(float(means[pick] - means.min()))
        rec = {"student_params": int(s), "linear_regret": float(np.mean(regrets)) if regrets else np.nan,
               "linear_refused": "; ".join(dict.fromkeys(refusals)) if not regrets else "",
               "scaling_regret": np.nan, "scaling_rmse": np.nan, "scaling_refused": ""}
        if fit is None or fit.loso is None:
            rec["scaling_refused"] = "no scaling-law fit"
        else:
            m = fit.loso[fit.loso["student_params"] == s]
            if m.empty:
                rec["scaling_refused"] = "not in the scaling-law fit (no teacher loss or no baseline)"
            else:
                rec.update(scaling_regret=float(m["regret"].iloc[0]), scaling_rmse=float(m["rmse"].iloc[0]),
                           scaling_refused=str(m["refused"].iloc[0]))
        out.append(rec)
    return pd.DataFrame(out, columns=["student_params", "linear_regret", "linear_refused", "scaling_regret",
                                      "scaling_rmse", "scaling_refused"])


def comparison_to_dict(comparisons: list[FamilyComparison], metric: str, results: pd.DataFrame) -> dict:
    """The CLI's JSON: schema_version, metric, families [...], missing_teacher_values (rows), how_to_add."""
    from analysis.teacher_quality import HOW_TO_ADD

    missing = missing_teacher_values(results, metric)
    return json_safe({"schema_version": SCHEMA_VERSION, "metric": metric,
                      "families": [c.to_dict() for c in comparisons],
                      "n_rows_missing_teacher_value": len(missing),
                      "missing_teacher_values": missing.head(200).to_dict("records"),
                      "how_to_add_teacher_values": HOW_TO_ADD})


def supervised_loss_at(fit: DistillLawFit, student_params: float, data_tokens: float) -> tuple[float, bool]:
    """The student's supervised loss Ls~ at an untested (N_S, D_S): a plane ln Ls~ = c + p ln N + q ln D through the
    fit's measured baselines (an interpolation, not Busbridge et al.'s supervised law), and whether (N_S, D_S) lies
    outside the measured students and budgets (an extrapolation)."""
    cells = fit.runs.cells
    x = np.column_stack([np.ones(len(cells)), np.log(cells["student_params"].to_numpy(dtype=float)),
                         np.log(cells["data_tokens"].to_numpy(dtype=float))])
    coef = np.linalg.lstsq(x, np.log(cells["supervised_loss"].to_numpy(dtype=float)), rcond=None)[0]
    outside = not (cells["student_params"].min() <= student_params <= cells["student_params"].max()
                   and cells["data_tokens"].min() <= data_tokens <= cells["data_tokens"].max())
    return float(np.exp(coef @ [1.0, np.log(student_params), np.log(data_tokens)])), outside


def whatif_teacher(comparison: FamilyComparison, student_params: float, data_tokens: float, *,
                   alpha: float = 0.05, laws=None) -> dict:
    """For a student of `student_params` distilled on `data_tokens`: the best teacher loss and size by the scaling
    law (with bootstrap intervals; size through the teachers' curve) and the best teacher size by the linear law
    fitted at that token budget (`laws`: fit_laws' groups of the family; None or no group at that budget: no
    answer from it). Every missing answer carries its reason."""
    from analysis.distill_law import PARAM_NAMES, _paper_params, optimal_teacher_loss

    out = {"student_params": float(student_params), "data_tokens": float(data_tokens), "alpha": alpha,
           "scaling_law": None, "scaling_reason": comparison.refused or None, "linear_law": None,
           "linear_reason": "no law of capacity gap was fitted at this token budget"}
    fit = comparison.fit
    if fit is not None:
        ls, outside = supervised_loss_at(fit, student_params, data_tokens)
        lo, hi = fit.teacher_loss_range
        opt, edge = optimal_teacher_loss(student_params, data_tokens, ls, fit.params, lo=lo, hi=hi)
        boots = [optimal_teacher_loss(student_params, data_tokens, ls,
                                      dict(zip(PARAM_NAMES, _paper_params(t, fit.runs.n0, fit.runs.d0))),
                                      lo=lo, hi=hi)[0][0] for t in fit.theta_boot if np.isfinite(t[0])]
        ci = (np.quantile(boots, [alpha / 2, 1 - alpha / 2]) if boots else np.array([np.nan, np.nan]))
        size = comparison.curve.size_for_loss([opt[0], ci[1], ci[0]])
        at_opt = float(fit.predict(opt[0], student_params, data_tokens, ls))
        out["scaling_law"] = {"teacher_loss": float(opt[0]), "ci_lower": float(ci[0]), "ci_upper": float(ci[1]),
                              "teacher_params": size[0], "params_ci_lower": size[1], "params_ci_upper": size[2],
                              "supervised_loss": ls, "student_loss_at_best": at_opt,
                              "distillation_beats_supervised": at_opt < ls, "extrapolated": bool(outside),
                              "at_search_edge": bool(edge[0]),
                              "size_reason": comparison.curve.refused or (
                                  None if np.isfinite(size[0]) else "no teacher size of this family reaches "
                                  "that loss on the teachers' curve")}
    for law in laws or []:
        if law.fit is not None and not pd.isna(law.data_tokens) and np.isclose(law.data_tokens, data_tokens,
                                                                                 rtol=5e-3):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CapacityGapWarning)
                pred = law.fit.predict([float(student_params)], alpha).iloc[0]
            out["linear_law"] = {"teacher_params": float(pred["mean"]), "ci_lower": float(pred["mean_ci_lower"]),
                                 "ci_upper": float(pred["mean_ci_upper"])}
            out["linear_reason"] = None
    return json_safe(out)
