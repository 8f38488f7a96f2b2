"""Busbridge et al.'s distillation scaling law: Eq. 8 itself, the fit on planted truths, its refusals, the
teachers' own quality and the diagnosis of teachers past a student's best one, both laws side by side."""
import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad

from analysis import distill_law as dl
from analysis.distill_law import (DistillLawRefused, fit_distill_law, is_cross_entropy, optimal_teacher_loss,
                                  predict_student_loss)
from analysis.simulate import DISTILL_LAW, simulate_distill_scaling, simulate_distillation, supervised_loss
from analysis.teacher_quality import (TeacherCurve, diagnose_teachers, fit_teacher_curve, missing_teacher_values,
                                      teacher_table)

SMALL = dict(student_params=(7e7, 2e8, 6e8, 2e9), data_tokens=(2e9, 2e10), n_seeds=1, n_supervised=2)


def test_eq8_is_the_broken_power_law_written_out_by_hand():
    p = dict(c0=2.0, c1=3.0, f1=0.5, d1=1.2, A=400.0, alpha=0.3, B=900.0, beta=0.25, gamma=0.6)
    lt, n, d, ls = 2.4, 3e8, 5e9, 2.7
    student = (p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]) ** p["gamma"]
    expected = lt + lt ** -p["c0"] * (1 + (lt / (ls * p["d1"])) ** (1 / p["f1"])) ** (-p["c1"] * p["f1"]) * student
    assert predict_student_loss(lt, n, d, ls, p) == pytest.approx(expected, rel=1e-12)


def test_a_teacher_far_weaker_than_the_student_alone_is_matched_and_a_far_stronger_one_is_not():
    p = dict(DISTILL_LAW)
    weak = predict_student_loss(6.0, 1e9, 2e10, 2.4, p)
    strong = predict_student_loss(1.2, 1e9, 2e10, 2.4, p)
    assert weak == pytest.approx(6.0, abs=1e-3) and strong > 1.5  # the capacity gap: a far better teacher hurts


def test_the_gradient_of_the_robust_objective_matches_finite_differences():
    runs, _ = dl.prepare_runs(simulate_distill_scaling(**SMALL, seed=2), "val_loss")
    ls = runs.cells["supervised_loss"].to_numpy()
    args = dl._args(runs, np.ones(runs.loss.size), ls)
    theta = np.log([3.0, 5.0, 0.5, 1.1, 1.0, 0.3, 1.0, 0.3, 0.7])
    err = check_grad(lambda t: dl._loss_and_grad(t, *args)[0], lambda t: dl._loss_and_grad(t, *args)[1], theta)
    assert err < 1e-6


def test_the_optimal_teacher_loss_is_the_minimum_of_eq8():
    p = dict(DISTILL_LAW)
    ls = float(supervised_loss(1e9, 2e10))
    opt, edge = optimal_teacher_loss(1e9, 2e10, ls, p, lo=1.0, hi=5.0)
    grid = np.linspace(1.0, 5.0, 20001)
    assert opt[0] == pytest.approx(grid[np.argmin(predict_student_loss(grid, 1e9, 2e10, ls, p))], abs=2e-3)
    assert not edge[0]


@pytest.mark.parametrize("metric,ok", [("val_loss", True), ("loss", True), ("eval_loss", True), ("nll", True),
                                       ("bits_per_byte", False), ("ppl", False), ("acc", False),
                                       ("val_bpb", False), ("acc_norm", False)])
def test_only_cross_entropies_in_nats_count(metric, ok):
    assert is_cross_entropy(metric) is ok


def test_a_metric_that_is_not_a_cross_entropy_is_refused_with_what_to_use():
    frame = simulate_distill_scaling(**SMALL).assign(metric="bits_per_byte")
    with pytest.raises(DistillLawRefused, match="not a cross-entropy in nats/token"):
        fit_distill_law(frame, "bits_per_byte", n_boot=0)


def test_no_teacher_scores_no_single_size_no_single_budget_no_baseline_each_a_clear_refusal():
    with pytest.raises(DistillLawRefused, match="teacher_value"):
        fit_distill_law(simulate_distillation(data_tokens=(1e9, 2e9)), "val_loss", n_boot=0)
    with pytest.raises(DistillLawRefused, match="single student size"):
        fit_distill_law(simulate_distill_scaling(**{**SMALL, "student_params": (1e9,)}), "val_loss", n_boot=0)
    with pytest.raises(DistillLawRefused, match="single token budget"):
        fit_distill_law(simulate_distill_scaling(**{**SMALL, "data_tokens": (2e10,)}), "val_loss", n_boot=0)
    frame = simulate_distill_scaling(**SMALL)
    with pytest.raises(DistillLawRefused, match="no supervised baseline.*teacher_params 0"):
        fit_distill_law(frame[frame["teacher_params"] > 0], "val_loss", n_boot=0)
    few = frame[(frame["teacher_params"] == 0) | frame["teacher_params"].isin([5e7, 1e9, 1e11])]
    with pytest.raises(DistillLawRefused, match="needs at least 27 runs"):
        fit_distill_law(few[few["student_params"] < 1e9], "val_loss", n_boot=0)


def test_cells_without_a_baseline_are_left_out_and_named():
    frame = simulate_distill_scaling(**SMALL)
    drop = (frame["teacher_params"] == 0) & (frame["student_params"] == 70_000_000) & (frame["data_tokens"] == 2e9)
    with pytest.warns(UserWarning, match="no run without a teacher"):
        fit = fit_distill_law(frame[~drop], "val_loss", n_boot=0, loso=False)
    assert len(fit.runs.cells) == 7


@pytest.mark.slow
def test_on_a_planted_law_the_fit_predicts_held_out_students_to_the_noise_and_brackets_the_optimal_teacher():
    frame = simulate_distill_scaling(seed=11)
    fit = fit_distill_law(frame, "val_loss", n_boot=100, seed=0)
    truth = pd.DataFrame(frame.attrs["simulated"]["optimal_teachers"])
    opt = fit.optimal_teachers()
    assert np.abs(opt["teacher_loss_opt"] - truth["teacher_loss_opt"]).max() < 0.05  # nats/token
    assert ((opt["ci_lower"] <= truth["teacher_loss_opt"]) & (truth["teacher_loss_opt"] <= opt["ci_upper"])).mean() \
        >= 0.6
    assert fit.loso["rmse"].max() < 0.02  # the planted noise is 0.01 nats per run
    assert fit.params["c0"] == pytest.approx(DISTILL_LAW["c0"], rel=0.3)
    d = fit.to_dict()
    assert d["schema_version"] == 1 and d["units"] == "nats/token" and set(d["params"]) == set(dl.PARAM_NAMES)
    json.dumps(d, allow_nan=False, default=float)


# ---------------------------------------------------------------------------------------------- teachers
def _hand_sweep() -> pd.DataFrame:
    """One 100K student: teachers 200K (loss 3.2), 400K (3.0, the best student), 800K (2.7: better teacher, worse
    student) and 1.6M (3.05: bigger, no better teacher, worse student); one row lacks the teacher score."""
    rows = [(200_000, 3.60, 3.2), (400_000, 3.40, 3.0), (800_000, 3.55, 2.7), (1_600_000, 3.70, 3.05),
            (1_600_000, 3.72, np.nan)]
    return pd.DataFrame({"student_params": 100_000, "teacher_params": [r[0] for r in rows], "metric": "val_loss",
                         "value": [r[1] for r in rows], "higher_is_better": False, "teacher_value": [r[2] for r in rows], "family": "f",
                         "data_tokens": 1e6, "run_id": [f"r{i}" for i in range(len(rows))]})


def test_a_better_teacher_with_a_worse_student_is_too_strong_and_a_bigger_no_better_one_is_not_better():
    diag = diagnose_teachers(_hand_sweep(), "val_loss").set_index("teacher_params")
    assert list(diag.index) == [800_000, 1_600_000]
    assert diag.at[800_000, "verdict"] == "too strong" and diag.at[1_600_000, "verdict"] == "not better"
    assert diag.at[800_000, "teacher_loss_change"] == pytest.approx(-0.3)
    assert diag.at[1_600_000, "previous_teacher_params"] == 800_000
    assert "capacity gap" in diag.at[800_000, "sentence"] and "no better a teacher" in diag.at[1_600_000, "sentence"]


def test_rows_lacking_a_teacher_score_are_listed():
    missing = missing_teacher_values(_hand_sweep(), "val_loss")
    assert missing["run_id"].tolist() == ["r4"]
    assert teacher_table(_hand_sweep(), "val_loss").set_index("teacher_params").at[1_600_000, "teacher_value"] == 3.05


def test_the_teachers_curve_is_recovered_and_inverted_and_a_loss_below_its_floor_has_no_size():
    sizes = np.array([1e8, 3e8, 1e9, 3e9, 1e10])
    teachers = pd.DataFrame({"teacher_params": sizes, "teacher_value": 1.8 + 60.0 * sizes ** -0.25})
    curve = fit_teacher_curve(teachers)
    assert curve.floor == pytest.approx(1.8, abs=1e-3) and curve.exponent == pytest.approx(0.25, rel=1e-2)
    assert curve.size_for_loss(1.8 + 60.0 * 2e9 ** -0.25) == pytest.approx(2e9, rel=1e-2)
    assert math.isnan(float(curve.size_for_loss(1.7)))
    flat = fit_teacher_curve(pd.DataFrame({"teacher_params": sizes, "teacher_value": [3.0, 3.1, 3.0, 3.2, 3.3]}))
    assert "does not fall" in flat.refused and math.isnan(float(flat.size_for_loss(3.0)))
    assert isinstance(fit_teacher_curve(teachers.head(2)), TeacherCurve) and fit_teacher_curve(teachers.head(2)).refused


# ---------------------------------------------------------------------------------------------- the CLI
def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "analysis", *map(str, args)], capture_output=True, text=True)


def test_scaling_law_cli_declines_without_teacher_scores_in_json_with_the_schema(tmp_path):
    path = tmp_path / "r.csv"
    simulate_distillation(data_tokens=(1e9, 2e9)).to_csv(path, index=False)
    proc = run_cli("scaling-law", path, "--metric", "val_loss", "--json", "--bootstrap", "0")
    assert proc.returncode == 2 and "teacher_value" in proc.stderr
    out = json.loads(proc.stdout)
    assert out["schema_version"] == 1 and out["metric"] == "val_loss"
    fam = out["families"][0]
    assert fam["declined"] and "teacher_value" in fam["reason"] and fam["scaling_law"] is None
    assert "how_to_add_teacher_values" in out


def test_scaling_law_cli_refuses_bits_per_byte(tmp_path):
    path = tmp_path / "r.csv"
    simulate_distill_scaling(**SMALL).assign(metric="bits_per_byte").to_csv(path, index=False)
    proc = run_cli("scaling-law", path, "--metric", "bits_per_byte", "--bootstrap", "0")
    assert proc.returncode == 2 and "not a cross-entropy" in proc.stderr


@pytest.mark.slow
def test_whatif_answers_from_both_laws_for_a_student_between_the_measured_ones():
    from analysis.law import fit_laws
    from analysis.law_compare import compare_laws, supervised_loss_at, whatif_teacher

    frame = simulate_distill_scaling(**SMALL, seed=5)
    comp = compare_laws(frame, "val_loss", n_boot=20)[0]
    ls, outside = supervised_loss_at(comp.fit, 4e8, 6e9)
    assert not outside and ls == pytest.approx(float(supervised_loss(4e8, 6e9)), abs=0.05)  # a plane in ln N, ln D
    answer = whatif_teacher(comp, 4e8, 2e10, laws=fit_laws(frame, "val_loss"))
    sca = answer["scaling_law"]
    assert sca["ci_lower"] <= sca["teacher_loss"] <= sca["ci_upper"] and sca["teacher_params"] > 0
    assert answer["linear_law"] is not None and answer["linear_law"]["teacher_params"] > 0  # 20B is a fitted budget
    assert whatif_teacher(comp, 4e8, 7e9)["linear_reason"]  # no law of capacity gap at an untested budget


def test_the_generator_writes_the_contract_with_teacher_scores_baselines_and_its_truth():
    frame = simulate_distill_scaling(**SMALL, seed=3)
    base = frame[frame["teacher_params"] == 0]
    assert len(base) == 4 * 2 * 2 and base["teacher_value"].isna().all()
    taught = frame[frame["teacher_params"] > 0]
    assert len(taught) == 4 * 2 * 10 and taught["teacher_value"].notna().all()
    assert (frame["source"] == "simulated").all() and frame.attrs["simulated"]["law"] == DISTILL_LAW
    assert len(frame.attrs["simulated"]["optimal_teachers"]) == 8
    shifted = simulate_distill_scaling(**SMALL, seed=3, case="size_gap")
    big = (shifted["teacher_params"] > 8 * shifted["student_params"]) & (shifted["teacher_params"] > 0)
    assert (shifted.loc[big, "value"].to_numpy() > frame.loc[big, "value"].to_numpy()).all()
    with pytest.raises(ValueError, match="case"):
        simulate_distill_scaling(case="nonsense")


def test_the_figures_name_their_traces():
    from analysis.teacher_figures import student_vs_teacher_figure, teacher_size_figure
    from analysis.teacher_quality import student_vs_teacher

    sweep = _hand_sweep()
    fig = student_vs_teacher_figure(student_vs_teacher(sweep, "val_loss"), "val_loss")
    assert [t.name for t in fig.data] == ["student 100K", "student = teacher"]
    teachers = teacher_table(sweep, "val_loss")
    curve = TeacherCurve(floor=2.5, scale=100.0, exponent=0.4, n_teachers=4)
    names = [t.name for t in teacher_size_figure(teachers, curve, "val_loss").data]
    assert names == ["teachers · f", "teachers' size -> loss curve"]


@pytest.mark.slow
def test_scaling_law_cli_json_has_both_laws_side_by_side_and_held_out(tmp_path):
    path = tmp_path / "r.csv"
    simulate_distill_scaling(**SMALL, seed=6).to_csv(path, index=False)
    proc = run_cli("scaling-law", path, "--metric", "val_loss", "--json", "--bootstrap", "10")
    assert proc.returncode == 0, proc.stderr
    fam = json.loads(proc.stdout)["families"][0]
    assert not fam["declined"] and fam["scaling_law"]["n_boot"] == 10
    assert {"c0", "gamma"} <= set(fam["scaling_law"]["params"])
    assert len(fam["side_by_side"]) == 8 and {"linear_teacher_params", "scaling_teacher_loss"} <= set(
        fam["side_by_side"][0])
    assert fam["held_out"]["better"] in ("linear", "scaling", "tie", "undecided")
    assert len(fam["held_out"]["students"]) == 4
