"""The training loop shared by pretraining (one model, cross-entropy) and distillation (one teacher, several
students trained on the same batches, the teacher's forward pass computed once per batch and shared).

Reads top to bottom: schedule -> resume -> for each step: batch, teacher log-probs, each student's
forward/backward (gradient accumulation), clip, AdamW step; logging, evaluation, checkpoints, progress.
Batches are a pure function of (seed, step), so a run resumed from its checkpoint ends exactly where an
uninterrupted run ends. Under torchrun each process trains on its rows of every batch and DDP averages the
gradients (distributed.py); only rank 0 writes the run folder.
"""
from __future__ import annotations

import math
import shutil
import time
from dataclasses import asdict, dataclass

import torch

from eval_runs.distributed import (gradient_sync, hidden_states_fn, is_main_process, mean_over_ranks,
                                   shard_rows)
from eval_runs.evaluate import evaluate_model, final_hidden
from eval_runs.kd_loss import distillation_loss, teacher_targets
from eval_runs.run_folder import RunFolder
from eval_runs.token_data import TokenData, train_batch

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (defaults: MiniMA's recipe, arXiv 2311.07052, except where tiny models need more)."""

    n_tokens: int = 1_000_000  # training tokens (the budget); steps = n_tokens / tokens per step, rounded up
    batch_size: int = 16  # sequences per micro-batch
    grad_accum: int = 1  # micro-batches per optimizer step
    seq_len: int = 128  # tokens per sequence (MiniMA packs 4096; tiny models see short contexts)
    lr: float = 3e-4  # peak learning rate (MiniMA: 3e-4 at 3B; tiny models take ~1e-3 to 3e-3)
    min_lr_ratio: float = 0.1  # cosine decays to lr * this
    warmup_fraction: float = 0.01  # share of steps with linear warm-up (MiniMA: 1%)
    weight_decay: float = 0.1  # AdamW, on matrices only (not norms or biases)
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # max global gradient norm
    ce_weight: float = 0.5  # weight of CE against the labels; 1 - ce_weight goes to the KD term (MiniMA: 0.5;
    #                        the paper calls it alpha, `--alpha` still works)
    temperature: float = 1.0  # KD temperature tau (MiniMA: 1)
    seed: int = 0  # data order and initialisation
    log_every: int = 10  # steps between metrics.jsonl lines
    eval_every: int = 0  # steps between held-out evaluations; 0 = only at the end
    eval_tokens: int = 65536  # validation tokens per evaluation
    checkpoint_every: int = 200  # steps between checkpoints (resume points); 0 = none
    loss_chunk_tokens: int = 0  # tokens per chunk of the chunked loss; 0 = auto (kd_loss.chunk_size, per device)
    teacher_logits_dtype: str = "bfloat16"  # precision the shared teacher probabilities are kept in

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.seq_len * self.grad_accum

    @property
    def n_steps(self) -> int:
        return max(1, math.ceil(self.n_tokens / self.tokens_per_step))


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up then cosine decay to min_lr_ratio * lr."""
    n = config.n_steps
    warmup = max(1, int(round(config.warmup_fraction * n)))
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, n - warmup)
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model, config: TrainConfig, device: torch.device):
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2),
                             fused=device.type == "cuda")


@dataclass
class Trainee:
    """One model trained by the loop, with its run folder."""

    run: RunFolder
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer | None = None


# ------------------------------------------------------------------------------------------------------------
# Checkpoints: checkpoint-<step>/ in every trainee's folder; a step counts only when all trainees have it

def _save_checkpoint(trainees: list[Trainee], step: int) -> None:
    from safetensors.torch import save_model

    for t in trainees:
        final = t.run.path / f"checkpoint-{step}"
        tmp = t.run.path / f".checkpoint-{step}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir(parents=True)
            save_model(t.model, str(tmp / "model.safetensors"))
            torch.save(t.optimizer.state_dict(), tmp / "optimizer.pt")
        except (OSError, RuntimeError) as exc:  # a full disk: torch.save raises RuntimeError around the OSError
            shutil.rmtree(tmp, ignore_errors=True)  # no half-written checkpoint is left; the last whole one stays
            free = shutil.disk_usage(t.run.path).free / 2**20
            raise OSError(f"could not write checkpoint {step} of {t.run.path.name} ({exc}); {free:.1f} MB free "
                          f"on its disk: free space, then resume (the last complete checkpoint is kept)") from None
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    for t in trainees:  # only now drop older checkpoints: a kill above leaves a complete older one
        for old in t.run.path.glob("checkpoint-*"):
            if old.name != f"checkpoint-{step}":
                shutil.rmtree(old, ignore_errors=True)


def _checkpoint_steps(run: RunFolder) -> set[int]:
    return {int(p.name.split("-")[1]) for p in run.path.glob("checkpoint-*") if p.name.split("-")[1].isdigit()}


def _load_checkpoint(trainees: list[Trainee]) -> int:
    """Restore the newest step every trainee has; 0 when none."""
    from safetensors.torch import load_model

    common = set.intersection(*(_checkpoint_steps(t.run) for t in trainees)) if trainees else set()
    if not common:
        return 0
    step = max(common)
    for t in trainees:
        folder = t.run.path / f"checkpoint-{step}"
        load_model(t.model, str(folder / "model.safetensors"), device=str(next(t.model.parameters()).device))
        t.optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
        if is_main_process():
            t.run.trim_metrics(step)
            t.run.log(f"resumed from checkpoint at step {step}")
    return step


def remove_checkpoints(run: RunFolder) -> None:
    for p in run.path.glob("checkpoint-*"):
        shutil.rmtree(p, ignore_errors=True)


# ------------------------------------------------------------------------------------------------------------

def train_models(trainees: list[Trainee], data: TokenData, config: TrainConfig, *, device: torch.device,
                 teacher=None, stage: str = "train", progress: bool = True, stop_after_step: int | None = None) -> int:
    """Train every trainee for config.n_steps on shared batches; returns the last step done.

    With a teacher, each trainee minimises the KD loss against the teacher's log-probabilities (computed once
    per micro-batch); without one, plain cross-entropy. `stop_after_step` ends early (tests of resuming).
    """
    from tqdm.auto import tqdm

    autocast = device.type == "cuda"
    logits_dtype = _DTYPES[config.teacher_logits_dtype]
    for t in trainees:
        t.model.to(device).train()
        t.optimizer = t.optimizer or make_optimizer(t.model, config, device)
    if teacher is not None:
        teacher.to(device).eval()
    start = _load_checkpoint(trainees)
    hidden_fns = [hidden_states_fn(t.model, device) for t in trainees]  # DDP-wrapped under torchrun
    main = is_main_process()  # only it writes the run folders
    n_steps = config.n_steps
    if main:
        for t in trainees:
            t.run.write_status("running", stage=stage, step=start, n_steps=n_steps)
    bar = tqdm(total=n_steps, initial=start, desc=stage, disable=not (progress and main), unit="step", leave=False)
    t0, last_status = time.time(), 0.0
    sums = [{"loss": 0.0, "ce": 0.0, "kl": 0.0, "n": 0} for _ in trainees]
    step = start
    for step in range(start, n_steps):
        lr = learning_rate(config, step)
        for t in trainees:
            for group in t.optimizer.param_groups:
                group["lr"] = lr
        # forward/backward over micro-batches; the teacher's log-probs are shared by every trainee
        for micro in range(config.grad_accum):
            inputs, targets = train_batch(data, batch_size=config.batch_size, seq_len=config.seq_len,
                                          seed=config.seed, step=step, micro_step=micro)
            inputs, targets = shard_rows(inputs), shard_rows(targets)  # this process's rows (all of them alone)
            inputs, targets = inputs.to(device), targets.to(device).flatten()  # (B, T), (B*T,)
            shared = None
            if teacher is not None:
                with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                    t_hidden = final_hidden(teacher, inputs).flatten(0, 1)  # (B*T, d_teacher)
                    shared = teacher_targets(t_hidden, teacher.get_output_embeddings().weight,
                                             temperature=config.temperature, chunk_tokens=config.loss_chunk_tokens,
                                             dtype=logits_dtype)
            for t, s, hidden_fn in zip(trainees, sums, hidden_fns):
                with gradient_sync(hidden_fn, micro == config.grad_accum - 1):  # DDP averages on the last one
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                        hidden = hidden_fn(inputs).flatten(0, 1)  # (B*T, d)
                    if autocast:
                        hidden = hidden.to(torch.bfloat16)
                    parts = distillation_loss(hidden, t.model.get_output_embeddings().weight, targets, shared,
                                              ce_weight=config.ce_weight, temperature=config.temperature,
                                              chunk_tokens=config.loss_chunk_tokens)
                    (parts.loss / config.grad_accum).backward()
                s["loss"] += float(parts.loss.detach()) / config.grad_accum
                s["ce"] += parts.ce / config.grad_accum
                s["kl"] += parts.kl / config.grad_accum
            del shared
        # optimizer step
        for t, s in zip(trainees, sums):
            grad_norm = torch.nn.utils.clip_grad_norm_(t.model.parameters(), config.grad_clip)
            t.optimizer.step()
            t.optimizer.zero_grad(set_to_none=True)
            s["n"] += 1
            s["grad_norm"] = float(grad_norm)
        done = step + 1
        bar.update(1)
        # logging, evaluation, checkpoints, status
        if done % config.log_every == 0 or done == n_steps:
            for t, s in zip(trainees, sums):
                n = max(s["n"], 1)
                loss, ce, kl = mean_over_ranks([s["loss"] / n, s["ce"] / n, s["kl"] / n])  # grad_norm: same on all
                if main:
                    t.run.append_metrics({"step": done, "tokens": done * config.tokens_per_step, "lr": lr,
                                          "loss": loss, "ce": ce, "kl": kl, "grad_norm": s["grad_norm"],
                                          "elapsed_seconds": round(time.time() - t0, 3)})
                s.update(loss=0.0, ce=0.0, kl=0.0, n=0)
            bar.set_postfix(loss=f"{trainees[0].run.read_metrics()[-1]['loss']:.3f}" if progress and main else "")
        if main and config.eval_every and done % config.eval_every == 0 and done != n_steps:
            for t in trainees:
                ev = evaluate_model(t.model, data, seq_len=config.seq_len, max_tokens=config.eval_tokens,
                                    batch_size=config.batch_size, device=device)
                t.run.append_metrics({"step": done, "tokens": done * config.tokens_per_step, **ev.to_dict()})
        if main and config.checkpoint_every and done % config.checkpoint_every == 0 and done != n_steps:
            _save_checkpoint(trainees, done)  # every rank's weights are rank 0's (DDP keeps them in step)
        if main and (time.time() - last_status > 2.0 or done == n_steps):
            last_status = time.time()
            for t in trainees:
                t.run.write_status("running", stage=stage, step=done, n_steps=n_steps)
        if stop_after_step is not None and done >= stop_after_step:
            bar.close()
            return done
    bar.close()
    return n_steps


def config_dict(config) -> dict:
    return asdict(config)
