"""The Runs page's glue between the app and the engine's workspace: launch arguments built from form values,
the finished sweeps and lm-eval runs a workspace holds, and their rows loaded as app data sources.

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
from dataclasses import dataclass
from pathlib import Path

from analysis import json_io
from eval_runs.workspace import NAME_PATTERN, workspace_root
from eval_runs.workspace import check_name as _check_name

SWEEP_PREFIX = "sweep:"  # dataset key of a finished sweep: sweep:<name>
PRESET_NAMES = ("cpu-tiny", "cpu-small", "gpu-small")  # eval_runs.sweep.PRESETS (not imported: keeps it light)
FAMILIES = ("llama", "gpt2", "gpt_neox")
DEVICES = ("cpu", "cuda")
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


def _size_text(n: int) -> str:
    return str(int(n))  # the CLI parses raw counts as well as 1.3M; raw counts round-trip exactly


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


def preset_argv(preset: str, device: str) -> list[str]:
    if preset not in PRESET_NAMES:
        raise ValueError(f"unknown preset {preset!r} (expected one of {', '.join(PRESET_NAMES)})")
    return ["sweep", "--preset", preset, "--device", _device(device), "--no-progress"]


def grid_argv(form: GridForm, device: str) -> list[str]:
    """`sweep` arguments for a custom grid; every pair's teacher/student ratio is checked by the engine's plan."""
    if form.family not in FAMILIES:
        raise ValueError(f"family {form.family!r}: expected one of {', '.join(FAMILIES)}")
    students = parse_sizes(form.student_params, "Student sizes")
    teachers = parse_sizes(form.teacher_params, "Teacher sizes")
    tokens = parse_sizes(form.data_tokens, "Distillation tokens")
    if max(teachers) <= min(students):
        raise ValueError(f"Teacher sizes: every teacher ({', '.join(map(_human, teachers))}) is no larger than "
                         f"the smallest student ({_human(min(students))}); a teacher must be bigger than its student")
    seeds = [s for s in re.split(r"[,\s]+", form.seeds or "0") if s]
    if not all(s.isdigit() for s in seeds):
        raise ValueError(f"Seeds: expected whole numbers such as 0 1 2, found {form.seeds!r}")
    argv = ["sweep", "--name", check_name(form.name), "--family", form.family,
            "--teacher-params", *map(_size_text, teachers), "--student-params", *map(_size_text, students),
            "--data-tokens", *map(_size_text, tokens), "--seeds", *seeds,
            "--random-init-baseline", "true" if form.random_init_baseline else "false",
            "--importance", form.importance, "--threads", str(int(form.threads))]
    if form.teacher_tokens.strip():
        argv += ["--teacher-tokens", _size_text(parse_sizes(form.teacher_tokens, "Teacher tokens")[0])]
    if form.eval_tokens.strip():
        argv += ["--eval-tokens", _size_text(parse_sizes(form.eval_tokens, "Evaluation tokens")[0])]
    if form.corpus_max_bytes.strip():
        argv += ["--corpus-max-bytes", _size_text(parse_sizes(form.corpus_max_bytes, "Corpus bytes")[0])]
    for option, value in (("--vocab-size", form.vocab_size), ("--seq-len", form.seq_len),
                          ("--batch-size", form.batch_size)):
        if value:
            argv += [option, str(int(value))]
    _check_plan(argv)
    return argv + ["--device", _device(device), "--no-progress"]


def distill_argv(teacher_dir: str, student_params: str, data_tokens: str, name: str, device: str) -> list[str]:
    """One distillation = a one-pair sweep with a local teacher folder: prune the teacher to the student size,
    distil, evaluate; its row joins the data sources like any sweep's."""
    if not (teacher_dir or "").strip():
        raise ValueError("Teacher folder: pick a finished model or type the path of a local Hugging Face folder")
    student = parse_sizes(student_params, "Student size")
    if len(student) != 1:
        raise ValueError(f"Student size: give one size, found {len(student)}")
    tokens = parse_sizes(data_tokens, "Distillation tokens")
    teacher = model_params(teacher_dir)
    if teacher is not None and student[0] >= teacher:
        raise ValueError(f"Student size: {_human(student[0])} is not smaller than the teacher "
                         f"({_human(teacher)}); pruning needs a smaller student")
    return ["sweep", "--name", check_name(name, "run name"), "--teacher-paths", teacher_dir.strip(),
            "--student-params", _size_text(student[0]), "--data-tokens", *map(_size_text, tokens),
            "--random-init-baseline", "false", "--min-teacher-ratio", "1.0", "--max-teacher-ratio", "1e9",
            "--device", _device(device), "--no-progress"]


def lmeval_argv(model_dir: str, tasks: list[str], *, limit: int, num_fewshot: int | None, device: str) -> list[str]:
    if not (model_dir or "").strip():
        raise ValueError("Model folder: pick a finished model or type the path of a local Hugging Face folder")
    if not tasks:
        raise ValueError("Tasks: pick at least one task")
    argv = ["lmeval", "--model", model_dir.strip(), "--tasks", ",".join(tasks), "--device", _device(device)]
    if limit:
        argv += ["--limit", str(int(limit))]
    if num_fewshot is not None:
        argv += ["--num-fewshot", str(int(num_fewshot))]
    return argv


def _device(device: str) -> str:
    if device not in DEVICES:
        raise ValueError(f"device {device!r}: expected one of {', '.join(DEVICES)}")
    return device


def _human(n: int) -> str:
    from analysis.sizes import format_size

    return format_size(n)


def _check_plan(argv: list[str]) -> None:
    """The engine's own plan check (unknown family, empty axes, ...) on the sweep options, without torch."""
    from eval_runs.sweep import plan_from_dict

    values, key = {}, None
    for a in argv[1:]:
        if a.startswith("--"):
            key = a[2:].replace("-", "_")
            values[key] = []
        elif key is not None:
            values[key].append(a)
    single = {k: v[0] for k, v in values.items() if k not in ("teacher_params", "student_params", "data_tokens",
                                                               "seeds")}
    plan = {**{k: v for k, v in values.items() if k in ("teacher_params", "student_params", "data_tokens")},
            "seeds": [int(s) for s in values.get("seeds", ["0"])], "name": single.get("name", "sweep"),
            "family": single.get("family", "llama"), "importance": single.get("importance", "gradient")}
    try:
        plan_from_dict(plan, source="the sweep form")
    except ValueError as error:
        raise ValueError(str(error)) from None


def check_not_running(argv, jobs) -> None:
    """Two jobs writing one sweep folder at once would race: ValueError naming the job already running it. The
    runner says which sweep a command writes (JobSpec.name); the app never parses an argv itself."""
    from eval_runs.jobs.spec import build_job_spec

    spec = build_job_spec(list(argv), workspace=workspace_root())
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
        out.append(ModelFolder(label + (f" ({_human(int(n))} params)" if n else ""), str(model), n and int(n)))
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
