"""A sweep cut into cells, the units that run as one process each (in this process, as local jobs or on Slurm).

    teacher cell   "teacher-<T>"        pretrain teacher T (or load and evaluate a given checkpoint)
    students cell  "<T>-D<d>-s<seed>"   prune every student of teacher T for budget d and seed, distil them in one
                                        data loop (the teacher's forward pass shared), evaluate them; after its
                                        teacher cell

A cell reads its inputs from the workspace only (the plan the sweep recorded, the teacher's run folder, the data
caches), so where it runs does not change what it computes: a fanned-out sweep gives the rows a sequential one
gives. Pruning importance is computed on calibration batches of the plan's first seed in every cell, so it does
not depend on which cell happened to run first. A cell whose runs are finished does nothing; an interrupted one
resumes from its checkpoints.

    <workspace>/sweeps/<name>/plan.json     the plan (written by prepare_sweep before any cell runs)
    <workspace>/sweeps/<name>/cells.json    the cells and what they wait for (the layout, for the app and the runner)
"""
from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from analysis import json_io
from analysis.atomic_io import write_json_atomic
from analysis.sizes import format_size
from eval_runs.sweep_plan import SCHEMA_VERSION, Pair, SweepPlan, plan_from_dict, plan_pairs
from eval_runs.workspace import check_name, workspace_root


@dataclass(frozen=True)
class Teacher:
    label: str  # its run folder under teachers/ (and its teacher_name in the rows)
    nominal: int  # the size the plan asked for (or the loaded checkpoint's count)
    actual: int  # its parameter count
    source: str  # "" = pretrained here; else a local model folder or a Hugging Face hub id

    @property
    def cell(self) -> str:
        return cell_id("teacher-" + self.label)


@dataclass(frozen=True)
class Cell:
    cell_id: str  # folder-safe id (eval_runs.workspace.check_name)
    kind: str  # "teacher" | "students"
    teacher: str  # the teacher's label
    data_tokens: int = 0  # students cells: the budget
    seed: int = 0  # students cells: the seed
    runs: tuple[str, ...] = ()  # students cells: the student run folders (Pair.label) it writes
    after: tuple[str, ...] = ()  # cells that must finish first


@dataclass(frozen=True)
class SweepLayout:
    plan: SweepPlan
    root: Path  # <workspace>/sweeps/<name>
    teachers: tuple[Teacher, ...]
    pairs: tuple[Pair, ...]
    cells: tuple[Cell, ...]

    def cell(self, cell: str) -> Cell:
        for c in self.cells:
            if c.cell_id == cell:
                return c
        raise ValueError(f"sweep {self.plan.name} has no cell {cell!r} (its cells: "
                         f"{', '.join(c.cell_id for c in self.cells)})")

    def teacher(self, label: str) -> Teacher:
        return next(t for t in self.teachers if t.label == label)

    def cell_done(self, cell: Cell) -> bool:
        """Whether the cell's work is on disk (the truth: a cell is never run again once this holds)."""
        from eval_runs.run_folder import RunFolder

        if cell.kind == "students":
            return all(RunFolder(self.root / "students" / r).finished for r in cell.runs)
        return RunFolder(self.root / "teachers" / cell.teacher).finished or all(
            self.cell_done(c) for c in self.cells if c.kind == "students" and c.teacher == cell.teacher)

    def n_runs_done(self) -> int:
        from eval_runs.run_folder import RunFolder

        return sum(RunFolder(self.root / "students" / p.label).finished for p in self.pairs)

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "sweep": self.plan.name,
                "teachers": [asdict(t) for t in self.teachers], "cells": [asdict(c) for c in self.cells]}


def cell_id(text: str) -> str:
    """A folder-safe id from a label (a checkpoint's folder name may hold any character)."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in text)[:64].lstrip("._-")
    return check_name(safe or "cell", "cell id")


# ------------------------------------------------------------------------------------------------- the layout

def sweep_data(plan: SweepPlan, workspace=None):
    """Corpus, tokenizer and token files of the sweep (cached in the workspace: only the first call builds them)."""
    from eval_runs.corpus import CorpusConfig
    from eval_runs.pipeline import prepare_data
    from eval_runs.tokenizer import TokenizerConfig

    if plan.teacher_paths and plan.teacher_params:
        raise ValueError("a plan takes either teacher_params (pretrained here with a BPE trained on the corpus) or "
                         "teacher_paths (checkpoints with their own tokenizer), not both")
    # given teachers bring their own tokenizer (students are carved out of them, so they share it)
    tokenizer = TokenizerConfig(vocab_size=plan.vocab_size,
                                path=_tokenizer_source(plan.teacher_paths[0]) if plan.teacher_paths else "")
    return prepare_data(CorpusConfig(paths=plan.corpus_paths, max_bytes=plan.corpus_max_bytes), tokenizer, workspace)


def _tokenizer_source(source: str) -> str:
    from eval_runs.checkpoints import local_folder

    return str(local_folder(source))


def model_shape(plan: SweepPlan, size: int, vocab_size: int):
    """The architecture the plan gives a model of `size` parameters: its member of the nested ladder of all the
    plan's sizes with matched students (one shape per student size, whichever teacher), else the size ladder's."""
    from eval_runs.models import ladder_shape

    if plan.matched_students:
        sizes = tuple(sorted(set(plan.teacher_params + plan.student_params)))
        return _nested_ladder(plan.family, sizes, vocab_size, plan.seq_len, plan.aspect_ratio, plan.head_dim or 16)[size]
    return ladder_shape(plan.family, size, vocab_size=vocab_size, max_seq_len=plan.seq_len,
                        aspect_ratio=plan.aspect_ratio, head_dim=plan.head_dim)


@functools.lru_cache(maxsize=8)
def _nested_ladder(family: str, sizes: tuple, vocab_size: int, seq_len: int, aspect_ratio: float, head_dim: int):
    from eval_runs.models import nested_ladder

    return nested_ladder(family, sizes, vocab_size=vocab_size, max_seq_len=seq_len, aspect_ratio=aspect_ratio,
                         head_dim=head_dim)


def sweep_layout(plan: SweepPlan, data, workspace=None) -> SweepLayout:
    """Teachers, distillations and cells of the plan (given checkpoints are loaded to read their sizes)."""
    from eval_runs.checkpoints import load_teacher
    from eval_runs.models import count_model_params, count_params

    check_name(plan.name, "sweep name")  # the engine checks it too: a plan may come from anywhere
    if plan.matched_students and plan.teacher_paths:
        raise ValueError("matched_students needs teacher_params (a ladder pretrained here), not teacher_paths")
    root = workspace_root(workspace) / "sweeps" / plan.name
    teachers = []
    for t in plan.teacher_params:
        shape = model_shape(plan, t, data.tokens.vocab_size)
        teachers.append(Teacher(f"T{format_size(t)}", t, count_params(shape).total_params, ""))
    for source in plan.teacher_paths:
        teachers.append(given_teacher(source, count_model_params(load_teacher(source)).total_params))
    return layout_from_teachers(plan, root, teachers)


def given_teacher(source: str, n_params: int) -> Teacher:
    """A checkpoint given as a teacher (a local folder or a hub id) of `n_params` parameters."""
    return Teacher(f"T{format_size(n_params)}-{source.rstrip('/').rsplit('/', 1)[-1]}", n_params, n_params, source)


def layout_from_teachers(plan: SweepPlan, root: Path, teachers: list[Teacher]) -> SweepLayout:
    """The distillations and cells of the plan, given its teachers and their sizes."""
    pairs = plan_pairs(plan, [t.nominal for t in teachers])
    if not pairs:
        raise ValueError(f"the plan yields no teacher/student pair with teacher/student ratio in "
                         f"[{plan.min_teacher_ratio}, {plan.max_teacher_ratio}]")
    cells = []
    for t in sorted(teachers, key=lambda t: t.actual):
        mine = [p for p in pairs if p.teacher_params == t.nominal]
        if not mine:
            continue
        cells.append(Cell(t.cell, "teacher", t.label))
        for d in plan.data_tokens:
            for seed in plan.seeds:
                group = tuple(p.label for p in mine if p.data_tokens == d and p.seed == seed)
                if group:
                    cells.append(Cell(cell_id(f"{t.label}-D{format_size(d)}-s{seed}"), "students", t.label, d, seed,
                                      group, (t.cell,)))
    return SweepLayout(plan, root, tuple(teachers), tuple(pairs), tuple(cells))


def prepare_sweep(plan: SweepPlan, workspace=None, device: str = "cpu") -> tuple[SweepLayout, object]:
    """Record the plan, build the data caches and the layout (before any cell runs); returns (layout, data)."""
    from eval_runs.pipeline import environment
    from eval_runs.run_folder import RunFolder

    check_name(plan.name, "sweep name")
    root = workspace_root(workspace) / "sweeps" / plan.name
    root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / "plan.json", {"schema_version": SCHEMA_VERSION, "plan": asdict(plan),
                                           "device": str(device), **environment()})
    data = sweep_data(plan, workspace)
    layout = sweep_layout(plan, data, workspace)
    write_json_atomic(root / "cells.json", layout.to_dict())
    RunFolder(root).log(f"corpus {data.corpus.name} ({data.corpus.n_bytes:,} bytes, hash "
                        f"{data.corpus.content_hash}); {data.tokens.n_train_tokens:,} train / "
                        f"{data.tokens.n_val_tokens:,} val tokens; {len(layout.pairs)} distillations over "
                        f"{len(layout.teachers)} teachers in {len(layout.cells)} cells")
    return layout, data


def recorded_plan(name: str, workspace=None) -> SweepPlan:
    """The plan a sweep recorded in its plan.json (what `sweep --resume NAME` and every cell run)."""
    path = workspace_root(workspace) / "sweeps" / check_name(name, "sweep name") / "plan.json"
    if not path.exists():
        raise ValueError(f"no sweep {name!r} in {path.parent.parent} (no plan.json): start it with a preset, a plan "
                         f"file or options first")
    return plan_from_dict(json_io.read_json(path).get("plan") or {}, source=str(path))


# ------------------------------------------------------------------------------------------------- running

def run_cell(layout: SweepLayout, cell: Cell, data, *, device, progress: bool = True) -> None:
    """Do one cell's work (nothing when it is done already)."""
    if layout.cell_done(cell):
        return
    if cell.kind == "teacher":
        _teacher_cell(layout, layout.teacher(cell.teacher), data, device, progress)
    else:
        _students_cell(layout, cell, data, device, progress)


def _train_base(plan: SweepPlan) -> dict:
    return dict(batch_size=plan.batch_size, grad_accum=plan.grad_accum, seq_len=plan.seq_len,
                warmup_fraction=plan.warmup_fraction, eval_tokens=plan.eval_tokens,
                checkpoint_every=plan.checkpoint_every, ce_weight=plan.ce_weight, temperature=plan.temperature)


def _teacher_cell(layout: SweepLayout, teacher: Teacher, data, device, progress: bool) -> None:
    from eval_runs.checkpoints import load_teacher
    from eval_runs.models import count_model_params
    from eval_runs.pipeline import evaluate_teacher, pretrain_teacher
    from eval_runs.run_folder import RunFolder
    from eval_runs.train_loop import TrainConfig

    plan = layout.plan
    run = RunFolder(layout.root / "teachers" / teacher.label)
    cfg = TrainConfig(n_tokens=plan.teacher_tokens, lr=plan.teacher_lr, **_train_base(plan))
    if not teacher.source:
        shape = model_shape(plan, teacher.nominal, data.tokens.vocab_size)
        if plan.lr_ref_width:
            cfg = replace(cfg, lr=plan.teacher_lr * plan.lr_ref_width / shape.d_model)
        RunFolder(layout.root).log(f"teacher {teacher.label}: pretraining {teacher.actual:,} parameters on "
                                   f"{plan.teacher_tokens:,} tokens (peak LR {cfg.lr:.2g})")
        pretrain_teacher(run, shape, data, cfg, device=device, progress=progress)
        return
    started = time.time()  # a given checkpoint: load it (downloading a hub id once) and evaluate it
    model = load_teacher(teacher.source)
    ev = evaluate_teacher(model, data, cfg, device)
    counts = count_model_params(model)
    run.write_result({"kind": "load", "source": teacher.source, "params": counts.total_params,
                      "non_embedding_params": counts.non_embedding_params, **ev.to_dict(),
                      "wall_seconds": round(time.time() - started, 2), "device": str(device)})
    run.write_status("succeeded", stage="load")
    run.log(f"loaded {teacher.source}: val_loss {ev.val_loss:.4f} nats/token, {ev.bits_per_byte:.4f} bits/byte")


def _students_cell(layout: SweepLayout, cell: Cell, data, device, progress: bool) -> None:
    from eval_runs.checkpoints import load_teacher
    from eval_runs.evaluate import EvalResult
    from eval_runs.models import count_model_params, shape_of
    from eval_runs.pipeline import (StudentPlan, StudentRun, _eval_fields, distill_students, evaluate_teacher,
                                    load_local_model, make_student)
    from eval_runs.prune import PruneConfig
    from eval_runs.run_folder import RunFolder
    from eval_runs.train_loop import TrainConfig

    plan, teacher = layout.plan, layout.teacher(cell.teacher)
    run = RunFolder(layout.root / "teachers" / teacher.label)
    base = _train_base(plan)
    if teacher.source:
        model = load_teacher(teacher.source)
        result = run.read_result()
        teacher_eval = (EvalResult(**_eval_fields(result)) if result else
                        evaluate_teacher(model, data, TrainConfig(**base), device))
        family = shape_of(model.config).family  # a given checkpoint's students keep its architecture
    else:
        if not run.finished:
            raise RuntimeError(f"cell {cell.cell_id}: its teacher {teacher.label} has not finished pretraining "
                               f"(run the cell {teacher.cell} first)")
        model = load_local_model(run.model_dir)
        teacher_eval = EvalResult(**_eval_fields(run.read_result()))
        family = plan.family
    teacher_dir = str(run.model_dir) if not teacher.source else teacher.source
    cfg = TrainConfig(n_tokens=cell.data_tokens, lr=plan.student_lr, seed=cell.seed, eval_every=plan.eval_every,
                      **base)
    calibration = TrainConfig(n_tokens=cell.data_tokens, seed=plan.seeds[0], **base)
    prune_cfg = PruneConfig(importance=plan.importance, drop_layers=plan.drop_layers)
    pairs = {p.label: p for p in layout.pairs}
    students, importance = [], None
    for label in cell.runs:
        p = pairs[label]
        student_plan = StudentPlan(p.student_params, p.init, cell.seed)
        student, shape, imp = make_student(model, student_plan, data.tokens, calibration, prune_cfg,
                                           importance=importance if p.init == "pruned" else None,
                                           shape=model_shape(plan, p.student_params, data.tokens.vocab_size)
                                           if plan.matched_students else None)
        importance = imp or importance
        students.append(StudentRun(RunFolder(layout.root / "students" / label), student, student_plan,
                                   {"teacher_name": teacher.label, "teacher_dir": teacher_dir,
                                    "importance": plan.importance, "sweep": plan.name,
                                    "teacher_tokens": plan.teacher_tokens, "student_shape": shape.to_dict()}))
    RunFolder(layout.root).log(f"distilling {len(students)} students from {teacher.label} on {cell.data_tokens:,} "
                               f"tokens (seed {cell.seed})")
    distill_students(model, students, data, cfg, device=device, teacher_eval=teacher_eval,
                     teacher_params=count_model_params(model).total_params, family=family, progress=progress)


def run_cell_command(sweep: str, cell: str, *, workspace=None, device: str = "cpu", progress: bool = True) -> None:
    """`python -m eval_runs sweep-cell --sweep NAME --cell ID`: one cell of a prepared sweep, in this process."""
    import torch

    from eval_runs.devices import resolve_device

    check_name(sweep, "--sweep")
    check_name(cell, "--cell")
    plan = recorded_plan(sweep, workspace)
    if plan.threads:
        torch.set_num_threads(plan.threads)
    data = sweep_data(plan, workspace)
    layout = sweep_layout(plan, data, workspace)
    run_cell(layout, layout.cell(cell), data, device=resolve_device(device), progress=progress)
