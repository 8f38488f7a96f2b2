"""End to end through the CLI: pretrain -> prune -> distil -> evaluate -> results rows (tiny, CPU)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from eval_runs.__main__ import main  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _cli(capsys, *argv) -> dict:
    assert main([str(a) for a in argv]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.slow
def test_tiny_pipeline_from_pretraining_to_a_results_row(tmp_path, capsys):
    import textwrap
    torch.set_num_threads(1)
    (tmp_path / "corpus.txt").write_text(open(textwrap.__file__, encoding="utf-8").read() * 4, encoding="utf-8")
    ws = tmp_path / "ws"
    data = ["--workspace", ws, "--corpus-paths", tmp_path / "corpus.txt", "--corpus-piece-bytes", "2000"]
    train = ["--batch-size", "8", "--seq-len", "32", "--eval-tokens", "2048", "--lr", "3e-3"]
    teacher = _cli(capsys, "pretrain", "--name", "teacher", "--params", "120K", "--n-tokens", "20K",
                   "--tokenizer-vocab-size", "300", *train, *data)
    assert teacher["val_loss"] > 0 and teacher["bits_per_byte"] > 0
    pruned = _cli(capsys, "prune", "--teacher", teacher["model_dir"], "--params", "60K", "--out", tmp_path / "student",
                  "--importance", "gradient", "--n-calibration-batches", "2", "--seq-len", "32", "--batch-size", "8",
                  *data)
    assert pruned["params"] == pytest.approx(60_000, rel=0.05)
    distilled = _cli(capsys, "distill", "--teacher", teacher["model_dir"], "--student", pruned["out"], "--name", "kd",
                     "--n-tokens", "10K", *train, *data)
    assert distilled["teacher_params"] > distilled["student_params"]
    evaluated = _cli(capsys, "evaluate", "--model", distilled["model_dir"], "--seq-len", "32", "--eval-tokens", "2048",
                     *data)
    assert evaluated["val_loss"] == pytest.approx(distilled["val_loss"], rel=1e-4)
    out = tmp_path / "results.csv"
    assert main(["results", "--workspace", str(ws), "--out", str(out)]) == 0
    from analysis.results_io import load_distillation_results
    frame, report = load_distillation_results(out)
    assert set(frame["metric"]) == {"val_loss", "bits_per_byte"} and report.n_rows_kept == 2
    row = frame[frame["metric"] == "val_loss"].iloc[0]
    assert row["teacher_params"] == distilled["teacher_params"] and row["student_init"] == "pruned"
    assert row["teacher_value"] == pytest.approx(teacher["val_loss"], rel=1e-4)


def test_the_cli_reports_bad_input_in_one_line_with_exit_code_2(tmp_path):
    env_path = {"PYTHONPATH": str(REPO)}
    import os
    proc = subprocess.run([sys.executable, "-m", "eval_runs", "evaluate", "--model", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, env={**os.environ, **env_path}, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: ") and "not a Hugging Face model folder" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_tiny_sweep_writes_rows_for_every_pair_and_a_rerun_skips_finished_runs(tmp_path):
    import textwrap

    from eval_runs.results import results_frame
    from eval_runs.sweep import SweepPlan, plan_pairs, run_sweep
    torch.set_num_threads(1)
    (tmp_path / "corpus.txt").write_text(open(textwrap.__file__, encoding="utf-8").read() * 4, encoding="utf-8")
    plan = SweepPlan(name="t", teacher_params=(80_000, 160_000), student_params=(50_000,), data_tokens=(2048,),
                     teacher_tokens=4096, vocab_size=300, corpus_paths=(str(tmp_path / "corpus.txt"),),
                     seq_len=32, batch_size=8, eval_tokens=1024, importance="magnitude", threads=1)
    folder = run_sweep(plan, workspace=tmp_path / "ws", progress=False)
    frame = results_frame(tmp_path / "ws")
    assert len(frame) == 2 * len(plan_pairs(plan, [80_000, 160_000])) == 6
    assert set(frame["student_init"]) == {"pruned", "random"}
    random_row = frame[frame["student_init"] == "random"].iloc[0]
    assert random_row["teacher_params"] == frame["teacher_params"].min()
    # students pruned from different teachers form one group: the planned size, the model's own count beside it
    assert set(frame["student_params"]) == {50_000}
    assert ((frame["student_params_actual"] - 50_000).abs() <= 0.05 * 50_000).all()
    status = json.loads((folder / "status.json").read_text())
    assert status["state"] == "succeeded" and status["progress"] == 1.0
    stamps = {p: p.stat().st_mtime_ns for p in folder.rglob("result.json")}
    run_sweep(plan, workspace=tmp_path / "ws", progress=False)
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("result.json")} == stamps


def _tiny_plan_toml(tmp_path, **extra) -> Path:
    import textwrap

    (tmp_path / "corpus.txt").write_text(open(textwrap.__file__, encoding="utf-8").read() * 4, encoding="utf-8")
    values = dict(name="'t'", teacher_params="['62.5K', '125K']", student_params="['50K']",
                  data_tokens="['10240']", teacher_tokens="'4096'", vocab_size=272,
                  corpus_paths=f"['{tmp_path / 'corpus.txt'}']", seq_len=32, batch_size=8, eval_tokens="'1024'",
                  importance="'magnitude'", checkpoint_every=4, matched_students="true", seeds="[0, 1]", threads=1)
    values.update(extra)
    path = tmp_path / "plan.toml"
    path.write_text("".join(f"{k} = {v}\n" for k, v in values.items()), encoding="utf-8")
    return path


def _rows(ws: Path):
    from eval_runs.results import results_frame

    frame = results_frame(ws)
    return frame.sort_values(["run_id", "metric"])[["run_id", "metric", "value", "teacher_value"]] \
        .reset_index(drop=True)


@pytest.mark.slow
def test_a_sweep_killed_mid_cell_and_resumed_ends_as_an_uninterrupted_one(tmp_path):
    import os
    import signal
    import time

    import pandas as pd

    from eval_runs.sweep import read_plan, run_sweep

    plan_path = _tiny_plan_toml(tmp_path)
    run_sweep(read_plan(plan_path), workspace=tmp_path / "whole", progress=False)

    ws = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "eval_runs", "sweep", "--plan", str(plan_path), "--workspace", str(ws),
           "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    students = ws / "sweeps" / "t" / "students"
    deadline = time.time() + 300
    while not list(students.glob("*/checkpoint-*")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(students.glob("*/checkpoint-*")), "the sweep ended before any distillation checkpoint"
    assert not all((d / "result.json").exists() for d in students.iterdir()), "killed too late: nothing to resume"

    out = subprocess.run([sys.executable, "-m", "eval_runs", "sweep", "--resume", "t", "--workspace", str(ws),
                          "--no-progress"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "sweep finished" in out.stdout
    resumed, whole = _rows(ws), _rows(tmp_path / "whole")
    assert len(whole) == 2 * 2 * 3  # 2 seeds x (2 pruned + 1 random) students x 2 metrics
    pd.testing.assert_frame_equal(resumed, whole, rtol=1e-6)
    status = json.loads((ws / "sweeps" / "t" / "status.json").read_text())
    assert status["state"] == "succeeded"


@pytest.mark.slow
def test_max_minutes_stops_at_a_cell_boundary_and_resume_finishes_the_same_sweep(tmp_path, capsys):
    import pandas as pd

    from eval_runs.models import nested_ladder
    from eval_runs.results import results_frame
    from eval_runs.sweep import read_plan, run_sweep

    plan_path = _tiny_plan_toml(tmp_path)
    run_sweep(read_plan(plan_path), workspace=tmp_path / "whole", progress=False)
    ws = tmp_path / "budget"
    # a budget already spent: the sweep prepares its data, then starts no cell
    assert main(["sweep", "--plan", str(plan_path), "--workspace", str(ws), "--no-progress",
                 "--max-minutes", "1e-9"]) == 0
    said = capsys.readouterr().out
    assert "sweep stopped: 0/6 distillations done" in said and "sweep --resume t" in said
    status = json.loads((ws / "sweeps" / "t" / "status.json").read_text())
    assert status["state"] == "stopped" and status["cells_left"] == status["n_cells"] == 2 + 2 * 2  # pretraining, loops
    assert not (ws / "sweeps" / "t" / "teachers").exists()
    # a resumed sweep keeps its plan
    assert main(["sweep", "--resume", "t", "--workspace", str(ws), "--seeds", "5"]) == 2
    assert "keeps the plan" in capsys.readouterr().err
    assert main(["sweep", "--resume", "t", "--workspace", str(ws), "--no-progress"]) == 0
    pd.testing.assert_frame_equal(_rows(ws), _rows(tmp_path / "whole"), rtol=1e-6)
    status = json.loads((ws / "sweeps" / "t" / "status.json").read_text())
    assert status["state"] == "succeeded"
    # matched students: one architecture per student size, whichever teacher (and the random baseline)
    shapes = {json.dumps(json.loads((d / "result.json").read_text())["student_shape"], sort_keys=True)
              for d in (ws / "sweeps" / "t" / "students").iterdir()}
    want = nested_ladder("llama", [62_500, 125_000, 50_000], vocab_size=272, max_seq_len=32)[50_000]
    assert shapes == {json.dumps(want.to_dict(), sort_keys=True)}
    assert set(results_frame(ws)["student_init"]) == {"pruned", "random"}
