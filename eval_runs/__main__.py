"""Command line of the distillation engine.

    python -m eval_runs sweep --preset cpu-tiny --workspace DIR [--device cpu|cuda] [--threads 1]
    python -m eval_runs sweep --plan plan.toml --workspace DIR [--max-minutes 60]
    python -m eval_runs sweep --preset cpu-tiny --max-parallel 2 [--executor slurm --slurm-partition P ...]
    python -m eval_runs sweep --preset gpu-pythia --device cuda --dry-run [--json] [--executor slurm ...]  (the plan,
                                                     its jobs and estimated GPU-hours; nothing run or written)
    python -m eval_runs sweep --resume NAME --workspace DIR [--max-minutes 60]   (only what is missing; with the plan
                                                                               it was started with)
    python -m eval_runs sweep --teacher-params 1M 2M --student-params 250K --data-tokens 500K --workspace DIR
    python -m eval_runs sweep-cell --sweep NAME --cell ID --workspace DIR   (one cell: what a fanned-out sweep's jobs run)
    python -m eval_runs results --workspace DIR --out results.csv
    python -m eval_runs pretrain --workspace DIR --name teacher --params 1.1M [--n-tokens 2M ...]
    python -m eval_runs prune --teacher DIR --params 220K --out DIR [--importance gradient|magnitude]
    python -m eval_runs distill --teacher DIR --student DIR --workspace DIR --name run [--n-tokens 500K ...]
    torchrun --nproc_per_node N -m eval_runs distill ... --device cuda   (one run on N GPUs: eval_runs/distributed.py)
    python -m eval_runs evaluate --model DIR --workspace DIR
    python -m eval_runs lmeval --model DIR --tasks capgap_pydoc_heldout --workspace DIR [--limit N]
    python -m eval_runs jobs submit|list|show|cancel|logs --workspace DIR ...   (eval_runs/jobs.py)

Every option of pretrain/distill comes from a config dataclass (TrainConfig, CorpusConfig, TokenizerConfig), and
every option of sweep from SweepPlan (overriding the preset or plan file, if one is given);
`--help` on a subcommand lists them with their meaning and default. Errors are one line on stderr, exit code 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from eval_runs.cli_options import (add_dataclass_options, add_override_options, dataclass_from_options,
                                   overrides_from_options)


def _common(p: argparse.ArgumentParser, *, device: bool = True) -> None:
    p.add_argument("--workspace", default=None, help="workspace folder (default: $CAPGAP_HOME or ./workspace)")
    if device:
        p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
        p.add_argument("--threads", type=int, default=0, help="CPU threads for torch; 0 = torch's default")


def _stage_options(p: argparse.ArgumentParser, config_cls, *, size_fields: tuple[str, ...] = ()) -> None:
    """What every stage that reads the corpus takes: workspace and device, its own config, corpus and tokenizer."""
    from eval_runs.corpus import CorpusConfig
    from eval_runs.tokenizer import TokenizerConfig

    _common(p)
    add_dataclass_options(p, config_cls, size_fields=size_fields)
    add_dataclass_options(p, CorpusConfig, prefix="corpus_", size_fields=("max_bytes",))
    add_dataclass_options(p, TokenizerConfig, prefix="tokenizer_")


def name_arg(text: str) -> str:
    """argparse type of every --name: a folder-safe name (eval_runs.workspace.check_name)."""
    from eval_runs.workspace import check_name

    try:
        return check_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    from eval_runs.prune import PruneConfig
    from eval_runs.train_loop import TrainConfig

    parser = argparse.ArgumentParser(prog="python -m eval_runs", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    from eval_runs.jobs import add_jobs_arguments
    from eval_runs.lmeval.run import add_lmeval_arguments

    add_jobs_arguments(sub)
    add_lmeval_arguments(sub)

    p = sub.add_parser("sweep", help="run a students x teachers sweep (a preset, a TOML plan, or options)")
    src = p.add_mutually_exclusive_group()
    from eval_runs.sweep import PRESETS
    src.add_argument("--preset", choices=sorted(PRESETS), help=" | ".join(PRESETS))
    src.add_argument("--plan", help="a TOML plan file (keys: the fields of eval_runs.sweep.SweepPlan)")
    src.add_argument("--resume", type=name_arg, metavar="NAME",
                     help="go on with the sweep NAME of the workspace, as it recorded its plan (only what is missing "
                          "runs; cells still queued or running are kept)")
    p.add_argument("--max-minutes", type=float, default=0,
                   help="start no new cell after this many minutes (the sweep stops cleanly; --resume continues); "
                        "for a sweep run in this process (local, --max-parallel 1)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars (for logs)")
    p.add_argument("--executor", choices=("local", "slurm"), default="local",
                   help="where the cells run: local (this machine) or slurm (one job per cell through submitit)")
    p.add_argument("--max-parallel", type=int, default=1,
                   help="cells queued or running at once (default 1: locally, the sweep runs in this process)")
    p.add_argument("--max-requeues", type=int, default=3,
                   help="times a cell stopped by the scheduler (preemption, time limit, scancel) is submitted again")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan, the cells/jobs it would submit (with their dependencies) and the GPU-hours "
                        "and memory estimated from FLOP counts; trains, downloads, writes and submits nothing")
    p.add_argument("--json", action="store_true", help="with --dry-run: the report as JSON (schema_version)")
    from eval_runs.jobs import add_slurm_options
    add_slurm_options(p, skip=("dependency",))
    p.add_argument("--workspace", default=None, help="workspace folder (default: $CAPGAP_HOME or ./workspace)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    from eval_runs.sweep import _SIZE_FIELDS, SweepPlan
    add_override_options(p, SweepPlan, prefix="plan_", text_fields=tuple(_SIZE_FIELDS))

    p = sub.add_parser("sweep-cell", help="run one cell of a prepared sweep (what a sweep's jobs run)")
    p.add_argument("--sweep", required=True, type=name_arg, help="the sweep's name (its plan.json is read)")
    p.add_argument("--cell", required=True, type=name_arg, help="the cell id (see <sweep>/cells.json)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    _common(p)

    p = sub.add_parser("results", help="export every finished run's rows (distillation-results contract) to CSV")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--sweep", type=name_arg, help="only this sweep's rows")
    p.add_argument("--pool-sweeps", action="store_true",
                   help="keep the families of several sweeps as they are (default: family/sweep, kept apart)")
    _common(p, device=False)

    p = sub.add_parser("pretrain", help="pretrain a teacher from scratch")
    p.add_argument("--name", required=True, type=name_arg, help="run folder name under <workspace>/runs/")
    p.add_argument("--params", required=True, help="target parameter count, e.g. 1.1M")
    p.add_argument("--family", default="llama", help="llama | gpt2 | gpt_neox")
    _stage_options(p, TrainConfig, size_fields=("n_tokens", "eval_tokens"))

    p = sub.add_parser("prune", help="prune a teacher folder into a smaller student folder")
    p.add_argument("--teacher", required=True, help="local HF model folder")
    p.add_argument("--params", required=True, help="student target size, e.g. 220K")
    p.add_argument("--out", required=True, help="folder to write the student to")
    p.add_argument("--init", default="pruned", help="pruned | random (same shape, fresh weights)")
    p.add_argument("--seq-len", type=int, default=128, help="calibration sequence length")
    p.add_argument("--batch-size", type=int, default=16, help="calibration batch size")
    _stage_options(p, PruneConfig)

    p = sub.add_parser("distill", help="distil a student folder from a teacher folder")
    p.add_argument("--teacher", required=True, help="local HF model folder")
    p.add_argument("--student", required=True, help="local HF model folder (e.g. from `prune`)")
    p.add_argument("--name", required=True, type=name_arg, help="run folder name under <workspace>/runs/")
    p.add_argument("--init", default="pruned", help="how the student was made (recorded in the results rows)")
    _stage_options(p, TrainConfig, size_fields=("n_tokens", "eval_tokens"))

    p = sub.add_parser("evaluate", help="held-out val_loss and bits_per_byte of a model folder")
    p.add_argument("--model", required=True, help="local HF model folder (its tokenizer is used)")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--eval-tokens", default="65536", help="validation tokens")
    _common(p)
    from eval_runs.corpus import CorpusConfig
    add_dataclass_options(p, CorpusConfig, prefix="corpus_", size_fields=("max_bytes",))
    return parser


def _device(args):
    import torch

    from eval_runs.devices import resolve_device

    if getattr(args, "threads", 0):
        torch.set_num_threads(args.threads)
    return resolve_device(args.device)


def _data(args, tokenizer_path: str = ""):
    from eval_runs.corpus import CorpusConfig
    from eval_runs.pipeline import prepare_data
    from eval_runs.tokenizer import TokenizerConfig

    corpus = dataclass_from_options(CorpusConfig, args, prefix="corpus_")
    tok = dataclass_from_options(TokenizerConfig, args, prefix="tokenizer_") if hasattr(args, "tokenizer_vocab_size") \
        else TokenizerConfig()
    if tokenizer_path:
        tok = TokenizerConfig(vocab_size=tok.vocab_size, path=tokenizer_path)
    return prepare_data(corpus, tok, args.workspace)


def sweep_plan_from_args(args: argparse.Namespace):
    """The sweep's plan: the preset or plan file (if any) with every option given on the command line on top."""
    from dataclasses import asdict

    from eval_runs.sweep import SweepPlan, plan_from_dict, preset, read_plan
    overrides = overrides_from_options(SweepPlan, args, prefix="plan_")
    if getattr(args, "resume", None):
        from eval_runs.sweep_cells import recorded_plan
        changed = sorted(set(overrides) - {"threads"})
        if changed:
            raise ValueError(f"--resume keeps the plan the sweep was started with; remove {', '.join(changed)} "
                             f"(or start a new sweep under another name)")
        return plan_from_dict({**asdict(recorded_plan(args.resume, args.workspace)), **overrides},
                              source=f"sweep {args.resume}")
    base = preset(args.preset) if args.preset else read_plan(args.plan) if args.plan else None
    return plan_from_dict({**(asdict(base) if base else {}), **overrides}, source="sweep options")


def _sweep(args) -> int:
    """In this process (local, one cell at a time), or fanned out as jobs (several at once, or on Slurm)."""
    plan = sweep_plan_from_args(args)
    if args.json and not args.dry_run:
        raise ValueError("--json is the form of --dry-run's report (add --dry-run)")
    if args.dry_run:
        from eval_runs.jobs import slurm_options_from_args
        from eval_runs.jobs.fanout import FanoutOptions
        from eval_runs.sweep_dry_run import dry_run, format_dry_run

        FanoutOptions(executor=args.executor, max_parallel=args.max_parallel, max_requeues=args.max_requeues)
        report = dry_run(plan, workspace=args.workspace, device=args.device, executor=args.executor,
                         slurm=slurm_options_from_args(args) if args.executor == "slurm" else None,
                         max_parallel=args.max_parallel)
        print(json.dumps(report, indent=1) if args.json else format_dry_run(report))
        return 0
    if args.executor == "local" and args.max_parallel == 1:
        from eval_runs.sweep import run_sweep

        _device(args)
        folder = run_sweep(plan, workspace=args.workspace, device=args.device, progress=not args.no_progress,
                           max_minutes=args.max_minutes)
        status = json.loads((folder / "status.json").read_text(encoding="utf-8"))
        if status["state"] == "stopped":
            print(f"sweep stopped: {status['step']}/{status['n_steps']} distillations done, {status['cells_left']} "
                  f"of {status['n_cells']} cells left; continue with: python -m eval_runs sweep --resume "
                  f"{plan.name}" + (f" --workspace {args.workspace}" if args.workspace else ""))
        else:
            print(f"sweep finished: {folder}")
        return 0
    if args.max_minutes:
        raise ValueError("--max-minutes stops a sweep run in this process (local, --max-parallel 1); a fanned-out "
                         "sweep is stopped by cancelling its job, and `sweep --resume NAME` continues it")
    from eval_runs.jobs import slurm_options_from_args
    from eval_runs.jobs.fanout import FanoutOptions, run_fanout

    options = FanoutOptions(executor=args.executor, max_parallel=args.max_parallel, max_requeues=args.max_requeues,
                            slurm=slurm_options_from_args(args) if args.executor == "slurm" else None)
    result = run_fanout(plan, workspace=args.workspace, device=args.device, options=options)
    print(f"sweep {result.state}: {result.root}" + (f" (cells not done: {', '.join(result.failed)}; see its "
                                                    f"log.txt)" if result.failed else ""))
    return {"succeeded": 0, "cancelled": 130}.get(result.state, 1)


def _distill(args, device) -> int:
    """One distillation; under torchrun / accelerate launch, data parallel over its processes (rank 0 prints)."""
    from eval_runs.distributed import (check_divides_batch, close_distributed, init_distributed, is_main_process,
                                       world_size)
    from eval_runs.models import count_model_params, shape_of
    from eval_runs.pipeline import (StudentPlan, StudentRun, distill_students, evaluate_teacher, load_local_model)
    from eval_runs.run_folder import RunFolder
    from eval_runs.train_loop import TrainConfig
    from eval_runs.workspace import workspace_root

    teacher = load_local_model(args.teacher)
    student = load_local_model(args.student)
    if count_model_params(student).total_params >= count_model_params(teacher).total_params:
        raise ValueError(f"student not smaller than teacher: {count_model_params(student).total_params:,} >= "
                         f"{count_model_params(teacher).total_params:,} parameters")
    cfg = dataclass_from_options(TrainConfig, args)
    device = init_distributed(device)  # a no-op unless a launcher started this process
    main = is_main_process()
    try:
        check_divides_batch(cfg.batch_size)
        data = _data(args, tokenizer_path=args.teacher)
        teacher_eval = evaluate_teacher(teacher, data, cfg, device)
        run_dir = RunFolder(workspace_root(args.workspace) / "runs" / args.name)
        n = count_model_params(student).total_params
        spec = {"teacher_name": Path(args.teacher).name, "teacher_dir": str(Path(args.teacher).resolve())}
        if world_size() > 1:
            spec["n_processes"] = world_size()
        results = distill_students(teacher, [StudentRun(run_dir, student, StudentPlan(n, args.init, cfg.seed), spec)],
                                   data, cfg, device=device, teacher_eval=teacher_eval,
                                   teacher_params=count_model_params(teacher).total_params,
                                   family=shape_of(teacher.config).family)
    finally:
        close_distributed()
    r = results[0]
    if main:
        print(json.dumps({k: r[k] for k in ("model_dir", "student_params", "teacher_params", "val_loss",
                                             "bits_per_byte")}))
    return 0


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("jobs", "lmeval"):  # their own modules: no torch import on this path
        return args.func(args)
    from analysis.sizes import parse_size
    from eval_runs.workspace import workspace_root

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and args.command != "distill":
        raise ValueError(f"`{args.command}` runs in one process; only `distill` runs across the processes of "
                         f"torchrun / accelerate launch (found WORLD_SIZE={os.environ['WORLD_SIZE']})")

    if args.command == "sweep":
        return _sweep(args)
    if args.command == "sweep-cell":
        from eval_runs.sweep_cells import run_cell_command
        run_cell_command(args.sweep, args.cell, workspace=args.workspace, device=args.device,
                         progress=not args.no_progress)
        print(f"cell {args.cell} of sweep {args.sweep}: done")
        return 0
    if args.command == "results":
        from eval_runs.results import write_results_csv
        n = write_results_csv(args.workspace, args.out, sweep=args.sweep, pool_sweeps=args.pool_sweeps)
        print(f"wrote {n} rows to {Path(args.out).resolve()}")
        return 0

    from eval_runs.models import count_model_params, ladder_shape
    from eval_runs.pipeline import (StudentPlan, load_local_model,
                                    make_student, pretrain_teacher, save_model)
    from eval_runs.run_folder import RunFolder
    from eval_runs.train_loop import TrainConfig

    device = _device(args)
    if args.command == "pretrain":
        data = _data(args)
        cfg = dataclass_from_options(TrainConfig, args)
        shape = ladder_shape(args.family, parse_size(args.params), vocab_size=data.tokens.vocab_size,
                             max_seq_len=cfg.seq_len)
        run_dir = RunFolder(workspace_root(args.workspace) / "runs" / args.name)
        _, ev = pretrain_teacher(run_dir, shape, data, cfg, device=device)
        print(json.dumps({"model_dir": str(run_dir.model_dir), **ev.to_dict()}))
        return 0
    if args.command == "prune":
        from eval_runs.prune import PruneConfig
        teacher = load_local_model(args.teacher)
        data = _data(args, tokenizer_path=args.teacher)
        cfg = TrainConfig(seq_len=args.seq_len, batch_size=args.batch_size)
        prune = dataclass_from_options(PruneConfig, args)
        student, shape, _ = make_student(teacher, StudentPlan(parse_size(args.params), args.init), data.tokens, cfg,
                                         prune)
        save_model(student, data.tokenizer, Path(args.out).expanduser().resolve())
        counts = count_model_params(student)
        print(json.dumps({"out": str(Path(args.out).resolve()), "params": counts.total_params,
                          "non_embedding_params": counts.non_embedding_params, "shape": shape.to_dict()}))
        return 0
    if args.command == "distill":
        return _distill(args, device)
    if args.command == "evaluate":
        from eval_runs.corpus import CorpusConfig
        from eval_runs.evaluate import evaluate_model
        from eval_runs.pipeline import prepare_data
        from eval_runs.tokenizer import TokenizerConfig
        model = load_local_model(args.model)
        data = prepare_data(dataclass_from_options(CorpusConfig, args, prefix="corpus_"),
                            TokenizerConfig(path=args.model), args.workspace)
        ev = evaluate_model(model, data.tokens, seq_len=args.seq_len, max_tokens=parse_size(args.eval_tokens),
                            device=device)
        print(json.dumps({"model": str(Path(args.model).resolve()), "params": count_model_params(model).total_params,
                          **ev.to_dict()}))
        return 0
    raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except (ValueError, FileNotFoundError, NotADirectoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: re-run the same command to resume from the last checkpoint", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
