"""Figures: stable trace names, log axes with units, and plotted numbers equal to the input numbers."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from analysis.figures import (
    PALETTE,
    benchmark_figure,
    curse_figure,
    frontier_figure,
    law_figure,
    metric_title,
    pareto_frontier,
    residuals_figure,
    whatif_figure,
)
from analysis.reported_law import load_reported_law


def names(fig: go.Figure) -> list[str]:
    return [t.name for t in fig.data]


def trace(fig: go.Figure, name: str):
    (found,) = [t for t in fig.data if t.name == name]
    return found


class FakeLawFit:
    """LawFit's interface with known numbers: T* = 2.5 S, CI ±10 %, PI ±30 %."""

    form = "linear"

    def __init__(self):
        self.optima = pd.DataFrame({"student_params": [100e6, 300e6, 1e9], "teacher_params": [260e6, 740e6, 2.4e9],
                                    "ci_lower": [220e6, 600e6, 2.0e9], "ci_upper": [300e6, 900e6, 2.9e9],
                                    "method": ["log_parabola", "log_parabola", "argmin"], "family": "default"})
        self.fitted = 2.5 * self.optima["student_params"]
        self.resid = self.optima["teacher_params"] - self.fitted

    def predict(self, student_params, alpha=None):
        s = np.asarray(student_params, dtype=float)
        m = 2.5 * s
        return pd.DataFrame({"mean": m, "mean_ci_lower": 0.9 * m, "mean_ci_upper": 1.1 * m,
                             "obs_ci_lower": 0.7 * m, "obs_ci_upper": 1.3 * m},
                            index=pd.Index(s, name="student_params"))


def _results():
    rows = []
    for s in (100e6, 400e6):
        for t in (150e6, 300e6, 1e9, 3e9):
            for seed in range(3):
                rows.append(dict(student_params=int(s), teacher_params=int(t), metric="val_loss",
                                 value=3.0 + 0.1 * (np.log10(t) - np.log10(2.5 * s)) ** 2 + 0.01 * seed,
                                 higher_is_better=False, family="default", data_tokens=np.nan, seed=seed,
                                 run_id=f"run-{int(s / 1e6)}-{int(t / 1e6)}-{seed}"))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------- palette, units
def test_the_palette_is_okabe_ito():
    assert set(PALETTE) == {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}


def test_known_metrics_get_their_units():
    assert metric_title("val_loss") == "val_loss (nats/token)"
    assert metric_title("bits_per_byte") == "bits_per_byte (bits/byte)"
    assert metric_title("avg_acc") == "avg_acc"


# ---------------------------------------------------------------------------------------------- curse curves
def test_curse_curves_have_one_line_per_student_at_the_mean_over_seeds():
    res = _results()
    fig = curse_figure(res, None, "val_loss")
    assert names(fig) == ["student 100M", "student 400M"]
    line = trace(fig, "student 400M")
    expected = res[res.student_params == 400_000_000].groupby("teacher_params")["value"].mean()
    np.testing.assert_allclose(line.x, expected.index.to_numpy(dtype=float))
    np.testing.assert_allclose(line.y, expected.to_numpy(), rtol=1e-12)
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text == "teacher size (params)"
    assert fig.layout.yaxis.title.text == "val_loss (nats/token)"
    assert "lower is better" in fig.layout.title.text


def test_random_init_baselines_are_their_own_markers_and_never_averaged_into_a_curve():
    res = _results().assign(student_init="pruned")
    baseline = res[res.teacher_params == 150e6].assign(student_init="random", value=9.0)
    fig = curse_figure(pd.concat([res, baseline], ignore_index=True), None, "val_loss")
    expected = res[res.student_params == 400_000_000].groupby("teacher_params")["value"].mean()
    np.testing.assert_allclose(trace(fig, "student 400M").y, expected.to_numpy(), rtol=1e-12)
    marks = trace(fig, "random-init baseline")
    np.testing.assert_allclose(marks.x, [150e6, 150e6])
    np.testing.assert_allclose(marks.y, [9.0, 9.0])


def test_curse_hover_names_the_runs_and_sizes_in_human_units():
    line = trace(curse_figure(_results(), None, "val_loss"), "student 100M")
    assert "teacher 150M" in line.text[0] and "run-100-150-0" in line.text[0] and "mean of 3 runs" in line.text[0]


def test_optima_are_marked_with_their_confidence_intervals():
    optima = pd.DataFrame({"family": "default", "data_tokens": np.nan, "student_params": [100_000_000, 400_000_000],
                           "teacher_params": [250e6, 1e9], "ci_lower": [200e6, np.nan], "ci_upper": [330e6, np.nan],
                           "method": "log_parabola", "best_value": [3.01, 3.02]})
    opt = trace(curse_figure(_results(), optima, "val_loss"), "optimal teacher")
    np.testing.assert_allclose(opt.x, [250e6, 1e9])
    np.testing.assert_allclose(opt.y, [3.01, 3.02])
    assert opt.error_x.array[0] == pytest.approx(80e6) and opt.error_x.arrayminus[0] == pytest.approx(50e6)
    assert opt.error_x.array[1] is None  # no CI: no bar
    assert "CI 200M-330M" in opt.text[0] and "no CI" in opt.text[1]


def test_several_families_are_named_in_the_lines():
    res = pd.concat([_results().assign(family="gpt2"), _results().assign(family="pythia")])
    assert names(curse_figure(res, None, "val_loss")) == [
        "gpt2 · student 100M", "gpt2 · student 400M", "pythia · student 100M", "pythia · student 400M"]


def test_several_metrics_need_a_choice():
    res = pd.concat([_results(), _results().assign(metric="acc")])
    with pytest.raises(ValueError, match="several metrics"):
        curse_figure(res)
    with pytest.raises(ValueError, match="no results with metric 'ppl'"):
        curse_figure(res, None, "ppl")


# ---------------------------------------------------------------------------------------------- the law
def test_the_law_figure_draws_the_fit_its_bands_the_reported_law_and_the_optima():
    fit, reported = FakeLawFit(), load_reported_law()
    fig = law_figure(fit, fit.optima, reported=reported, alpha=0.05)
    assert names(fig) == ["prediction band (95%)", "confidence band (95%)", "fit (linear)",
                          "Zhang et al. (as reported)", "optimal teachers"]
    line = trace(fig, "fit (linear)")
    np.testing.assert_allclose(line.y, 2.5 * np.asarray(line.x), rtol=1e-12)
    ref = trace(fig, "Zhang et al. (as reported)")
    np.testing.assert_allclose(ref.y, 2.498 * np.asarray(ref.x) - 11.498e6, rtol=1e-12)
    assert ref.line.dash == "dash"
    band = trace(fig, "confidence band (95%)")
    n = len(line.x)
    np.testing.assert_allclose(band.y[:n], 1.1 * 2.5 * np.asarray(line.x), rtol=1e-12)  # upper edge
    np.testing.assert_allclose(band.y[n:], 0.9 * 2.5 * np.asarray(line.x)[::-1], rtol=1e-12)  # lower edge back
    pts = trace(fig, "optimal teachers")
    np.testing.assert_allclose(pts.y, [260e6, 740e6, 2.4e9])
    np.testing.assert_allclose(pts.error_y.array, [40e6, 160e6, 0.5e9], rtol=1e-12)
    np.testing.assert_allclose(pts.error_y.arrayminus, [40e6, 140e6, 0.4e9], rtol=1e-12)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert fig.layout.xaxis.title.text == "student size (params)"
    assert fig.layout.yaxis.title.text == "optimal teacher size (params)"


def test_without_a_fit_only_the_optima_and_the_reported_law_are_drawn():
    fig = law_figure(None, FakeLawFit().optima, reported=load_reported_law())
    assert names(fig) == ["Zhang et al. (as reported)", "optimal teachers"]


def test_the_reported_law_alone_spans_the_requested_students_and_skips_negative_teachers():
    fig = law_figure(None, None, reported=load_reported_law(), student_range=(1e6, 1e9))
    ref = trace(fig, "Zhang et al. (as reported)")
    assert min(ref.x) > 11.498e6 / 2.498 and max(ref.x) == pytest.approx(1e9)
    assert (np.asarray(ref.y) > 0).all()


def test_a_real_law_fit_is_drawn_at_its_own_predictions():
    import warnings

    from analysis.law import fit_law

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_law(FakeLawFit().optima)
    fig = law_figure(fit, None)  # the optima come from the fit
    line = trace(fig, "fit (linear)")
    expected = fit.predict(np.asarray(line.x))
    np.testing.assert_allclose(line.y, expected["mean"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(trace(fig, "optimal teachers").x, [100e6, 300e6, 1e9])
    np.testing.assert_allclose(trace(residuals_figure(fit), "residuals").y, fit.resid.to_numpy(), rtol=1e-12)


def test_the_band_level_follows_alpha():
    assert "confidence band (90%)" in names(law_figure(FakeLawFit(), None, alpha=0.1))


def test_residuals_are_plotted_against_student_size():
    fit = FakeLawFit()
    fig = residuals_figure(fit)
    assert names(fig) == ["zero", "residuals"]
    np.testing.assert_allclose(trace(fig, "residuals").y, [10e6, -10e6, -100e6])
    np.testing.assert_allclose(trace(fig, "residuals").x, [100e6, 300e6, 1e9])
    assert fig.layout.xaxis.type == "log" and "(params)" in fig.layout.yaxis.title.text


# ---------------------------------------------------------------------------------------------- benchmarks
def _bench():
    return pd.DataFrame({
        "model": ["big", "small", "big", "small"], "task": ["arc_easy", "arc_easy", "piqa", "piqa"],
        "metric": "acc", "filter": "none", "value": [0.7, 0.5, 0.75, 0.6], "stderr": [0.01, 0.02, np.nan, 0.015],
        "params": [1e9, 1e8, 1e9, 1e8]})


def test_benchmark_bars_have_one_trace_per_task_with_95_percent_error_bars():
    fig = benchmark_figure(_bench())
    assert names(fig) == ["arc_easy", "piqa"]
    arc = trace(fig, "arc_easy")
    assert list(arc.x) == ["small", "big"]  # ordered by size
    np.testing.assert_allclose(arc.y, [0.5, 0.7])
    np.testing.assert_allclose(arc.error_y.array, [1.96 * 0.02, 1.96 * 0.01], rtol=1e-12)
    assert trace(fig, "piqa").error_y.array[1] is None  # missing stderr: no bar
    assert fig.layout.yaxis.title.text == "acc" and fig.layout.xaxis.title.text == "model"


def test_benchmark_filters_select_rows_and_an_empty_choice_says_so():
    assert names(benchmark_figure(_bench(), task="piqa")) == ["piqa"]
    empty = benchmark_figure(_bench(), task="nope")
    assert not empty.data and "No benchmark rows" in empty.layout.annotations[0].text


# ---------------------------------------------------------------------------------------------- frontier
def _table():
    return pd.DataFrame({"model": ["a", "b", "c", "d", "e"], "role": ["competitor"] * 4 + ["ours"],
                         "train_compute_flops": [1e21, 2e21, 4e21, 8e21, 3e21],
                         "mmlu_5shot": [25.0, 24.0, 30.0, 29.0, 31.0]})


def test_the_pareto_frontier_keeps_models_no_cheaper_model_beats():
    front = pareto_frontier(_table(), x="train_compute_flops", y="mmlu_5shot")
    assert list(front["model"]) == ["a", "e"]  # b, c and d are beaten by a cheaper model with a higher score


def test_the_frontier_figure_has_points_per_role_a_frontier_line_and_a_log_compute_axis():
    fig = frontier_figure(_table(), y="mmlu_5shot")
    assert names(fig) == ["competitor", "ours", "Pareto frontier"]
    front = trace(fig, "Pareto frontier")
    np.testing.assert_allclose(front.x, [1e21, 3e21])
    np.testing.assert_allclose(front.y, [25.0, 31.0])
    np.testing.assert_allclose(trace(fig, "competitor").y, [25.0, 24.0, 30.0, 29.0])
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text == "training compute (FLOPs)"
    assert fig.layout.yaxis.title.text == "mmlu_5shot"


def test_without_y_the_first_score_column_is_plotted_not_a_size_or_compute_column():
    table = _table().assign(params_b=1.0, train_compute_1e21_flops=[1, 2, 4, 8, 3], n_samples=100)
    table = table[["model", "role", "params_b", "train_compute_1e21_flops", "n_samples", "mmlu_5shot",
                   "train_compute_flops"]]
    assert frontier_figure(table).layout.yaxis.title.text == "mmlu_5shot"


def test_the_frontier_accepts_the_long_benchmark_table():
    long = _table().melt(id_vars=["model", "role", "train_compute_flops"], var_name="task", value_name="value")
    fig = frontier_figure(long, y="mmlu_5shot")
    np.testing.assert_allclose(trace(fig, "Pareto frontier").y, [25.0, 31.0])


# ---------------------------------------------------------------------------------------------- what-if
def test_the_whatif_figure_shows_candidates_and_the_optimum_with_interval_shading():
    from analysis.whatif import whatif

    answer = whatif(400e6, law=FakeLawFit())
    fig = whatif_figure(answer, answer.candidates)
    assert names(fig) == ["candidates", "optimal teacher (fit (linear))"]
    cand = trace(fig, "candidates")
    np.testing.assert_allclose(sorted(cand.x), sorted(answer.candidates["params"].astype(float)))
    assert cand.y[-1] == answer.candidates["model"].iloc[0]  # rank 1 drawn at the top
    assert {s.name for s in fig.layout.shapes} == {"prediction interval", "confidence interval"}
    assert fig.layout.xaxis.title.text == "teacher size (params)"


def test_the_whatif_figure_for_the_reported_law_has_no_interval_shading():
    import warnings

    from analysis.whatif import whatif

    law = load_reported_law()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        answer = whatif(3e9, law=law)
    fig = whatif_figure(answer, answer.candidates, law)
    assert not fig.layout.shapes and "optimal teacher (as reported)" in names(fig)
