"""A workspace written by the engine and job runner as they were before eval_runs was split by role (jobs/,
lmeval/): its finished sweep and finished jobs still list, show, export and resume.

tests/data/old_workspace was made by commit 9cb7c8d (the last before the move): a tiny sweep submitted as a job
(`sweep --plan ... --no-progress`) and the runner's probe submitted by its old module path `eval_runs.job_probe`,
both run to the end, in a workspace at /tmp/oldws/ws; model weights and the token cache were left out to keep it
small (nothing below needs them). The records hold absolute paths, so the copy is moved to its new place the way a
user moving a workspace folder would see it: the old path replaced by the new one.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OLD = "/tmp/oldws/ws"


@pytest.fixture
def old_ws(tmp_path) -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(REPO / "tests" / "data" / "old_workspace", ws)
    for path in ws.rglob("*"):
        if path.suffix in (".json", ".txt", ".log", ".jsonl"):
            path.write_text(path.read_text(encoding="utf-8").replace(OLD, str(ws)), encoding="utf-8")
    with sqlite3.connect(ws / "jobs" / "registry.sqlite") as db:
        db.execute("UPDATE jobs SET argv = replace(argv, ?, ?)", (OLD, str(ws)))
    return ws


def test_the_old_jobs_list_and_show_with_their_kind_name_and_log(old_ws):
    from eval_runs.jobs import get_job, list_jobs, read_log

    jobs = {j.kind: j for j in list_jobs(old_ws)}
    assert set(jobs) == {"sweep", "probe"}
    assert all(j.status == "succeeded" and j.exit_code == 0 for j in jobs.values())
    assert jobs["sweep"].name == "old-sweep" and jobs["probe"].module == "eval_runs.job_probe"
    shown = get_job(old_ws, jobs["sweep"].job_id)
    assert shown.label and "old-sweep" in shown.label
    assert "[job succeeded, exit code 0]" in read_log(old_ws, jobs["probe"].job_id)
    out = subprocess.run([sys.executable, "-m", "eval_runs", "jobs", "list", "--workspace", str(old_ws), "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert sorted(j["status"] for j in listed) == ["succeeded", "succeeded"]


def test_the_old_sweep_is_finished_for_the_app_and_its_rows_export(old_ws):
    from app.runs_data import finished_sweeps
    from eval_runs.results import results_frame

    assert [s.name for s in finished_sweeps(old_ws)] == ["old-sweep"]
    frame = results_frame(old_ws)
    assert len(frame) == 3 * 2  # 2 pruned students + 1 random-init baseline, 2 metrics each
    assert set(frame["teacher_params"]) == {80_016, 160_080} and frame["value"].notna().all()
    # the architecture columns are read back from the runs' results, also for rows written before they existed
    assert frame["student_arch"].str.fullmatch(r"L\d+ d\d+ h\d+ ff\d+").all()
    assert (frame["student_non_embedding_params"] < frame["student_params"]).all()
    assert (frame["teacher_non_embedding_params"] < frame["teacher_params"]).all()


@pytest.mark.slow
def test_the_old_sweep_resumes_by_name_and_runs_nothing_twice(old_ws):
    torch = pytest.importorskip("torch")  # noqa: F841 - the engine needs it
    stamps = {p: p.stat().st_mtime_ns for p in (old_ws / "sweeps").rglob("result.json")}
    out = subprocess.run([sys.executable, "-m", "eval_runs", "sweep", "--resume", "old-sweep", "--workspace",
                          str(old_ws), "--no-progress"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "sweep finished" in out.stdout
    assert {p: p.stat().st_mtime_ns for p in (old_ws / "sweeps").rglob("result.json")} == stamps
    assert json.loads((old_ws / "sweeps" / "old-sweep" / "status.json").read_text())["state"] == "succeeded"
