"""`python -m analysis`: the CLI contract of issue #2, section 5 (other tools depend on it)."""
import json
import subprocess
import sys

import pytest

from analysis.simulate import simulate_distillation

SLOPE, INTERCEPT = 2.5, -10e6


def run_cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "analysis", *map(str, args)], capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def results_csv(tmp_path_factory):
    frame = simulate_distillation(slope=SLOPE, intercept_params=INTERCEPT, n_seeds=3, seed=1)
    path = tmp_path_factory.mktemp("cli") / "results.csv"
    frame.to_csv(path, index=False)
    return path


def test_optimum_json_has_the_documented_shape(results_csv):
    out = json.loads(run_cli("optimum", results_csv, "--metric", "val_loss", "--json").stdout)
    assert out["schema_version"] == 2 and out["metric"] == "val_loss"
    keys = {"family", "data_tokens", "student_params", "teacher_params", "ci_lower", "ci_upper", "method",
            "n_teachers", "at_grid_edge", "censored", "tied_teachers"}
    assert out["optima"] and all(keys <= set(o) for o in out["optima"])
    assert all(o["method"] in ("argmin", "log_parabola") for o in out["optima"])
    assert all(isinstance(o["student_params"], int) for o in out["optima"])


def test_law_json_recovers_the_planted_slope_with_an_interval_around_it(results_csv):
    out = json.loads(run_cli("law", results_csv, "--metric", "val_loss", "--json").stdout)
    assert out["schema_version"] == 2 and out["form"] == "linear" and out["alpha"] == 0.05
    assert out["method"] == "one_stage" and out["declined"] is False and len(out["groups"]) == 1
    slope = out["params"]["slope"]
    assert set(out["params"]) == {"slope", "intercept_params"}
    assert slope["ci_lower"] <= SLOPE <= slope["ci_upper"]
    assert slope["estimate"] == pytest.approx(SLOPE, rel=0.1)
    assert out["n_points"] == len(out["optima"]) and 0.9 < out["r2"] <= 1


@pytest.mark.parametrize("form, names", [("proportional", {"slope"}), ("power", {"coefficient", "exponent"})])
def test_law_forms_name_their_params(results_csv, form, names):
    out = json.loads(run_cli("law", results_csv, "--metric", "val_loss", "--form", form, "--json").stdout)
    assert set(out["params"]) == names and out["form"] == form


def test_law_text_output_prints_sizes_in_human_units_and_a_bootstrap(results_csv):
    out = run_cli("law", results_csv, "--metric", "val_loss", "--bootstrap", "50").stdout
    assert "slope" in out and "one-stage fit of every curve" in out and "pipeline bootstrap (50 resamples" in out


def test_whatif_from_the_reported_law_matches_its_equation():
    out = json.loads(run_cli("whatif", "--reported", "--student", "3B", "--json").stdout)
    assert out["source"] == "reported" and out["student_params"] == 3_000_000_000
    assert out["teacher_params"]["mean"] == pytest.approx(2.498 * 3e9 - 11.498e6, rel=1e-9)
    assert out["teacher_params"]["mean_ci_lower"] is None
    assert out["candidates"] and {"model", "family", "params"} <= set(out["candidates"][0])


def test_whatif_from_a_fit_gives_ordered_intervals(results_csv):
    out = json.loads(run_cli("whatif", results_csv, "--metric", "val_loss", "--student", "500M", "--json").stdout)
    t = out["teacher_params"]
    assert out["source"] == "fit"
    assert t["obs_ci_lower"] <= t["mean_ci_lower"] <= t["mean"] <= t["mean_ci_upper"] <= t["obs_ci_upper"]
    assert t["mean"] == pytest.approx(SLOPE * 500e6 + INTERCEPT, rel=0.15)


def test_a_missing_metric_is_a_clear_error_with_exit_code_2(results_csv):
    proc = run_cli("law", results_csv, "--metric", "accuracy", check=False)
    assert proc.returncode == 2 and "accuracy" in proc.stderr and "val_loss" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_malformed_file_names_the_file_and_exits_2(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("student_params,teacher_params,metric,value\n")
    proc = run_cli("optimum", bad, "--metric", "val_loss", check=False)
    assert proc.returncode == 2 and "bad.csv" in proc.stderr and "Traceback" not in proc.stderr


def test_import_lmeval_reports_a_broken_file_imports_the_rest_and_exits_1(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"results": {"lambada": {"acc": 0.5, "acc_stderr": 0.01}},
                                "versions": {"lambada": 0}, "config": {"model_args": "pretrained=gpt2"}}))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    out_csv = tmp_path / "bench.csv"
    proc = run_cli("import-lmeval", good, broken, "--out", out_csv, check=False)
    assert proc.returncode == 1 and "broken.json" in proc.stderr
    import pandas as pd

    table = pd.read_csv(out_csv, keep_default_na=False)
    row = table[(table.task == "lambada") & (table.metric == "acc")]
    assert len(row) == 1 and float(row.value.iloc[0]) == 0.5 and float(row.stderr.iloc[0]) == 0.01
    assert row["filter"].iloc[0] == ""


def published_style_table(tmp_path):
    """Every student with two teachers (as in a published table): every optimum at an edge."""
    rows = []
    for student, teachers, values in ((125e6, (350e6, 1.3e9), (3.1, 3.0)), (350e6, (1.3e9, 6.7e9), (2.8, 2.9)),
                                      (1.3e9, (6.7e9, 13e9), (2.5, 2.45)), (2.7e9, (6.7e9, 30e9), (2.3, 2.35))):
        rows += [dict(student_params=student, teacher_params=t, metric="val_loss", value=v)
                 for t, v in zip(teachers, values)]
    path = tmp_path / "published.csv"
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_a_published_table_with_two_teachers_per_student_is_refused_with_exit_2(tmp_path):
    path = published_style_table(tmp_path)
    proc = run_cli("law", path, "--metric", "val_loss", check=False)
    assert proc.returncode == 2 and "No law: a linear law needs at least 3 students" in proc.stdout + proc.stderr
    assert "cannot be told apart from the best; add seeds" in proc.stderr  # one run each: no noise estimate
    out = json.loads(run_cli("law", path, "--metric", "val_loss", "--json", check=False).stdout)
    assert out["declined"] is True and out["params"] is None and "needs at least 3" in out["reason"]
    proc = run_cli("whatif", path, "--metric", "val_loss", "--student", "1.3B", "--json", check=False)
    answer = json.loads(proc.stdout)
    assert proc.returncode == 2 and answer["declined"] is True and answer["candidates"] == []
    assert answer["teacher_params"]["mean"] is None


def test_whatif_far_outside_declines_and_extrapolate_labels_the_guess(results_csv):
    proc = run_cli("whatif", results_csv, "--metric", "val_loss", "--student", "200B", check=False)
    assert proc.returncode == 2 and "more than 10x outside" in proc.stdout
    out = run_cli("whatif", results_csv, "--metric", "val_loss", "--student", "200B", "--extrapolate").stdout
    assert "EXTRAPOLATION" in out


def test_law_fits_each_family_and_budget_and_tests_whether_the_slope_differs(tmp_path):
    frame = simulate_distillation(n_seeds=3, seed=2, families=("gpt2", "pythia"), data_tokens=[1e9, 4e9])
    path = tmp_path / "groups.csv"
    frame.to_csv(path, index=False)
    out = json.loads(run_cli("law", path, "--metric", "val_loss", "--by", "family", "--by", "data_tokens",
                             "--json").stdout)
    assert len(out["groups"]) == 4 and {g["group"]["family"] for g in out["groups"]} == {"gpt2", "pythia"}
    test = out["tests"]["family"]
    assert test["df"] == 2 and 0 <= test["p_value"] <= 1 and "across families" in test["sentence"]
    one = json.loads(run_cli("law", path, "--metric", "val_loss", "--family", "gpt2", "--data-tokens", "4B",
                             "--json").stdout)
    assert len(one["groups"]) == 1 and one["group"] == {"family": "gpt2", "data_tokens": 4_000_000_000}
