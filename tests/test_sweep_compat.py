"""Sweeps written before sweeps had cells (no cells.json, no cell_jobs.json, `alpha` in plan.json, an old job spec)
still list, show and resume; a resume runs only what is missing."""
from __future__ import annotations

import json
import shutil
import textwrap

import pytest

torch = pytest.importorskip("torch")


@pytest.mark.slow
def test_an_interrupted_sweep_of_the_old_layout_resumes_only_what_is_missing(tmp_path, monkeypatch):
    from app import runs_data
    from eval_runs.__main__ import main
    from eval_runs.jobs import get_job, list_jobs
    from eval_runs.jobs.registry import JobRegistry, update_status
    from eval_runs.jobs.spec import build_job_spec
    from eval_runs.sweep import SweepPlan, run_sweep

    torch.set_num_threads(1)
    (tmp_path / "corpus.txt").write_text(open(textwrap.__file__, encoding="utf-8").read() * 4, encoding="utf-8")
    plan = SweepPlan(name="old", teacher_params=(80_000, 160_000), student_params=(50_000,), data_tokens=(2048,),
                     teacher_tokens=4096, vocab_size=300, corpus_paths=(str(tmp_path / "corpus.txt"),), seq_len=32,
                     batch_size=8, eval_tokens=1024, importance="magnitude", threads=1)
    ws = tmp_path / "ws"
    root = run_sweep(plan, workspace=ws, progress=False)
    # as the engine left it before cells: no layout files, the old key in plan.json, one student interrupted
    (root / "cells.json").unlink()
    recorded = json.loads((root / "plan.json").read_text())
    recorded["plan"]["alpha"] = recorded["plan"].pop("ce_weight")
    (root / "plan.json").write_text(json.dumps(recorded))
    lost = root / "students" / "T160K-S50K-D2.05K-pruned-s0"
    (lost / "result.json").unlink()
    shutil.rmtree(lost / "model")
    (root / "status.json").write_text(json.dumps({"state": "failed", "progress": 0.67}))
    kept = {p: p.stat().st_mtime_ns for p in root.rglob("result.json")}
    # and its job, as the runner recorded it then (Slurm options without a dependency field)
    spec = build_job_spec(["sweep", "--name", "old"], workspace=ws).to_dict()
    spec.update(executor="slurm", slurm={"partition": "", "gpus_per_node": 0, "timeout_min": 60, "account": "",
                                         "cpus_per_task": 2, "mem_gb": 0, "cluster": "slurm"})
    registry = JobRegistry(ws)
    job_id = registry.create(build_job_spec(["sweep", "--name", "old"], workspace=ws))
    (registry.job_dir(job_id) / "spec.json").write_text(json.dumps(spec))
    update_status(registry.job_dir(job_id), state="failed", message="killed")

    monkeypatch.setenv("CAPGAP_HOME", str(ws))
    assert [j.job_id for j in list_jobs(ws)] == [job_id] and get_job(ws, job_id).name == "old"
    assert runs_data.sweep_cells_table("old") is None  # shown as before: no cells table
    assert main(["sweep", "--resume", "old", "--workspace", str(ws), "--no-progress"]) == 0
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # nothing finished ran again
    assert (lost / "result.json").exists()
    assert json.loads((root / "status.json").read_text())["state"] == "succeeded"
    assert [s.name for s in runs_data.finished_sweeps()] == ["old"]
    cells = runs_data.sweep_cells_table("old")
    assert cells["state"].tolist() == ["done"] * 4
