"""The model catalog (public parameter counts) and ranking its checkpoints as teachers for a student."""
import numpy as np
import pandas as pd
import pytest

from analysis.catalog import (
    CATALOG_COLUMNS,
    RANKING_COLUMNS,
    NoStudentCurve,
    StudentCurve,
    fit_log_quadratic,
    load_catalog,
    rank_teachers,
    student_curve,
)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


# ---------------------------------------------------------------------------------------------- the bundled data
def test_the_bundled_catalog_covers_the_families_the_issue_names(catalog):
    assert list(catalog.columns) == list(CATALOG_COLUMNS)
    assert {"GPT-2", "Pythia", "OPT", "LLaMA-2", "LLaMA-3.1", "LLaMA-3.2", "Qwen2.5"} <= set(catalog["family"])
    assert len(catalog) >= 40 and catalog["model"].is_unique
    assert catalog["params"].dtype == "int64" and str(catalog["non_embedding_params"].dtype) == "Int64"


def test_every_row_cites_a_source_and_says_how_the_count_is_stated(catalog):
    assert (catalog["source"].str.len() > 10).all()
    assert catalog["note"].str.contains("as stated|Table 2", regex=True).all()


@pytest.mark.parametrize("model, params, non_embedding", [
    ("EleutherAI/pythia-410m", 405_334_016, 302_311_424),      # Pythia model card, exact counts
    ("EleutherAI/pythia-12b", 11_846_072_320, 11_327_027_200),
    ("Qwen/Qwen2.5-0.5B", 490_000_000, 360_000_000),           # Qwen2.5 card: 0.49B, non-embedding 0.36B
    ("Qwen/Qwen2.5-72B", 72_700_000_000, 70_000_000_000),
    ("google/gemma-2-2b", 590_118_912 + 2_024_517_888, 2_024_517_888),  # Gemma 2 report, Table 2
    ("facebook/opt-6.7b", 6_700_000_000, None),                # OPT README: "6.7B"
    ("meta-llama/Llama-3.2-1B", 1_230_000_000, None),          # Llama 3.2 card: "1B (1.23B)"
    ("openai-community/gpt2", 124_000_000, None),              # GPT-2 card: "124M parameters"
])
def test_spot_checked_counts_match_their_sources(catalog, model, params, non_embedding):
    row = catalog.set_index("model").loc[model]
    assert row["params"] == params
    assert (pd.isna(row["non_embedding_params"]) if non_embedding is None else
            row["non_embedding_params"] == non_embedding)


def test_non_embedding_counts_never_exceed_total_counts(catalog):
    known = catalog.dropna(subset=["non_embedding_params"])
    assert len(known) >= 18 and (known["non_embedding_params"] <= known["params"]).all()


# ---------------------------------------------------------------------------------------------- validation
def _csv(rows: list[str]) -> bytes:
    return ("\n".join(["family,model,params,non_embedding_params,source,note", *rows]) + "\n").encode()


def test_text_in_params_names_the_row_and_column():
    data = _csv(["A,a/one,1000,,card,exact", "A,a/two,lots,,card,exact"])
    with pytest.raises(ValueError, match=r"row 3, column 'params': expected a positive parameter count .*'lots'"):
        load_catalog(data)


def test_a_missing_column_is_named():
    with pytest.raises(ValueError, match="missing column.*'source'"):
        load_catalog(b"family,model,params,non_embedding_params,note\nA,a,1,,x\n")


def test_non_embedding_larger_than_total_is_rejected():
    with pytest.raises(ValueError, match=r"row 2, column 'non_embedding_params': expected at most params"):
        load_catalog(_csv(["A,a/one,1000,2000,card,exact"]))


def test_a_duplicate_model_is_rejected():
    with pytest.raises(ValueError, match=r"row 3, column 'model': duplicate model 'a/one'"):
        load_catalog(_csv(["A,a/one,1000,,card,exact", "A,a/one,2000,,card,exact"]))


@pytest.mark.parametrize("value", ["0", "-5", "1.5e9", "1.3B"])
def test_params_must_be_raw_positive_digits(value):
    with pytest.raises(ValueError, match="column 'params'"):
        load_catalog(_csv([f"A,a/one,{value},,card,exact"]))


def test_an_empty_file_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot read"):
        load_catalog(b"")


# ---------------------------------------------------------------------------------------------- student curves
def test_a_noiseless_parabola_in_log_teacher_size_is_recovered_exactly():
    teachers = np.array([1e8, 3e8, 1e9, 3e9, 1e10])
    x = np.log10(teachers)
    values = 0.3 * x**2 - 5.4 * x + 26.3
    np.testing.assert_allclose(fit_log_quadratic(teachers, values), [0.3, -5.4, 26.3], rtol=1e-9)


def test_a_quadratic_needs_three_distinct_teachers():
    with pytest.raises(ValueError, match="3 distinct teachers"):
        fit_log_quadratic([1e8, 1e8, 1e9], [1.0, 1.1, 0.9])


def _curve(c2=0.3, vertex=1e9, higher=False, lo=1e8, hi=1e10):
    # value = 2 + c2 * (log10 T - log10 vertex)^2, expanded to (c2, c1, c0)
    v = np.log10(vertex)
    return StudentCurve(student_params=400_000_000, metric="val_loss", higher_is_better=higher,
                        coef=(c2, -2 * c2 * v, c2 * v * v + 2), teacher_min_params=int(lo),
                        teacher_max_params=int(hi), n_teachers=5, n_runs=10)


def test_the_best_teacher_of_a_planted_parabola_is_its_vertex():
    curve = _curve(vertex=1e9)
    assert curve.has_interior_optimum
    assert curve.best_teacher_params == pytest.approx(1e9, rel=1e-9)
    assert curve.best_value == pytest.approx(2.0, rel=1e-12)


def test_the_penalty_is_the_metric_lost_against_the_vertex_in_metric_units():
    curve = _curve(c2=0.3, vertex=1e9)
    # one decade away from the vertex costs c2 * 1^2 = 0.3; half a decade costs 0.3 * 0.25
    np.testing.assert_allclose(curve.penalty([1e9, 1e10, 10**9.5, 1e8]), [0, 0.3, 0.075, 0.3], atol=1e-12)


def test_no_penalty_is_claimed_outside_the_tested_teachers():
    curve = _curve(lo=1e8, hi=1e10)
    assert np.isnan(curve.penalty([5e10])[0]) and np.isnan(curve.penalty([5e7])[0])


def test_for_a_higher_is_better_metric_the_penalty_is_the_score_lost():
    curve = _curve(c2=-0.3, vertex=1e9, higher=True)  # an accuracy peaking at 1e9
    assert curve.has_interior_optimum and curve.best_teacher_params == pytest.approx(1e9)
    assert curve.penalty([1e10])[0] == pytest.approx(0.3)


def test_a_curve_without_an_interior_optimum_uses_its_best_end():
    curve = _curve(c2=-0.1, vertex=1e9)  # loss opening downward: worst in the middle
    assert not curve.has_interior_optimum
    assert curve.best_teacher_params in (1e8, 1e10)
    assert (curve.penalty([1e8, 3e9, 1e10]) >= 0).all()
    assert "no interior optimum" in curve.describe()


def _results(students=(100e6, 400e6), ratios=(1.5, 2.5, 4, 6.5, 10), families=("default",)):
    rows = []
    for fam in families:
        for s in students:
            for r in ratios:
                t = s * r
                for seed in range(2):
                    value = 3.0 + 0.2 * (np.log10(t) - np.log10(2.5 * s)) ** 2 + 0.001 * seed
                    rows.append(dict(student_params=int(s), teacher_params=int(t), metric="val_loss", value=value,
                                     higher_is_better=False, family=fam, data_tokens=np.nan, seed=seed,
                                     run_id=f"{fam}-{int(s)}-{r}-{seed}"))
    return pd.DataFrame(rows)


def test_the_curve_of_the_nearest_observed_student_is_fitted_from_results():
    curve = student_curve(_results(), 420e6)  # 420M: nearest observed student is 400M
    assert curve.student_params == 400_000_000 and curve.n_teachers == 5 and curve.n_runs == 10
    assert curve.best_teacher_params == pytest.approx(1e9, rel=1e-6)  # planted vertex at 2.5 x 400M
    assert curve.coef[0] == pytest.approx(0.2, rel=1e-6)


def test_no_curve_is_borrowed_from_a_distant_student():
    with pytest.raises(NoStudentCurve, match="nearest observed student"):
        student_curve(_results(), 2e9)


def test_no_curve_from_two_teachers():
    with pytest.raises(NoStudentCurve, match="a curve needs 3"):
        student_curve(_results(ratios=(2, 4)), 400e6)


def test_several_metrics_need_a_choice():
    res = pd.concat([_results(), _results().assign(metric="bits_per_byte")])
    with pytest.raises(NoStudentCurve, match="several metrics"):
        student_curve(res, 400e6)
    assert student_curve(res, 400e6, metric="bits_per_byte").metric == "bits_per_byte"


def test_with_several_families_the_one_with_most_runs_is_used():
    res = pd.concat([_results(families=("small",)).head(6), _results(families=("big",))])
    assert student_curve(res, 100e6).family == "big"


# ---------------------------------------------------------------------------------------------- ranking
@pytest.fixture()
def toy_catalog():
    return pd.DataFrame({
        "family": ["X"] * 5, "model": ["x/100m", "x/500m", "x/1b", "x/2b", "x/8b"],
        "params": np.array([100e6, 500e6, 1e9, 2e9, 8e9], dtype="int64"),
        "non_embedding_params": pd.array([None] * 5, dtype="Int64"),
        "source": ["card"] * 5, "note": ["exact"] * 5})


ROW = {"mean": 1.2e9, "mean_ci_lower": 0.9e9, "mean_ci_upper": 1.5e9, "obs_ci_lower": 0.6e9, "obs_ci_upper": 2.4e9}


def test_only_teachers_larger_than_the_student_are_ranked_closest_in_log_size_first(toy_catalog):
    ranked = rank_teachers(400e6, ROW, toy_catalog)
    assert list(ranked.columns) == list(RANKING_COLUMNS)
    assert list(ranked["model"]) == ["x/1b", "x/2b", "x/500m", "x/8b"]  # x/100m is smaller than the student
    expected = np.abs(np.log10([1e9, 2e9, 500e6, 8e9]) - np.log10(1.2e9))
    np.testing.assert_allclose(ranked["log10_distance"].to_numpy(), expected, rtol=1e-12)
    assert list(ranked["rank"]) == [1, 2, 3, 4]


def test_interval_flags_follow_the_bounds(toy_catalog):
    ranked = rank_teachers(400e6, ROW, toy_catalog).set_index("model")
    assert ranked["within_ci"].to_dict() == {"x/1b": True, "x/2b": False, "x/500m": False, "x/8b": False}
    assert ranked["within_pi"].to_dict() == {"x/1b": True, "x/2b": True, "x/500m": False, "x/8b": False}


def test_without_an_interval_the_flags_are_unknown_not_false(toy_catalog):
    row = {"mean": 1.2e9, "mean_ci_lower": np.nan, "mean_ci_upper": np.nan,
           "obs_ci_lower": np.nan, "obs_ci_upper": np.nan}
    ranked = rank_teachers(400e6, pd.Series(row), toy_catalog)
    assert ranked["within_ci"].isna().all() and ranked["within_pi"].isna().all()


def test_top_limits_the_rows(toy_catalog):
    assert len(rank_teachers(50e6, ROW, toy_catalog, top=2)) == 2
    assert len(rank_teachers(50e6, ROW, toy_catalog, top=None)) == 5


def test_a_non_positive_optimum_gives_no_distances_but_still_lists_teachers_by_size(toy_catalog):
    ranked = rank_teachers(400e6, {"mean": -5e6}, toy_catalog)
    assert ranked["log10_distance"].isna().all()
    assert list(ranked["params"]) == sorted(ranked["params"])


def test_a_student_larger_than_every_checkpoint_gets_an_empty_table(toy_catalog):
    ranked = rank_teachers(1e12, ROW, toy_catalog)
    assert ranked.empty and list(ranked.columns) == list(RANKING_COLUMNS)


def test_the_expected_penalty_comes_from_the_students_curve_with_a_note(toy_catalog):
    ranked = rank_teachers(400e6, ROW, toy_catalog, curves=_results()).set_index("model")
    # planted: 0.2 * (log10 T - log10 1e9)^2 (the seed offsets cancel in the penalty)
    assert ranked.loc["x/1b", "expected_penalty"] == pytest.approx(0.0, abs=1e-9)
    assert ranked.loc["x/2b", "expected_penalty"] == pytest.approx(0.2 * np.log10(2) ** 2, rel=1e-6)
    assert "400M student" in ranked.loc["x/2b", "penalty_note"]
    assert np.isnan(ranked.loc["x/8b", "expected_penalty"])  # beyond the tested 4B teacher
    assert "outside the teachers tested" in ranked.loc["x/8b", "penalty_note"]


def test_without_curves_the_penalty_is_nan_and_the_note_says_why(toy_catalog):
    ranked = rank_teachers(400e6, ROW, toy_catalog)
    assert ranked["expected_penalty"].isna().all()
    assert ranked["penalty_note"].str.contains("no per-student curve").all()


def test_a_one_row_prediction_frame_is_accepted(catalog):
    frame = pd.DataFrame([ROW], index=pd.Index([400e6], name="student_params"))
    ranked = rank_teachers(400e6, frame, catalog)
    assert len(ranked) == 10 and (ranked["params"] > 400e6).all()
    assert ranked["log10_distance"].is_monotonic_increasing
