"""The law fit T*(S): coverage on planted laws, numbers checked against independent numpy/scipy computations,
caveats, invert, JSON, and the whole-pipeline bootstrap."""
import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.caveats import DataWarning, EdgeOptimumWarning, ExtrapolationWarning
from analysis.law import PREDICTION_COLUMNS, LawBootstrap, bootstrap_law, compare_forms, fit_law
from analysis.optimum import OPTIMUM_JSON_KEYS, find_optima
from analysis.simulate import simulate_distillation

SLOPE, INTERCEPT = 2.498, -11.498e6  # the planted law (Zhang et al., as reported)
STUDENTS = np.geomspace(70e6, 7e9, 10)


def optima_frame(students, teachers, *, ci=None, edge=None):
    """A minimal optima table (find_optima's columns that fit_law reads)."""
    n = len(students)
    df = pd.DataFrame({"family": "default", "data_tokens": np.nan, "student_params": np.asarray(students, float),
                       "teacher_params": np.asarray(teachers, float), "method": "log_parabola", "n_teachers": 8,
                       "at_grid_edge": np.zeros(n, bool) if edge is None else np.asarray(edge, bool)})
    if ci is not None:
        df["ci_lower"], df["ci_upper"] = ci
    return df


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ------------------------------------------------------------------------------------- coverage on planted laws
def test_the_95_percent_slope_interval_covers_the_planted_slope_in_about_95_percent_of_simulations():
    rng = np.random.default_rng(2024)
    students = np.geomspace(300e6, 7e9, 10)
    covered, slopes, intercepts = [], [], []
    for _ in range(400):
        t = SLOPE * students + INTERCEPT + rng.normal(0, 150e6, students.size)  # exactly known optima + noise
        fit = fit_law(optima_frame(students, t))
        lo, hi = fit.conf_int().loc["slope"]
        covered.append(lo <= SLOPE <= hi)
        slopes.append(fit.params["slope"])
        intercepts.append(fit.params["intercept_params"])
    # binomial sd at p = 0.95, n = 400 is 0.011: 0.92-0.98 is about 3 sd either side
    assert 0.92 <= np.mean(covered) <= 0.98
    np.testing.assert_allclose(np.mean(slopes), SLOPE, rtol=0.01)  # unbiased: se of the mean is ~0.2%
    assert abs(np.mean(intercepts) - INTERCEPT) < 12e6  # se of the mean intercept is ~2.6M


def test_the_95_percent_exponent_interval_of_the_power_form_covers_the_planted_exponent():
    rng = np.random.default_rng(7)
    covered, exponents = [], []
    for _ in range(300):
        t = 3.0 * STUDENTS ** 0.97 * np.exp(rng.normal(0, 0.1, STUDENTS.size))
        fit = fit_law(optima_frame(STUDENTS, t), form="power")
        lo, hi = fit.conf_int().loc["exponent"]
        covered.append(lo <= 0.97 <= hi)
        exponents.append(fit.params["exponent"])
    assert 0.91 <= np.mean(covered) <= 0.99
    np.testing.assert_allclose(np.mean(exponents), 0.97, rtol=0.01)


def test_through_the_whole_pipeline_the_default_one_stage_interval_covers_the_planted_slope():
    from analysis.collapse import fit_collapse

    covered, slopes = [], []
    for i in range(60):
        df = simulate_distillation(n_seeds=5, seed=500 + i)
        fit = quiet(fit_collapse, df, "val_loss")
        lo, hi = fit.conf_int().loc["slope"]
        covered.append(lo <= SLOPE <= hi)
        slopes.append(fit.params["slope"])
    # 60 simulations: binomial sd at p = 0.95 is 0.028; 0.85 is 3.5 sd below
    assert np.mean(covered) >= 0.85
    np.testing.assert_allclose(np.median(slopes), SLOPE, rtol=0.05)


# ------------------------------------------------------------------------------------- vs independent computations
def ols_band(x, y, x_new, alpha):
    """Independent OLS with intercept: coefficients, covariance, confidence and prediction bands."""
    X = np.column_stack([np.ones_like(x), x])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    df = len(y) - 2
    s2 = np.sum((y - X @ beta) ** 2) / df
    cov = s2 * np.linalg.inv(X.T @ X)
    Xn = np.column_stack([np.ones_like(x_new), x_new])
    mean = Xn @ beta
    se_mean = np.sqrt(np.einsum("ij,jk,ik->i", Xn, cov, Xn))
    q = stats.t.ppf(1 - alpha / 2, df)
    return beta, cov, mean, se_mean, np.sqrt(se_mean ** 2 + s2), q


def test_linear_predict_matches_an_independent_numpy_computation_of_the_ols_bands():
    rng = np.random.default_rng(1)
    s = np.array([70e6, 160e6, 410e6, 1e9, 1.4e9, 2.8e9])
    t = SLOPE * s + INTERCEPT + rng.normal(0, 150e6, s.size)
    fit = fit_law(optima_frame(s, t), alpha=0.1)
    s_new = np.array([100e6, 1.3e9, 4e9])
    beta, cov, mean, se_mean, se_obs, q = ols_band(s, t, s_new, 0.1)
    pred = fit.predict(s_new)
    assert list(pred.columns) == PREDICTION_COLUMNS and pred.index.name == "student_params"
    np.testing.assert_allclose(pred["mean"], mean, rtol=1e-9)
    np.testing.assert_allclose(pred["mean_ci_lower"], mean - q * se_mean, rtol=1e-9)
    np.testing.assert_allclose(pred["mean_ci_upper"], mean + q * se_mean, rtol=1e-9)
    np.testing.assert_allclose(pred["obs_ci_lower"], mean - q * se_obs, rtol=1e-9)
    np.testing.assert_allclose(pred["obs_ci_upper"], mean + q * se_obs, rtol=1e-9)
    np.testing.assert_allclose(fit.params[["intercept_params", "slope"]], beta, rtol=1e-9)
    np.testing.assert_allclose(fit.bse[["intercept_params", "slope"]], np.sqrt(np.diag(cov)), rtol=1e-9)
    ci = fit.conf_int(alpha=0.05)
    q95 = stats.t.ppf(0.975, s.size - 2)
    np.testing.assert_allclose(ci.loc["slope", "upper"], beta[1] + q95 * math.sqrt(cov[1, 1]), rtol=1e-9)
    r2 = 1 - np.sum((t - (beta[0] + beta[1] * s)) ** 2) / np.sum((t - t.mean()) ** 2)
    np.testing.assert_allclose(fit.rsquared, r2, rtol=1e-12)
    np.testing.assert_allclose(fit.resid.to_numpy(), t - (beta[0] + beta[1] * s), rtol=1e-6, atol=1.0)


def test_proportional_fit_matches_an_independent_computation():
    rng = np.random.default_rng(2)
    s = np.array([70e6, 160e6, 410e6, 1e9, 2.8e9])
    t = 2.4 * s + rng.normal(0, 100e6, s.size)
    fit = fit_law(optima_frame(s, t), form="proportional")
    k = np.sum(s * t) / np.sum(s * s)
    s2 = np.sum((t - k * s) ** 2) / (s.size - 1)
    se = math.sqrt(s2 / np.sum(s * s))
    q = stats.t.ppf(0.975, s.size - 1)
    assert list(fit.params.index) == ["slope"]
    np.testing.assert_allclose(fit.params["slope"], k, rtol=1e-9)
    np.testing.assert_allclose(fit.conf_int().loc["slope"], [k - q * se, k + q * se], rtol=1e-9)
    pred = fit.predict([5e8])
    np.testing.assert_allclose(pred["mean_ci_upper"].iloc[0], 5e8 * (k + q * se), rtol=1e-9)
    np.testing.assert_allclose(pred["obs_ci_upper"].iloc[0], 5e8 * k + q * math.sqrt(s2 + (5e8 * se) ** 2),
                               rtol=1e-9)
    r2 = 1 - np.sum((t - k * s) ** 2) / np.sum((t - t.mean()) ** 2)  # centred, not statsmodels' uncentred
    np.testing.assert_allclose(fit.rsquared, r2, rtol=1e-12)


def test_power_fit_matches_least_squares_on_logs_with_params_in_raw_units():
    rng = np.random.default_rng(3)
    s = np.array([70e6, 160e6, 410e6, 1e9, 1.4e9, 2.8e9])
    t = 3.0 * s ** 0.97 * np.exp(rng.normal(0, 0.05, s.size))
    fit = fit_law(optima_frame(s, t), form="power")
    beta, cov, mean, se_mean, se_obs, q = ols_band(np.log(s), np.log(t), np.log([5e8]), 0.05)
    assert list(fit.params.index) == ["coefficient", "exponent"]
    np.testing.assert_allclose(fit.params["exponent"], beta[1], rtol=1e-9)
    np.testing.assert_allclose(fit.params["coefficient"], np.exp(beta[0]), rtol=1e-7)  # raw-unit coefficient
    np.testing.assert_allclose(fit.conf_int().loc["exponent"], beta[1] + np.array([-1, 1]) * q * math.sqrt(cov[1, 1]),
                               rtol=1e-9)
    se_log_a = math.sqrt(cov[0, 0])  # in raw units ln a is the intercept itself
    np.testing.assert_allclose(fit.conf_int().loc["coefficient"], np.exp(beta[0] + np.array([-1, 1]) * q * se_log_a),
                               rtol=1e-7)
    pred = fit.predict([5e8])  # the band is for the median: exp of the log-scale band
    np.testing.assert_allclose(pred["mean"].iloc[0], np.exp(mean[0]), rtol=1e-9)
    np.testing.assert_allclose(pred["mean_ci_lower"].iloc[0], np.exp(mean[0] - q * se_mean[0]), rtol=1e-9)
    np.testing.assert_allclose(pred["obs_ci_upper"].iloc[0], np.exp(mean[0] + q * se_obs[0]), rtol=1e-9)
    # AIC on the teacher-size scale (millions): log-normal likelihood of T, k = 2
    tm = t / 1e6
    sigma2 = np.mean((np.log(t) - beta[0] - beta[1] * np.log(s)) ** 2)
    llf = np.sum(stats.lognorm.logpdf(tm, s=math.sqrt(sigma2), scale=np.exp(beta[0] + beta[1] * np.log(s)) / 1e6))
    np.testing.assert_allclose(fit.aic, -2 * llf + 4, rtol=1e-9)


def test_weighted_fit_uses_inverse_variances_from_the_optima_intervals():
    rng = np.random.default_rng(4)
    s = np.array([70e6, 160e6, 410e6, 1e9, 1.4e9, 2.8e9])
    half = 0.08 * (SLOPE * s)  # interval half-widths grow with the optimum
    t = SLOPE * s + INTERCEPT + rng.normal(0, half / 1.96)
    fit = fit_law(optima_frame(s, t, ci=(t - half, t + half)), weights="ci")
    w = 1 / (half / stats.norm.ppf(0.975)) ** 2
    X = np.column_stack([np.ones_like(s), s])
    sw = np.sqrt(w)
    beta, *_ = np.linalg.lstsq(X * sw[:, None], t * sw, rcond=None)
    np.testing.assert_allclose(fit.params[["intercept_params", "slope"]], beta, rtol=1e-7)
    assert fit.weights == "ci" and "WLS" in fit.summary()


def test_an_optimum_without_an_interval_gets_the_median_weight_and_a_data_warning():
    s = np.array([70e6, 160e6, 410e6, 1e9])
    t = SLOPE * s
    lo, hi = t * 0.9, t * 1.1
    lo[1] = hi[1] = np.nan
    with pytest.warns(DataWarning, match="median variance"):
        fit = fit_law(optima_frame(s, t, ci=(lo, hi)), weights="ci")
    assert np.isfinite(fit.params["slope"])


# ------------------------------------------------------------------------------------- caveats
def test_two_bracketed_optima_refuse_the_linear_law_but_fit_the_proportional_one():
    from analysis.collapse import LawRefused

    with pytest.raises(LawRefused, match="linear law needs at least 3 students") as refusal:
        fit_law(optima_frame([1e8, 1e9], [2.4e8, 2.5e9]))
    assert refusal.value.students == []  # both are bracketed: the law needs a third student
    fit = quiet(fit_law, optima_frame([1e8, 1e9], [2.4e8, 2.5e9]), form="proportional")
    assert fit.nobs == 2 and np.isfinite(fit.conf_int().loc["slope"]).all()


def test_fewer_bracketed_points_than_the_law_needs_is_a_refusal_that_names_the_teachers_to_add():
    from analysis.collapse import LawRefused

    opt = optima_frame([1e8, 4e8, 1e9], [2.4e8, 1e9, 2e9], edge=[False, False, True]).assign(
        grid_min=[1.25e8, 5e8, 1.25e9], grid_max=[1.6e9, 6.4e9, 2e9])
    with pytest.raises(LawRefused, match=r"has 2 of 3.*1B student: the best teacher is the largest tested \(2B\); "
                                         r"add a larger teacher \(e.g. 4B\)") as refusal:
        fit_law(opt)
    assert refusal.value.students == [1e9]


def test_edge_optima_are_left_out_of_the_two_stage_fit_with_a_warning():
    s = np.array([70e6, 160e6, 410e6, 1e9])
    edge_sentence = r"1 student\(s\) \(1B\) have their best teacher at the edge"
    with pytest.warns(EdgeOptimumWarning, match=edge_sentence):
        fit = fit_law(optima_frame(s, SLOPE * s * [1, 1.01, 0.99, 5], edge=[False, False, False, True]))
    assert fit.nobs == 3 and 1e9 not in fit.optima["student_params"].tolist()
    assert fit.params["slope"] == pytest.approx(SLOPE, rel=0.05)  # the 5x-off edge optimum did not pull it


def test_predicting_far_outside_the_fitted_students_warns_and_the_prediction_carries_it_not_the_fit():
    s = np.array([70e6, 160e6, 410e6, 1e9])
    fit = fit_law(optima_frame(s, SLOPE * s * [1, 1.01, 0.99, 1]))
    before = list(fit.caveats)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fit.predict([1.9e9, 40e6]).attrs["caveats"] == []  # within 2x: no warning
    with pytest.warns(ExtrapolationWarning, match="7B extrapolates beyond the fitted students .70M to 1B"):
        pred = fit.predict([7e9])
    assert [type(c) for c in pred.attrs["caveats"]] == [ExtrapolationWarning]
    assert fit.caveats == before  # a prediction never changes the fit


def test_a_fit_shows_itself_in_one_line_and_as_an_html_table():
    s = np.array([70e6, 160e6, 410e6, 1e9])
    fit = quiet(fit_law, optima_frame(s, SLOPE * s * [1, 1.01, 0.99, 1]))
    text = repr(fit)
    assert text.startswith("LawFit(linear, two-stage, None: slope 2.") and "\n" not in text and len(text) < 120
    assert "<table>" in fit._repr_html_() and "intercept_params" in fit._repr_html_()


def test_ols_on_optima_of_very_unequal_precision_advises_weights_or_the_bootstrap():
    s = np.array([70e6, 160e6, 410e6, 1e9])
    t = SLOPE * s
    opt = optima_frame(s, t, ci=(t * 0.9, t * 1.1))  # widths grow 14x with the optimum
    with pytest.warns(DataWarning, match="differ 14-fold in width.*prefer weights='ci'"):
        fit_law(opt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_law(opt, weights="ci")  # weighted: no such caveat
        fit_law(opt, form="power")  # equal widths on the log scale: none either


def test_pooled_families_are_flagged():
    s = np.array([70e6, 160e6, 410e6, 1e9])
    opt = optima_frame(s, SLOPE * s * [1, 1.01, 0.99, 1]).assign(family=["a", "a", "b", "b"])
    with pytest.warns(DataWarning, match="pools optima from 2 families"):
        fit_law(opt)


def test_unknown_form_or_weights_are_rejected():
    opt = optima_frame([1e8, 2e8, 4e8], [2e8, 5e8, 1e9])
    with pytest.raises(ValueError, match="form: expected one of"):
        fit_law(opt, form="cubic")
    with pytest.raises(ValueError, match="weights: expected one of"):
        fit_law(opt, weights="yes")


# ------------------------------------------------------------------------------------- invert, summary, JSON
@pytest.mark.parametrize("form", ["linear", "proportional", "power"])
def test_invert_is_the_root_of_predict_and_its_interval_is_where_the_band_contains_the_teacher(form):
    rng = np.random.default_rng(5)
    s = np.geomspace(70e6, 3e9, 8)
    t = SLOPE * s * np.exp(rng.normal(0, 0.05, s.size))
    fit = fit_law(optima_frame(s, t), form=form)
    teacher = 2e9
    inv = fit.invert([teacher])
    assert list(inv.columns) == PREDICTION_COLUMNS and inv.index.name == "teacher_params"
    row = inv.iloc[0]
    np.testing.assert_allclose(fit.predict([row["mean"]])["mean"].iloc[0], teacher, rtol=1e-9)
    # at the interval's ends the band's far edge passes exactly through the teacher (positive slope)
    np.testing.assert_allclose(fit.predict([row["mean_ci_lower"]])["mean_ci_upper"].iloc[0], teacher, rtol=1e-7)
    np.testing.assert_allclose(fit.predict([row["mean_ci_upper"]])["mean_ci_lower"].iloc[0], teacher, rtol=1e-7)
    np.testing.assert_allclose(fit.predict([row["obs_ci_lower"]])["obs_ci_upper"].iloc[0], teacher, rtol=1e-7)
    np.testing.assert_allclose(fit.predict([row["obs_ci_upper"]])["obs_ci_lower"].iloc[0], teacher, rtol=1e-7)
    assert row["obs_ci_lower"] < row["mean_ci_lower"] < row["mean"] < row["mean_ci_upper"] < row["obs_ci_upper"]


def test_invert_bounds_are_missing_when_the_slope_is_not_significant():
    s = np.array([1e8, 2e8, 4e8, 8e8])
    fit = fit_law(optima_frame(s, [5e8, 2e8, 6e8, 3e8]))  # flat, noisy: slope CI contains 0
    lo, hi = fit.conf_int().loc["slope"]
    assert lo < 0 < hi
    inv = fit.invert([4e8])
    assert inv[["mean_ci_lower", "mean_ci_upper"]].isna().all().all()


def test_summary_is_a_readable_table_with_params_fit_and_caveats():
    s = np.array([70e6, 160e6, 410e6, 1e9])
    fit = quiet(fit_law, optima_frame(s, SLOPE * s * [1, 1.01, 0.99, 1], edge=[0, 0, 0, 1]))
    text = fit.summary()
    for piece in ("linear form", "slope", "intercept_params", "R^2", "AIC", "Caveats:", "edge of the tested"):
        assert piece in text


def test_to_dict_is_the_law_json_of_the_issue_and_strict_json():
    df = simulate_distillation(seed=11)
    optima = quiet(find_optima, df, "val_loss", n_boot=50)
    for form, names in (("linear", ["slope", "intercept_params"]), ("proportional", ["slope"]),
                        ("power", ["coefficient", "exponent"])):
        out = quiet(fit_law, optima, form=form).to_dict()
        assert list(out)[:8] == ["schema_version", "metric", "form", "alpha", "n_points", "params", "r2", "optima"]
        assert out["schema_version"] == 2 and out["metric"] == "val_loss" and out["form"] == form
        assert out["n_points"] == int((~optima["at_grid_edge"]).sum()) and list(out["params"]) == names
        assert all(list(p) == ["estimate", "ci_lower", "ci_upper"] for p in out["params"].values())
        assert all(list(o)[:len(OPTIMUM_JSON_KEYS)] == OPTIMUM_JSON_KEYS for o in out["optima"])
        assert json.loads(json.dumps(out, allow_nan=False)) == out


def test_compare_forms_ranks_the_three_forms_and_tests_the_exponent():
    rng = np.random.default_rng(6)
    t = 2.5 * STUDENTS * np.exp(rng.normal(0, 0.05, STUDENTS.size))  # proportional, multiplicative noise
    table = compare_forms(optima_frame(STUDENTS, t))
    assert list(table["form"]) == ["linear", "proportional", "power"]
    assert table["delta_aic"].min() == 0
    power = table.set_index("form").loc["power"]
    assert power["exponent_ci_lower"] <= 1 <= power["exponent_ci_upper"]
    assert table.set_index("form").loc["power", "aic"] < table.set_index("form").loc["linear", "aic"]


# ------------------------------------------------------------------------------------- pipeline bootstrap
def test_bootstrap_percentile_interval_covers_the_planted_slope_and_narrows_with_more_seeds():
    widths = []
    for n_seeds in (3, 12):
        df = simulate_distillation(n_seeds=n_seeds, student_params=STUDENTS.round(), seed=21)
        boot = quiet(bootstrap_law, df, "val_loss", n_boot=500, seed=1)
        lo, hi = boot.conf_int().loc["slope"]
        assert lo <= SLOPE <= hi
        widths.append(hi - lo)
    assert widths[1] < 0.75 * widths[0]  # ~ sqrt(3/12) = 0.5 expected


def test_each_bootstrap_law_is_the_ols_fit_of_that_resamples_optima():
    df = simulate_distillation(seed=12)
    for form in ("linear", "proportional", "power"):
        boot = quiet(bootstrap_law, df, "val_loss", form=form, n_boot=50, seed=3)
        for b in (0, 17, 49):
            opt = boot.optima.assign(teacher_params=np.exp(boot.log_teacher_boot[b]))
            ref = quiet(fit_law, opt, form=form)
            np.testing.assert_allclose(boot.params_boot.iloc[b].to_numpy(), ref.params.to_numpy(), rtol=1e-8)


def test_bootstrap_predict_has_the_statsmodels_columns_and_the_point_fit_as_mean():
    df = simulate_distillation(seed=13, n_seeds=4)
    boot = quiet(bootstrap_law, df, "val_loss", n_boot=200)
    assert isinstance(boot, LawBootstrap)
    pred = boot.predict([3e8, 1e9])
    assert list(pred.columns) == PREDICTION_COLUMNS
    np.testing.assert_allclose(pred["mean"], boot.fit.predict([3e8, 1e9])["mean"], rtol=1e-12)
    # the prediction band adds the residual noise to each resampled law: wider up to percentile noise (1%)
    assert (pred["obs_ci_lower"] <= 1.01 * pred["mean_ci_lower"]).all() and (pred["mean_ci_lower"] < pred["mean"]).all()
    assert (pred["mean"] < pred["mean_ci_upper"]).all() and (pred["mean_ci_upper"] <= 1.01 * pred["obs_ci_upper"]).all()
    inv = boot.invert([2e9])
    assert inv["mean_ci_lower"].iloc[0] < inv["mean"].iloc[0] < inv["mean_ci_upper"].iloc[0]
    out = boot.to_dict()
    assert json.loads(json.dumps(out, allow_nan=False))["params"]["slope"]["ci_lower"] == pytest.approx(
        boot.conf_int().loc["slope", "lower"])
    assert len(boot.log_teacher_boot) == 200


def test_bootstrap_is_deterministic_for_a_seed():
    df = simulate_distillation(seed=14)
    a = quiet(bootstrap_law, df, "val_loss", n_boot=100, seed=8)
    b = quiet(bootstrap_law, df, "val_loss", n_boot=100, seed=8)
    pd.testing.assert_frame_equal(a.params_boot, b.params_boot)


def test_one_run_for_four_teachers_locates_no_optimum_and_the_bootstrap_refuses():
    from analysis.collapse import LawRefused

    df = simulate_distillation(n_seeds=1, teacher_ratios=(1.25, 2.0, 3.2, 5.0), seed=15)  # 1 run, 4 teachers
    with pytest.raises(LawRefused, match="cannot be told apart from the best; add seeds"):
        quiet(bootstrap_law, df, "val_loss", n_boot=50)


def quiet_except(category, fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", category)
        return fn(*args, **kwargs)


def test_bootstrap_warns_when_optima_cannot_be_resampled():
    one_run = simulate_distillation(n_seeds=1, teacher_ratios=(1.25, 2.0, 3.2, 5.0), seed=15)  # 1 run, 4 teachers
    two_runs = simulate_distillation(n_seeds=2, seed=16).assign(family="other")
    df = pd.concat([one_run, two_runs], ignore_index=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        boot = bootstrap_law(df, "val_loss", n_boot=50)
    assert any(isinstance(w.message, DataWarning) and "could not be resampled" in str(w.message) for w in caught)
    assert any(isinstance(c, DataWarning) for c in boot.caveats)


def test_auto_weights_use_the_intervals_when_there_are_some_and_fall_back_to_ols_with_a_caveat():
    opt = quiet(find_optima, simulate_distillation(n_seeds=3, seed=31), "val_loss")
    auto, wls = quiet(fit_law, opt, weights="auto"), quiet(fit_law, opt, weights="ci")
    assert auto.weights == "ci"
    np.testing.assert_allclose(auto.params.to_numpy(), wls.params.to_numpy(), rtol=1e-12)
    bare = opt.assign(ci_lower=np.nan, ci_upper=np.nan)  # one run per teacher: no intervals
    with pytest.warns(DataWarning, match="fitted by OLS"):
        fallback = fit_law(bare, weights="auto")
    assert fallback.weights == "none"
    np.testing.assert_allclose(fallback.params.to_numpy(), quiet(fit_law, bare).params.to_numpy(), rtol=1e-12)
