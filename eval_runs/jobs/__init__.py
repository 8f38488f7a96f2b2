"""Jobs: launch `python -m eval_runs ...` commands in the background and follow them (the API the app uses).

    submit_job(["sweep", "--preset", "cpu-tiny"], workspace=WS) -> job id
    list_jobs(WS) -> [JobInfo]; get_job(WS, id) -> JobInfo; cancel_job(WS, id); read_log(WS, id) -> str

CLI (hooked into `python -m eval_runs` by add_jobs_arguments):

    python -m eval_runs jobs submit --workspace DIR [--executor local|slurm] [--slurm-...] -- SUBCOMMAND ARGS...
    python -m eval_runs jobs list --workspace DIR [--json]
    python -m eval_runs jobs show ID --workspace DIR [--json]
    python -m eval_runs jobs cancel ID --workspace DIR
    python -m eval_runs jobs logs ID --workspace DIR

A job's state lives in the workspace (registry.py), so a restarted app or another shell sees every job.
Slurm example (a cluster with submitit installed; GPUs for a gpu-small sweep):

    python -m eval_runs jobs submit --workspace /shared/ws --executor slurm --slurm-partition gpu \\
        --slurm-gpus-per-node 1 --slurm-timeout-min 240 --slurm-account myproj -- sweep --preset gpu-small --device cuda

runs a whole sweep as one Slurm job; `sweep --executor slurm --max-parallel N` fans it out instead, one job per cell
(eval_runs/jobs/fanout.py). Typed launches and the command they make: eval_runs/jobs/launch.py.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields

from eval_runs.jobs.registry import FINAL_STATES, JobInfo, JobNotFoundError, JobRegistry, update_status
from eval_runs.jobs.spec import JobSpecError, SlurmOptions, build_job_spec
from eval_runs.workspace import workspace_root

__all__ = ["submit_job", "list_jobs", "get_job", "cancel_job", "read_log", "JobInfo", "JobSpecError",
           "JobNotFoundError", "SlurmOptions", "add_jobs_arguments", "run_jobs_command"]


def submit_job(argv: list[str], *, workspace: str | os.PathLike | None = None, executor: str = "local",
               slurm: SlurmOptions | dict | None = None, module: str = "eval_runs") -> str:
    """Validate `argv` (arguments after `python -m eval_runs`), create the job and start it; returns its id.

    Raises JobSpecError (a ValueError) with a clear message for a bad subcommand, executor or path; nothing is
    created then.
    """
    from eval_runs.jobs.executors import executor_for

    ws = workspace_root(workspace)
    spec = build_job_spec(argv, workspace=ws, executor=executor, slurm=slurm, module=module)
    registry = JobRegistry(ws)
    job_id = registry.create(spec)
    try:
        executor_for(spec).start(registry, job_id, spec)
    except Exception as exc:  # a job that could not start is a failed job, with the reason, not a lost one
        update_status(registry.job_dir(job_id), state="failed", message=f"could not start the job: {exc}")
        registry.sync_state(job_id, "failed")
        raise
    return job_id


def list_jobs(workspace: str | os.PathLike | None = None) -> list[JobInfo]:
    """Every job of the workspace, oldest first."""
    return JobRegistry(workspace_root(workspace)).list()


def get_job(workspace: str | os.PathLike | None, job_id: str) -> JobInfo:
    """One job; raises JobNotFoundError for an unknown id."""
    return JobRegistry(workspace_root(workspace)).get(job_id)


def cancel_job(workspace: str | os.PathLike | None, job_id: str) -> JobInfo:
    """Ask a job to stop (SIGTERM to its process group, or scancel); a queued job is cancelled at once.

    Returns the job as it is right after the request: a running job shows `cancelled` once its worker has stopped
    the command (within seconds).
    """
    from eval_runs.jobs.executors import executor_for

    registry = JobRegistry(workspace_root(workspace))
    info = registry.get(job_id)
    if info.finished:
        return info
    job_dir = registry.job_dir(job_id)
    (job_dir / "cancel").touch()
    executor_for(registry.spec(job_id)).cancel(registry, job_id)
    if info.status == "queued" and info.pid is None and info.external_id is None:
        update_status(job_dir, state="cancelled", message="cancelled before it started")
    return registry.get(job_id)


def read_log(workspace: str | os.PathLike | None, job_id: str) -> str:
    """The job's whole log (the command's stdout and stderr)."""
    registry = JobRegistry(workspace_root(workspace))
    registry.get(job_id)  # raises for an unknown id
    p = registry.job_dir(job_id) / "log.txt"
    return p.read_text(encoding="utf-8", errors="replace") if p.exists() else ""


def wait_for_job(workspace, job_id: str, *, timeout_seconds: float = 60.0, poll_seconds: float = 0.2) -> JobInfo:
    """Poll until the job has a final state (or the timeout passes); returns the last JobInfo."""
    import time

    deadline = time.monotonic() + timeout_seconds
    while True:
        info = get_job(workspace, job_id)
        if info.status in FINAL_STATES or time.monotonic() > deadline:
            return info
        time.sleep(poll_seconds)


# ---------------------------------------------------------------------------------------------------- CLI

def add_jobs_arguments(subparsers) -> argparse.ArgumentParser:
    """Add `jobs submit|list|show|cancel|logs` to an argparse subparsers object; returns the `jobs` parser."""
    jobs = subparsers.add_parser("jobs", help="launch and follow background jobs (local or Slurm)",
                                 description=__doc__.split("\n\n")[0])
    sub = jobs.add_subparsers(dest="jobs_command", required=True)

    def ws(p):
        p.add_argument("--workspace", default=None, help="workspace folder (default: $CAPGAP_HOME or ./workspace)")

    p = sub.add_parser("submit", help="start `python -m eval_runs SUBCOMMAND ARGS...` as a job; prints its id")
    ws(p)
    p.add_argument("--executor", choices=("local", "slurm"), default="local", help="where it runs (default local)")
    add_slurm_options(p)
    p.add_argument("job_argv", nargs=argparse.REMAINDER, help="-- SUBCOMMAND ARGS... (e.g. -- sweep --preset cpu-tiny)")
    for name in ("list",):
        p = sub.add_parser(name, help="every job of the workspace")
        ws(p)
        p.add_argument("--json", action="store_true", help="JSON instead of a table")
    p = sub.add_parser("show", help="one job: status, progress, pid, log tail, result paths")
    ws(p)
    p.add_argument("job_id")
    p.add_argument("--json", action="store_true", help="JSON instead of text")
    p = sub.add_parser("cancel", help="stop a job (SIGTERM to its process group / scancel)")
    ws(p)
    p.add_argument("job_id")
    p = sub.add_parser("logs", help="print a job's log")
    ws(p)
    p.add_argument("job_id")
    jobs.set_defaults(func=run_jobs_command)
    return jobs


def add_slurm_options(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """--slurm-<field> for every field of SlurmOptions (its help text from the field's comment)."""
    from eval_runs.cli_options import field_comments

    helps = field_comments(SlurmOptions)
    for f in fields(SlurmOptions):
        if f.name not in skip:
            parser.add_argument("--slurm-" + f.name.replace("_", "-"), dest="slurm_" + f.name, type=type(f.default),
                                default=f.default, help=f"Slurm: {helps.get(f.name, f.name)} (default {f.default!r})")


def slurm_options_from_args(args: argparse.Namespace) -> SlurmOptions:
    return SlurmOptions(**{f.name: getattr(args, "slurm_" + f.name) for f in fields(SlurmOptions)
                           if hasattr(args, "slurm_" + f.name)})


def run_jobs_command(args: argparse.Namespace) -> int:
    """Run a parsed `jobs ...` command; returns the exit code (2 with a one-line error for bad input)."""
    try:
        return _COMMANDS[args.jobs_command](args)
    except (JobSpecError, JobNotFoundError, ValueError, FileNotFoundError, NotADirectoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _cmd_submit(args) -> int:
    argv = list(args.job_argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise JobSpecError("nothing to run: give the command after --, e.g. jobs submit -- sweep --preset cpu-tiny")
    slurm = None
    if args.executor == "slurm":
        slurm = slurm_options_from_args(args)
    module = "eval_runs"
    if argv[0] in ("job_probe", "eval_runs.job_probe", "eval_runs.jobs.probe"):  # the runner's test command
        module, argv = "eval_runs.jobs.probe", argv[1:]
    job_id = submit_job(argv, workspace=args.workspace, executor=args.executor, slurm=slurm, module=module)
    print(f"submitted job {job_id}")
    return 0


def _progress_text(p: float | None) -> str:
    return "-" if p is None else f"{100 * p:.0f}%"


def _cmd_list(args) -> int:
    jobs = list_jobs(args.workspace)
    if args.json:
        print(json.dumps([j.to_dict() for j in jobs], indent=2))
        return 0
    if not jobs:
        print("no jobs")
        return 0
    print(f"{'job_id':24} {'status':10} {'progress':>8} {'pid':>7}  command")
    for j in jobs:
        print(f"{j.job_id:24} {j.status:10} {_progress_text(j.progress):>8} {j.pid or '-':>7}  {' '.join(j.argv)}")
    return 0


def _cmd_show(args) -> int:
    j = get_job(args.workspace, args.job_id)
    if args.json:
        print(json.dumps(j.to_dict(), indent=2))
        return 0
    print(f"job_id:       {j.job_id}")
    print(f"status:       {j.status}" + (f" ({j.message})" if j.message else ""))
    print(f"progress:     {_progress_text(j.progress)}")
    print(f"pid:          {j.pid or '-'}")
    print(f"executor:     {j.executor}" + (f" (submitit job {j.external_id})" if j.external_id else ""))
    print(f"command:      python -m {j.module} {' '.join(j.argv)}")
    print(f"created_at:   {j.created_at}")
    print(f"started_at:   {j.started_at or '-'}")
    print(f"finished_at:  {j.finished_at or '-'}")
    print(f"exit_code:    {'-' if j.exit_code is None else j.exit_code}")
    print("result_paths: " + (", ".join(j.result_paths) or "-"))
    print(f"log_tail:\n{j.log_tail}")
    return 0


def _cmd_cancel(args) -> int:
    j = cancel_job(args.workspace, args.job_id)
    print(f"job {j.job_id}: {j.status}" + (" (cancel requested)" if not j.finished else ""))
    return 0


def _cmd_logs(args) -> int:
    sys.stdout.write(read_log(args.workspace, args.job_id))
    return 0


_COMMANDS = {"submit": _cmd_submit, "list": _cmd_list, "show": _cmd_show, "cancel": _cmd_cancel, "logs": _cmd_logs}


def main(argv: list[str] | None = None) -> int:
    """`python -m eval_runs.jobs ...`: the jobs CLI on its own (the same commands as `python -m eval_runs jobs`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] != ["jobs"]:
        argv = ["jobs", *argv]
    parser = argparse.ArgumentParser(prog="python -m eval_runs")
    add_jobs_arguments(parser.add_subparsers(dest="command", required=True))
    return run_jobs_command(parser.parse_args(argv))

