"""The simulated distillation results: the contract, determinism, the planted optimum, the 'simulated' label."""
import numpy as np
import pandas as pd
import pytest

from analysis.simulate import DEFAULT_TEACHER_RATIOS, planted_optimum, simulate_distillation


def test_simulation_follows_the_distillation_results_contract():
    df = simulate_distillation(n_seeds=2)
    assert df["student_params"].dtype == np.int64 and df["teacher_params"].dtype == np.int64
    assert df["value"].dtype == np.float64 and np.isfinite(df["value"]).all()
    assert df["higher_is_better"].dtype == bool and not df["higher_is_better"].any()
    assert df["data_tokens"].dtype == np.float64 and df["data_tokens"].isna().all()
    assert str(df["seed"].dtype) == "Int64"
    assert set(df["metric"]) == {"val_loss"} and set(df["family"]) == {"default"}
    assert df["run_id"].is_unique
    n_students = df["student_params"].nunique()
    assert len(df) == n_students * len(DEFAULT_TEACHER_RATIOS) * 2


def test_simulated_rows_and_frame_are_labelled_as_simulated():
    df = simulate_distillation()
    assert set(df["source"]) == {"simulated"}
    assert "SIMULATED" in df.attrs["simulated"]["note"]
    assert df.attrs["simulated"]["slope"] == 2.498


def test_the_same_seed_gives_the_same_frame_and_another_seed_does_not():
    a, b, c = simulate_distillation(seed=3), simulate_distillation(seed=3), simulate_distillation(seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["value"], c["value"])


def test_noise_free_curves_are_lowest_at_the_planted_optimum():
    df = simulate_distillation(noise=0.0, n_seeds=1, teacher_ratios=np.geomspace(1.25, 16, 200))
    for s, g in df.groupby("student_params"):
        best = g.loc[g["value"].idxmin(), "teacher_params"]
        np.testing.assert_allclose(best, planted_optimum(s), rtol=0.02)


def test_teachers_are_the_student_size_times_the_ratios():
    df = simulate_distillation(student_params=(100_000_000,), teacher_ratios=(2, 4), n_seeds=1)
    assert sorted(df["teacher_params"]) == [200_000_000, 400_000_000]


def test_families_and_token_budgets_are_separate_groups():
    df = simulate_distillation(families=("a", "b"), data_tokens=(1e9, 4e9), n_seeds=1)
    assert df.groupby(["family", "data_tokens"]).ngroups == 4
    # more distillation tokens, lower loss (the Chinchilla data term)
    means = df.groupby("data_tokens")["value"].mean()
    assert means.loc[4e9] < means.loc[1e9]


def test_a_planted_law_with_a_non_positive_optimum_is_rejected():
    with pytest.raises(ValueError, match="non-positive optimal teacher"):
        simulate_distillation(student_params=(1_000_000,), intercept_params=-11.498e6)
