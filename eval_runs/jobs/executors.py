"""Executors: how a job's worker (`python -m eval_runs.jobs.worker JOB_DIR`) gets started and stopped.

One interface, two executors; both start the same worker, so a job behaves the same wherever it runs.
  - LocalExecutor: a detached subprocess (new session, so it outlives the app and leads its own process group;
    stdin closed, output to the job folder's worker.log). Cancel = SIGTERM to that process group.
  - SlurmExecutor: a submitit job (AutoExecutor) running the same worker command through
    submitit.helpers.CommandFunction. cluster="slurm" on a cluster; "local" or "debug" run the identical code
    path here (tests). Cancel = scancel through submitit on Slurm, the process-group signal on this host otherwise.
"""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from eval_runs.jobs.processes import _CHILDREN, child_env, process_start_time, repo_root, signal_worker_group
from eval_runs.jobs.registry import JobRegistry, read_status, update_status
from eval_runs.jobs.spec import JobSpec, SlurmOptions

def worker_command(job_dir: Path) -> list[str]:
    return [sys.executable, "-m", "eval_runs.jobs.worker", str(job_dir)]


class Executor(Protocol):
    def start(self, registry: JobRegistry, job_id: str, spec: JobSpec) -> None: ...

    def cancel(self, registry: JobRegistry, job_id: str) -> None: ...


class LocalExecutor:
    """A detached subprocess on this machine."""

    def start(self, registry: JobRegistry, job_id: str, spec: JobSpec) -> None:
        job_dir = registry.job_dir(job_id)
        with open(job_dir / "worker.log", "ab") as out:
            proc = subprocess.Popen(worker_command(job_dir), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, cwd=str(repo_root()), env=child_env(),
                                    start_new_session=True)
        _CHILDREN[proc.pid] = proc
        # the launch pid lets the registry notice a worker that dies before it writes "running"
        status = read_status(job_dir)
        if status.get("state") == "queued":
            update_status(job_dir, pid=proc.pid, pid_start_time=process_start_time(proc.pid),
                          host=socket.gethostname())

    def cancel(self, registry: JobRegistry, job_id: str) -> None:
        signal_worker_group(read_status(registry.job_dir(job_id)))


class SlurmExecutor:
    """A submitit job; on a cluster a Slurm job, here (cluster local/debug) the same path without Slurm."""

    def __init__(self, options: SlurmOptions):
        self.options = options

    def make_submitit_executor(self, folder: Path):
        import submitit

        o = self.options
        executor = submitit.AutoExecutor(folder=str(folder), cluster=o.cluster)
        params = {"timeout_min": o.timeout_min, "cpus_per_task": o.cpus_per_task, "name": "capgap-job"}
        if o.gpus_per_node:
            params["gpus_per_node"] = o.gpus_per_node
        if o.mem_gb:
            params["mem_gb"] = o.mem_gb
        if o.partition:
            params["slurm_partition"] = o.partition  # slurm_* settings are ignored by the local/debug clusters
        if o.account:
            params["slurm_account"] = o.account
        if o.dependency:
            params["slurm_dependency"] = o.dependency
        executor.update_parameters(**params)
        return executor

    def start(self, registry: JobRegistry, job_id: str, spec: JobSpec) -> None:
        from submitit.helpers import CommandFunction

        job_dir = registry.job_dir(job_id)
        executor = self.make_submitit_executor(job_dir / "submitit")
        if spec.kind == "sweep-cell" and self.options.cluster == "slurm":
            # the sweep's runner submits a killed cell again (and withdraws the cells waiting on it): Slurm's own
            # requeue would run the cell twice at once
            executor.update_parameters(slurm_additional_parameters={"no-requeue": True})
        fn = CommandFunction(worker_command(job_dir), verbose=False, cwd=str(repo_root()), env=child_env())
        job = executor.submit(fn)
        registry.set_external_id(job_id, str(job.job_id))
        if self.options.cluster == "local":  # keep the controller process reaped, as for local jobs
            proc = getattr(job, "_process", None)
            if proc is not None:
                _CHILDREN[proc.pid] = proc

    def cancel(self, registry: JobRegistry, job_id: str) -> None:
        status = read_status(registry.job_dir(job_id))
        if self.options.cluster == "slurm" and status.get("external_id"):
            import submitit

            submitit.SlurmJob(folder=str(registry.job_dir(job_id) / "submitit"), job_id=status["external_id"]).cancel(
                check=False)
            return
        signal_worker_group(status)


SLURM_ENDED = ("BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
               "TIMEOUT", "SPECIAL_EXIT")


def slurm_job_state(external_id: str) -> str:
    """Slurm's state of a job from squeue (no accounting database needed): PENDING, RUNNING, CANCELLED, ... "GONE"
    when Slurm no longer knows the id, "" when squeue cannot be asked (not installed, no answer)."""
    if not external_id.isdigit():
        return ""
    try:
        done = subprocess.run(["squeue", "-h", "-t", "all", "-j", external_id, "-o", "%T"], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if done.returncode != 0:
        return "GONE" if "invalid job id" in done.stderr.lower() else ""
    states = done.stdout.split()
    return states[0] if states else "GONE"


def executor_for(spec: JobSpec) -> Executor:
    if spec.executor == "slurm":
        return SlurmExecutor(spec.slurm or SlurmOptions())
    return LocalExecutor()
