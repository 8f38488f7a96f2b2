"""lm-eval runs, offline: a local Hugging Face model folder on local task folders, results under the workspace.

    python -m eval_runs lmeval --model DIR --tasks NAMES [--include-path DIR] [--limit N] [--num-fewshot K]
                               --workspace DIR [--device cpu|cuda] [--batch-size N]
    (also `python -m eval_runs.lmeval.run ...`, the same options)

Writes lm-eval's standard output through its EvaluationTracker:
    <workspace>/lmeval/<model name, sanitized by lm-eval>/results_<date>.json   (+ samples_<task>_<date>.jsonl)
which `analysis.lmeval_import.import_lmeval(<workspace>/lmeval)` and the Benchmarks page read.

Offline by construction: HF_HUB_OFFLINE, HF_DATASETS_OFFLINE and TRANSFORMERS_OFFLINE are set, and HF_HOME /
HF_DATASETS_CACHE point at <workspace>/cache/hf, before `datasets` or `lm_eval` is imported (run it in its own
process: the CLI and the job runner do). Tasks come from the bundled folder eval_runs/lmeval/tasks (held-out perplexity
`capgap_pydoc_heldout`, multiple choice `capgap_pydoc_cloze`) plus --include-path; lm-eval's own task index is not
loaded (TaskManager(include_defaults=False)), since its tasks download their data. `__TASK_DIR__` in a task YAML
is replaced by the task folder's absolute path in a resolved copy under <workspace>/cache/lmeval_tasks/<hash>/.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

BUNDLED_TASKS_DIR = Path(__file__).resolve().parent / "tasks"
BUNDLED_TASKS = ("capgap_pydoc_heldout", "capgap_pydoc_cloze")
TASK_DIR_TOKEN = "__TASK_DIR__"
_DOWNLOAD_HINTS = ("offline", "couldn't reach", "connectionerror", "connection error", "hub", "doesn't exist on the",
                   "cannot find the requested files", "not found on the hugging face", "internet")


class LmevalError(ValueError):
    """An lm-eval run that cannot go ahead (bad model folder, unknown task, a task that needs a download)."""


@dataclass(frozen=True)
class LmevalRun:
    """What run_lmeval did: the files it wrote and the metrics, for callers that do not re-read the JSON."""

    results_path: str  # <workspace>/lmeval/<model>/results_<date>.json
    sample_paths: tuple[str, ...]  # samples_<task>_<date>.jsonl beside it
    tasks: tuple[str, ...]
    results: dict  # lm-eval's results dict as returned by simple_evaluate (samples removed)

    def summary(self) -> dict:
        return {"results_path": self.results_path, "sample_paths": list(self.sample_paths), "tasks": list(self.tasks)}


def offline_environment(workspace: Path) -> dict[str, str]:
    """The variables that keep lm-eval, datasets and transformers off the network, caches in the workspace."""
    hf_home = workspace / "cache" / "hf"
    return {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "HF_HOME": str(hf_home), "HF_DATASETS_CACHE": str(hf_home / "datasets"),
            "TOKENIZERS_PARALLELISM": "false", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}


def go_offline(workspace: Path) -> None:
    """Set the offline environment; if the hub libraries are already imported, switch their flags too."""
    os.environ.update(offline_environment(workspace))
    for module, names in (("huggingface_hub.constants", ("HF_HUB_OFFLINE",)),
                          ("datasets.config", ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))):
        mod = sys.modules.get(module)
        for name in names:
            if mod is not None and hasattr(mod, name):
                setattr(mod, name, True)


def check_model_dir(model_dir: str | os.PathLike) -> Path:
    path = Path(model_dir).expanduser().resolve()
    if not path.exists():
        raise LmevalError(f"--model {path}: does not exist (expected a local Hugging Face model folder)")
    if not path.is_dir():
        raise LmevalError(f"--model {path}: is a file, expected a local Hugging Face model folder")
    if not (path / "config.json").exists():
        raise LmevalError(f"--model {path}: not a Hugging Face model folder (no config.json; expected config.json, "
                          f"the weights and a tokenizer, as written by save_pretrained). Hub model names are not "
                          f"downloaded: this run is offline")
    if not any((path / n).exists() for n in ("tokenizer.json", "tokenizer_config.json", "vocab.json")):
        raise LmevalError(f"--model {path}: no tokenizer in the folder (expected tokenizer.json or "
                          f"tokenizer_config.json beside config.json)")
    return path


def resolve_task_folder(folder: Path, cache: Path) -> Path:
    """`folder` itself, or a copy with __TASK_DIR__ replaced by its absolute path (data files stay in place)."""
    yamls = sorted(folder.rglob("*.yaml"))
    if not any(TASK_DIR_TOKEN in p.read_text(encoding="utf-8") for p in yamls):
        return folder
    digest = hashlib.sha256(str(folder).encode())
    for p in yamls:
        digest.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes())
    out = cache / "lmeval_tasks" / digest.hexdigest()[:16]
    if not out.exists():
        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        for p in yamls:
            target = tmp / p.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(p.read_text(encoding="utf-8").replace(TASK_DIR_TOKEN, str(folder)), encoding="utf-8")
        try:
            os.replace(tmp, out)
        except OSError:  # another run made it first: same content
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _download_message(exc: Exception, tasks: list[str]) -> str | None:
    text = f"{type(exc).__name__}: {exc}".lower()
    if any(h in text for h in _DOWNLOAD_HINTS):
        return (f"a task in {', '.join(tasks)} needs a download ({type(exc).__name__}: {str(exc)[:300]}); this run is "
                f"offline and reads local files only: give the task `dataset_path: json` with "
                f"`dataset_kwargs: {{data_files: ...}}` pointing at local jsonl files")
    return None


def run_lmeval(model_dir: str | os.PathLike, tasks: list[str] | tuple[str, ...] | str, *,
               workspace: str | os.PathLike, include_path: str | os.PathLike | None = None, limit: float | None = None,
               num_fewshot: int | None = None, device: str = "cpu", batch_size: int | str = 8,
               log_samples: bool = True, bootstrap_iters: int = 1000, seed: int = 0) -> LmevalRun:
    """Evaluate a local HF model folder on local lm-eval tasks; write results + samples under <workspace>/lmeval/.

    tasks: names (a list or "a,b"); bundled tasks are always available, --include-path adds a folder of YAMLs.
    limit: documents per task (an int) or a fraction (< 1), as lm-eval's --limit. Raises LmevalError with a clear
    message for a model folder that is not a HF model, an unknown task, or a task that needs a download.
    """
    from eval_runs.workspace import workspace_root

    ws = workspace_root(workspace)
    go_offline(ws)  # before datasets / lm_eval are imported below
    model = check_model_dir(model_dir)
    names = [t.strip() for t in (tasks.split(",") if isinstance(tasks, str) else tasks) if t.strip()]
    if not names:
        raise LmevalError(f"no task given (bundled tasks: {', '.join(BUNDLED_TASKS)})")
    folders = [BUNDLED_TASKS_DIR]
    if include_path:
        user = Path(include_path).expanduser().resolve()
        if not user.is_dir():
            raise LmevalError(f"--include-path {user}: not a folder (expected a folder of lm-eval task YAML files)")
        if not any(user.rglob("*.yaml")):
            raise LmevalError(f"--include-path {user}: no *.yaml task files in it")
        folders.append(user)
    cache = ws / "cache"
    resolved = [str(resolve_task_folder(f, cache)) for f in folders]

    import lm_eval
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=resolved, include_defaults=False)
    unknown = [n for n in names if n not in manager.all_tasks]
    if unknown:
        raise LmevalError(
            f"unknown task(s) {', '.join(unknown)}: not in the bundled tasks ({', '.join(BUNDLED_TASKS)})"
            + (f" nor in --include-path {include_path}" if include_path else "")
            + ". lm-eval's built-in tasks download their data from the Hugging Face hub, which this offline run does "
              "not do: put the task YAML and its data (dataset_path: json) in a folder and pass --include-path")
    out = ws / "lmeval"
    tracker = EvaluationTracker(output_path=str(out))
    try:
        results = lm_eval.simple_evaluate(
            model="hf", model_args=f"pretrained={model},dtype=float32" if device == "cpu" else f"pretrained={model}",
            tasks=names, task_manager=manager, limit=limit, num_fewshot=num_fewshot, device=device,
            batch_size=batch_size, bootstrap_iters=bootstrap_iters, log_samples=log_samples,
            evaluation_tracker=tracker, random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed,
            fewshot_random_seed=seed)
    except LmevalError:
        raise
    except Exception as exc:  # lm-eval/datasets raise many types; name the offline cause when it is one
        msg = _download_message(exc, names)
        if msg:
            raise LmevalError(msg) from exc
        if isinstance(exc, (OSError, ValueError)) and "config" in str(exc).lower():
            raise LmevalError(f"--model {model}: not a loadable Hugging Face model ({exc})") from exc
        raise
    if results is None:  # simple_evaluate returns None on non-zero ranks of a distributed run
        raise LmevalError("lm-eval returned no results (a non-zero rank of a distributed run?)")
    samples = results.pop("samples", None) or {}
    tracker.save_results_aggregated(results=results, samples=samples)
    if log_samples:
        for task_name in results["configs"]:
            if task_name in samples:
                tracker.save_results_samples(task_name=task_name, samples=samples[task_name])
    folder = out / tracker.general_config_tracker.model_name_sanitized
    date_id = tracker.date_id
    results_path = folder / f"results_{date_id}.json"
    sample_paths = sorted(str(p) for p in folder.glob(f"samples_*_{date_id}.jsonl"))
    return LmevalRun(results_path=str(results_path), sample_paths=tuple(sample_paths), tasks=tuple(names),
                     results=results)


# ---------------------------------------------------------------------------------------------------- CLI

def add_lmeval_arguments(subparsers) -> argparse.ArgumentParser:
    """Add the `lmeval` subcommand to an argparse subparsers object; returns its parser."""
    p = subparsers.add_parser("lmeval", help="run lm-eval offline on a local HF model folder and local tasks",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="local Hugging Face model folder (config.json, weights, tokenizer)")
    p.add_argument("--tasks", required=True,
                   help=f"comma-separated task names (bundled: {', '.join(BUNDLED_TASKS)}; more with --include-path)")
    p.add_argument("--include-path", default=None, help="a folder of lm-eval task YAMLs with local data")
    p.add_argument("--limit", type=float, default=None, help="documents per task (or a fraction < 1), for quick runs")
    p.add_argument("--num-fewshot", type=int, default=None, help="few-shot examples (default: each task's own)")
    p.add_argument("--workspace", default=None, help="workspace folder (default: $CAPGAP_HOME or ./workspace)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--batch-size", default="8", help="batch size, or auto (default 8)")
    p.add_argument("--no-samples", action="store_true", help="do not write the per-document samples files")
    p.add_argument("--seed", type=int, default=0, help="random seed (few-shot sampling; default 0)")
    p.set_defaults(func=run_lmeval_command)
    return p


def run_lmeval_command(args: argparse.Namespace) -> int:
    """Run a parsed `lmeval` command: prints `result_path: FILE` lines and a JSON summary; 2 on bad input."""
    from eval_runs.workspace import workspace_root

    go_offline(workspace_root(args.workspace))
    limit = args.limit
    if limit is not None and limit >= 1:
        limit = int(limit)
    batch = args.batch_size if args.batch_size == "auto" else int(args.batch_size)
    try:
        run = run_lmeval(args.model, args.tasks, workspace=args.workspace, include_path=args.include_path,
                         limit=limit, num_fewshot=args.num_fewshot, device=args.device, batch_size=batch,
                         log_samples=not args.no_samples, seed=args.seed)
    except LmevalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in (run.results_path, *run.sample_paths):
        print(f"result_path: {path}")
    print(json.dumps({**run.summary(), "metrics": _headline(run.results)}))
    return 0


def _headline(results: dict) -> dict:
    """{task: {metric: value}} of the numeric metrics (the JSON file has everything)."""
    out = {}
    for task, metrics in results.get("results", {}).items():
        out[task] = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and "stderr" not in k}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval_runs.lmeval.run")
    sub = parser.add_subparsers(dest="command", required=True)
    add_lmeval_arguments(sub)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] != ["lmeval"]:
        argv = ["lmeval", *argv]
    return run_lmeval_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
