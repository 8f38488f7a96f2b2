"""Typed launches (eval_runs.jobs.launch): the one function that makes a job's command, checked by parsing that
command back with the CLI's own parser (the plan that runs is the plan that was asked for)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from eval_runs.__main__ import build_parser, sweep_plan_from_args
from eval_runs.jobs.fanout import FanoutOptions
from eval_runs.jobs.launch import LmevalLaunch, SweepLaunch, job_command
from eval_runs.jobs.spec import SlurmOptions
from eval_runs.sweep_plan import PRESETS, SweepPlan


def parsed(argv: list[str]):
    args = build_parser().parse_args(argv)
    return args, sweep_plan_from_args(args)


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_preset_launch_runs_exactly_the_preset(name):
    args, plan = parsed(job_command(SweepLaunch(PRESETS[name], preset_name=name)))
    assert plan == PRESETS[name] and args.preset == name


def test_a_changed_preset_and_a_custom_plan_come_back_field_for_field():
    changed = replace(PRESETS["cpu-tiny"], seeds=(0, 1), ce_weight=0.25, random_init_baseline=False)
    assert parsed(job_command(SweepLaunch(changed, preset_name="cpu-tiny")))[1] == changed
    custom = SweepPlan(name="c", family="gpt_neox", teacher_params=(1_500_000, 3_000_000), student_params=(700_000,),
                       data_tokens=(1_000_000, 4_000_000), corpus_max_bytes=0, max_teacher_ratio=1e9,
                       temperature=2.0, importance="magnitude", threads=3)
    fanned = SweepLaunch(custom, device="cuda", fanout=FanoutOptions(
        executor="slurm", max_parallel=8, max_requeues=5, slurm=SlurmOptions(partition="gpu", gpus_per_node=1)))
    args, plan = parsed(job_command(fanned))
    assert plan == custom
    assert (args.device, args.executor, args.max_parallel, args.max_requeues) == ("cuda", "slurm", 8, 5)
    assert (args.slurm_partition, args.slurm_gpus_per_node) == ("gpu", 1)


def test_a_checkpoint_teacher_plan_keeps_its_hub_id():
    plan = SweepPlan(name="d", teacher_paths=("EleutherAI/pythia-160m",), student_params=(50_000_000,),
                     data_tokens=(1_000_000,), random_init_baseline=False, min_teacher_ratio=1.0)
    assert parsed(job_command(SweepLaunch(plan)))[1] == plan


@pytest.mark.parametrize("bad", [dict(model=" "), dict(tasks=()), dict(limit=-1), dict(device="tpu")])
def test_bad_lmeval_launches_are_refused(bad):
    with pytest.raises(ValueError):
        LmevalLaunch(**{"model": "/m", "tasks": ("t",), **bad})


def test_a_launch_for_an_unknown_preset_or_device_is_refused():
    with pytest.raises(ValueError, match="unknown preset"):
        SweepLaunch(PRESETS["cpu-tiny"], preset_name="nope")
    with pytest.raises(ValueError, match="device"):
        SweepLaunch(PRESETS["cpu-tiny"], device="tpu")
