"""The stages of a run, each a function a test or the CLI can call: prepare data, pretrain (or load) a teacher,
make a student (pruned or random), distil students from a teacher, evaluate, and write results rows.

Each stage writes its run folder (see run_folder.py): the spec first, then status, log, metrics, the model and
result.json. Result rows follow the distillation-results contract of DESIGN.md (one row per metric).
"""
from __future__ import annotations

import functools
import hashlib
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from eval_runs.corpus import Corpus, CorpusConfig, load_corpus
from eval_runs.devices import configure_device
from eval_runs.distributed import barrier, checksums_over_ranks, is_main_process, world_size
from eval_runs.evaluate import EvalResult, evaluate_model
from eval_runs.models import ModelShape, count_model_params, fits_inside, new_model, shape_of
from eval_runs.prune import PruneConfig, compute_importance, plan_student_shape, prune_model
from eval_runs.run_folder import RunFolder
from eval_runs.token_data import TokenData, check_fits_batch, prepare_token_data, train_batch
from eval_runs.tokenizer import TokenizerConfig, prepare_tokenizer
from eval_runs.train_loop import Trainee, TrainConfig, remove_checkpoints, train_models

METRICS = ("val_loss", "bits_per_byte")


@functools.lru_cache(maxsize=None)
def code_version() -> str:
    """16 hex digits over the eval_runs sources as this process first read them: which engine produced a result."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        if path.name.startswith("job_"):  # the job runner does not change what a run computes
            continue
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Data:
    """Corpus, tokenizer and token files of a run."""

    corpus: Corpus
    tokenizer: object
    tokens: TokenData

    def provenance(self) -> dict:
        return {**self.corpus.provenance(), "tokenizer_hash": self.tokens.tokenizer_hash,
                "vocab_size": self.tokens.vocab_size}


def prepare_data(corpus_config: CorpusConfig, tokenizer_config: TokenizerConfig, workspace=None) -> Data:
    corpus = load_corpus(corpus_config)
    tokenizer = prepare_tokenizer(corpus, tokenizer_config, workspace)
    return Data(corpus, tokenizer, prepare_token_data(corpus, tokenizer, workspace))


def load_local_model(path: str | os.PathLike):
    """A causal LM from a local HF model folder; a clear error for anything else. Never downloads."""
    from transformers import AutoModelForCausalLM

    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder (expected a local Hugging Face model folder with config.json)")
    if not (folder / "config.json").exists():
        raise ValueError(f"{folder} is not a Hugging Face model folder: no config.json in it (expected "
                         f"config.json and model.safetensors, as written by save_pretrained)")
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, attn_implementation="sdpa")
    except Exception as exc:  # noqa: BLE001 - transformers raises several types for broken folders
        raise ValueError(f"{folder} is not a loadable Hugging Face model folder: {exc}") from None
    shape_of(model.config)  # refuses unsupported families with a clear message
    return model


def save_model(model, tokenizer, folder: Path) -> None:
    """An ordinary HF folder (safetensors) with its tokenizer, so from_pretrained and lm-eval load it."""
    tmp = folder.with_name(folder.name + ".tmp")
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def environment() -> dict:
    return {"code_version": code_version(), "torch_version": torch.__version__, "host": platform.node(),
            "python_version": platform.python_version()}


# ------------------------------------------------------------------------------------------------------------
# Teacher

def pretrain_teacher(run: RunFolder, shape: ModelShape, data: Data, config: TrainConfig, *,
                     device: torch.device, progress: bool = True):
    """Train a teacher of `shape` from scratch for config.n_tokens; returns (model, EvalResult). Resumable."""
    if run.finished:
        return load_local_model(run.model_dir), EvalResult(**_eval_fields(run.read_result()))
    configure_device(device)
    check_fits_batch(data.tokens, config.batch_size, config.seq_len)
    run.write_spec({"kind": "pretrain", "shape": shape.to_dict(), "train": asdict(config), "device": str(device),
                    **data.provenance(), **environment()})
    started = time.time()
    model = new_model(shape, config.seed)
    run.log(f"pretraining {count_model_params(model).total_params:,}-parameter {shape.family} "
            f"for {config.n_steps} steps ({config.n_tokens:,} tokens)")
    train_models([Trainee(run, model)], data.tokens, config, device=device, stage="pretrain", progress=progress)
    ev = evaluate_model(model, data.tokens, seq_len=config.seq_len, max_tokens=config.eval_tokens,
                        batch_size=config.batch_size, device=device)
    counts = count_model_params(model)
    save_model(model, data.tokenizer, run.model_dir)
    run.append_metrics({"step": config.n_steps, "tokens": config.n_steps * config.tokens_per_step, **ev.to_dict()})
    run.write_result({"kind": "pretrain", "model_dir": str(run.model_dir), "params": counts.total_params,
                      "non_embedding_params": counts.non_embedding_params, **ev.to_dict(),
                      "wall_seconds": round(time.time() - started, 2), "device": str(device)})
    remove_checkpoints(run)
    run.write_status("succeeded", stage="pretrain", step=config.n_steps, n_steps=config.n_steps)
    run.log(f"done: val_loss {ev.val_loss:.4f} nats/token, {ev.bits_per_byte:.4f} bits/byte")
    return model, ev


def _eval_fields(result: dict) -> dict:
    return {"val_loss": result["val_loss"], "bits_per_byte": result["bits_per_byte"],
            "n_tokens": result["eval_tokens"], "n_bytes": result["eval_bytes"]}


def evaluate_teacher(model, data: Data, config: TrainConfig, device) -> EvalResult:
    return evaluate_model(model, data.tokens, seq_len=config.seq_len, max_tokens=config.eval_tokens,
                          batch_size=config.batch_size, device=device)


# ------------------------------------------------------------------------------------------------------------
# Student

@dataclass(frozen=True)
class StudentPlan:
    """What a student is: its target size, how it is made and its seed."""

    target_params: int  # parameters asked for (the result records the actual count)
    init: str = "pruned"  # "pruned" (from the teacher) or "random" (same shape, fresh weights: the baseline)
    seed: int = 0


def calibration_batches(data: TokenData, config: TrainConfig, prune: PruneConfig):
    """Calibration sample for gradient importance: train batches drawn with a seed distinct from training's."""
    return [train_batch(data, batch_size=config.batch_size, seq_len=config.seq_len, seed=10_000 + config.seed,
                        step=i) for i in range(prune.n_calibration_batches)]


def make_student(teacher, plan: StudentPlan, data: TokenData, config: TrainConfig, prune: PruneConfig,
                 importance=None, shape: ModelShape | None = None):
    """(student model, shape, importance used). Pruned students inherit the teacher's most important units.

    `shape` fixes the student's architecture (a sweep's matched students); by default it is carved to the target
    size out of this teacher (the same fraction of heads and widths, so it differs from teacher to teacher)."""
    tshape = shape_of(teacher.config)
    if shape is None:
        shape = plan_student_shape(tshape, plan.target_params, drop_layers=prune.drop_layers,
                                   tolerance=prune.tolerance)
    elif not fits_inside(shape, tshape):
        raise ValueError(f"student shape {shape} does not fit inside the teacher {tshape} (every dimension must be "
                         f"no larger, with the same head width)")
    if plan.init == "random":
        return new_model(shape, 1_000 + plan.seed), shape, None
    if plan.init != "pruned":
        raise ValueError(f"unknown student init {plan.init!r} (expected 'pruned' or 'random')")
    if importance is None:
        batches = calibration_batches(data, config, prune) if prune.importance == "gradient" else None
        importance = compute_importance(teacher, prune.importance, batches)
    return prune_model(teacher, shape, importance), shape, importance


# ------------------------------------------------------------------------------------------------------------
# Distillation

@dataclass
class StudentRun:
    """A student being distilled: its run folder, model, plan and what the results rows need."""

    run: RunFolder
    model: torch.nn.Module
    plan: StudentPlan
    spec: dict  # provenance copied into the result (teacher name, data tokens, ...)


def distill_students(teacher, students: list[StudentRun], data: Data, config: TrainConfig, *,
                     device: torch.device, teacher_eval: EvalResult, teacher_params: int, progress: bool = True,
                     family: str = "", stop_after_step: int | None = None) -> list[dict]:
    """Distil every student from `teacher` in one data loop; write each student's model and result.

    Under torchrun every rank trains (distributed.py) and rank 0 alone evaluates and writes; the others wait for
    it and return the results it wrote.
    """
    configure_device(device)
    check_fits_batch(data.tokens, config.batch_size, config.seq_len)
    todo = [s for s in students if not s.run.finished]
    barrier()  # every rank has seen which runs were finished before rank 0 writes anything
    if not is_main_process():
        last = train_models([Trainee(s.run, s.model) for s in todo], data.tokens, config, device=device,
                            teacher=teacher, stage="distill", progress=False,
                            stop_after_step=stop_after_step) if todo else config.n_steps
        if last < config.n_steps:
            barrier()
            return []
        for s in todo:
            checksums_over_ranks(s.model)  # rank 0 compares them
        barrier()  # rank 0 has written every result
        return [s.run.read_result() for s in students]
    started = time.time()
    for s in todo:
        if not (s.run.path / "spec.json").exists():
            s.run.write_spec({"kind": "distill", "plan": asdict(s.plan), "train": asdict(config),
                              "device": str(device), **s.spec, **data.provenance(), **environment()})
        before = evaluate_model(s.model, data.tokens, seq_len=config.seq_len, max_tokens=config.eval_tokens,
                                batch_size=config.batch_size, device=device)
        s.spec["val_loss_at_init"] = before.val_loss
        if not s.run.read_metrics():
            s.run.append_metrics({"step": 0, "tokens": 0, **before.to_dict()})
        s.run.log(f"{s.plan.init} student: {count_model_params(s.model).total_params:,} parameters, "
                  f"val_loss at start {before.val_loss:.4f}")
    if todo:
        last = train_models([Trainee(s.run, s.model) for s in todo], data.tokens, config, device=device,
                            teacher=teacher, stage="distill", progress=progress, stop_after_step=stop_after_step)
        if last < config.n_steps:
            barrier()
            return []
        for s in todo if world_size() > 1 else ():
            sums = checksums_over_ranks(s.model)  # DDP keeps the ranks in step; check that it did
            if len(set(sums)) > 1:
                raise RuntimeError(f"{s.run.name}: the ranks' student weights differ after training "
                                   f"(checksums {sums}); the run is not saved")
            s.run.log(f"student weights identical on all {len(sums)} processes (checksum {sums[0]})")
    wall = time.time() - started
    results = []
    for s in students:
        if s.run.finished:
            results.append(s.run.read_result())
            continue
        ev = evaluate_model(s.model, data.tokens, seq_len=config.seq_len, max_tokens=config.eval_tokens,
                            batch_size=config.batch_size, device=device)
        s.run.append_metrics({"step": config.n_steps, "tokens": config.n_steps * config.tokens_per_step,
                              **ev.to_dict()})
        counts = count_model_params(s.model)
        save_model(s.model, data.tokenizer, s.run.model_dir)
        result = {"kind": "distill", "model_dir": str(s.run.model_dir), "student_params": counts.total_params,
                  "student_non_embedding_params": counts.non_embedding_params,
                  "target_params": s.plan.target_params, "teacher_params": teacher_params,
                  "student_init": s.plan.init, "seed": s.plan.seed,
                  "data_tokens": config.n_steps * config.tokens_per_step,
                  **ev.to_dict(), "teacher_val_loss": teacher_eval.val_loss,
                  "teacher_bits_per_byte": teacher_eval.bits_per_byte,
                  "wall_seconds": round(wall, 2), "n_students_in_loop": len(todo), "device": str(device),
                  **{k: v for k, v in s.spec.items() if k not in ("teacher_params",)}}
        result["rows"] = result_rows(result, run_id=s.run.name, family=family, data=data)
        s.run.write_result(result)
        remove_checkpoints(s.run)
        s.run.write_status("succeeded", stage="distill", step=config.n_steps, n_steps=config.n_steps)
        s.run.log(f"done: val_loss {ev.val_loss:.4f} nats/token, {ev.bits_per_byte:.4f} bits/byte")
        results.append(result)
    barrier()
    return results


def result_rows(result: dict, *, run_id: str, family: str, data: Data) -> list[dict]:
    """Rows in the distillation-results contract (DESIGN.md), one per metric, with provenance columns.

    student_params is the size the student was made for (a sweep's target, e.g. 100K), so that the students
    pruned from different teachers form one group; pruning hits it within a few percent, and the model's own
    count is kept in student_params_actual.
    """
    rows = []
    for metric in METRICS:
        rows.append({
            "student_params": int(result.get("target_params") or result["student_params"]),
            "teacher_params": int(result["teacher_params"]),
            "metric": metric, "value": float(result[metric]), "higher_is_better": False,
            "family": family or "default", "data_tokens": int(result["data_tokens"]), "seed": int(result["seed"]),
            "run_id": run_id, "source": "eval_runs", "teacher_name": result.get("teacher_name", ""),
            "student_name": run_id, "student_init": result["student_init"],
            "teacher_value": float(result[f"teacher_{metric}"]),
            "corpus_hash": data.corpus.content_hash, "tokenizer_hash": data.tokens.tokenizer_hash,
            "code_version": code_version(), "device": result["device"], "wall_seconds": result["wall_seconds"],
            "student_params_actual": int(result["student_params"]),
            "sweep": result.get("sweep", ""), "teacher_tokens": result.get("teacher_tokens"),
        })
    return rows
