"""AppTest: the Runs page: the launch forms refuse bad input in words and create no job, the jobs table follows a
job (progress, log tail, cancel, resume), finished sweeps become datasets on the Law page and finished lm-eval runs
join the Benchmarks page; and (slow) a tiny sweep launched from the page finishes and its rows are analysed."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app_harness import all_text, assert_no_traceback, open_app
RUNS = "views/runs.py"
PROBE = "eval_runs.jobs.probe"  # the job runner's tiny test command (no torch)
LMEVAL = Path(__file__).parent / "data" / "lmeval"


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def jobs_table(at):
    """The jobs table on the page (the only table with a `job` column)."""
    return next(d.value for d in at.dataframe if "job" in d.value.columns)


def fake_finished_sweep(ws: Path, name: str) -> None:
    """A sweep folder as the engine leaves it (status succeeded, rows in a student's result.json)."""
    from analysis.simulate import simulate_distillation

    rows = json.loads(simulate_distillation(n_seeds=1).to_json(orient="records"))
    student = ws / "sweeps" / name / "students" / "T1-S1-D1-pruned-s0"
    student.mkdir(parents=True)
    (student / "result.json").write_text(json.dumps({"schema_version": 1, "rows": rows}))
    (ws / "sweeps" / name / "status.json").write_text(json.dumps({"state": "succeeded", "progress": 1.0}))


# ------------------------------------------------------------------------------------------ the forms
def test_the_runs_page_opens_on_an_empty_workspace_and_says_how_to_start(workspace):
    at = open_app(page=RUNS)
    assert_no_traceback(at)
    assert not errors(at)
    assert "No jobs yet" in all_text(at)
    assert at.radio(key="_w_runs_r_kind").value == "sweep"


def test_a_custom_grid_with_a_bad_size_is_refused_and_no_job_is_created(workspace):
    from eval_runs.jobs import list_jobs

    at = open_app(page=RUNS)
    at.radio(key="_w_runs_r_mode").set_value("custom").run()
    at.text_input(key="_w_runs_r_students").set_value("100K, abc").run()
    at.button(key="launch_sweep").click().run()
    assert_no_traceback(at)
    assert any("Student sizes" in e and "'abc'" in e for e in errors(at)), errors(at)
    assert list_jobs() == []


def test_teachers_no_larger_than_the_students_are_refused(workspace):
    at = open_app(page=RUNS, query={"r_mode": "custom", "r_students": "500K", "r_teachers": "200K 400K"})
    at.button(key="launch_sweep").click().run()
    assert any("a teacher must be bigger than its student" in e for e in errors(at)), errors(at)


def test_an_unsafe_sweep_name_is_refused(workspace):
    at = open_app(page=RUNS, query={"r_mode": "custom", "r_name": "../escape"})
    at.button(key="launch_sweep").click().run()
    assert any("sweep name '../escape'" in e for e in errors(at)), errors(at)


def test_an_lm_eval_run_on_a_folder_that_does_not_exist_is_refused_by_the_path_check(workspace, tmp_path):
    from eval_runs.jobs import list_jobs

    at = open_app(page=RUNS, query={"r_kind": "lmeval"})
    assert at.selectbox(key="_w_runs_r_model").value == "(type a path)"  # no finished model in the workspace
    at.text_input(key="_w_runs_r_model_path").set_value(str(tmp_path / "nowhere")).run()
    at.button(key="launch_lmeval").click().run()
    assert_no_traceback(at)
    assert any("does not exist" in e and "nowhere" in e for e in errors(at)), errors(at)
    assert list_jobs() == []


def test_an_lm_eval_run_needs_a_task(workspace):
    at = open_app(page=RUNS, query={"r_kind": "lmeval", "r_model_path": str(workspace)})
    at.multiselect(key="_w_runs_r_tasks").set_value([]).run()
    at.button(key="launch_lmeval").click().run()
    assert any("pick at least one task" in e for e in errors(at)), errors(at)


def test_a_distillation_needs_a_student_smaller_than_its_teacher(workspace):
    model = workspace / "sweeps" / "s" / "teachers" / "T80K" / "model"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model.parent / "result.json").write_text(json.dumps({"params": 80_000}))
    at = open_app(page=RUNS, query={"r_kind": "distill", "r_dstudent": "100K"})
    assert "T80K" in at.selectbox(key="_w_runs_r_teacher").value or "T80K" in str(
        at.selectbox(key="_w_runs_r_teacher").options)
    at.button(key="launch_distill").click().run()
    assert any("not smaller than the teacher" in e for e in errors(at)), errors(at)


def test_the_slurm_executor_shows_its_options_and_keeps_them_in_the_url(workspace):
    at = open_app(page=RUNS)
    at.selectbox(key="_w_runs_r_exec").set_value("slurm").run()
    at.text_input(key="_w_runs_r_part").set_value("gpu").run()
    assert_no_traceback(at)
    assert at.number_input(key="_w_runs_r_tmin").value == 60
    assert at.query_params["r_exec"] == "slurm" and at.query_params["r_part"] == "gpu"


def test_form_values_become_a_typed_launch_and_one_function_makes_its_command(tmp_path):
    from app.runs_data import GridForm, LmevalLaunch, distill_launch, grid_launch, preset_launch, with_executor
    from eval_runs.jobs.launch import job_command

    launch = grid_launch(GridForm(name="g", student_params="50K 30K", teacher_params="160K,80K", data_tokens="2K",
                                  teacher_tokens="4K", vocab_size=300, random_init_baseline=False), "cpu")
    assert launch.plan.student_params == (30_000, 50_000) and launch.plan.teacher_tokens == 4000
    assert launch.plan.vocab_size == 300 and launch.plan.random_init_baseline is False
    argv = job_command(launch)
    assert argv[:3] == ["sweep", "--name", "g"]
    assert argv[argv.index("--student-params") + 1:argv.index("--student-params") + 3] == ["30000", "50000"]
    assert argv[argv.index("--random-init-baseline") + 1] == "false" and argv[-3:] == ["--device", "cpu",
                                                                                      "--no-progress"]
    assert job_command(preset_launch("cpu-tiny", "cuda"))[:5] == ["sweep", "--preset", "cpu-tiny", "--device", "cuda"]
    one = distill_launch("EleutherAI/pythia-160m", "50K", "40K", "d1", "cpu")
    assert one.plan.teacher_paths == ("EleutherAI/pythia-160m",) and one.plan.random_init_baseline is False
    with pytest.raises(ValueError, match="give one size"):
        distill_launch(str(tmp_path), "50K 60K", "40K", "d1", "cpu")
    with pytest.raises(ValueError, match="hub id"):
        distill_launch("owner/../../etc", "50K", "40K", "d1", "cpu")
    # a sweep on Slurm: its own job runs here, its cells go to Slurm with the form's options
    fanned, executor, slurm = with_executor(launch, "slurm", {"partition": "gpu", "timeout_min": 30}, 4)
    assert (executor, slurm) == ("local", None)
    argv = job_command(fanned)
    assert argv[argv.index("--executor") + 1] == "slurm" and argv[argv.index("--max-parallel") + 1] == "4"
    assert argv[argv.index("--slurm-partition") + 1] == "gpu" and argv[argv.index("--slurm-timeout-min") + 1] == "30"
    lmeval, executor, slurm = with_executor(LmevalLaunch("/m", ("t",), limit=5), "slurm", {"partition": "gpu"})
    assert executor == "slurm" and slurm.partition == "gpu"
    assert job_command(lmeval) == ["lmeval", "--model", "/m", "--tasks", "t", "--device", "cpu", "--limit", "5"]


def test_the_app_takes_its_choices_from_the_engine():
    from app import runs_forms
    from eval_runs.models import FAMILIES
    from eval_runs.sweep_plan import PRESET_NOTES, PRESETS

    from eval_runs.prune import IMPORTANCE_METHODS

    assert runs_forms.FAMILIES is FAMILIES and runs_forms.PRESETS is PRESETS
    assert set(PRESET_NOTES) == set(PRESETS)
    assert runs_forms.IMPORTANCE_METHODS == IMPORTANCE_METHODS  # the plan's copy (no torch) equals the pruner's


# ------------------------------------------------------------------------------------------ the jobs table
def test_the_jobs_table_shows_a_finished_job_with_its_progress_and_log_tail(workspace):
    from eval_runs.jobs import submit_job, wait_for_job

    job_id = submit_job(["--steps", "2", "--seconds", "0"], module=PROBE)
    assert wait_for_job(None, job_id, timeout_seconds=30).status == "succeeded"
    at = open_app(page=RUNS)
    assert_no_traceback(at)
    table = jobs_table(at)
    row = table[table["job"] == job_id].iloc[0]
    assert row["status"] == "succeeded" and row["progress"] == 1.0
    assert at.selectbox(key="_w_runs_job").value == job_id
    assert any("probe: 100%" in c.value for c in at.code)


def test_a_running_job_can_be_cancelled_from_the_page(workspace):
    from eval_runs.jobs import get_job, submit_job, wait_for_job

    job_id = submit_job(["--steps", "100", "--seconds", "60"], module=PROBE)
    at = open_app(page=RUNS)
    at.button(key=f"cancel_{job_id}").click().run()
    assert_no_traceback(at)
    assert wait_for_job(None, job_id, timeout_seconds=30).status == "cancelled", get_job(None, job_id)


def test_a_sweep_that_is_still_running_is_not_launched_twice(workspace):
    from types import SimpleNamespace

    from app.runs_data import check_not_running

    # what the registry says of a running job: its kind and the sweep it writes (the app parses no argv)
    running = SimpleNamespace(job_id="J1", finished=False, kind="sweep", name="cpu-tiny")
    with pytest.raises(ValueError, match="already running as job J1"):
        check_not_running(["sweep", "--preset", "cpu-tiny"], [running])
    check_not_running(["sweep", "--name", "other"], [running])  # another sweep may run beside it
    check_not_running(["sweep", "--preset", "cpu-tiny"], [SimpleNamespace(**{**vars(running), "finished": True})])


def test_a_failed_sweep_can_be_resumed_from_the_page(workspace):
    from eval_runs.jobs import list_jobs, submit_job, wait_for_job

    # no pair fits (teacher smaller than the student): the engine fails fast, as an interrupted sweep would end
    argv = ["sweep", "--name", "r", "--teacher-params", "60K", "--student-params", "100K", "--data-tokens", "1K",
            "--no-progress"]
    job_id = submit_job(argv)
    assert wait_for_job(None, job_id, timeout_seconds=120).status == "failed"
    at = open_app(page=RUNS)
    assert "Resume" in [b.label for b in at.button]
    at.button(key=f"resume_{job_id}").click().run()
    assert_no_traceback(at)
    jobs = list_jobs()
    assert len(jobs) == 2 and jobs[1].argv == jobs[0].argv  # the same command again
    assert at.selectbox(key="_w_runs_job").value == jobs[1].job_id
    wait_for_job(None, jobs[1].job_id, timeout_seconds=120)


def test_a_fanned_out_sweep_is_one_job_with_its_cells_under_it(workspace):
    from eval_runs.jobs.registry import JobRegistry, update_status
    from eval_runs.jobs.spec import build_job_spec

    registry = JobRegistry(workspace)
    sweep = registry.create(build_job_spec(["sweep", "--name", "fan", "--teacher-params", "1M", "--student-params",
                                            "500K", "--data-tokens", "1M", "--max-parallel", "2"],
                                           workspace=workspace))
    cell = registry.create(build_job_spec(["sweep-cell", "--sweep", "fan", "--cell", "T1M-D1M-s0"],
                                          workspace=workspace))
    for job_id, state in ((sweep, "failed"), (cell, "failed")):
        update_status(registry.job_dir(job_id), state=state, message="the command exited with code 1")
    (registry.job_dir(cell) / "log.txt").write_text("cell: loading teacher\nValueError: boom\n")
    folder = workspace / "sweeps" / "fan"
    (folder / "teachers" / "T1M").mkdir(parents=True)
    (folder / "teachers" / "T1M" / "result.json").write_text("{}")
    (folder / "cells.json").write_text(json.dumps({"cells": [
        {"cell_id": "teacher-T1M", "kind": "teacher", "teacher": "T1M", "runs": []},
        {"cell_id": "T1M-D1M-s0", "kind": "students", "teacher": "T1M", "runs": ["T1M-S500K-D1M-pruned-s0"]}]}))
    (folder / "cell_jobs.json").write_text(json.dumps({"cells": {"T1M-D1M-s0": {
        "job_id": cell, "attempts": 2, "state": "failed", "message": "<b>boom</b> exit code 1"}}}))
    at = open_app(page=RUNS)
    assert_no_traceback(at)
    assert jobs_table(at)["job"].tolist() == [sweep]  # the cell's job is shown with its sweep, not beside it
    assert "1 sweep cell jobs" in all_text(at)
    cells = next(d.value for d in at.dataframe if "cell" in d.value.columns)
    assert cells["cell"].tolist() == ["teacher-T1M", "T1M-D1M-s0"]
    assert cells["state"].tolist() == ["done", "failed"] and cells["attempts"].tolist() == [0, 2]
    assert cells["message"].tolist()[1] == "<b>boom</b> exit code 1"  # text from data stays text (a table cell)
    assert "Resume" in [b.label for b in at.button]
    assert at.selectbox(key="cell_log_fan").value == "T1M-D1M-s0"
    assert any("ValueError: boom" in c.value for c in at.code)  # the failing cell's log, one click away


# ------------------------------------------------------------------------------------------ finished results
def test_a_finished_sweep_is_a_dataset_that_the_law_page_analyses(workspace):
    fake_finished_sweep(workspace, "done")
    at = open_app(page=RUNS)
    labels = at.sidebar.selectbox[0].options
    assert "Sweep: done" in labels
    at = open_app(page="views/law.py", query={"data": "sweep:done"})
    assert_no_traceback(at)
    assert not errors(at), errors(at)
    assert "Sweep: done" in all_text(at)
    assert len(at.get("plotly_chart")) >= 2  # the curse curves and the law


def test_a_finished_lm_eval_run_of_the_workspace_joins_the_benchmarks_page(workspace):
    source = LMEVAL / "v0.4.2" / "Qwen__Qwen2.5-0.5B"
    shutil.copytree(source, workspace / "lmeval" / source.name)
    at = open_app(page="views/benchmarks.py")
    assert_no_traceback(at)
    assert at.multiselect(key="_w_benchmarks_b_runs").value == [source.name]
    assert any("Qwen2.5-0.5B" in m for m in at.selectbox(key="_w_benchmarks_b_a").options)


def test_the_runs_page_imports_no_torch(tmp_path):
    code = ("import os, sys\n"
            f"os.environ['CAPGAP_HOME'] = {str(tmp_path)!r}\n"
            "sys.path[:0] = ['tests', '.']\n"
            "from app_harness import open_app\n"
            f"open_app(page={RUNS!r})\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(Path(__file__).resolve().parents[1]))
    assert out.stdout.strip().splitlines()[-1] == "False"


# ------------------------------------------------------------------------------------------ end to end
@pytest.mark.slow
def test_a_tiny_sweep_launched_from_the_page_finishes_and_its_rows_reach_the_law_page(workspace):
    from eval_runs.jobs import list_jobs, wait_for_job

    # the smallest grid that still gives two students (a law needs more than one): ~25 s on 2 busy cores
    grid = {"r_mode": "custom", "r_name": "apptest", "r_students": "30K 50K", "r_teachers": "80K 160K",
            "r_tokens": "2K", "r_ttok": "4K", "r_vocab": "300", "r_seq": "32", "r_batch": "8", "r_etok": "1K",
            "r_cbytes": "200K", "r_imp": "magnitude", "r_rib": "0"}
    at = open_app(page=RUNS, query=grid)
    at.button(key="launch_sweep").click().run()
    assert_no_traceback(at)
    assert not errors(at), errors(at)
    (job,) = list_jobs()
    info = wait_for_job(None, job.job_id, timeout_seconds=240)
    assert info.status == "succeeded", info.log_tail
    at.run()  # the page again (the jobs fragment would do it within seconds in a browser)
    table = jobs_table(at)
    assert table.iloc[0]["status"] == "succeeded"
    assert "Sweep: apptest" in at.sidebar.selectbox[0].options
    at.button(key=f"use_{job.job_id}").click().run()
    assert_no_traceback(at)
    assert at.query_params["data"] == "sweep:apptest"
    assert "Sweep: apptest" in all_text(at)
    assert len(at.get("plotly_chart")) >= 1  # the curse curves of the two students
