"""Launches: what a page or a notebook asks the runner to start, as typed objects, and the one function that turns
one into its job's command. Nothing outside the CLI reads an argv back: the command is built here, parsed by
`python -m eval_runs`, and the runner reads its kind and name off the job spec.

    launch = SweepLaunch(preset("cpu-tiny"), preset_name="cpu-tiny", fanout=FanoutOptions(max_parallel=2))
    job_command(launch) -> ["sweep", "--preset", "cpu-tiny", "--device", "cpu", "--no-progress", "--max-parallel", "2"]
    submit_launch(launch, workspace=WS) -> job id

A sweep's job is its runner and always runs on this machine: with `fanout.executor="slurm"` it submits the cells
to Slurm (eval_runs.jobs.fanout). An lm-eval run is one job, local or on Slurm.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from eval_runs.cli_options import options_of
from eval_runs.jobs.fanout import FanoutOptions
from eval_runs.jobs.spec import SlurmOptions
from eval_runs.sweep_plan import PRESETS, SweepPlan

DEVICES = ("cpu", "cuda")  # what a launch may ask for (the CLI also takes cuda:N and auto)


def check_device(device: str) -> str:
    if device not in DEVICES:
        raise ValueError(f"device {device!r}: expected one of {', '.join(DEVICES)}")
    return device


@dataclass(frozen=True)
class SweepLaunch:
    """A sweep to run: its plan, the device and how its cells run."""

    plan: SweepPlan
    device: str = "cpu"
    preset_name: str = ""  # the preset the plan starts from (the command names it; options carry the differences)
    fanout: FanoutOptions = field(default_factory=FanoutOptions)  # local, one cell at a time: in one process

    def __post_init__(self) -> None:
        check_device(self.device)
        if self.preset_name and self.preset_name not in PRESETS:
            raise ValueError(f"unknown preset {self.preset_name!r} (expected one of {', '.join(PRESETS)})")


@dataclass(frozen=True)
class LmevalLaunch:
    """An lm-eval run of a model folder on local tasks."""

    model: str  # a local Hugging Face model folder (checked by the runner)
    tasks: tuple[str, ...]
    limit: int = 0  # documents per task; 0 = all
    num_fewshot: int | None = None  # None: each task's own
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_device(self.device)
        if not self.model.strip():
            raise ValueError("Model folder: pick a finished model or type the path of a local Hugging Face folder")
        if not self.tasks:
            raise ValueError("Tasks: pick at least one task")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 0:
            raise ValueError(f"limit {self.limit!r}: expected a whole number >= 0")


def job_command(launch: SweepLaunch | LmevalLaunch) -> list[str]:
    """The arguments after `python -m eval_runs` that run `launch`."""
    if isinstance(launch, LmevalLaunch):
        argv = ["lmeval", "--model", launch.model.strip(), "--tasks", ",".join(launch.tasks), "--device",
                launch.device]
        if launch.limit:
            argv += ["--limit", str(launch.limit)]
        if launch.num_fewshot is not None:
            argv += ["--num-fewshot", str(int(launch.num_fewshot))]
        return argv
    if not isinstance(launch, SweepLaunch):
        raise TypeError(f"not a launch: {type(launch).__name__}")
    base = PRESETS[launch.preset_name] if launch.preset_name else None
    argv = ["sweep", *(["--preset", launch.preset_name] if base else []), *options_of(launch.plan, base=base),
            "--device", launch.device, "--no-progress"]
    f = launch.fanout
    if f.executor != "local":
        argv += ["--executor", f.executor]
    if f.max_parallel != 1:
        argv += ["--max-parallel", str(f.max_parallel)]
    if f.max_requeues != FanoutOptions.max_requeues:
        argv += ["--max-requeues", str(f.max_requeues)]
    for o in fields(SlurmOptions) if f.slurm else ():
        value = getattr(f.slurm, o.name)
        if o.name != "dependency" and value != o.default:
            argv += ["--slurm-" + o.name.replace("_", "-"), str(value)]
    return argv


def submit_launch(launch: SweepLaunch | LmevalLaunch, *, workspace=None, executor: str = "local",
                  slurm: SlurmOptions | None = None) -> str:
    """Start the launch as a job; returns its id. A sweep's own job runs here (its cells go where `fanout` says)."""
    from eval_runs.jobs import submit_job

    if isinstance(launch, SweepLaunch):
        executor, slurm = "local", None
    return submit_job(job_command(launch), workspace=workspace, executor=executor, slurm=slurm)
