"""The job runner: lifecycle, cancel, a killed worker, a restarted registry, concurrency, Slurm via submitit, and
argument/path validation. Jobs run `python -m eval_runs.jobs.probe` (a tiny command, no torch)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from eval_runs.jobs.registry import JobRegistry, pid_alive
from eval_runs.jobs.spec import JobSpecError, SlurmOptions, build_job_spec
from eval_runs.jobs.worker import progress_from_line
from eval_runs.jobs import (add_jobs_arguments, cancel_job, get_job, list_jobs, read_log, run_jobs_command,
                            submit_job, wait_for_job)

ROOT = Path(__file__).resolve().parents[1]
PROBE = "eval_runs.jobs.probe"


def probe(ws: Path, *args: str, **kw) -> str:
    return submit_job(list(args), workspace=ws, module=PROBE, **kw)


def wait_until(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def probe_child_pid(ws: Path, job_id: str) -> int:
    line = wait_until(lambda: next((x for x in read_log(ws, job_id).splitlines() if x.startswith("probe: pid")), None),
                      what="the probe's pid line")
    return int(line.split()[2].rstrip(","))


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return tmp_path / "ws"


# ------------------------------------------------------------------------------------------------ lifecycle

def test_a_job_goes_from_queued_through_running_to_succeeded_with_progress_and_results(ws):
    out = ws / "probe_out.txt"
    job_id = probe(ws, "--steps", "4", "--seconds", "2", "--status-file", str(ws / "probe_status.json"),
                   "--write", str(out))
    first = get_job(ws, job_id)
    assert first.status in ("queued", "running") and first.argv[0] == "--steps"
    running = wait_until(lambda: (j := get_job(ws, job_id)).status == "running" and j, what="running")
    assert running.pid and pid_alive(running.pid)
    assert running.started_at
    done = wait_for_job(ws, job_id)
    assert done.status == "succeeded", done.log_tail
    assert done.exit_code == 0 and done.progress == 1.0
    assert done.result_paths == (str(out),)
    assert "probe: done" in done.log_tail and "4/4" in done.log_tail
    assert done.finished_at >= done.started_at >= done.created_at


def test_a_failing_command_is_shown_as_failed_with_its_exit_code(ws):
    job_id = probe(ws, "--steps", "1", "--seconds", "0", "--exit-code", "3")
    done = wait_for_job(ws, job_id)
    assert done.status == "failed" and done.exit_code == 3
    assert "exited with code 3" in done.message


def test_progress_is_read_from_tqdm_like_lines_when_no_status_file_is_written():
    assert progress_from_line("probe:  40%|####      | 2/5 [00:01<00:02]") == pytest.approx(0.4)
    assert progress_from_line("distill: 30%|###") == pytest.approx(0.3)
    assert progress_from_line("epoch 3 of 10") is None


def test_cancel_stops_a_running_job_and_its_command(ws):
    job_id = probe(ws, "--steps", "100", "--seconds", "100")
    child = probe_child_pid(ws, job_id)
    wait_until(lambda: get_job(ws, job_id).status == "running", what="running")
    cancel_job(ws, job_id)
    done = wait_for_job(ws, job_id, timeout_seconds=30)
    assert done.status == "cancelled"
    assert "got SIGTERM" in read_log(ws, job_id)
    wait_until(lambda: not pid_alive(child), timeout=10, what="the command to end")


def test_a_worker_killed_with_sigkill_is_shown_as_failed_with_its_last_log_lines(ws):
    job_id = probe(ws, "--steps", "100", "--seconds", "100")
    child = probe_child_pid(ws, job_id)
    running = wait_until(lambda: (j := get_job(ws, job_id)).status == "running" and "1/100" in j.log_tail and j,
                         what="the first progress line")
    os.kill(running.pid, signal.SIGKILL)
    failed = wait_until(lambda: (j := get_job(ws, job_id)).status == "failed" and j, timeout=10, what="failed")
    assert "ended without writing a final status" in failed.message
    assert "1/100" in failed.log_tail
    # the command does not run on unattended: the kernel sends it SIGTERM when its worker dies
    wait_until(lambda: not pid_alive(child), timeout=10, what="the orphaned command to end")


def test_a_new_registry_in_another_process_finds_every_job(ws):
    ids = [probe(ws, "--steps", "1", "--seconds", "0") for _ in range(2)]
    for job_id in ids:
        wait_for_job(ws, job_id)
    out = subprocess.run([sys.executable, "-m", "eval_runs.jobs", "list", "--workspace", str(ws), "--json"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    listed = {j["job_id"]: j["status"] for j in json.loads(out)}
    assert listed == {ids[0]: "succeeded", ids[1]: "succeeded"}


def test_two_jobs_running_in_one_workspace_at_once_lose_nothing(ws):
    ids: list[str] = []
    threads = [threading.Thread(target=lambda i=i: ids.append(probe(ws, "--steps", "5", "--seconds", "1",
                                                                      "--write", str(ws / f"out{i}.txt"))))
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [wait_for_job(ws, job_id) for job_id in ids]
    assert [d.status for d in done] == ["succeeded", "succeeded"]
    assert all("5/5" in d.log_tail for d in done)
    assert sorted(Path(p).name for d in done for p in d.result_paths) == ["out0.txt", "out1.txt"]
    assert {j.job_id for j in list_jobs(ws)} == set(ids)


def test_registry_writes_from_two_processes_at_once_are_all_kept(ws):
    JobRegistry(ws)  # create the database first; then two processes insert 15 jobs each
    code = ("import sys; from eval_runs.jobs.registry import JobRegistry; from eval_runs.jobs.spec import JobSpec\n"
            "r = JobRegistry(sys.argv[1])\n"
            "for i in range(15): r.create(JobSpec(argv=('--steps', str(i)), workspace=sys.argv[1],"
            " module='eval_runs.jobs.probe'))\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(ws)], cwd=ROOT) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert len(JobRegistry(ws).job_ids()) == 30


# ------------------------------------------------------------------------------------------------ slurm

def test_the_slurm_executor_runs_the_same_worker_through_submitit_locally(ws):
    opts = SlurmOptions(cluster="local", partition="gpu", account="proj", timeout_min=5, cpus_per_task=1)
    job_id = probe(ws, "--steps", "2", "--seconds", "0.2", executor="slurm", slurm=opts)
    done = wait_for_job(ws, job_id, timeout_seconds=90)
    assert done.status == "succeeded", done.log_tail
    assert done.executor == "slurm" and done.external_id
    assert (Path(done.job_dir) / "submitit").is_dir()
    assert "2/2" in done.log_tail


def test_slurm_options_become_sbatch_parameters(monkeypatch):
    import submitit.slurm.slurm

    from eval_runs.jobs.executors import SlurmExecutor

    # no srun here: let submitit build its Slurm executor anyway (nothing is submitted)
    monkeypatch.setattr(submitit.slurm.slurm.SlurmExecutor, "affinity", classmethod(lambda cls: 1))

    opts = SlurmOptions(partition="gpu", gpus_per_node=2, timeout_min=240, account="proj", mem_gb=32)
    ex = SlurmExecutor(opts).make_submitit_executor(Path("/tmp/capgap-submitit-unused"))
    params = ex._executor.parameters  # submitit's SlurmExecutor: the values it writes as #SBATCH lines
    assert params["partition"] == "gpu" and params["account"] == "proj"
    assert params["gpus_per_node"] == 2 and params["time"] == 240 and params["mem"] == "32GB"


# ------------------------------------------------------------------------------------------------ validation

def test_bad_paths_and_commands_are_refused_before_a_job_starts(ws, tmp_path):
    not_a_model = tmp_path / "empty_folder"
    not_a_model.mkdir()
    a_file = tmp_path / "weights.bin"
    a_file.write_bytes(b"x")
    cases = [
        (["evaluate", "--model", str(tmp_path / "missing")], "does not exist"),
        (["evaluate", "--model", str(a_file)], "found a file"),
        (["evaluate", "--model", str(not_a_model)], "expected config.json"),
        (["lmeval", "--model", str(not_a_model), "--tasks", "x", "--include-path", str(not_a_model)],
         "expected config.json"),
        (["sweep", "--plan", str(tmp_path / "nope.toml")], "does not exist"),
        (["results", "--out", str(tmp_path / "no_such_dir" / "r.csv")], "does not exist"),
        (["jobs", "list"], "may not run as a job"),
        (["rm", "-rf", "/"], "may not run as a job"),
        ([], "no subcommand"),
    ]
    for argv, message in cases:
        with pytest.raises(JobSpecError, match=message):
            submit_job(argv, workspace=ws)
    with pytest.raises(JobSpecError, match="not one string"):
        submit_job("evaluate --model x", workspace=ws)
    with pytest.raises(JobSpecError, match="may not run"):
        submit_job(["-c", "print(1)"], workspace=ws, module="os")
    with pytest.raises(JobSpecError, match="unknown executor"):
        submit_job(["results", "--out", str(tmp_path / "r.csv")], workspace=ws, executor="ssh")
    assert list_jobs(ws) == []


def test_typed_paths_are_resolved_and_the_workspace_is_added(ws, tmp_path, monkeypatch):
    model = tmp_path / "teacher"
    model.mkdir()
    (model / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    spec = build_job_spec(["evaluate", "--model=teacher"], workspace=ws)
    assert spec.argv == ("evaluate", "--model", str(model), "--workspace", str(ws.resolve()))
    spec = build_job_spec(["pretrain", "--name", "t1", "--params", "1M"], workspace=ws)
    assert spec.progress_file == str(ws.resolve() / "runs" / "t1" / "status.json")
    assert spec.expected_outputs == (str(ws.resolve() / "runs" / "t1"),)


# ------------------------------------------------------------------------------------------------ CLI

def _cli(*argv: str) -> tuple[int, str, str]:
    import argparse
    import contextlib
    import io

    parser = argparse.ArgumentParser()
    add_jobs_arguments(parser.add_subparsers(dest="command", required=True))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_jobs_command(parser.parse_args(list(argv)))
    return code, out.getvalue(), err.getvalue()


def test_the_jobs_cli_submits_shows_lists_logs_and_cancels(ws):
    code, out, _ = _cli("jobs", "submit", "--workspace", str(ws), "--", "job_probe", "--steps", "2", "--seconds", "0")
    assert code == 0
    job_id = out.split()[-1]
    wait_for_job(ws, job_id)
    code, out, _ = _cli("jobs", "show", job_id, "--workspace", str(ws), "--json")
    shown = json.loads(out)
    assert code == 0 and shown["status"] == "succeeded" and shown["progress"] == 1.0
    assert {"pid", "log_tail", "result_paths", "created_at", "argv"} <= set(shown)
    code, out, _ = _cli("jobs", "show", job_id, "--workspace", str(ws))
    assert "status:       succeeded" in out and "log_tail:" in out
    code, out, _ = _cli("jobs", "list", "--workspace", str(ws))
    assert job_id in out and "succeeded" in out
    code, out, _ = _cli("jobs", "logs", job_id, "--workspace", str(ws))
    assert "2/2" in out
    code, out, _ = _cli("jobs", "cancel", job_id, "--workspace", str(ws))
    assert code == 0 and "succeeded" in out  # a finished job stays as it was


def test_the_jobs_cli_answers_bad_input_with_one_line_and_exit_code_2(ws, tmp_path):
    code, _, err = _cli("jobs", "show", "20990101-000000-abcdef", "--workspace", str(ws))
    assert code == 2 and err.startswith("error: no job 20990101-000000-abcdef")
    code, _, err = _cli("jobs", "show", "../../etc", "--workspace", str(ws))
    assert code == 2 and "not a job id" in err
    code, _, err = _cli("jobs", "submit", "--workspace", str(ws), "--", "evaluate", "--model", str(tmp_path / "x"))
    assert code == 2 and "does not exist" in err and err.count("\n") == 1


def test_a_job_knows_its_kind_and_name_and_describes_itself(tmp_path):
    from eval_runs.jobs.spec import build_job_spec

    sweep = build_job_spec(["sweep", "--preset", "cpu-tiny"], workspace=tmp_path)
    assert (sweep.kind, sweep.name, sweep.describe()) == ("sweep", "cpu-tiny", "sweep cpu-tiny")
    named = build_job_spec(["sweep", "--preset", "cpu-tiny", "--name", "mine"], workspace=tmp_path)
    assert named.name == "mine"
    probe = build_job_spec(["--steps", "1"], workspace=tmp_path, module="eval_runs.jobs.probe")
    assert probe.kind == "probe" and probe.name == "" and probe.describe().startswith("eval_runs.jobs.probe")
