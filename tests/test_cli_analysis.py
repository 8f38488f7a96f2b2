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
    assert out["schema_version"] == 1 and out["metric"] == "val_loss"
    keys = {"family", "data_tokens", "student_params", "teacher_params", "ci_lower", "ci_upper", "method",
            "n_teachers", "at_grid_edge"}
    assert out["optima"] and all(set(o) == keys for o in out["optima"])
    assert all(o["method"] in ("argmin", "log_parabola") for o in out["optima"])
    assert all(isinstance(o["student_params"], int) for o in out["optima"])


def test_law_json_recovers_the_planted_slope_with_an_interval_around_it(results_csv):
    out = json.loads(run_cli("law", results_csv, "--metric", "val_loss", "--json").stdout)
    assert out["schema_version"] == 1 and out["form"] == "linear" and out["alpha"] == 0.05
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
    assert "slope" in out and "Pipeline bootstrap (50 resamples" in out


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
