"""The sweep runner's rules (eval_runs.jobs.fanout) against a scripted scheduler: teachers first, the parallel limit,
students behind their teacher (Slurm dependencies), killed cells requeued, failed ones reported while the rest go
on, resume adopting live jobs; and the checks on what reaches a cell's job. The real scheduler: test_slurm_sweep.py."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from eval_runs.jobs import fanout
from eval_runs.jobs.fanout import FanoutOptions, _Runner
from eval_runs.jobs.spec import JobSpecError, SlurmOptions, build_job_spec
from eval_runs.run_folder import RunFolder
from eval_runs.sweep_cells import Cell, SweepLayout, Teacher
from eval_runs.sweep_plan import Pair, SweepPlan, plan_from_dict

FINAL = ("succeeded", "failed", "cancelled")


def two_teacher_layout(root: Path) -> SweepLayout:
    plan = SweepPlan(name="s", teacher_params=(100, 200), student_params=(50,), data_tokens=(10,))
    pairs = (Pair(100, 50, 10, "pruned", 0), Pair(200, 50, 10, "pruned", 0))
    teachers = (Teacher("T100", 100, 100, ""), Teacher("T200", 200, 200, ""))
    cells = (Cell("teacher-T100", "teacher", "T100"),
             Cell("T100-D10-s0", "students", "T100", 10, 0, (pairs[0].label,), ("teacher-T100",)),
             Cell("teacher-T200", "teacher", "T200"),
             Cell("T200-D10-s0", "students", "T200", 10, 0, (pairs[1].label,), ("teacher-T200",)))
    return SweepLayout(plan, root, teachers, pairs, cells)


class Scheduler:
    """Jobs that run when polled: each attempt of a cell ends as its script says ("ok" by default): "ok" writes the
    cell's results, "killed" ends it by a signal, "error" fails it with exit code 1. A job with a Slurm dependency
    stays queued until the jobs it names succeeded."""

    def __init__(self, layout: SweepLayout, tmp: Path, script: dict[str, list[str]] | None = None):
        self.layout, self.tmp, self.script = layout, tmp, script or {}
        self.jobs: dict[str, dict] = {}
        self.submitted: list[dict] = []
        self.max_live = 0

    def live(self) -> int:
        return sum(j["status"] in ("queued", "running") for j in self.jobs.values())

    def submit_job(self, argv, *, workspace, executor, slurm):
        cell = argv[argv.index("--cell") + 1]
        n = len(self.jobs) + 1
        job_id = f"20260101-000000-{n:06x}"
        (self.tmp / job_id).mkdir(parents=True)
        job = {"job_id": job_id, "cell": cell, "status": "queued", "external_id": str(n), "exit_code": None,
               "message": "", "dependency": slurm.dependency if slurm else "", "executor": executor}
        self.jobs[job_id] = job
        self.submitted.append({**job, "teacher_done": self._teacher_done(cell)})
        self.max_live = max(self.max_live, self.live())
        return job_id

    def _teacher_done(self, cell_id: str) -> bool:
        cell = self.layout.cell(cell_id)
        return all(self.layout.cell_done(self.layout.cell(d)) for d in cell.after)

    def _advance(self, job: dict) -> None:
        if job["status"] == "queued":
            deps = [d for d in job["dependency"].removeprefix("afterok:").split(":") if d]
            by_ext = {j["external_id"]: j for j in self.jobs.values()}
            if all(by_ext[d]["status"] == "succeeded" for d in deps):
                job["status"] = "running"
        elif job["status"] == "running":
            outcome = (self.script.get(job["cell"]) or ["ok"]).pop(0)
            if outcome == "ok":
                cell = self.layout.cell(job["cell"])
                folders = ([self.layout.root / "students" / r for r in cell.runs] if cell.kind == "students"
                           else [self.layout.root / "teachers" / cell.teacher])
                for folder in folders:
                    RunFolder(folder).write_result({"kind": "test"})
                job.update(status="succeeded", exit_code=0)
            elif outcome == "killed":
                job.update(status="cancelled", exit_code=-15, message="stopped by a signal")
            else:
                job.update(status="failed", exit_code=1, message="the command exited with code 1")

    def get_job(self, workspace, job_id):
        job = self.jobs[job_id]
        self._advance(job)
        return SimpleNamespace(**{k: job[k] for k in ("job_id", "status", "exit_code", "message", "external_id")},
                               job_dir=str(self.tmp / job_id), finished=job["status"] in FINAL)

    def cancel_job(self, workspace, job_id):
        (self.tmp / job_id / "cancel").touch()
        if self.jobs[job_id]["status"] not in FINAL:
            self.jobs[job_id]["status"] = "cancelled"


@pytest.fixture
def world(tmp_path, monkeypatch):
    def make(script=None):
        layout = two_teacher_layout(tmp_path / "ws" / "sweeps" / "s")
        scheduler = Scheduler(layout, tmp_path / "jobs", script)
        for name in ("submit_job", "get_job", "cancel_job"):
            monkeypatch.setattr(fanout, name, getattr(scheduler, name))
        monkeypatch.setattr(fanout, "slurm_job_state", lambda external_id: "PENDING")
        return layout, scheduler
    return make


def run(layout, **options) -> fanout.FanoutResult:
    return _Runner(layout, layout.root.parent.parent, "cpu", FanoutOptions(poll_seconds=0.05, **options)).run()


def test_local_cells_start_with_the_teachers_stay_within_the_limit_and_students_wait_for_their_teacher(world):
    layout, scheduler = world()
    result = run(layout, max_parallel=2)
    assert result.state == "succeeded" and result.failed == ()
    assert [s["cell"] for s in scheduler.submitted[:2]] == ["teacher-T100", "teacher-T200"]
    assert scheduler.max_live == 2
    assert all(s["teacher_done"] for s in scheduler.submitted if not s["cell"].startswith("teacher"))
    assert all(s["dependency"] == "" for s in scheduler.submitted)  # locally nothing waits inside a queue
    status = json.loads((layout.root / "status.json").read_text())
    assert status["state"] == "succeeded" and status["step"] == status["n_steps"] == 2


def test_one_cell_at_a_time_when_the_limit_is_one(world):
    layout, scheduler = world()
    assert run(layout, max_parallel=1).state == "succeeded"
    assert scheduler.max_live == 1 and len(scheduler.submitted) == 4


def test_a_killed_cell_is_submitted_again_and_a_failing_one_is_reported_while_the_rest_go_on(world):
    layout, scheduler = world({"T100-D10-s0": ["killed", "ok"], "teacher-T200": ["error"]})
    result = run(layout, max_parallel=4)
    assert result.state == "failed" and result.failed == ("teacher-T200", "T200-D10-s0")
    assert [s["cell"] for s in scheduler.submitted].count("T100-D10-s0") == 2
    assert "T200-D10-s0" not in [s["cell"] for s in scheduler.submitted]  # blocked, never submitted
    assert layout.cell_done(layout.cell("T100-D10-s0"))
    book = json.loads((layout.root / "cell_jobs.json").read_text())["cells"]
    assert book["T100-D10-s0"]["attempts"] == 2 and book["T100-D10-s0"]["history"][0]["why"].endswith("signal")
    assert book["T200-D10-s0"]["state"] == "blocked"
    status = json.loads((layout.root / "status.json").read_text())
    assert status["state"] == "failed" and "teacher-T200 failed" in status["message"]
    log = (layout.root / "log.txt").read_text()
    assert "cell teacher-T200 failed" in log and "log.txt" in log


def test_a_cell_stopped_more_often_than_max_requeues_fails_for_good(world):
    layout, scheduler = world({"teacher-T100": ["killed", "killed", "killed"]})
    result = run(layout, max_parallel=2, max_requeues=1)
    assert result.failed == ("teacher-T100", "T100-D10-s0")
    assert [s["cell"] for s in scheduler.submitted].count("teacher-T100") == 2
    assert "no more requeues" in json.loads((layout.root / "status.json").read_text())["message"]


def test_on_slurm_students_wait_behind_their_teacher_and_follow_it_when_it_is_requeued(world):
    layout, scheduler = world({"teacher-T100": ["killed", "ok"]})
    result = run(layout, executor="slurm", max_parallel=4)
    assert result.state == "succeeded"
    first, second = [s for s in scheduler.submitted if s["cell"] == "T100-D10-s0"]
    teachers = [s for s in scheduler.submitted if s["cell"] == "teacher-T100"]
    assert first["dependency"] == f"afterok:{teachers[0]['external_id']}"  # queued behind the first teacher job
    assert (scheduler.tmp / first["job_id"] / "cancel").exists()  # withdrawn when that job was killed
    assert second["dependency"] in ("", f"afterok:{teachers[1]['external_id']}")


def test_resume_adopts_live_jobs_and_never_submits_a_done_cell(world):
    layout, scheduler = world()
    for cell in ("teacher-T100", "T100-D10-s0"):
        c = layout.cell(cell)
        for r in c.runs or (None,):
            RunFolder(layout.root / ("students" if r else "teachers") / (r or c.teacher)).write_result({})
    live = scheduler.submit_job(["--cell", "teacher-T200"], workspace=None, executor="local", slurm=None)
    (layout.root / "cell_jobs.json").write_text(json.dumps({"cells": {
        "teacher-T200": {"job_id": live, "attempts": 1, "state": "running"},
        "T200-D10-s0": {"job_id": None, "attempts": 3, "state": "failed"}}}))
    scheduler.submitted.clear()
    assert run(layout, max_parallel=4).state == "succeeded"
    assert [s["cell"] for s in scheduler.submitted] == ["T200-D10-s0"]  # what failed before is tried again


def test_a_user_cancelling_a_cell_is_not_undone_by_a_requeue(world):
    layout, scheduler = world()
    runner = _Runner(layout, layout.root.parent.parent, "cpu", FanoutOptions(poll_seconds=0.05, max_parallel=1))
    runner._submit_ready()
    job_id = runner.book["teacher-T100"]["job_id"]
    scheduler.cancel_job(None, job_id)
    runner._update(layout.cell("teacher-T100"))
    assert runner.book["teacher-T100"]["state"] == "failed" and "by the user" in runner.book["teacher-T100"]["message"]


def test_sigterm_to_the_runner_cancels_its_live_cell_jobs_and_resume_submits_them_again(world, monkeypatch):
    import signal

    layout, scheduler = world()
    real_get_job = scheduler.get_job
    calls = []

    def get_job_then_sigterm(workspace, job_id):  # the sweep's own job is cancelled while its teachers run
        calls.append(job_id)
        if len(calls) == 2:
            signal.raise_signal(signal.SIGTERM)
        return real_get_job(workspace, job_id)

    monkeypatch.setattr(fanout, "get_job", get_job_then_sigterm)
    result = run(layout, max_parallel=2)
    assert result.state == "cancelled"
    teachers = [s["job_id"] for s in scheduler.submitted]
    assert len(teachers) == 2 and all((scheduler.tmp / j / "cancel").exists() for j in teachers)
    assert json.loads((layout.root / "status.json").read_text())["state"] == "cancelled"
    monkeypatch.setattr(fanout, "get_job", real_get_job)
    assert run(layout, max_parallel=2).state == "succeeded"
    assert [s["cell"] for s in scheduler.submitted].count("teacher-T100") == 2


# ------------------------------------------------------------------------------------------------- checks

@pytest.mark.parametrize("bad", [dict(executor="ssh"), dict(max_parallel=0), dict(max_parallel=True),
                                 dict(max_requeues=-1), dict(poll_seconds=0), dict(slurm=SlurmOptions())])
def test_bad_fanout_options_are_refused(bad):
    with pytest.raises(ValueError):
        FanoutOptions(**bad)


def test_a_slurm_dependency_is_job_ids_only():
    assert SlurmOptions(dependency="afterok:12:345").dependency == "afterok:12:345"
    for bad in ("afterok:1\n#SBATCH --uid=0", "afterany:1", "afterok:", "afterok:1;rm", "singleton"):
        with pytest.raises(JobSpecError, match="dependency"):
            SlurmOptions(dependency=bad)


def test_a_cell_job_knows_its_sweep_and_its_names_are_checked(tmp_path):
    spec = build_job_spec(["sweep-cell", "--sweep", "s", "--cell", "T100-D10-s0"], workspace=tmp_path)
    assert (spec.kind, spec.name, spec.describe()) == ("sweep-cell", "s", "cell T100-D10-s0 of sweep s")
    for option, value in (("--sweep", "../etc"), ("--cell", "/tmp/x"), ("--cell", "--workspace=/etc")):
        argv = ["sweep-cell", "--sweep", "s", "--cell", "c"]
        argv[argv.index(option) + 1] = value
        with pytest.raises(JobSpecError):
            build_job_spec(argv, workspace=tmp_path)
    resume = build_job_spec(["sweep", "--resume", "s", "--max-parallel", "2"], workspace=tmp_path)
    assert resume.name == "s" and resume.progress_file.endswith("sweeps/s/status.json")


def test_a_device_that_is_not_a_device_name_never_reaches_a_command(tmp_path):
    for bad in ("--workspace=/etc", "cuda;rm", "gpu", ""):
        with pytest.raises(JobSpecError, match="--device"):
            build_job_spec(["sweep-cell", "--sweep", "s", "--cell", "c", "--device", bad], workspace=tmp_path)
        with pytest.raises(ValueError, match="--device"):
            fanout.run_fanout(SweepPlan(name="s", teacher_params=(1,)), workspace=tmp_path, device=bad)


def test_teacher_paths_of_a_sweep_job_are_local_folders_or_hub_ids(tmp_path):
    folder = tmp_path / "teacher"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    spec = build_job_spec(["sweep", "--teacher-paths", str(folder), "EleutherAI/pythia-160m", "--student-params",
                           "1M", "--data-tokens", "1M"], workspace=tmp_path)
    assert spec.argv[2:4] == (str(folder.resolve()), "EleutherAI/pythia-160m")
    for bad in ("../nowhere", "bad id!", "a/b/c", "owner/..", "-x"):
        with pytest.raises(JobSpecError):
            build_job_spec(["sweep", "--teacher-paths", bad, "--student-params", "1M", "--data-tokens", "1M"],
                           workspace=tmp_path)


def test_a_plan_with_no_corpus_cap_round_trips():
    assert plan_from_dict({"teacher_params": ["1M"], "corpus_max_bytes": 0}).corpus_max_bytes == 0
    with pytest.raises(ValueError, match="corpus_max_bytes"):
        plan_from_dict({"teacher_params": ["1M"], "corpus_max_bytes": -5})


def test_the_sweep_cli_refuses_a_bad_parallelism_with_one_line(tmp_path, capsys):
    from eval_runs.__main__ import main

    assert main(["sweep", "--preset", "cpu-tiny", "--max-parallel", "0", "--workspace", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: max_parallel 0") and "Traceback" not in err
    assert main(["sweep", "--resume", "nothing-here", "--workspace", str(tmp_path)]) == 2
    assert "no sweep 'nothing-here'" in capsys.readouterr().err
