"""`sweep --dry-run`: the plan, the cells/jobs it would submit and what they would cost — nothing trained, downloaded,
written or submitted.

Teachers' sizes and shapes come without loading any weights: a plan's own teacher sizes from the engine's ladder; a
local folder from its config.json; a Hugging Face hub id from analysis/data/model_catalog.csv (its parameter count)
and, for the Pythia ladder, the shape its config.json states (PYTHIA_SHAPES; the test checks each against the
catalog's count). A hub id that is neither is refused: a dry run cannot size it offline. Students' shapes are the
ones the engine would carve (eval_runs.prune.plan_student_shape). Costs: eval_runs.estimate (FLOP counts at an
assumed MFU; estimates, never measurements).
"""
from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

from analysis.sizes import format_size
from eval_runs import estimate
from eval_runs.models import ModelShape, count_params
from eval_runs.sweep_plan import SCHEMA_VERSION, SweepPlan


def _pythia(d_model: int, n_layers: int, n_heads: int, vocab_size: int = 50304) -> ModelShape:
    return ModelShape("gpt_neox", vocab_size, n_layers, d_model, n_heads, d_model // n_heads, 4 * d_model, 2048,
                      tie_embeddings=False)


# The checkpoints' config.json (hidden_size, num_hidden_layers, num_attention_heads; intermediate 4x; vocabulary
# padded to 50304, 50432 for 6.9b, 50688 for 12b; untied head), as in Biderman et al. 2023, Table 1.
PYTHIA_SHAPES = {"EleutherAI/pythia-70m": _pythia(512, 6, 8), "EleutherAI/pythia-160m": _pythia(768, 12, 12),
                 "EleutherAI/pythia-410m": _pythia(1024, 24, 16), "EleutherAI/pythia-1b": _pythia(2048, 16, 8),
                 "EleutherAI/pythia-1.4b": _pythia(2048, 24, 16), "EleutherAI/pythia-2.8b": _pythia(2560, 32, 32),
                 "EleutherAI/pythia-6.9b": _pythia(4096, 32, 32, 50432),
                 "EleutherAI/pythia-12b": _pythia(5120, 36, 40, 50688)}


def teacher_shape(source: str) -> tuple[ModelShape, str]:
    """(shape, where its size came from) of a given teacher, without loading its weights or going online."""
    from eval_runs.checkpoints import check_teacher_source, is_path_like
    from eval_runs.models import shape_of

    source = check_teacher_source(source)
    if is_path_like(source):
        from transformers import AutoConfig

        try:
            config = AutoConfig.from_pretrained(source, local_files_only=True)
        except (OSError, ValueError, TypeError, KeyError, RecursionError) as exc:
            raise ValueError(f"teacher {source!r}: its config.json could not be read ({str(exc)[:200]})") from None
        return shape_of(config), "its config.json"
    from analysis.catalog import load_catalog

    catalog = load_catalog()
    rows = catalog[catalog["model"] == source.removesuffix("-deduped")]
    shape = PYTHIA_SHAPES.get(source.removesuffix("-deduped"))
    if rows.empty or shape is None:
        raise ValueError(f"teacher {source!r}: a dry run sizes hub ids offline from the model catalog and the shapes "
                         f"it knows ({', '.join(PYTHIA_SHAPES)}); this one is not among them (give a local folder, "
                         f"or run without --dry-run on a machine online)")
    listed = int(rows["params"].iloc[0])
    if count_params(shape).total_params != listed:
        raise ValueError(f"teacher {source!r}: the shape known for it counts {count_params(shape).total_params:,} "
                         f"parameters, the catalog {listed:,}")
    return shape, "analysis/data/model_catalog.csv"


def _size(shape: ModelShape) -> estimate.ModelSize:
    total = count_params(shape).total_params
    untied_input = 0 if shape.tie_embeddings else shape.vocab_size * shape.d_model
    return estimate.ModelSize(total, total - untied_input, shape.d_model, shape.n_layers)


def dry_run(plan: SweepPlan, *, workspace=None, device: str = "cuda", executor: str = "local", slurm=None,
            max_parallel: int = 1) -> dict:
    """The plan, its teachers, its cells as jobs (argv, dependencies) and their estimated cost; writes nothing."""
    from eval_runs.prune import plan_student_shape
    from eval_runs.sweep_cells import Teacher, given_teacher, layout_from_teachers, model_shape

    from eval_runs.jobs.spec import check_device_name

    check_device_name(device)  # it becomes an argument of every cell's command
    ws = Path(workspace or os.environ.get("CAPGAP_HOME") or "workspace").expanduser().resolve()
    shapes, teachers, sources = {}, [], {}
    for t in plan.teacher_params:
        shape = model_shape(plan, t, plan.vocab_size)
        teacher = Teacher(f"T{format_size(t)}", t, count_params(shape).total_params, "")
        shapes[teacher.label], sources[teacher.label] = shape, "pretrained here (the plan's ladder)"
        teachers.append(teacher)
    for source in plan.teacher_paths:
        shape, where = teacher_shape(source)
        teacher = given_teacher(source, count_params(shape).total_params)
        shapes[teacher.label], sources[teacher.label] = shape, where
        teachers.append(teacher)
    layout = layout_from_teachers(plan, ws / "sweeps" / plan.name, teachers)
    pairs = {p.label: p for p in layout.pairs}
    job_of = {c.cell_id: f"<job of {c.cell_id}>" for c in layout.cells}
    cells, total_flops = [], 0.0
    for cell in layout.cells:
        t_shape = shapes[cell.teacher]
        vocab = t_shape.vocab_size
        if cell.kind == "teacher":
            given = bool(layout.teacher(cell.teacher).source)
            flops = estimate.teacher_cell_flops(_size(t_shape), 0 if given else plan.teacher_tokens, plan.eval_tokens)
            memory = (estimate.evaluation_memory(_size(t_shape), batch_size=plan.batch_size, seq_len=plan.seq_len,
                                                 vocab_size=vocab) if given else
                      estimate.training_memory([_size(t_shape)], None, batch_size=plan.batch_size,
                                               seq_len=plan.seq_len, vocab_size=vocab))
            what = (f"load {layout.teacher(cell.teacher).source} and evaluate it" if given else
                    f"pretrain {format_size(plan.teacher_tokens)} tokens")
        else:
            students = [_size(model_shape(plan, pairs[r].student_params, vocab) if plan.matched_students else
                              plan_student_shape(t_shape, pairs[r].student_params, drop_layers=plan.drop_layers))
                        for r in cell.runs]
            steps = cell.data_tokens // (plan.batch_size * plan.seq_len * plan.grad_accum)
            n_evals = 1 + (steps // plan.eval_every if plan.eval_every else 0)
            flops = estimate.students_cell_flops(_size(t_shape), students, cell.data_tokens, plan.eval_tokens, n_evals)
            memory = estimate.training_memory(students, _size(t_shape), batch_size=plan.batch_size,
                                              seq_len=plan.seq_len, vocab_size=vocab)
            what = f"prune + distil {len(cell.runs)} students on {format_size(cell.data_tokens)} tokens"
        total_flops += flops
        argv = ["python", "-m", "eval_runs", "sweep-cell", "--sweep", plan.name, "--cell", cell.cell_id, "--device",
                device, "--workspace", str(ws)]
        dependency = ("afterok:" + ":".join(job_of[a] for a in cell.after)) if cell.after else ""
        job = {"executor": executor, "argv": argv, "after": list(cell.after)}
        if executor == "slurm":
            job["slurm"] = {**(slurm.to_dict() if slurm is not None else {}), "dependency": dependency}
        cells.append({"cell_id": cell.cell_id, "kind": cell.kind, "teacher": cell.teacher, "what": what,
                      "runs": list(cell.runs), "after": list(cell.after), "flops": flops, "memory_bytes": memory,
                      "hours": {g.name: estimate.seconds(flops, g) / 3600 for g in estimate.GPU_TYPES.values()},
                      "fits": {g.name: memory <= g.memory_bytes for g in estimate.GPU_TYPES.values()}, "job": job})
    return {"schema_version": SCHEMA_VERSION, "dry_run": True, "plan": asdict(plan), "executor": executor,
            "device": device, "max_parallel": max_parallel, "workspace": str(ws),
            "teachers": [{"label": t.label, "source": t.source, "params": t.actual, "size_from": sources[t.label],
                          "shape": shapes[t.label].to_dict()} for t in teachers],
            "n_distillations": len(layout.pairs), "cells": cells, "total_flops": total_flops, "mfu": estimate.MFU,
            "gpu_types": {g.name: {"peak_bf16_tflops": g.peak_flops / 1e12, "memory_gb": g.memory_bytes / 1e9}
                          for g in estimate.GPU_TYPES.values()},
            "gpu_hours": {g.name: estimate.seconds(total_flops, g) / 3600 for g in estimate.GPU_TYPES.values()},
            "peak_memory_bytes": max(c["memory_bytes"] for c in cells),
            "estimate": "from FLOP counts (6·N·D training, 2·N·D forward) at an assumed MFU; not measured"}


def format_dry_run(report: dict) -> str:
    plan, gpus = report["plan"], list(report["gpu_types"])
    lines = [f"DRY RUN of sweep {plan['name']!r}: nothing is trained, downloaded, written or submitted.",
             f"plan: {len(report['teachers'])} teachers x students {', '.join(map(format_size, plan['student_params']))}"
             f" x budgets {', '.join(map(format_size, plan['data_tokens']))} x seeds {plan['seeds']} = "
             f"{report['n_distillations']} distillations in {len(report['cells'])} cells; seq_len {plan['seq_len']}, "
             f"batch {plan['batch_size']} x {plan['grad_accum']}", "teachers:"]
    lines += [f"  {t['label']:<28} {t['params']:>15,} params  (size from {t['source'] and t['size_from'] or 'ladder'})"
              for t in report["teachers"]]
    lines.append(f"jobs ({report['executor']} executor, at most {report['max_parallel']} at once; each runs "
                 f"`python -m eval_runs sweep-cell --sweep {plan['name']} --cell ID --device {report['device']}`):")
    slurm = next((c["job"]["slurm"] for c in report["cells"] if "slurm" in c["job"]), None)
    if slurm is not None:
        lines.append("  slurm: " + ", ".join(f"{k} {v}" for k, v in slurm.items() if k != "dependency" and v) +
                     "; a cell with `after` is submitted with --dependency=afterok:<job of that cell>")
    header = f"  {'cell':<30} {'after':<30} {'TFLOP':>10} {'memory':>9} " + " ".join(f"{g:>10}" for g in gpus)
    lines += [header, "  " + "-" * (len(header) - 2)]
    for c in report["cells"]:
        lines.append(f"  {c['cell_id']:<30} {(', '.join(c['after']) or '-'):<30} {c['flops'] / 1e12:>10,.0f} "
                     f"{c['memory_bytes'] / 2**30:>6.1f} GiB " +
                     " ".join(f"{c['hours'][g]:>9.2f}h" + ("" if c["fits"][g] else "!") for g in gpus))
        lines.append(f"    {c['what']}")
    lines.append(f"total: {report['total_flops']:.3g} FLOP; estimated GPU-hours at {report['mfu']:.0%} MFU: " +
                 ", ".join(f"{g} {h:.1f}" for g, h in report["gpu_hours"].items()))
    fits = [g for g in gpus if all(c["fits"][g] for c in report["cells"])]
    lines.append(f"peak memory of a cell: {report['peak_memory_bytes'] / 2**30:.1f} GiB (fits: "
                 f"{', '.join(fits) or 'none of these GPU types: lower batch_size, raise grad_accum'})")
    lines.append("ESTIMATES from FLOP counts (6·N·D training, 2·N·D teacher forward) at an assumed MFU, and memory "
                 "from parameter counts (eval_runs.estimate); not measured. '!' = does not fit that GPU's memory.")
    return "\n".join(lines)
