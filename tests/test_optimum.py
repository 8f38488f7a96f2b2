"""The optimal teacher per student: the vertex, the argmin fallbacks, caveats, and the bootstrap interval."""
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.caveats import DataWarning, EdgeOptimumWarning, NonConvexWarning
from analysis.optimum import OPTIMA_COLUMNS, OPTIMUM_JSON_KEYS, find_optima, optima_to_dict
from analysis.simulate import shape_penalty, simulate_distillation


def curve_frame(student, teachers, runs, *, higher_is_better=False, metric="val_loss", family="default",
                data_tokens=np.nan):
    """Results rows for one student: runs[i] is the list of values of teacher i."""
    rows = [dict(student_params=student, teacher_params=t, metric=metric, value=v, higher_is_better=higher_is_better,
                 family=family, data_tokens=data_tokens, seed=k)
            for t, vals in zip(teachers, runs) for k, v in enumerate(vals)]
    df = pd.DataFrame(rows)
    return df.astype({"student_params": "int64", "teacher_params": "int64", "data_tokens": "float64",
                      "seed": "Int64"})


def parabola(teachers, t_star, curvature=0.05, level=2.0):
    return level + curvature * (np.log(np.asarray(teachers, float)) - np.log(t_star)) ** 2


def quiet_optima(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return find_optima(*args, **kwargs)


def test_vertex_of_a_planted_parabola_is_recovered():
    teachers = [150e6, 210e6, 400e6, 650e6, 1.1e9, 2.3e9]  # uneven grid, vertex off-centre
    values = parabola(teachers, 5.5e8)
    df = curve_frame(125_000_000, teachers, [[v, v] for v in values])
    o = find_optima(df, "val_loss", n_boot=50)
    row = o.iloc[0]
    assert row["method"] == "log_parabola" and bool(row["convex"]) and not row["at_grid_edge"]
    np.testing.assert_allclose(row["teacher_params"], 5.5e8, rtol=1e-6)
    np.testing.assert_allclose(row["best_value"], 2.0, rtol=1e-9)
    assert row["n_teachers"] == 6 and row["n_runs"] == 12 and row["note"] == ""


def test_vertex_of_noisy_simulated_curves_is_close_to_the_planted_optimum():
    df = simulate_distillation(n_seeds=10, noise=0.005, seed=1)
    o = find_optima(df, "val_loss", n_boot=0)
    truth = np.array([df.attrs["simulated"]["planted_optimum"][s] for s in o["student_params"]])
    np.testing.assert_allclose(o["teacher_params"], truth, rtol=0.06)


def test_the_smooth_fit_equals_least_squares_on_the_individual_runs():
    rng = np.random.default_rng(0)
    teachers = np.array([100e6, 180e6, 330e6, 600e6, 1.1e9])
    runs = [list(parabola([t], 3e8)[0] + 0.01 * rng.standard_normal(k)) for t, k in zip(teachers, (1, 4, 2, 3, 5))]
    df = curve_frame(80_000_000, teachers, runs)
    x = np.log(np.repeat(teachers, [len(r) for r in runs]))
    c2, c1, _ = np.polyfit(x, np.concatenate(runs), 2)  # OLS on every run = cell means weighted by run counts
    o = quiet_optima(df, "val_loss", n_boot=0)
    np.testing.assert_allclose(o["teacher_params"].iloc[0], np.exp(-c1 / (2 * c2)), rtol=1e-8)


def reference_optimum(teachers, runs, higher_is_better):
    """A plain per-group implementation of the documented rule."""
    sign = -1.0 if higher_is_better else 1.0
    means = np.array([np.mean(r) for r in runs]) * sign
    n = np.array([len(r) for r in runs], float)
    x = np.log(teachers)
    j = int(np.argmin(means))
    if len(teachers) >= 3:
        c2, c1, _ = np.polyfit(x, means, 2, w=np.sqrt(n))
        if c2 > 0 and x.min() <= -c1 / (2 * c2) <= x.max():
            return "log_parabola", float(np.exp(-c1 / (2 * c2)))
    return "argmin", float(teachers[j])


def test_the_vectorised_rule_matches_a_per_group_loop_on_random_curves():
    rng = np.random.default_rng(42)
    frames, expected = [], {}
    for g in range(60):
        n_t = int(rng.integers(1, 8))
        teachers = np.sort(rng.choice(np.arange(1, 60) * 37_000_000, size=n_t, replace=False)).astype(float)
        t_star = float(np.exp(rng.uniform(np.log(teachers.min()) - 1, np.log(teachers.max()) + 1)))
        curvature = rng.choice([0.05, -0.05, 0.001])
        runs = [list(parabola([t], t_star, curvature)[0] + 0.02 * rng.standard_normal(int(rng.integers(1, 4))))
                for t in teachers]
        higher = bool(g % 3 == 0)
        student = 10_000_000 + g
        frames.append(curve_frame(student, teachers, runs, higher_is_better=higher, metric="m"))
        expected[student] = reference_optimum(teachers, runs, higher)
    # one metric must have one direction: split into two metrics by direction
    df = pd.concat(frames, ignore_index=True)
    df.loc[df["higher_is_better"], "metric"] = "m_up"
    got = pd.concat([quiet_optima(df, m, n_boot=0) for m in ("m", "m_up")])
    for _, row in got.iterrows():
        method, t = expected[row["student_params"]]
        if row["method"] == "tied" or "outside the grid interval" in row["note"]:
            continue  # the tied teachers overrule the point rule there (module docstring, steps 6-7)
        assert row["method"] == method, row["student_params"]
        np.testing.assert_allclose(row["teacher_params"], t, rtol=1e-6)


def test_fewer_than_three_teachers_use_the_argmin_and_say_so():
    df = curve_frame(100_000_000, [200e6, 400e6], [[2.1, 2.2], [2.0, 2.05]])
    with pytest.warns(EdgeOptimumWarning):
        o = find_optima(df, "val_loss", n_boot=20)
    row = o.iloc[0]
    assert row["method"] == "argmin" and row["teacher_params"] == 400_000_000
    assert pd.isna(row["convex"]) and "fewer than 3 teachers" in row["note"]


def test_a_non_convex_curve_refuses_the_smooth_estimate_and_warns():
    teachers = [150e6, 300e6, 600e6, 1.2e9, 2.4e9]
    values = [2.15, 2.02, 2.30, 2.28, 2.12]  # best at 300M, but the fitted parabola opens downward
    df = curve_frame(100_000_000, teachers, [[v, v + 0.002] for v in values])
    with pytest.warns(NonConvexWarning, match="does not open upward"):
        o = find_optima(df, "val_loss", n_boot=20)
    row = o.iloc[0]
    assert row["method"] == "argmin" and row["teacher_params"] == 300_000_000 and not row["at_grid_edge"]
    assert not pd.isna(row["convex"]) and not row["convex"]
    assert "not convex" in row["note"]


def test_a_vertex_outside_the_tested_teachers_falls_back_to_the_edge_argmin():
    teachers = [200e6, 300e6, 450e6, 700e6]
    df = curve_frame(125_000_000, teachers, [[v, v + 0.001] for v in parabola(teachers, 2e9)])
    with pytest.warns(EdgeOptimumWarning) as caught:
        o = find_optima(df, "val_loss", n_boot=20)
    row = o.iloc[0]
    assert row["method"] == "argmin" and row["teacher_params"] == 700_000_000 and row["at_grid_edge"]
    assert "outside the tested teachers" in row["note"]
    assert str(caught[0].message) == ("The best teacher for the 125M student is the largest one tested (700M); "
                                      "the true optimum may be larger: test bigger teachers.")


def test_an_optimum_at_the_smallest_teacher_says_test_smaller_teachers():
    teachers = [200e6, 300e6, 450e6, 700e6]
    df = curve_frame(125_000_000, teachers, [[v, v] for v in parabola(teachers, 1e8)])
    with pytest.warns(EdgeOptimumWarning, match="smallest one tested .200M.*test smaller teachers"):
        o = find_optima(df, "val_loss", n_boot=20)
    assert o["at_grid_edge"].iloc[0] and o["teacher_params"].iloc[0] == 200_000_000


def test_higher_is_better_flips_the_optimum():
    teachers = [150e6, 300e6, 600e6, 1.2e9, 2.4e9]
    loss = parabola(teachers, 4e8)
    as_loss = curve_frame(100_000_000, teachers, [[v, v] for v in loss])
    as_score = curve_frame(100_000_000, teachers, [[1 - v, 1 - v] for v in loss], higher_is_better=True,
                           metric="score")
    a = find_optima(as_loss, "val_loss", n_boot=20).iloc[0]
    b = find_optima(as_score, "score", n_boot=20).iloc[0]
    np.testing.assert_allclose([a["teacher_params"], b["teacher_params"]], 4e8, rtol=1e-6)
    np.testing.assert_allclose(b["best_value"], 1 - a["best_value"], rtol=1e-9)
    # the same numbers read as "higher is better" put the optimum at an edge of the grid
    flipped = as_loss.assign(higher_is_better=True)
    with pytest.warns((EdgeOptimumWarning, NonConvexWarning)):
        c = find_optima(flipped, "val_loss", n_boot=20).iloc[0]
    assert c["method"] == "argmin" and c["teacher_params"] == 2_400_000_000


@pytest.mark.parametrize("shape, asymmetry", [("parabola", 1.0), ("linex", 4.0), ("split", 4.0), ("huber", 4.0)])
def test_the_grid_interval_covers_the_planted_optimum_whatever_the_curve_shape(shape, asymmetry):
    covered, tied_best = [], []
    for i in range(25):
        df = simulate_distillation(n_seeds=3, seed=100 + i, shape=shape, asymmetry=asymmetry)
        o = quiet_optima(df, "val_loss", n_boot=0)
        truth = o["student_params"].map(df.attrs["simulated"]["planted_optimum"]).to_numpy()
        lo = np.nan_to_num(o["ci_lower"].to_numpy(float), nan=0.0)  # an open side bounds nothing
        hi = np.nan_to_num(o["ci_upper"].to_numpy(float), nan=np.inf)
        covered += list((lo <= truth) & (truth <= hi))
        # the tied set holds the best tested teacher (the grid point nearest the planted curve's minimum)
        grid = df.groupby("student_params")["teacher_params"].unique()
        for row in o.itertuples():
            teachers = np.sort(grid[row.student_params])
            penalty = shape_penalty(np.log(teachers / truth[row.Index]), shape, asymmetry)
            tied_best.append(int(teachers[np.argmin(penalty)]) in row.tied_teachers)
    # 150 intervals each; the old bootstrap of a parabola's vertex covered 48% on linex curves
    assert np.mean(covered) >= 0.95 and np.mean(tied_best) >= 0.93


def test_more_seeds_tie_fewer_teachers_with_the_best():
    tied = []
    for n_seeds in (2, 12):
        sizes = [quiet_optima(simulate_distillation(n_seeds=n_seeds, seed=i), "val_loss", n_boot=0)["tied_teachers"]
                 .map(len).mean() for i in range(5)]
        tied.append(np.mean(sizes))
    assert tied[1] < 0.8 * tied[0]


def test_one_run_per_teacher_estimates_the_noise_from_neighbouring_teachers():
    df = simulate_distillation(n_seeds=1, seed=3)
    o = quiet_optima(df, "val_loss", n_boot=0)
    assert o.attrs["variance_source"] == "pseudo_residuals"
    assert (o["tied_teachers"].map(len) < o["n_teachers"]).any()  # the noise estimate tells some teachers apart
    assert o["note"].str.contains("estimated from neighbouring teachers").any()


def test_one_run_per_teacher_and_too_few_teachers_tie_them_all_and_say_why():
    teachers = [150e6, 300e6]
    df = curve_frame(100_000_000, teachers, [[v] for v in parabola(teachers, 4e8)])
    row = quiet_optima(df, "val_loss", n_boot=50).iloc[0]
    assert row["censored"] == "both" and np.isnan(row["ci_lower"]) and np.isnan(row["ci_upper"])
    assert row["tied_teachers"] == [150_000_000, 300_000_000] and "add seeds" in row["note"]


def test_results_are_the_same_whatever_the_row_order():
    df = simulate_distillation(seed=9)
    a = find_optima(df, "val_loss", n_boot=100, seed=1)
    b = find_optima(df.sample(frac=1, random_state=0), "val_loss", n_boot=100, seed=1)
    pd.testing.assert_frame_equal(a, b)


def test_optima_are_found_per_family_and_token_budget_including_a_missing_budget():
    a = simulate_distillation(families=("gpt2", "pythia"), data_tokens=(1e9, 2e9), n_seeds=2)
    b = simulate_distillation(families=("gpt2",), n_seeds=2)  # data_tokens NaN
    o = quiet_optima(pd.concat([a, b], ignore_index=True), "val_loss", n_boot=20)
    assert list(o.columns) == OPTIMA_COLUMNS
    n_students = a["student_params"].nunique()
    assert len(o) == 5 * n_students
    assert o["data_tokens"].isna().sum() == n_students
    assert o[["family", "data_tokens", "student_params"]].drop_duplicates().shape[0] == len(o)


def test_a_missing_metric_names_the_metrics_found():
    with pytest.raises(ValueError, match=r"no rows with metric 'ppl'; metrics found: \['val_loss'\]"):
        find_optima(simulate_distillation(), "ppl")


def test_bad_values_name_the_row_and_column():
    df = simulate_distillation()
    df.loc[7, "value"] = np.nan
    with pytest.raises(ValueError, match="row 7, column 'value'"):
        find_optima(df, "val_loss")


def test_mixed_directions_for_one_metric_are_an_error():
    df = simulate_distillation()
    df.loc[0, "higher_is_better"] = True
    with pytest.raises(ValueError, match="higher_is_better"):
        find_optima(df, "val_loss")


def test_optima_json_has_the_documented_keys_and_is_strict_json():
    teachers = [150e6, 300e6, 600e6, 1.2e9]
    df = curve_frame(100_000_000, teachers, [[v, v + 0.01] for v in parabola(teachers, 1.2e8)])  # left-censored
    out = optima_to_dict(quiet_optima(df, "val_loss", n_boot=10))
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text)["metric"] == "val_loss" and out["schema_version"] == 2
    rec = out["optima"][0]
    assert list(rec)[:len(OPTIMUM_JSON_KEYS)] == OPTIMUM_JSON_KEYS  # the old keys first, none removed
    assert {"censored", "tied_teachers", "tied_teacher_names", "no_teacher_value", "no_teacher_helps"} <= set(rec)
    assert rec["censored"] == "left" and rec["ci_lower"] is None and rec["ci_upper"] == 300_000_000
    assert rec["data_tokens"] is None and isinstance(rec["teacher_params"], int)


def test_random_init_baseline_rows_are_left_out_of_the_optima_with_a_warning():
    df = simulate_distillation(n_seeds=2, seed=4)
    planted = find_optima(df, "val_loss", n_boot=50)
    # a baseline much better than every distilled student at the smallest teacher would move the optimum there
    baseline = df.groupby("student_params", as_index=False).first()
    baseline = baseline.assign(value=baseline["value"] - 5.0, student_init="random")
    mixed = pd.concat([df.assign(student_init="pruned"), baseline], ignore_index=True)
    with pytest.warns(DataWarning, match=rf"{len(baseline)} val_loss rows of random-init baseline"):
        optima = find_optima(mixed, "val_loss", n_boot=50)
    pd.testing.assert_frame_equal(optima.reset_index(drop=True), planted.reset_index(drop=True))


def test_a_redrawn_cell_mean_has_the_cells_variance_moderated_toward_its_groups():
    from analysis.optimum import POOLED_DF, _build_layout, _run_redraws

    runs = [[1.0, 1.1], [2.0, 2.3, 1.9], [0.5, 0.9, 0.6, 0.7]]  # n = 2, 3, 4 runs; unequal variances
    df = curve_frame(10**8, [2 * 10**8, 4 * 10**8, 8 * 10**8], runs)
    lay = _build_layout(df, "val_loss")
    means = lay.cell_means()
    draws = _run_redraws(lay, means, np.arange(3))(np.random.default_rng(0), 400_000)

    n = np.array([len(r) for r in runs], float)
    var = np.array([np.var(r, ddof=1) for r in runs])  # each cell's s^2
    group_var = np.sum(n * var) / n.sum()  # the run-weighted mean of the cells' variances
    d = n - 1
    expected = (d * var + POOLED_DF * group_var) / ((d + POOLED_DF) * n)
    np.testing.assert_allclose(draws.mean(0), [np.mean(r) for r in runs], atol=3e-3)
    np.testing.assert_allclose(draws.var(0), expected, rtol=0.02)


def test_an_optimum_at_the_largest_teacher_is_a_lower_bound():
    teachers = [150e6, 300e6, 600e6, 1.2e9]
    df = curve_frame(100_000_000, teachers, [[v, v + 0.002] for v in parabola(teachers, 5e9)])
    with pytest.warns(EdgeOptimumWarning):
        row = find_optima(df, "val_loss", n_boot=0).iloc[0]
    assert row["at_grid_edge"] and row["censored"] == "right"
    assert np.isnan(row["ci_upper"]) and row["ci_lower"] <= 600e6 and "only T* > " in row["note"]


def test_two_checkpoints_of_one_size_are_two_teachers_not_two_seeds():
    teachers = [1.5e9, 3e9, 3e9, 7e9]
    runs = [[2.30, 2.31], [2.10, 2.11], [2.25, 2.26], [2.20, 2.21]]
    df = curve_frame(500_000_000, teachers, runs)
    df["teacher_name"] = np.repeat(["Qwen2.5-1.5B", "Qwen2.5-3B", "Llama-3.2-3B", "Qwen2.5-7B"], 2)
    with pytest.warns(DataWarning, match=r"two checkpoints of the same size \(3B; names 'Llama-3.2-3B', 'Qwen2.5-3B'\)"):
        row = find_optima(df, "val_loss", n_boot=0).iloc[0]
    assert row["n_teachers"] == 4 and row["n_runs"] == 8
    assert row["method"] == "argmin" or 1.5e9 < row["teacher_params"] < 7e9
    assert row["teacher_name"] == "Qwen2.5-3B" and row["tied_teacher_names"] == ["Qwen2.5-3B"]


def test_a_student_without_a_teacher_is_a_reference_and_can_say_no_teacher_helps():
    teachers = [150e6, 300e6, 600e6, 1.2e9]
    curve = [[v, v + 0.002] for v in parabola(teachers, 3e8)]
    df = curve_frame(100_000_000, teachers, curve)
    alone_good = pd.concat([df, df.iloc[:2].assign(teacher_params=0, value=[1.990, 1.992])], ignore_index=True)
    alone_bad = pd.concat([df, df.iloc[:2].assign(teacher_params=0, value=[2.5, 2.502])], ignore_index=True)
    good = quiet_optima(alone_good, "val_loss", n_boot=0).iloc[0]
    bad = quiet_optima(alone_bad, "val_loss", n_boot=0).iloc[0]
    assert good["no_teacher_value"] == pytest.approx(1.991) and bool(good["no_teacher_helps"]) is False
    assert "no teacher helps here" in good["note"]
    assert bool(bad["no_teacher_helps"]) is True and "no teacher helps" not in bad["note"]
    assert good["teacher_params"] == bad["teacher_params"] == 300_000_000  # the reference is not a teacher




def test_a_flat_curve_gives_no_optimum_not_one_from_floating_point_noise():
    teachers = [150e6, 300e6, 600e6, 1.2e9, 2.4e9]
    df = curve_frame(100_000_000, teachers, [[2.0, 2.0 + 1e-16, 2.0]] * len(teachers))
    with pytest.warns(DataWarning, match="cannot be told apart from the best one"):
        row = find_optima(df, "val_loss", n_boot=0).iloc[0]
    assert row["method"] == "tied" and row["censored"] == "both" and row["at_grid_edge"]
    assert optima_to_dict(quiet_optima(df, "val_loss", n_boot=0))["optima"][0]["teacher_params"] is None
    from analysis.collapse import LawRefused, fit_collapse

    flat = pd.concat([df.assign(student_params=s) for s in (1e8, 2e8, 4e8, 8e8)], ignore_index=True)
    with pytest.raises(LawRefused):
        quiet(fit_collapse, flat, "val_loss")


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)
