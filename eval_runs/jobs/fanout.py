"""A sweep fanned out over jobs: each cell of the sweep (eval_runs.sweep_cells) runs as one job of the registry.

    python -m eval_runs sweep --preset cpu-tiny --max-parallel 2                  (local jobs, two at a time)
    python -m eval_runs sweep --preset gpu-small --executor slurm --max-parallel 8 --slurm-gpus-per-node 1 ...
    python -m eval_runs sweep --resume NAME [same options]                        (submit only what is missing)

This process is the sweep's runner: it prepares the data and the layout, submits cells and watches them until
every cell is done or has failed for good, writing the sweep's status.json (progress = finished distillations)
and log.txt as a sequential sweep does. A teacher cell (pretraining or loading) comes first; its students cells
follow: on Slurm they are submitted as soon as a slot is free with `--dependency=afterok:<teacher job>`, so Slurm
starts them the moment the teacher ends; locally once the teacher cell is done.

- At most `max_parallel` cells are queued or running at once (on Slurm a job waiting for its dependency counts).
- A cell whose job was stopped by a signal (scancel, preemption, a time limit, a killed worker, or a job that
  left Slurm's queue before it started) is submitted again, up to `max_requeues` times; it resumes from its
  checkpoints. Cells still waiting on it in Slurm's queue are withdrawn and submitted again behind the new job.
  Cell jobs are submitted with `--no-requeue`: this runner requeues them, so no cell ever runs twice at once.
- A cell whose command fails (an error, exit code > 0) or that a user cancelled fails for good: the sweep log
  names it with its job's log file, the cells that need it are marked blocked, and every other cell goes on.
- Whether a cell is done is read from its run folders, never from a job's state: a finished cell is never
  submitted again, whatever happened to its job. `--resume` adopts the cell jobs still queued or running (their
  ids are in <sweep>/cell_jobs.json) and submits only the cells neither done nor live.
- SIGTERM (cancelling the sweep's own job) cancels every live cell job and ends the sweep as cancelled.
"""
from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

from analysis import json_io
from analysis.atomic_io import write_json_atomic
from eval_runs.jobs import cancel_job, get_job, submit_job
from eval_runs.jobs.executors import SLURM_ENDED, slurm_job_state
from eval_runs.jobs.registry import now_iso
from eval_runs.jobs.spec import SCHEMA_VERSION, JobSpecError, SlurmOptions, check_device_name
from eval_runs.workspace import workspace_root

CELL_STATES = ("pending", "queued", "running", "done", "failed", "blocked")
SETTLED = ("done", "failed", "blocked")
DRAIN_SECONDS = 60.0  # at the end, how long to wait for done cells' jobs to exit


@dataclass(frozen=True)
class FanoutOptions:
    """How a sweep's cells run as jobs."""

    executor: str = "local"  # local: jobs on this machine; slurm: Slurm jobs through submitit
    max_parallel: int = 1  # cells queued or running at once (1: one after another)
    max_requeues: int = 3  # times a cell stopped by a signal is submitted again before it counts as failed
    poll_seconds: float = 2.0  # how often the runner looks at its cells' jobs
    slurm: SlurmOptions | None = None  # partition, time limit, GPUs, ... of every cell's job

    def __post_init__(self) -> None:
        if self.executor not in ("local", "slurm"):
            raise ValueError(f"executor {self.executor!r}: expected local or slurm")
        for name, lo, hi in (("max_parallel", 1, 10_000), ("max_requeues", 0, 100)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(f"{name} {value!r}: expected a whole number from {lo} to {hi}")
        if not 0.05 <= self.poll_seconds <= 600:
            raise ValueError(f"poll_seconds {self.poll_seconds!r}: expected 0.05 to 600")
        if self.slurm is not None and self.executor != "slurm":
            raise ValueError("slurm options were given for local cells (use executor='slurm')")


@dataclass(frozen=True)
class FanoutResult:
    root: Path  # the sweep's folder
    state: str  # succeeded | failed | cancelled
    failed: tuple[str, ...]  # cells that failed for good or were blocked by one that did


def cell_jobs_path(root: Path) -> Path:
    return root / "cell_jobs.json"


def read_cell_jobs(root: Path) -> dict[str, dict]:
    """{cell id: {job_id, attempts, state, message, log}} as the runner last wrote it ({} before any)."""
    try:
        cells = json_io.read_json(cell_jobs_path(root)).get("cells")
    except (OSError, ValueError):
        return {}
    return cells if isinstance(cells, dict) else {}


class _Runner:
    def __init__(self, layout, workspace: Path, device: str, options: FanoutOptions):
        self.layout, self.ws, self.device, self.options = layout, workspace, device, options
        self.root = layout.root
        self.stop = False
        from eval_runs.run_folder import RunFolder

        self.sweep = RunFolder(self.root)
        previous = read_cell_jobs(self.root)
        self.book: dict[str, dict] = {}
        for cell in layout.cells:
            entry = previous.get(cell.cell_id) or {}
            # a resumed sweep keeps the jobs still queued or running; what failed before is tried again
            live = entry.get("state") in ("queued", "running") and entry.get("job_id")
            self.book[cell.cell_id] = {"job_id": entry.get("job_id") if live else None,
                                       "attempts": int(entry.get("attempts") or 0) if live else 0,
                                       "state": entry["state"] if live else "pending", "message": "",
                                       "log": entry.get("log") or "", "history": list(entry.get("history") or [])}

    # ---------------------------------------------------------------------------------------------- the loop
    def run(self) -> FanoutResult:
        handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        started = time.time()
        try:
            self.sweep.log(f"fanning out {len(self.layout.cells)} cells as {self.options.executor} jobs, at most "
                           f"{self.options.max_parallel} at once")
            while True:
                for cell in self.layout.cells:
                    self._update(cell)
                if self.stop:
                    return self._cancel_all()
                self._submit_ready()
                self._write(started)
                if all(e["state"] in SETTLED for e in self.book.values()):
                    self._drain()
                    break
                time.sleep(self.options.poll_seconds)
        finally:
            for s, h in handlers.items():
                signal.signal(s, h)
        failed = tuple(c for c, e in self.book.items() if e["state"] in ("failed", "blocked"))
        n = len(self.layout.pairs)
        wall = round(time.time() - started, 1)
        if failed:
            message = "; ".join(f"{c} {self.book[c]['state']}: {self.book[c]['message']}" for c in failed)
            self.sweep.write_status("failed", stage="sweep", step=self.layout.n_runs_done(), n_steps=n,
                                    message=message[:4000], wall_seconds=wall, failed_cells=list(failed))
            self.sweep.log(f"sweep ended with {len(failed)} cell(s) not done: {message}")
            return FanoutResult(self.root, "failed", failed)
        self.sweep.write_status("succeeded", stage="sweep", step=n, n_steps=n, wall_seconds=wall)
        self.sweep.log(f"sweep finished in {wall:.0f} s")
        return FanoutResult(self.root, "succeeded", ())

    def _drain(self, timeout_seconds: float = DRAIN_SECONDS) -> None:
        """Wait for the jobs of done cells to write their final state (a cell is done once its results are on
        disk, a moment before its worker exits), so the sweep ends with none of its jobs still running."""
        deadline = time.monotonic() + timeout_seconds
        for entry in self.book.values():
            while entry["job_id"] and time.monotonic() < deadline and not self.stop:
                if get_job(self.ws, entry["job_id"]).finished:
                    break
                time.sleep(min(self.options.poll_seconds, 0.5))

    def _on_signal(self, signum, frame) -> None:
        self.stop = True

    # ---------------------------------------------------------------------------------------------- one cell
    def _update(self, cell) -> None:
        entry = self.book[cell.cell_id]
        if entry["state"] in ("done", "failed", "blocked"):
            return
        if self.layout.cell_done(cell):
            entry.update(state="done", message="")
            return
        if not entry["job_id"]:
            return
        info = get_job(self.ws, entry["job_id"])
        entry["log"] = str(Path(info.job_dir) / "log.txt")
        if not info.finished:
            gone = self._left_slurm_unstarted(info)
            if not gone:
                entry["state"] = info.status
                return
            self._killed(cell, f"job {info.job_id} left Slurm's queue before it ran ({gone})")
            return
        if self.layout.cell_done(cell):  # it finished between the first look and the job's final state
            entry.update(state="done", message="")
        elif info.status == "cancelled" and (Path(info.job_dir) / "cancel").exists():
            self._failed(cell, f"cancelled by the user (job {info.job_id})")
        elif info.status == "cancelled" or (info.status == "failed" and (info.exit_code is None or
                                                                          info.exit_code < 0)):
            self._killed(cell, f"job {info.job_id}: {info.message or info.status}")
        elif info.status == "succeeded":
            self._failed(cell, f"job {info.job_id} succeeded but the cell's runs are not all finished")
        else:
            self._failed(cell, f"job {info.job_id}: {info.message or 'failed'} (log: {entry['log']})")

    def _left_slurm_unstarted(self, info) -> str:
        """Slurm's final state of a job whose worker never reported (cancelled while pending, ...), else ""."""
        if self.options.executor != "slurm" or info.status != "queued" or not info.external_id:
            return ""
        state = slurm_job_state(info.external_id)
        if state not in (*SLURM_ENDED, "GONE"):
            return ""
        time.sleep(0.5)  # the worker may have written "running" just now
        return "" if get_job(self.ws, info.job_id).status != "queued" else state

    def _killed(self, cell, why: str) -> None:
        entry = self.book[cell.cell_id]
        entry["history"].append({"job_id": entry["job_id"], "at": now_iso(), "why": why})
        if entry["attempts"] > self.options.max_requeues:
            self._failed(cell, f"{why}; stopped {entry['attempts']} times, no more requeues (max_requeues "
                               f"{self.options.max_requeues})")
            return
        self.sweep.log(f"cell {cell.cell_id} stopped ({why}): submitted again, it resumes from its checkpoint")
        entry.update(job_id=None, state="pending", message=f"requeued after: {why}")
        self._withdraw_dependents(cell)

    def _failed(self, cell, why: str) -> None:
        entry = self.book[cell.cell_id]
        entry.update(state="failed", message=why)
        self.sweep.log(f"cell {cell.cell_id} failed: {why}" + (f" (log: {entry['log']})" if entry["log"] else ""))
        for other in self.layout.cells:
            if cell.cell_id in other.after and self.book[other.cell_id]["state"] not in SETTLED:
                self._cancel_entry(other.cell_id)
                self.book[other.cell_id].update(state="blocked", message=f"needs cell {cell.cell_id}, which failed")

    def _withdraw_dependents(self, cell) -> None:
        """Cells submitted behind `cell`'s old job and not started yet: cancel them, to submit them again."""
        for other in self.layout.cells:
            entry = self.book[other.cell_id]
            if cell.cell_id in other.after and entry["job_id"] and entry["state"] == "queued":
                self._cancel_entry(other.cell_id)
                entry.update(job_id=None, state="pending")

    def _cancel_entry(self, cell_id: str) -> None:
        job_id = self.book[cell_id]["job_id"]
        if job_id:
            try:
                cancel_job(self.ws, job_id)
            except (OSError, ValueError) as exc:
                self.sweep.log(f"could not cancel job {job_id} of cell {cell_id}: {exc}")

    # ---------------------------------------------------------------------------------------------- submitting
    def _submit_ready(self) -> None:
        live = sum(e["state"] in ("queued", "running") for e in self.book.values())
        cells = sorted(self.layout.cells, key=lambda c: c.kind != "teacher")  # teachers first: they unlock the rest
        for cell in cells:
            entry = self.book[cell.cell_id]
            if live >= self.options.max_parallel:
                return
            if entry["state"] != "pending" or entry["job_id"]:
                continue
            deps = [self.book[d] for d in cell.after]
            if any(d["state"] in ("failed", "blocked") for d in deps):
                entry.update(state="blocked", message=f"needs {', '.join(cell.after)}, which failed")
                continue
            waiting = [d for d in deps if d["state"] != "done"]
            dependency = ""
            if waiting:
                if self.options.executor != "slurm" or not all(d["state"] in ("queued", "running") for d in waiting):
                    continue
                ids = [get_job(self.ws, d["job_id"]).external_id for d in waiting]
                if not all(ids):
                    continue
                dependency = "afterok:" + ":".join(ids)
            self._submit(cell, dependency)
            live += 1

    def _submit(self, cell, dependency: str) -> None:
        entry = self.book[cell.cell_id]
        argv = ["sweep-cell", "--sweep", self.layout.plan.name, "--cell", cell.cell_id, "--device", self.device,
                "--workspace", str(self.ws)]
        slurm = None
        if self.options.executor == "slurm":
            slurm = replace(self.options.slurm or SlurmOptions(), dependency=dependency)
        try:
            job_id = submit_job(argv, workspace=self.ws, executor=self.options.executor, slurm=slurm)
        except (JobSpecError, OSError, RuntimeError, ValueError, subprocess.SubprocessError) as exc:
            # sbatch refused it (a partition that does not exist, a limit): the reason, for good
            entry["attempts"] += 1
            self._failed(cell, f"could not submit: {exc}")
            return
        entry.update(job_id=job_id, attempts=entry["attempts"] + 1, state="queued")
        self.sweep.log(f"cell {cell.cell_id}: job {job_id}" + (f" (after {dependency})" if dependency else ""))

    # ---------------------------------------------------------------------------------------------- state
    def _write(self, started: float) -> None:
        counts = {s: sum(e["state"] == s for e in self.book.values()) for s in CELL_STATES}
        n = len(self.layout.pairs)
        self.sweep.write_status("running", stage=", ".join(f"{v} {k}" for k, v in counts.items() if v) + " cells",
                                step=self.layout.n_runs_done(), n_steps=n, cells=counts,
                                wall_seconds=round(time.time() - started, 1))
        write_json_atomic(cell_jobs_path(self.root), {"schema_version": SCHEMA_VERSION, "updated_at": now_iso(),
                                                      "executor": self.options.executor, "cells": self.book})

    def _cancel_all(self) -> FanoutResult:
        for cell_id, entry in self.book.items():
            if entry["state"] in ("queued", "running"):
                self._cancel_entry(cell_id)
                entry.update(state="pending", job_id=None, message="cancelled with the sweep")
        write_json_atomic(cell_jobs_path(self.root), {"schema_version": SCHEMA_VERSION, "updated_at": now_iso(),
                                                      "executor": self.options.executor, "cells": self.book})
        self.sweep.write_status("cancelled", stage="sweep", step=self.layout.n_runs_done(),
                                n_steps=len(self.layout.pairs), message="cancelled: its cell jobs were cancelled; "
                                                                        "resume it to go on")
        self.sweep.log("sweep cancelled; its cell jobs were cancelled")
        return FanoutResult(self.root, "cancelled", ())


def run_fanout(plan, *, workspace=None, device: str = "cpu", options: FanoutOptions | None = None) -> FanoutResult:
    """Run (or resume) the sweep as jobs, one per cell; returns when every cell is done or failed for good."""
    from eval_runs.sweep_cells import prepare_sweep

    check_device_name(device)  # it becomes an argument of every cell's command
    ws = workspace_root(workspace)
    layout, _ = prepare_sweep(plan, ws, device)
    return _Runner(layout, ws, device, options or FanoutOptions()).run()
