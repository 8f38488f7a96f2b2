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


def run_sweep(plan: SweepPlan, *, workspace=None, device: str = "cpu", progress: bool = True) -> Path:
    """Run (or continue) the sweep in this process, cell after cell; returns its folder. Rows are in each
    student's result.json. eval_runs.jobs.fanout runs the same cells as parallel jobs (locally or on Slurm)."""
    import torch

    from eval_runs.devices import resolve_device
    from eval_runs.run_folder import RunFolder

    dev = resolve_device(device)
    if plan.threads:
        torch.set_num_threads(plan.threads)
    layout, data = prepare_sweep(plan, workspace, str(dev))
    sweep = RunFolder(layout.root)
    started = time.time()
    n = len(layout.pairs)
    sweep.write_status("running", stage="sweep", step=layout.n_runs_done(), n_steps=n)
    for cell in layout.cells:
        if layout.cell_done(cell):
            continue
        sweep.write_status("running", stage=f"cell {cell.cell_id}", step=layout.n_runs_done(), n_steps=n)
        run_cell(layout, cell, data, device=dev, progress=progress)
    sweep.write_status("succeeded", stage="sweep", step=n, n_steps=n, wall_seconds=round(time.time() - started, 1))
    sweep.log(f"sweep finished in {time.time() - started:.0f} s")
    return layout.root
