"""A sweep fanned out over a real single-node Slurm (tests/slurm_cluster.py starts it): cells become jobs that
wait for their teacher, one is killed with scancel mid-training and resumes from its checkpoint, the rows equal
those of the same sweep run in one process, and `--resume` afterwards submits nothing; cells sbatch refuses fail
with its reason. Skipped, with the reason,
where Slurm cannot start (not installed, not root); `make test` installs it (make slurm)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from slurm_cluster import SlurmUnavailable, local_slurm

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
SWEEP_TIMEOUT_SECONDS = 300


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    cm = local_slurm(tmp_path_factory.mktemp("slurm"))
    try:
        cluster = cm.__enter__()
    except SlurmUnavailable as exc:
        pytest.skip(f"Slurm cannot start here: {exc}")
    try:
        yield cluster
    finally:
        cm.__exit__(None, None, None)


def tiny_plan(tmp_path: Path) -> Path:
    """Two teachers, one student size: three distillations in two students cells, seconds each on one CPU."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(open(textwrap.__file__, encoding="utf-8").read() * 4, encoding="utf-8")
    plan = tmp_path / "plan.toml"
    plan.write_text(textwrap.dedent(f"""
        name = "t"
        teacher_params = [80000, 160000]
        student_params = [50000]
        data_tokens = [32768]
        teacher_tokens = 4096
        vocab_size = 300
        corpus_paths = ["{corpus}"]
        seq_len = 32
        batch_size = 8
        eval_tokens = 1024
        importance = "magnitude"
        threads = 1
        checkpoint_every = 8
    """))
    return plan


def eval_runs(args: list[str], env: dict, **kw) -> subprocess.Popen:
    env = {**env, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1"}
    return subprocess.Popen([sys.executable, "-m", "eval_runs", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def finish(proc: subprocess.Popen, timeout: float = SWEEP_TIMEOUT_SECONDS) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"timed out after {timeout} s:\n{out[-3000:]}") from None
    assert proc.returncode == 0, out[-3000:]
    return out


def rows(ws: Path):
    from eval_runs.results import results_frame

    frame = results_frame(ws)
    return frame.sort_values(["run_id", "metric"])[["run_id", "metric", "value"]].reset_index(drop=True)


def test_a_sweep_fans_out_on_slurm_and_a_cancelled_cell_resumes_to_the_same_rows(slurm, tmp_path):
    plan = tiny_plan(tmp_path)
    ws = tmp_path / "ws"
    proc = eval_runs(["sweep", "--plan", str(plan), "--workspace", str(ws), "--executor", "slurm", "--max-parallel",
                      "3", "--slurm-cpus-per-task", "1", "--slurm-timeout-min", "10", "--no-progress"], slurm.env)
    # kill the pruned student's cell with scancel once it has written a checkpoint
    student = ws / "sweeps" / "t" / "students" / "T80K-S50K-D32.8K-pruned-s0"
    deadline, killed = time.monotonic() + SWEEP_TIMEOUT_SECONDS, None
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        if any(student.glob("checkpoint-*")):
            book = json.loads((ws / "sweeps" / "t" / "cell_jobs.json").read_text())["cells"]
            job = json.loads((ws / "jobs" / book["T80K-D32.8K-s0"]["job_id"] / "status.json").read_text())
            assert slurm.run("scancel", job["external_id"]).returncode == 0
            killed = job["external_id"]
        time.sleep(0.05)
    out = finish(proc)
    assert killed, f"the cell finished before it could be cancelled:\n{out[-2000:]}"
    assert "sweep succeeded" in out

    status = json.loads((ws / "sweeps" / "t" / "status.json").read_text())
    assert status["state"] == "succeeded" and status["step"] == status["n_steps"] == 3
    book = json.loads((ws / "sweeps" / "t" / "cell_jobs.json").read_text())["cells"]
    assert set(book) == {"teacher-T80K", "teacher-T160K", "T80K-D32.8K-s0", "T160K-D32.8K-s0"}
    assert all(e["state"] == "done" for e in book.values())
    assert book["T80K-D32.8K-s0"]["attempts"] == 2 and "signal" in book["T80K-D32.8K-s0"]["history"][0]["why"]
    assert "resumed from checkpoint at step" in (student / "log.txt").read_text()
    sweep_log = (ws / "sweeps" / "t" / "log.txt").read_text()
    assert "(after afterok:" in sweep_log  # a students cell waited for its teacher in Slurm's queue

    # the same plan in one process gives the same rows, to the last bit
    finish(eval_runs(["sweep", "--plan", str(plan), "--workspace", str(tmp_path / "ws_local"), "--no-progress"],
                     dict(os.environ)))
    fanned, local = rows(ws), rows(tmp_path / "ws_local")
    assert len(fanned) == 6
    assert fanned["run_id"].tolist() == local["run_id"].tolist()
    assert fanned["value"].tolist() == local["value"].tolist()

    # resuming a finished sweep submits nothing and changes no result
    n_jobs = len(list((ws / "jobs").glob("2*")))
    stamps = {p: p.stat().st_mtime_ns for p in (ws / "sweeps" / "t").rglob("result.json")}
    out = finish(eval_runs(["sweep", "--resume", "t", "--workspace", str(ws), "--executor", "slurm",
                            "--max-parallel", "3", "--no-progress"], slurm.env), timeout=120)
    assert "sweep succeeded" in out
    assert len(list((ws / "jobs").glob("2*"))) == n_jobs
    assert {p: p.stat().st_mtime_ns for p in (ws / "sweeps" / "t").rglob("result.json")} == stamps


def test_cells_that_slurm_refuses_fail_with_its_reason_and_the_sweep_says_so(slurm, tmp_path):
    ws = tmp_path / "ws"
    proc = eval_runs(["sweep", "--plan", str(tiny_plan(tmp_path)), "--workspace", str(ws), "--executor", "slurm",
                      "--max-parallel", "2", "--slurm-partition", "no-such-partition", "--no-progress"], slurm.env)
    try:
        out, _ = proc.communicate(timeout=SWEEP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 1, out[-3000:]
    assert "sweep failed" in out and "cells not done" in out
    status = json.loads((ws / "sweeps" / "t" / "status.json").read_text())
    assert status["state"] == "failed" and "could not submit" in status["message"]
    assert "invalid partition" in status["message"].lower()  # sbatch's own words
    book = json.loads((ws / "sweeps" / "t" / "cell_jobs.json").read_text())["cells"]
    assert {e["state"] for e in book.values()} == {"failed", "blocked"}
