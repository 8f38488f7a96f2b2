"""What-if: S -> T* with intervals and real teachers (from a fit or the reported law), T -> S, the JSON."""
import dataclasses
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.caveats import ExtrapolationWarning
from analysis.reported_law import PREDICTION_COLUMNS, load_reported_law
from analysis.whatif import WhatIf, best_served_student, whatif


class FakeLawFit:
    """A toy stand-in with LawFit's interface: T* = 2.5 S, CI ±10 %, PI ±30 %, fitted on 100M-1B students."""

    form = "linear"

    def __init__(self, slope=2.5, intercept=0.0, warn=None):
        self.slope, self.intercept, self.warn = slope, intercept, warn
        self.optima = pd.DataFrame({"student_params": [100e6, 300e6, 1e9]})
        self.caveats = []

    def _frame(self, mean, index, name):
        return pd.DataFrame({"mean": mean, "mean_ci_lower": 0.9 * mean, "mean_ci_upper": 1.1 * mean,
                             "obs_ci_lower": 0.7 * mean, "obs_ci_upper": 1.3 * mean},
                            index=pd.Index(index, name=name))

    def predict(self, student_params, alpha=None):
        if self.warn is not None:
            warnings.warn(self.warn, stacklevel=2)
        s = np.asarray(student_params, dtype=float)
        return self._frame(self.slope * s + self.intercept, s, "student_params")

    def invert(self, teacher_params, alpha=None):
        t = np.asarray(teacher_params, dtype=float)
        return self._frame((t - self.intercept) / self.slope, t, "teacher_params")


@pytest.fixture(scope="module")
def reported():
    return load_reported_law()


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_the_whatif_json_from_the_reported_law_has_exactly_the_documented_shape(reported):
    out = quiet(whatif, 3_000_000_000, law=reported).to_dict()
    assert set(out) == {"schema_version", "student_params", "source", "teacher_params", "candidates", "declined",
                        "reason", "extrapolated"}
    assert out["schema_version"] == 2 and out["source"] == "reported" and out["declined"] is False
    assert out["student_params"] == 3_000_000_000 and isinstance(out["student_params"], int)
    assert set(out["teacher_params"]) == set(PREDICTION_COLUMNS)
    assert out["teacher_params"]["mean"] == pytest.approx(7_482_502_000, rel=1e-12)
    assert all(out["teacher_params"][k] is None for k in PREDICTION_COLUMNS[1:])
    first = out["candidates"][0]
    assert {"model", "family", "params", "log10_distance", "within_ci", "within_pi", "expected_penalty",
            "penalty_note"} <= set(first)
    assert isinstance(first["params"], int) and first["within_ci"] is None and first["expected_penalty"] is None
    json.dumps(out, allow_nan=False)  # numbers as numbers, None for NaN: strict JSON


def test_the_closest_real_teacher_for_a_3B_student_is_about_7_5B(reported):
    answer = quiet(whatif, 3e9, law=reported)
    assert 6.5e9 <= answer.candidates["params"].iloc[0] <= 8.5e9
    assert (answer.candidates["params"] > 3e9).all()


def test_a_fitted_law_gives_ordered_intervals_and_interval_flags():
    answer = whatif(400e6, law=FakeLawFit())
    t = answer.to_dict()["teacher_params"]
    assert answer.source == "fit" and answer.law_label == "fit (linear)" and answer.alpha == 0.05
    assert t["obs_ci_lower"] <= t["mean_ci_lower"] <= t["mean"] <= t["mean_ci_upper"] <= t["obs_ci_upper"]
    assert t["mean"] == pytest.approx(1e9)
    ranked = answer.candidates.set_index("model")
    assert bool(ranked.loc["EleutherAI/pythia-1b", "within_ci"])  # 1.01B in [0.9B, 1.1B]
    assert not ranked.loc["meta-llama/Llama-3.2-1B", "within_ci"]  # 1.23B: outside the CI ...
    assert ranked.loc["meta-llama/Llama-3.2-1B", "within_pi"]  # ... inside the PI [0.7B, 1.3B]
    cand = answer.to_dict()["candidates"]
    assert all(isinstance(c["within_ci"], bool) for c in cand)


def test_the_reported_law_carries_its_caveats(reported):
    answer = quiet(whatif, 300e6, law=reported)
    assert answer.law_label == "as reported" and answer.alpha is None
    assert set(reported.caveats) <= set(answer.caveats)


def test_beyond_the_3B_pilot_the_reported_law_warns_of_extrapolation(reported):
    with pytest.warns(ExtrapolationWarning, match="below 3B"):
        answer = whatif(3e9, law=reported)
    assert any("extrapolation" in c for c in answer.caveats)


def test_inside_the_pilot_range_the_reported_law_does_not_warn(reported):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        whatif(300e6, law=reported)  # T* = 738M, inside the pilot's range


@pytest.fixture(scope="module")
def simulated():
    """A real LawFit on simulated results (the planted law is the reported one) and the results."""
    from analysis.law import fit_law
    from analysis.optimum import find_optima
    from analysis.simulate import simulate_distillation

    results = simulate_distillation(n_seeds=2, seed=0)
    optima = quiet(find_optima, results, "val_loss", n_boot=50)
    return quiet(fit_law, optima), results


def test_a_real_fit_answers_with_intervals_and_penalties(simulated):
    fit, results = simulated
    answer = whatif(400e6, law=fit, results=results, metric="val_loss")
    pred = fit.predict([400e6])
    for col in PREDICTION_COLUMNS:
        assert answer.teacher_params[col] == pytest.approx(pred[col].iloc[0], rel=1e-12)
    assert answer.candidates["expected_penalty"].notna().any()
    assert answer.candidates["penalty_note"].str.contains("410M student").any()  # the nearest observed student


def test_far_outside_the_fitted_students_the_fits_own_caveat_is_reported_once(simulated):
    fit, _ = simulated
    with pytest.warns(ExtrapolationWarning) as record:
        answer = whatif(20e9, law=fit)
    assert len(record) == 1 and "extrapolates" in str(record[0].message)
    assert sum("extrapolates" in c for c in answer.caveats) == 1


def test_a_caveat_raised_by_the_law_is_kept_once_and_reemitted():
    caveat = ExtrapolationWarning("The prediction for student 5B extrapolates beyond the fitted students.")
    with pytest.warns(ExtrapolationWarning) as record:
        answer = whatif(5e9, law=FakeLawFit(warn=caveat))
    assert [str(w.message) for w in record] == [str(caveat)]  # the law's own, not a second one of ours
    assert answer.caveats == (str(caveat),)


def test_a_teacher_no_larger_than_the_student_is_called_out():
    answer = quiet(whatif, 400e6, law=FakeLawFit(slope=0.5))
    assert any("not larger than" in c for c in answer.caveats)


def test_a_law_with_no_positive_teacher_says_so(reported):
    answer = quiet(whatif, 1_000_000, law=reported)  # 2.498 * 1M - 11.498M < 0
    assert any("no positive teacher size" in c for c in answer.caveats)
    assert answer.candidates["log10_distance"].isna().all()


def test_sizes_as_text_are_parsed():
    assert whatif("400M", law=FakeLawFit()).student_params == 400_000_000


@pytest.mark.parametrize("bad", [0, -1e9, float("nan"), None, "1.3X"])
def test_a_student_that_is_not_a_positive_size_is_rejected(bad):
    with pytest.raises(ValueError, match="student_params"):
        whatif(bad, law=FakeLawFit())


def test_with_results_each_candidate_gets_a_penalty_from_the_students_curve():
    rows = []
    for t in (600e6, 800e6, 1e9, 1.5e9, 2.5e9):  # a 400M student, planted best teacher 1B
        rows.append(dict(student_params=400_000_000, teacher_params=int(t), metric="val_loss",
                         value=3 + 0.2 * (np.log10(t) - 9) ** 2, higher_is_better=False, family="default"))
    results = pd.DataFrame(rows)
    answer = whatif(400e6, law=FakeLawFit(), results=results, metric="val_loss")
    ranked = answer.candidates.set_index("model")
    assert ranked.loc["EleutherAI/pythia-1b", "expected_penalty"] == pytest.approx(
        0.2 * np.log10(1_011_781_632 / 1e9) ** 2, rel=1e-6)
    assert answer.metric == "val_loss"


def test_best_served_student_inverts_the_reported_law(reported):
    out = best_served_student(7_482_502_000, reported)
    assert out["mean"] == pytest.approx(3e9, rel=1e-12) and out.name == 7_482_502_000
    assert np.isnan(out["mean_ci_lower"])


def test_best_served_student_from_a_fit_has_an_interval():
    out = best_served_student("1B", FakeLawFit())
    assert out["mean"] == pytest.approx(400e6)
    assert out["mean_ci_lower"] < out["mean"] < out["mean_ci_upper"]


def test_whatif_is_a_frozen_result():
    answer = whatif(400e6, law=FakeLawFit())
    assert isinstance(answer, WhatIf)
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer.source = "reported"  # type: ignore[misc]


# ------------------------------------------------------------------------------------- declining
def _planted_fit():
    from analysis.collapse import fit_collapse
    from analysis.simulate import simulate_distillation

    return quiet(fit_collapse, simulate_distillation(n_seeds=3, seed=1), "val_loss")


def test_whatif_declines_far_outside_the_fitted_students_unless_asked_to_extrapolate():
    fit = _planted_fit()  # students 70M to 2.8B
    answer = quiet(whatif, "100B", law=fit)
    assert answer.declined and "more than 10x outside" in answer.reason
    out = answer.to_dict()
    assert out["declined"] is True and out["candidates"] == []
    assert all(out["teacher_params"][k] is None for k in PREDICTION_COLUMNS)
    guess = quiet(whatif, "100B", law=fit, extrapolate=True)
    assert not guess.declined and guess.extrapolated and guess.teacher_params["mean"] > 100e9
    assert guess.caveats[0].startswith("Extrapolation (asked for)") and len(guess.candidates)


def test_whatif_declines_when_the_interval_reaches_non_positive_sizes():
    from analysis.law import fit_law

    s = np.array([1e8, 2e8, 4e8, 8e8])
    optima = pd.DataFrame({"student_params": s, "teacher_params": [4e8, 1.5e8, 9e8, 2e8], "at_grid_edge": False})
    fit = quiet(fit_law, optima)  # a noisy, flat law: its band at 1.3B reaches below zero
    assert fit.predict([1.3e9])["mean_ci_lower"].iloc[0] <= 0
    answer = quiet(whatif, "1.3B", law=fit)
    assert answer.declined and "zero or negative" in answer.reason and answer.candidates.empty


def test_a_planted_fit_answers_inside_its_range_with_checkpoints():
    answer = quiet(whatif, "1.3B", law=_planted_fit())
    assert not answer.declined and not answer.extrapolated
    assert 0 < answer.teacher_params["mean_ci_lower"] < answer.teacher_params["mean"]
    assert answer.teacher_params["mean"] == pytest.approx(2.498 * 1.3e9 - 11.498e6, rel=0.2)
