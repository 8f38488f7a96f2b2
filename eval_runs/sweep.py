"""A sweep: students x teachers x distillation budgets, run end to end, producing distillation-results rows.

For each teacher size (ascending): pretrain the teacher (or load a given checkpoint), evaluate it; then for each
distillation budget (`data_tokens`) and seed, prune the teacher into every student size whose teacher/student
ratio lies in [min_teacher_ratio, max_teacher_ratio] and distil all of them in one data loop (the teacher's
forward pass is computed once per batch and shared). The random-init baseline (same shape, fresh weights) joins
the loop of each student's closest teacher. Finished runs are skipped and interrupted ones resume, so re-running
a sweep continues it.

Plans are flat TOML files whose keys are the fields of `SweepPlan` (unknown keys are refused), or presets
(eval_runs.sweep_plan). The work is cut into cells (eval_runs.sweep_cells): one per teacher, then one per
(teacher, budget, seed) group of students; here they run one after another in this process, and
eval_runs.jobs.fanout runs the same cells as parallel jobs, locally or on Slurm.

    <workspace>/sweeps/<name>/plan.json, status.json, log.txt
    <workspace>/sweeps/<name>/teachers/<T>/            (a run folder)
    <workspace>/sweeps/<name>/students/<T>-<S>-<D>-<init>-s<seed>/   (run folders)
"""
from __future__ import annotations

import time
from pathlib import Path

from eval_runs.sweep_cells import prepare_sweep, run_cell
from eval_runs.sweep_plan import (PLAN_KEY_ALIASES, PRESETS, SCHEMA_VERSION, _SIZE_FIELDS, Pair, SweepPlan,
                                  plan_from_dict, plan_pairs, preset, read_plan)

# the plan's names stay importable from here, where they lived first
__all__ = ["run_sweep", "PLAN_KEY_ALIASES", "PRESETS", "SCHEMA_VERSION", "_SIZE_FIELDS", "Pair", "SweepPlan",
           "plan_from_dict", "plan_pairs", "preset", "read_plan"]


def _cell_cost(layout, cell) -> float:
    """A rough cost of a cell in parameter x tokens (pretraining 3 T B; a distillation loop (T + 3 sum S) D), to
    turn the pace so far into the time left."""
    teacher = layout.teacher(cell.teacher)
    if cell.kind == "teacher":
        return 0.0 if teacher.source else 3.0 * teacher.actual * layout.plan.teacher_tokens
    sizes = {p.label: p.student_params for p in layout.pairs}
    return (teacher.actual + 3.0 * sum(sizes[r] for r in cell.runs)) * cell.data_tokens


def run_sweep(plan: SweepPlan, *, workspace=None, device: str = "cpu", progress: bool = True,
              max_minutes: float = 0) -> Path:
    """Run (or continue) the sweep in this process, cell after cell; returns its folder. Rows are in each
    student's result.json. eval_runs.jobs.fanout runs the same cells as parallel jobs (locally or on Slurm).

    `max_minutes` > 0: start no new cell once that many minutes have passed; the sweep's status is then "stopped"
    and running it again (`sweep --resume NAME`) continues where it stopped. A cell already running finishes.
    The status (and log) say how many distillations are done, how many cells are left and, from this process's
    pace, about how long they will take."""
    import torch

    from eval_runs.devices import resolve_device
    from eval_runs.run_folder import RunFolder

    if max_minutes < 0:
        raise ValueError(f"max_minutes must be >= 0 (0 = no limit), found {max_minutes:g}")
    dev = resolve_device(device)
    if plan.threads:
        torch.set_num_threads(plan.threads)
    started = time.time()  # the budget counts the data preparation too
    layout, data = prepare_sweep(plan, workspace, str(dev))
    sweep = RunFolder(layout.root)
    n = len(layout.pairs)
    costs = {c.cell_id: _cell_cost(layout, c) for c in layout.cells}
    spent = 0.0  # cost of the cells this process ran (its pace estimates the time left)

    def status(state: str, stage: str, *, log: bool = True, **extra) -> None:
        left = [c for c in layout.cells if not layout.cell_done(c)]
        eta = round(sum(costs[c.cell_id] for c in left) * (time.time() - started) / spent) if spent and left \
            else None
        sweep.write_status(state, stage=stage, step=layout.n_runs_done(), n_steps=n, cells_left=len(left),
                           n_cells=len(layout.cells), eta_seconds=eta, **extra)
        line = f"{layout.n_runs_done()}/{n} distillations done, {len(left)} of {len(layout.cells)} cells left"
        if eta:
            line += f", about {eta / 60:.0f} min at this pace" if eta >= 90 else f", about {eta} s at this pace"
        if log:
            sweep.log(line)

    status("running", "sweep", log=False)
    for cell in layout.cells:
        if layout.cell_done(cell):
            continue
        if max_minutes and time.time() - started >= 60 * max_minutes:
            status("stopped", "out of time", message=f"stopped after {max_minutes:g} min at a cell boundary; "
                                                      f"`sweep --resume {plan.name}` continues it")
            return layout.root
        status("running", f"cell {cell.cell_id}")
        run_cell(layout, cell, data, device=dev, progress=progress)
        spent += costs[cell.cell_id]
    sweep.write_status("succeeded", stage="sweep", step=n, n_steps=n, wall_seconds=round(time.time() - started, 1))
    sweep.log(f"sweep finished in {time.time() - started:.0f} s")
    return layout.root
