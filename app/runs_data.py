"""The Runs page's glue between the app and the engine's workspace: typed launches (eval_runs.jobs.launch) built
from form values, the finished sweeps and lm-eval runs a workspace holds, and their rows loaded as app data sources.

Nothing here imports torch: the engine runs in job subprocesses (eval_runs.jobs), and finished runs are read
from their JSON files. Form values are checked here (sizes parse, lists are not empty, names are folder-safe)
before eval_runs.jobs.spec checks the paths and the subcommand; both raise ValueErrors whose message the page
shows as it is.

    <workspace>/sweeps/<name>/status.json    state "succeeded" marks a finished sweep
    <workspace>/sweeps/<name>/students/*/result.json    its distillation-results rows ("rows")
    <workspace>/lmeval/<model>/results_*.json    a finished lm-eval run (lm-eval's own layout)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from analysis import json_io
from analysis.sizes import format_size
from eval_runs.jobs.fanout import FanoutOptions
from eval_runs.jobs.launch import LmevalLaunch, SweepLaunch, job_command
from eval_runs.jobs.spec import SlurmOptions
from eval_runs.models import FAMILIES
from eval_runs.sweep_plan import PRESETS
from eval_runs.workspace import NAME_PATTERN, workspace_root
from eval_runs.workspace import check_name as _check_name

SWEEP_PREFIX = "sweep:"  # dataset key of a finished sweep: sweep:<name>
def check_name(name: str, what: str = "sweep name") -> str:
    """A folder-safe run name (eval_runs.workspace.check_name), surrounding spaces ignored."""
    return _check_name((name or "").strip(), what)


def parse_sizes(text: str, what: str) -> list[int]:
    """'100K, 200K 1.3M' -> [100000, 200000, 1300000]; ValueError naming the field and the bad entry."""
    from analysis.sizes import parse_size

    parts = [p for p in re.split(r"[,\s]+", text or "") if p]
    if not parts:
        raise ValueError(f"{what}: give at least one size, such as 100K or 1.3M")
    sizes = []
    for p in parts:
        try:
            n = parse_size(p)
        except ValueError:
            raise ValueError(f"{what}: expected sizes such as 100K or 1.3M, found {p!r}") from None
        if n <= 0:
            raise ValueError(f"{what}: sizes must be positive, found {p!r}")
        sizes.append(int(n))
    return sorted(set(sizes))


# ------------------------------------------------------------------------------------------ launch arguments
@dataclass(frozen=True)
class GridForm:
    """A custom sweep grid as typed in the form (sizes as text; empty optional fields keep the engine default)."""

    name: str
    family: str = "llama"
    student_params: str = "100K"
    teacher_params: str = "150K 300K"
    data_tokens: str = "40K"
    teacher_tokens: str = ""  # pretraining tokens per teacher
    seeds: str = "0"
    vocab_size: int = 0  # 0: engine default
    seq_len: int = 0
    batch_size: int = 0
    eval_tokens: str = ""
    corpus_max_bytes: str = ""  # cap on the default (stdlib) corpus
    random_init_baseline: bool = True
    importance: str = "gradient"
    threads: int = 1  # one torch thread by default: a shared machine stays usable


def preset_launch(preset: str, device: str) -> SweepLaunch:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r} (expected one of {', '.join(PRESETS)})")
    return SweepLaunch(PRESETS[preset], device=device, preset_name=preset)


def grid_launch(form: GridForm, device: str) -> SweepLaunch:
    """A custom grid as a plan; the engine's own checks (SweepPlan, plan_from_dict) apply to it here."""
    from eval_runs.sweep_plan import plan_from_dict

    if form.family not in FAMILIES:
        raise ValueError(f"family {form.family!r}: expected one of {', '.join(FAMILIES)}")
    students = parse_sizes(form.student_params, "Student sizes")
    teachers = parse_sizes(form.teacher_params, "Teacher sizes")
    tokens = parse_sizes(form.data_tokens, "Distillation tokens")
    if max(teachers) <= min(students):
        raise ValueError(f"Teacher sizes: every teacher ({', '.join(map(format_size, teachers))}) is no larger than "
                         f"the smallest student ({format_size(min(students))}); a teacher must be bigger than its student")
    seeds = [s for s in re.split(r"[,\s]+", form.seeds or "0") if s]
    if not all(s.isdigit() for s in seeds):
        raise ValueError(f"Seeds: expected whole numbers such as 0 1 2, found {form.seeds!r}")
    values = {"name": check_name(form.name), "family": form.family, "teacher_params": teachers,
              "student_params": students, "data_tokens": tokens, "seeds": [int(s) for s in seeds],
              "random_init_baseline": bool(form.random_init_baseline), "importance": form.importance,
              "threads": int(form.threads)}
    for key, text, what in (("teacher_tokens", form.teacher_tokens, "Teacher tokens"),
                            ("eval_tokens", form.eval_tokens, "Evaluation tokens"),
                            ("corpus_max_bytes", form.corpus_max_bytes, "Corpus bytes")):
        if text.strip():
            values[key] = parse_sizes(text, what)[0]
    values.update({k: int(v) for k, v in (("vocab_size", form.vocab_size), ("seq_len", form.seq_len),
                                          ("batch_size", form.batch_size)) if v})
    return SweepLaunch(plan_from_dict(values, source="the sweep form"), device=device)


def distill_launch(teacher: str, student_params: str, data_tokens: str, name: str, device: str) -> SweepLaunch:
    """One distillation = a one-pair sweep with a given teacher (a local folder or a Hugging Face hub id): prune it
    to the student size, distil, evaluate; its row joins the data sources like any sweep's."""
    from eval_runs.checkpoints import check_teacher_source
    from eval_runs.sweep_plan import plan_from_dict

    if not (teacher or "").strip():
        raise ValueError("Teacher: pick a finished model, or type a local Hugging Face folder or a hub id")
    source = check_teacher_source(teacher.strip(), "Teacher")
    student = parse_sizes(student_params, "Student size")
    if len(student) != 1:
        raise ValueError(f"Student size: give one size, found {len(student)}")
    tokens = parse_sizes(data_tokens, "Distillation tokens")
    n_teacher = model_params(source)
    if n_teacher is not None and student[0] >= n_teacher:
        raise ValueError(f"Student size: {format_size(student[0])} is not smaller than the teacher "
                         f"({format_size(n_teacher)}); pruning needs a smaller student")
    plan = plan_from_dict({"name": check_name(name, "run name"), "teacher_paths": [source],
                           "student_params": student, "data_tokens": tokens, "random_init_baseline": False,
                           "min_teacher_ratio": 1.0, "max_teacher_ratio": 1e9}, source="the distillation form")
    return SweepLaunch(plan, device=device)


def with_executor(launch, executor: str, slurm: dict | None, max_parallel: int = 1):
    """(launch, job executor, job Slurm options): a sweep fans its cells out (locally or on Slurm) and its own job
    runs here; anything else is one job, local or on Slurm."""
    options = SlurmOptions(**slurm) if executor == "slurm" and slurm else None
    if isinstance(launch, SweepLaunch):
        fanout = FanoutOptions(executor=executor, max_parallel=int(max_parallel), slurm=options)
        return replace(launch, fanout=fanout), "local", None
    return launch, executor, options


def check_not_running(launch, jobs) -> None:
    """Two jobs writing one sweep folder at once would race: ValueError naming the job already running it. The
    runner says which sweep a command writes (JobSpec.name); the app never parses an argv itself."""
    from eval_runs.jobs.spec import build_job_spec

    argv = job_command(launch) if isinstance(launch, (SweepLaunch, LmevalLaunch)) else list(launch)
    spec = build_job_spec(argv, workspace=workspace_root())
    if spec.kind != "sweep" or not spec.name:
        return
    for job in jobs:
        if not job.finished and job.kind == "sweep" and job.name == spec.name:
            raise ValueError(f"sweep {spec.name} is already running as job {job.job_id}; wait for it or cancel it "
                             "(submitting a stopped sweep again resumes it)")


# ------------------------------------------------------------------------------------------ the workspace
@dataclass(frozen=True)
class FinishedSweep:
    name: str
    path: Path
    fingerprint: str  # changes when the sweep is resumed and finishes again (status.json mtime)


def finished_sweeps(workspace=None) -> list[FinishedSweep]:
    """Sweeps whose status.json says succeeded, by name."""
    root = workspace_root(workspace) / "sweeps"
    out = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        status_path = folder / "status.json"
        try:
            state = json_io.read_json(status_path).get("state")
        except (OSError, ValueError):
            continue
        if state == "succeeded" and NAME_PATTERN.match(folder.name):
            out.append(FinishedSweep(folder.name, folder, str(status_path.stat().st_mtime_ns)))
    return out


def sweep_folder(name: str, workspace=None) -> Path:
    return workspace_root(workspace) / "sweeps" / check_name(name)


def sweep_cells_table(name: str, workspace=None):
    """A sweep's cells (cells.json) with their state: "done" when their runs are on disk, else what the sweep's
    runner last wrote (cell_jobs.json: queued, running, failed, blocked, pending), with attempts, job and message.
    None for a sweep written before sweeps had cells."""
    import pandas as pd

    from eval_runs.jobs.fanout import read_cell_jobs

    folder = sweep_folder(name, workspace)
    try:
        layout = json_io.read_json(folder / "cells.json")
    except (OSError, ValueError):
        return None
    book = read_cell_jobs(folder)
    rows = []
    for cell in layout.get("cells") or []:
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_id"), str):
            continue
        runs = [str(r) for r in cell.get("runs") or []]
        done_files = ([folder / "students" / r / "result.json" for r in runs] if cell.get("kind") == "students"
                      else [folder / "teachers" / str(cell.get("teacher")) / "result.json"])
        entry = book.get(cell["cell_id"]) or {}
        done = all(p.exists() for p in done_files)
        rows.append({"cell": cell["cell_id"], "kind": str(cell.get("kind", "")), "distillations": len(runs),
                     "state": "done" if done else str(entry.get("state") or "pending"),
                     "attempts": int(entry.get("attempts") or 0), "job": str(entry.get("job_id") or ""),
                     "message": "" if done else str(entry.get("message") or "")})
    return pd.DataFrame(rows) if rows else None


def sweep_rows_csv(name: str, workspace=None) -> bytes:
    """Every result row of the sweep's finished runs, as CSV bytes (the distillation-results contract)."""
    import pandas as pd

    from eval_runs.results import CONTRACT_COLUMNS

    folder = sweep_folder(name, workspace)
    rows = []
    for path in sorted(folder.rglob("result.json")):
        try:
            rows.extend(json_io.read_json(path).get("rows", []))
        except (OSError, ValueError):
            continue  # a run being written
    if not rows:
        raise ValueError(f"sweep {name}: no result rows under {folder} (no distillation finished)")
    frame = pd.DataFrame(rows)
    frame = frame[[c for c in CONTRACT_COLUMNS if c in frame.columns]]
    from analysis.csv_safe import to_safe_csv

    return to_safe_csv(frame).encode()


def load_sweep_results(name: str):
    """(frame, LoadReport, data hash) of a finished sweep, through the same loader as uploads."""
    from analysis.results_io import load_distillation_results
    from eval_runs.workspace import content_hash

    data = sweep_rows_csv(name)
    frame, report = load_distillation_results(data, name=f"sweep-{name}.csv")
    return frame, report, content_hash(data)


@dataclass(frozen=True)
class ModelFolder:
    label: str
    path: str
    n_params: int | None


def finished_models(workspace=None) -> list[ModelFolder]:
    """Model folders of finished runs (sweep teachers and students, single runs), for distillation and lm-eval."""
    ws = workspace_root(workspace)
    out = []
    for result in sorted(ws.glob("sweeps/*/*/*/result.json")) + sorted(ws.glob("runs/*/result.json")):
        model = result.parent / "model"
        if not (model / "config.json").exists():
            continue
        try:
            info = json_io.read_json(result)
        except (OSError, ValueError):
            continue
        n = info.get("params") or info.get("student_params")
        label = "/".join(result.parent.relative_to(ws).parts)
        out.append(ModelFolder(label + (f" ({format_size(int(n))} params)" if n else ""), str(model), n and int(n)))
    return out


def model_params(model_dir: str) -> int | None:
    """The parameter count a finished run recorded beside this model folder (None when unknown)."""
    result = Path(model_dir.strip()).expanduser() / ".." / "result.json"
    try:
        info = json_io.read_json(result.resolve())
    except (OSError, ValueError):
        return None
    n = info.get("params") or info.get("student_params")
    return int(n) if n else None


@dataclass(frozen=True)
class FinishedLmeval:
    model: str  # lm-eval's sanitized model name (the folder under <workspace>/lmeval/)
    path: Path
    fingerprint: str  # newest results file's name and mtime


def finished_lmeval_runs(workspace=None) -> list[FinishedLmeval]:
    """Folders under <workspace>/lmeval/ that hold at least one results_*.json."""
    root = workspace_root(workspace) / "lmeval"
    out = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        files = sorted(folder.glob("results_*.json")) if folder.is_dir() else []
        if files:
            newest = max(files, key=lambda p: p.stat().st_mtime_ns)
            out.append(FinishedLmeval(folder.name, folder, f"{len(files)}:{newest.name}:{newest.stat().st_mtime_ns}"))
    return out


def load_lmeval_run(model: str):
    """analysis.lmeval_import.ImportResult of one lm-eval run folder of the workspace."""
    from analysis.lmeval_import import import_lmeval

    root = workspace_root() / "lmeval"
    folder = (root / model).resolve()
    if folder.parent != root.resolve() or not folder.is_dir():
        raise ValueError(f"lm-eval run {model!r} is not in the workspace ({root})")
    return import_lmeval(folder)
