"""What a job runs: the job spec (a frozen dataclass) and the checks that turn a user's argv into one.

A job runs one command, `python -m eval_runs SUBCOMMAND ARGS...`, as an argument list (never through a shell).
Before a job is created its argv is validated here, once:

  - the module and subcommand are on an allowlist (the engine's subcommands; `eval_runs.jobs.probe`, the runner's
    own test command, takes any arguments);
  - every path the user typed (model folders, task folders, plan files, corpus paths, output paths) is resolved to
    an absolute path and checked: it exists, is readable and is the right kind (a model folder holds config.json,
    a task folder holds *.yaml); the resolved path replaces the typed one, so the job does not depend on the
    folder it was launched from;
  - `--workspace` is set to the job's workspace when the user gave none.

Errors are `JobSpecError` (a ValueError) with a message that names the option and says what was expected and what
was found.
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eval_runs.workspace import check_name

SCHEMA_VERSION = 1
EXECUTORS = ("local", "slurm")

# Subcommands of `python -m eval_runs` a job may run ("jobs" itself is left out: no job launches jobs).
ENGINE_SUBCOMMANDS = ("sweep", "sweep-cell", "results", "pretrain", "prune", "distill", "evaluate", "lmeval")
# module -> allowed subcommands (None: any arguments). The probe is a tiny command for testing the runner.
# ("eval_runs.job_probe" is the probe's path before the runner moved to eval_runs.jobs: job records keep it.)
ALLOWED_MODULES: dict[str, tuple[str, ...] | None] = {"eval_runs": ENGINE_SUBCOMMANDS, "eval_runs.jobs.probe": None,
                                                      "eval_runs.job_probe": None}

# Options whose value is a path, by the kind of thing they must name.
MODEL_DIR_OPTIONS = ("--model", "--teacher", "--student", "--tokenizer-path")  # HF folders (config.json / tokenizer)
TASK_DIR_OPTIONS = ("--include-path",)  # lm-eval task folders (*.yaml)
INPUT_FILE_OPTIONS = ("--plan",)  # files read by the command
INPUT_ANY_OPTIONS = ("--corpus-paths",)  # files or folders read by the command (nargs +)
OUTPUT_OPTIONS = ("--out",)  # written by the command: the parent folder must exist and be writable
TEACHER_OPTIONS = ("--teacher-paths",)  # a sweep's given teachers: local folders or Hugging Face hub ids (nargs +)
NAME_OPTIONS = ("--name", "--sweep", "--cell", "--resume")  # folder names under the workspace (check_name)
PATH_OPTIONS = MODEL_DIR_OPTIONS + TASK_DIR_OPTIONS + INPUT_FILE_OPTIONS + INPUT_ANY_OPTIONS + OUTPUT_OPTIONS


class JobSpecError(ValueError):
    """A job spec that cannot run: bad executor, module, subcommand or path. The message says what to fix."""


DEVICE_NAME = re.compile(r"^(cpu|auto|cuda(:[0-9]{1,3})?)$")  # what --device may say (the engine checks it exists)


def check_device_name(device: str) -> str:
    if not isinstance(device, str) or not DEVICE_NAME.match(device):
        raise JobSpecError(f"--device {device!r}: expected cpu, cuda, cuda:N or auto")
    return device


SLURM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # partitions and accounts: no spaces, no newlines
SLURM_DEPENDENCY = re.compile(r"^(afterok(:[0-9]{1,12}){1,256})?$")  # written into an #SBATCH line: digits only
SLURM_CLUSTERS = ("slurm", "local", "debug")  # submitit's clusters
SLURM_LIMITS = {"gpus_per_node": (0, 64), "timeout_min": (1, 60 * 24 * 365), "cpus_per_task": (1, 1024),
                "mem_gb": (0, 1 << 16)}  # what a job may ask for: ranges no cluster's node exceeds


@dataclass(frozen=True)
class SlurmOptions:
    """Where a Slurm job runs; passed to submitit's AutoExecutor (generic names, slurm_* for the rest)."""

    partition: str = ""  # Slurm partition (empty: the cluster's default)
    gpus_per_node: int = 0  # GPUs the job needs (0 for CPU sweeps)
    timeout_min: int = 60  # wall-clock limit in minutes; Slurm kills the job after it
    account: str = ""  # Slurm account to charge (empty: the user's default)
    cpus_per_task: int = 2  # CPU cores for the worker and its command
    mem_gb: int = 0  # memory in GB (0: the partition's default)
    cluster: str = "slurm"  # submitit cluster: slurm on a cluster; local or debug run the same code path here
    dependency: str = ""  # afterok:ID[:ID...]: start only once these Slurm jobs succeeded (a sweep's later cells)

    def __post_init__(self) -> None:
        """Every value is checked here, whoever built the options (a form, a link, a spec file on disk): submitit
        writes partition and account into `#SBATCH --...=VALUE` lines of a bash script, so a newline there would
        run the next line."""
        for name in ("partition", "account"):
            value = getattr(self, name)
            if not isinstance(value, str) or (value and not SLURM_NAME.match(value)):
                raise JobSpecError(f"slurm {name} {value!r}: expected a Slurm name (letters, digits, '.', '_', '-'; "
                                   f"up to 64 characters) or empty for the cluster's default")
        if not isinstance(self.dependency, str) or not SLURM_DEPENDENCY.match(self.dependency):
            raise JobSpecError(f"slurm dependency {self.dependency!r}: expected afterok:JOBID[:JOBID...] or empty")
        if self.cluster not in SLURM_CLUSTERS:
            raise JobSpecError(f"slurm cluster {self.cluster!r}: expected one of {', '.join(SLURM_CLUSTERS)}")
        for name, (lo, hi) in SLURM_LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise JobSpecError(f"slurm {name} {value!r}: expected a whole number from {lo} to {hi}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class JobSpec:
    """One job: the command (as a list), where its state lives and how it is executed."""

    argv: tuple[str, ...]  # arguments after `python -m MODULE`, paths already resolved
    workspace: str  # absolute workspace folder; the registry and job folders live in <workspace>/jobs/
    module: str = "eval_runs"  # the Python module run with -m (an entry of ALLOWED_MODULES)
    executor: str = "local"  # local (detached subprocess) | slurm (submitit)
    slurm: SlurmOptions | None = None  # only for executor="slurm"
    progress_file: str = ""  # a status.json the command writes with a `progress` field (0-1); "" = parse the log
    expected_outputs: tuple[str, ...] = field(default=())  # folders/files the command writes (shown once they exist)

    @property
    def subcommand(self) -> str:
        return self.argv[0] if self.argv else ""

    @property
    def kind(self) -> str:
        """What the job is: the engine's subcommand (sweep, distill, lmeval, ...) or "probe" (the runner's test)."""
        return self.subcommand if self.module == "eval_runs" else "probe"

    @property
    def name(self) -> str:
        """The folder the job writes under the workspace (a sweep's or a run's name), or "" when it has none."""
        args = list(self.argv)
        if self.kind == "sweep":
            return _sweep_name(args) or ""
        if self.kind == "sweep-cell":
            return _option_value(args, "--sweep") or ""
        if self.kind in ("pretrain", "distill"):
            return _option_value(args, "--name") or ""
        if self.kind == "lmeval" and _option_value(args, "--model"):
            model = Path(_option_value(args, "--model"))
            return f"{model.parent.name}/{model.name}" if model.name == "model" else model.name
        return ""

    def describe(self) -> str:
        """What the job runs, in a few words: 'sweep cpu-tiny', 'lm-eval T150K/model on capgap_pydoc_cloze'."""
        if self.kind == "probe":
            return f"{self.module} {' '.join(self.argv)}"[:80]
        if self.kind == "sweep-cell":
            return f"cell {_option_value(list(self.argv), '--cell') or ''} of sweep {self.name}"
        if self.kind == "lmeval":
            return f"lm-eval {self.name} on {_option_value(list(self.argv), '--tasks') or ''}".strip()
        return f"{self.kind} {self.name}".strip()

    def command(self, python: str) -> list[str]:
        """The full argument list: [python, -m, module, *argv]."""
        return [python, "-m", self.module, *self.argv]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["argv"] = list(self.argv)
        d["expected_outputs"] = list(self.expected_outputs)
        return {"schema_version": SCHEMA_VERSION, **d}

    @classmethod
    def from_dict(cls, d: dict) -> "JobSpec":
        slurm = SlurmOptions(**d["slurm"]) if d.get("slurm") else None
        return cls(argv=tuple(d["argv"]), workspace=d["workspace"], module=d.get("module", "eval_runs"),
                   executor=d.get("executor", "local"), slurm=slurm, progress_file=d.get("progress_file", ""),
                   expected_outputs=tuple(d.get("expected_outputs", ())))


# ------------------------------------------------------------------------------------------------- building

def build_job_spec(argv: list[str] | tuple[str, ...], *, workspace: str | os.PathLike, executor: str = "local",
                   slurm: SlurmOptions | dict | None = None, module: str = "eval_runs") -> JobSpec:
    """Validate `argv` and return the spec that will run; raises JobSpecError with a clear message."""
    ws = Path(workspace).expanduser().resolve()
    if executor not in EXECUTORS:
        raise JobSpecError(f"unknown executor {executor!r} (expected one of {', '.join(EXECUTORS)})")
    if isinstance(slurm, dict):
        try:
            slurm = SlurmOptions(**slurm)
        except TypeError as exc:
            raise JobSpecError(f"bad slurm options: {exc}") from None
    if executor == "slurm" and slurm is None:
        slurm = SlurmOptions()
    if executor == "local" and slurm is not None:
        raise JobSpecError("slurm options were given for a local job (use executor='slurm')")
    args = check_argv(argv, module)
    if module == "eval_runs":
        args = resolve_paths(args)
        for option, name in [(o, v) for o in NAME_OPTIONS for v in _option_values(args, o)]:
            try:
                check_name(name, option)
            except ValueError as exc:
                raise JobSpecError(str(exc)) from None
        for device in _option_values(args, "--device"):
            check_device_name(device)
        if "--workspace" not in args:
            args += ["--workspace", str(ws)]
    run_ws = Path(_option_value(args, "--workspace") or ws)
    return JobSpec(argv=tuple(args), workspace=str(ws), module=module, executor=executor, slurm=slurm,
                   progress_file=_progress_file(args, run_ws), expected_outputs=_expected_outputs(args, run_ws))


def check_argv(argv, module: str) -> list[str]:
    """The allowlist check: module known, subcommand allowed, every argument a plain string."""
    if module not in ALLOWED_MODULES:
        raise JobSpecError(f"module {module!r} may not run as a job (allowed: {', '.join(ALLOWED_MODULES)})")
    if isinstance(argv, str):
        raise JobSpecError("argv must be a list of arguments, not one string (nothing runs through a shell)")
    args = list(argv)
    for a in args:
        if not isinstance(a, str):
            raise JobSpecError(f"every argument must be a string, found {a!r} ({type(a).__name__})")
        if "\x00" in a:
            raise JobSpecError(f"argument {a!r} contains a NUL character")
    allowed = ALLOWED_MODULES[module]
    if allowed is not None:
        if not args:
            raise JobSpecError(f"no subcommand given (expected one of: {', '.join(allowed)})")
        if args[0] not in allowed:
            raise JobSpecError(f"subcommand {args[0]!r} may not run as a job (expected one of: {', '.join(allowed)})")
    # --opt=value -> --opt value, so each path check sees one form
    out: list[str] = []
    for a in args:
        if a.startswith("--") and "=" in a:
            opt, value = a.split("=", 1)
            out += [opt, value]
        else:
            out.append(a)
    return out


def resolve_paths(args: list[str]) -> list[str]:
    """Replace every path option's value(s) by the resolved absolute path after checking it."""
    out = list(args)
    i = 0
    while i < len(out):
        opt = out[i]
        if opt in TEACHER_OPTIONS:  # local folders (resolved) or hub ids, several values
            i += 1
            while i < len(out) and not out[i].startswith("--"):
                out[i] = _check_teacher(opt, out[i])
                i += 1
        elif opt in PATH_OPTIONS or opt == "--workspace":
            j = i + 1
            if j >= len(out) or out[j].startswith("--"):
                raise JobSpecError(f"{opt} needs a value")
            while j < len(out) and not out[j].startswith("--"):
                out[j] = str(check_path(opt, out[j]))
                j += 1
                if opt not in INPUT_ANY_OPTIONS:  # only --corpus-paths takes several values
                    break
            i = j
        else:
            i += 1
    return out


def check_path(option: str, value: str) -> Path:
    """Resolve one user-typed path and check it is of the kind `option` needs; returns the resolved path."""
    if not value.strip():
        raise JobSpecError(f"{option}: empty path")
    if value.startswith("-"):  # it would be read as an option of the job's command (--workspace=/etc)
        raise JobSpecError(f"{option}: a path may not begin with '-' (found {value!r}); write ./{value} for a file "
                           f"named so")
    path = Path(value).expanduser().resolve()
    if option == "--workspace":
        if path.exists() and not path.is_dir():
            raise JobSpecError(f"--workspace {path}: exists and is not a folder")
        return path
    if option in OUTPUT_OPTIONS:
        parent = path.parent
        if not parent.is_dir():
            raise JobSpecError(f"{option} {path}: its folder {parent} does not exist")
        if not os.access(parent, os.W_OK):
            raise JobSpecError(f"{option} {path}: its folder {parent} is not writable")
        return path
    if not path.exists():
        raise JobSpecError(f"{option} {path}: does not exist (typed as {value!r})")
    if not os.access(path, os.R_OK):
        raise JobSpecError(f"{option} {path}: is not readable")
    if option in MODEL_DIR_OPTIONS:
        if not path.is_dir():
            raise JobSpecError(f"{option} {path}: expected a local Hugging Face model folder, found a file")
        needed = "tokenizer.json or tokenizer_config.json" if option == "--tokenizer-path" else "config.json"
        has = any((path / n).exists() for n in needed.split(" or "))
        if not has:
            raise JobSpecError(f"{option} {path}: not a Hugging Face folder (expected {needed} in it, as written by "
                               f"save_pretrained)")
    elif option in TASK_DIR_OPTIONS:
        if not path.is_dir():
            raise JobSpecError(f"{option} {path}: expected a folder of lm-eval task YAML files, found a file")
        if not any(path.rglob("*.yaml")):
            raise JobSpecError(f"{option} {path}: no *.yaml task files in it")
    elif option in INPUT_FILE_OPTIONS:
        if not path.is_file():
            raise JobSpecError(f"{option} {path}: expected a file, found a folder")
        if option == "--plan":
            _check_plan(path)
    return path


def _check_teacher(option: str, value: str) -> str:
    """A teacher checkpoint: an existing local folder (resolved, with config.json) or a well-formed hub id."""
    from eval_runs.checkpoints import check_teacher_source, is_path_like

    if value.startswith("-"):
        raise JobSpecError(f"{option}: a teacher may not begin with '-' (found {value!r})")
    if is_path_like(value):
        return str(check_path("--teacher", value))
    try:
        return check_teacher_source(value, option)
    except ValueError as exc:
        raise JobSpecError(str(exc)) from None


def _check_plan(path: Path) -> None:
    """A sweep plan parses, and the paths inside it (teachers, corpus) exist."""
    from eval_runs.sweep import read_plan

    try:
        plan = read_plan(path)
    except ValueError as exc:
        raise JobSpecError(f"--plan {path}: {exc}") from None
    for p in plan.teacher_paths:  # relative paths in a plan are relative to where the engine runs, as there
        _check_teacher("--plan teacher_paths", p)
    for p in plan.corpus_paths:
        check_path("--corpus-paths", p)


def _option_values(args: list[str], option: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == option]


def _option_value(args: list[str], option: str) -> str | None:
    for i, a in enumerate(args[:-1]):
        if a == option:
            return args[i + 1]
    return None


def _sweep_name(args: list[str]) -> str | None:
    name = _option_value(args, "--name") or _option_value(args, "--resume")
    if name:
        return name
    try:
        from eval_runs.sweep import preset, read_plan

        if _option_value(args, "--preset"):
            return preset(_option_value(args, "--preset")).name
        if _option_value(args, "--plan"):
            return read_plan(_option_value(args, "--plan")).name
    except (ValueError, ImportError):
        return None
    return None


def _progress_file(args: list[str], ws: Path) -> str:
    """The engine's status.json for this command (its `progress` field is 0-1), or "" when it writes none."""
    sub = args[0] if args else ""
    if sub == "sweep":
        name = _sweep_name(args)
        return str(ws / "sweeps" / name / "status.json") if name else ""
    if sub in ("pretrain", "distill") and _option_value(args, "--name"):
        return str(ws / "runs" / _option_value(args, "--name") / "status.json")
    if "--status-file" in args:  # the probe's (test command's) own status file
        return _option_value(args, "--status-file") or ""
    return ""


def _expected_outputs(args: list[str], ws: Path) -> tuple[str, ...]:
    """Folders/files the command writes; the job shows those that exist when it ends."""
    sub = args[0] if args else ""
    if sub == "sweep" and _sweep_name(args):
        return (str(ws / "sweeps" / _sweep_name(args)),)
    if sub in ("pretrain", "distill") and _option_value(args, "--name"):
        return (str(ws / "runs" / _option_value(args, "--name")),)
    if sub in ("prune", "results") and _option_value(args, "--out"):
        return (_option_value(args, "--out"),)
    return ()
