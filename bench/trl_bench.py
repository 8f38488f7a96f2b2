"""Benchmark of our distillation step against TRL's GKDTrainer, the usual way to distil Hugging Face models, on the
same models (transformers Llama configs of the cpu-small sizes, and a 32k-vocabulary pair), the same batches and the
same loss, in one run: tokens/s and peak memory.

    pip install -r requirements-bench.txt            # trl==1.16.0, for this bench only (or: pip install -e '.[bench]')
    .venv/bin/python bench/trl_bench.py [--steps 20] [--threads 1] [--compile]

The loss: TRL's supervised GKD (lmbda=0: no student generations; seq_kd off; beta=0: the generalized JSD is the
forward KL(teacher || student); temperature 1) against ours with ce_weight=0 (pure KL at temperature 1), the
engine's step as `train_loop.train_models` runs it (teacher hidden states -> shared bf16 teacher probabilities,
student hidden states -> chunked loss and its gradient, clip to norm 1, AdamW). Before timing, both losses are
computed on the same batch with the same student and printed: they agree to the rounding of our bf16 teacher
probabilities (and to float32 rounding with float32 teacher probabilities).

How TRL is driven: `GKDTrainer.train()` for N steps, as its users run it, on a `datasets.Dataset` of token ids in
the format its collator produces (input_ids, attention_mask, labels; every position counted), batched by
transformers' `default_data_collator` (the collator a user with pre-tokenized data passes), sequential sampling,
no logging or saving. A callback times each step from `on_step_begin` to `on_step_end` -- TRL's training_step
(forward, loss, backward), the gradient clip, the optimizer and scheduler steps, zero_grad -- and then runs and
times our step on the same batch, so the two alternate step by step under the same machine load; tokens/s from
the median step time, the first step of each left out (warm-up). train() rather than calling training_step by hand:
that is the code path a user pays for, and its per-step window leaves out only data loading and logging, which
would slow TRL further. TRL keeps its defaults where the loss does not depend on them (its default optimizer,
`adamw_torch_fused`; bf16 off on CPU, as our CPU step) except gradient checkpointing, which SFTConfig turns on and
the bench turns off (ours does not recompute activations; `--trl-checkpointing` keeps TRL's default). TRL runs the
models over all T+1 tokens of a row (the last position's logits are dropped by its shift), ours over the T inputs;
both count the same B*T predicted tokens.

Memory: each variant in its own subprocess (3 steps) so that its peak RSS (ru_maxrss) is its own; reported as the
process peak and as the steps' own peak above the RSS after setup (models, optimizer, trainer built; Linux's VmHWM,
reset after setup): the memory the steps themselves need. Ours runs with the allocator setting the engine uses on
CPU (`configure_device`), TRL as a plain script (glibc's default); in the speed run both share the engine's setting
(one process). TRL's process also imports trl, datasets and accelerate, which ours does not need: the peak
includes that, the step increase does not.

`--compile` also times `torch.compile` of our step (`compiled_variants`: the loss function; the loss and the
student's transformer body) in the same alternation, with a fresh inductor cache (a cold compile, unless
TORCHINDUCTOR_CACHE_DIR is set): its gain per step, its compile time (the first step's excess over the median) and
the steps a run needs before the compile is paid back.
Targets: ours >= 1.3x TRL's tokens/s and <= 0.8x its peak memory at the 32k vocabulary.
Writes bench/out/trl_bench.json (or --out). Timings are never asserted in tests.
"""
from __future__ import annotations

import argparse
import atexit
import copy
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from distill_step_bench import SETTINGS, _rss_mb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere: the repo's packages come first
TRL_VERSION = "1.16.0"  # pinned in requirements-bench.txt and pyproject's `bench` extra
INSTALL_HINT = "pip install -r requirements-bench.txt  (or: pip install -e '.[bench]')"


def require_trl():
    """TRL's GKDTrainer and GKDConfig; exits with how to install them when trl is missing."""
    try:
        from trl.experimental.gkd import GKDConfig, GKDTrainer
    except ImportError as exc:
        raise SystemExit(f"bench/trl_bench.py needs trl=={TRL_VERSION}, a bench-only dependency ({exc}); install it "
                         f"with:\n    {INSTALL_HINT}") from None
    return GKDConfig, GKDTrainer


class Setup:
    """The models, batches and both variants' students for one setting (same initial weights for both)."""

    def __init__(self, setting: str, threads: int, n_batches: int, keep_freed: bool = True):
        import torch

        from eval_runs.devices import configure_device
        from eval_runs.models import count_model_params, ladder_shape, new_model
        from eval_runs.train_loop import TrainConfig, make_optimizer

        if keep_freed:
            configure_device(torch.device("cpu"))
        torch.set_num_threads(threads)
        t_params, s_params, vocab, batch, seq = SETTINGS[setting]
        self.vocab, self.batch, self.seq = vocab, batch, seq
        self.tokens = batch * seq  # predicted (loss) tokens per step, the same for both
        self.teacher = new_model(ladder_shape("llama", t_params, vocab_size=vocab, max_seq_len=seq + 1), 0).eval()
        self.student = new_model(ladder_shape("llama", s_params, vocab_size=vocab, max_seq_len=seq + 1), 1)
        self.counts = (count_model_params(self.teacher).total_params, count_model_params(self.student).total_params)
        g = torch.Generator().manual_seed(0)
        self.batches = [torch.randint(0, vocab, (batch, seq + 1), generator=g) for _ in range(n_batches)]
        # the engine's recipe with ce_weight 0 (pure KL) and TRL's learning rate; clip 1.0 as TRL's default
        self.config = TrainConfig(batch_size=batch, seq_len=seq, ce_weight=0.0, temperature=1.0, lr=5e-5)
        self._make_optimizer = make_optimizer

    def our_step(self, student=None, loss_fn=None):
        """The engine's distillation step (train_loop.train_models, one micro-batch) on a (B, T+1) batch of ids."""
        import torch

        from eval_runs.evaluate import final_hidden
        from eval_runs.kd_loss import distillation_loss, teacher_targets

        student = student or self.student
        opt = self._make_optimizer(student, self.config, torch.device("cpu"))
        teacher, cfg = self.teacher, self.config
        loss_fn = loss_fn or distillation_loss

        def step(ids):
            x, y = ids[:, :-1], ids[:, 1:].flatten()
            with torch.no_grad():
                shared = teacher_targets(final_hidden(teacher, x).flatten(0, 1), teacher.get_output_embeddings().weight)
            hidden = final_hidden(student, x).flatten(0, 1)  # (B*T, d)
            parts = loss_fn(hidden, student.get_output_embeddings().weight, y, shared, ce_weight=cfg.ce_weight,
                            temperature=cfg.temperature)
            parts.loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), cfg.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)

        return step

    def trl_trainer(self, steps: int, out_dir: str, callbacks=(), checkpointing: bool = False):
        """A GKDTrainer in supervised mode on this setting's batches (copies of the models: ours keeps its own)."""
        import torch
        from datasets import Dataset
        from tokenizers import Tokenizer
        from tokenizers.models import WordLevel
        from transformers import PreTrainedTokenizerFast, default_data_collator

        GKDConfig, GKDTrainer = require_trl()
        # a word-level tokenizer over the same ids: GKDTrainer needs a processing class (pad id, saving)
        vocab = {f"t{i}": i for i in range(self.vocab)}
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel(vocab, unk_token="t1")),
                                            pad_token="t0", unk_token="t1")
        ids = torch.cat(self.batches[:steps])  # (steps*B, T+1): step k sees exactly self.batches[k]
        data = Dataset.from_dict({"input_ids": ids.tolist(), "attention_mask": torch.ones_like(ids).tolist(),
                                  "labels": ids.tolist()})
        args = GKDConfig(output_dir=out_dir, lmbda=0.0, beta=0.0, temperature=1.0, seq_kd=False,
                         per_device_train_batch_size=self.batch, max_steps=steps, learning_rate=self.config.lr,
                         max_grad_norm=self.config.grad_clip, train_sampling_strategy="sequential",
                         use_cpu=True, bf16=False, fp16=False, report_to=[], save_strategy="no",
                         logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0, max_length=None,
                         gradient_checkpointing=checkpointing)
        return GKDTrainer(model=copy.deepcopy(self.student), teacher_model=self.teacher, args=args,
                          train_dataset=data, data_collator=default_data_collator, processing_class=tokenizer,
                          callbacks=list(callbacks))


def check_losses(setup: Setup, trainer) -> dict:
    """Both losses on the first batch with the same (untrained) student: TRL's compute_loss and ours (ce_weight 0)."""
    import torch

    from eval_runs.evaluate import final_hidden
    from eval_runs.kd_loss import distillation_loss, teacher_targets

    ids = setup.batches[0]
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
    out = {}
    with torch.no_grad():
        out["trl"] = float(trainer.compute_loss(trainer.model, inputs))
        x, y = ids[:, :-1], ids[:, 1:].flatten()
        t_hidden = final_hidden(setup.teacher, x).flatten(0, 1)
        hidden = final_hidden(trainer.model, x).flatten(0, 1)
        w_t, w_s = setup.teacher.get_output_embeddings().weight, trainer.model.get_output_embeddings().weight
        for name, dtype in (("ours", torch.bfloat16), ("ours_float32_teacher", torch.float32)):
            shared = teacher_targets(t_hidden, w_t, dtype=dtype)
            out[name] = float(distillation_loss(hidden, w_s, y, shared, ce_weight=0.0).loss)
    return out


def compiled_variants(setup: Setup) -> dict:
    """Our step with torch.compile: of the per-step loss function, and of the student's forward pass as well."""
    import torch

    from eval_runs.kd_loss import distillation_loss

    student_a, student_b = copy.deepcopy(setup.student), copy.deepcopy(setup.student)
    loss_compiled = torch.compile(distillation_loss)
    student_b.model.forward = torch.compile(student_b.model.forward)  # the transformer body (final_hidden's path)
    return {"ours_compiled_loss": setup.our_step(student_a, loss_compiled),
            "ours_compiled_loss_and_model": setup.our_step(student_b, loss_compiled)}


def speed(setting: str, steps: int, threads: int, with_compile: bool, trl_checkpointing: bool) -> dict:
    """Tokens/s of both variants in one process, alternating step by step inside TRL's train(); losses checked."""
    from transformers import TrainerCallback

    setup = Setup(setting, threads, steps + 1)
    extra = compiled_variants(setup) if with_compile else {}
    ours = setup.our_step(copy.deepcopy(setup.student))
    times: dict[str, list[float]] = {"trl": [], "ours": [], **{name: [] for name in extra}}

    class AlternateTiming(TrainerCallback):
        """Times TRL's step, then runs and times ours (and any compiled variants) on the batch TRL just used."""

        def on_step_begin(self, args, state, control, **kwargs):
            self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            times["trl"].append(time.perf_counter() - self.t0)
            ids = setup.batches[state.global_step - 1]
            for name, fn in (("ours", ours), *extra.items()):
                t0 = time.perf_counter()
                fn(ids)
                times[name].append(time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as tmp:
        trainer = setup.trl_trainer(steps + 1, tmp, [AlternateTiming()], checkpointing=trl_checkpointing)
        losses = check_losses(setup, trainer)
        trainer.train()
    median = {name: statistics.median(ts[1:]) for name, ts in times.items()}  # the first step: warm-up (compile)
    compile_seconds = {name: times[name][0] - median[name] for name in extra}
    return {"tokens_per_second": {name: setup.tokens / m for name, m in median.items()}, "losses": losses,
            "params": setup.counts, "step_seconds": times, "compile_seconds": compile_seconds,
            # steps a run needs before the compile time is paid back (None: the compiled step is not faster)
            "break_even_steps": {name: (compile_seconds[name] / (median["ours"] - median[name])
                                        if median[name] < median["ours"] else None) for name in extra}}


def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS: resident now; VmHWM: its peak since the last reset), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so that it then measures the steps' peak alone."""
    Path("/proc/self/clear_refs").write_text("5")


def memory_of_variant(setting: str, variant: str, steps: int, threads: int, trl_checkpointing: bool) -> dict:
    """Peak RSS of a process that runs only this variant (called in a subprocess): the process's peak (ru_maxrss),
    its RSS after setup, and the steps' own peak above that (VmHWM reset after setup)."""
    setup = Setup(setting, threads, steps, keep_freed=variant == "ours")  # TRL as a plain script
    with tempfile.TemporaryDirectory() as tmp:
        if variant == "ours":
            step = setup.our_step()
        else:
            trainer = setup.trl_trainer(steps, tmp, checkpointing=trl_checkpointing)
        rss_setup = _status_mb("VmRSS")
        _reset_peak_rss()
        if variant == "ours":
            for ids in setup.batches:
                step(ids)
        else:
            trainer.train()
        step_peak = _status_mb("VmHWM")
    return {"setup_rss_mb": rss_setup, "peak_rss_mb": _rss_mb(), "step_rss_increase_mb": step_peak - rss_setup}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20, help="timed steps per variant (alternating)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 on a busy shared machine)")
    ap.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=list(SETTINGS))
    ap.add_argument("--compile", action="store_true", help="also time torch.compile of our loss and student")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "trl_bench.json", help="JSON written here")
    ap.add_argument("--trl-checkpointing", action="store_true", help="keep TRL's default gradient checkpointing "
                    "(SFTConfig turns it on; by default the bench turns it off, as ours does not recompute)")
    ap.add_argument("--one", nargs=2, metavar=("SETTING", "VARIANT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.steps < 2:
        raise SystemExit(f"--steps must be at least 2 (the first step is a warm-up), got {args.steps}")
    if args.one:
        print(json.dumps(memory_of_variant(args.one[0], args.one[1], 3, args.threads, args.trl_checkpointing)))
        return
    # a cold compile, what a fresh machine pays; before torch is imported (torch sets the variable to its default)
    if args.compile and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        cache = tempfile.mkdtemp(prefix="trl_bench_inductor_")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
        atexit.register(shutil.rmtree, cache, ignore_errors=True)
    require_trl()
    import trl


    env = {**os.environ, "PYTHONPATH": str(REPO)}
    results = {}
    for setting in args.settings:
        summary: dict = {}
        for variant in ("trl", "ours"):
            out = subprocess.run([sys.executable, __file__, "--one", setting, variant, "--threads",
                                  str(args.threads), *(["--trl-checkpointing"] if args.trl_checkpointing else [])],
                                 capture_output=True, text=True, env=env)
            if out.returncode:
                raise SystemExit(f"the {variant} memory run at {setting} failed:\n{out.stderr[-3000:]}")
            summary[variant] = json.loads(out.stdout.strip().splitlines()[-1])
        run = speed(setting, args.steps, args.threads, args.compile, args.trl_checkpointing)
        for name, tps in run["tokens_per_second"].items():
            summary.setdefault(name, {})["tokens_per_second"] = tps
        summary["losses"] = run["losses"]
        summary["speedup_tokens_per_second"] = (summary["ours"]["tokens_per_second"]
                                                / summary["trl"]["tokens_per_second"])
        summary["peak_rss_ratio"] = summary["ours"]["peak_rss_mb"] / summary["trl"]["peak_rss_mb"]
        summary["step_memory_ratio"] = (summary["ours"]["step_rss_increase_mb"]
                                        / max(summary["trl"]["step_rss_increase_mb"], 1e-9))
        results[setting] = summary
        (t, s), (_, _, v, b, q) = run["params"], SETTINGS[setting]
        losses = run["losses"]
        print(f"{setting}: teacher {t:,} / student {s:,} params (Llama), vocab {v:,}, batch {b}x{q}")
        print(f"  loss on the first batch (forward KL, nats/token): TRL {losses['trl']:.6f}, ours {losses['ours']:.6f} "
              f"(bf16 teacher probabilities), ours {losses['ours_float32_teacher']:.6f} (float32)")
        for variant in ("trl", "ours"):
            r = summary[variant]
            print(f"  {variant:5s} {r['tokens_per_second']:9.0f} tokens/s   peak RSS {r['peak_rss_mb']:7.0f} MB   "
                  f"setup RSS {r['setup_rss_mb']:7.0f} MB   step RSS increase {r['step_rss_increase_mb']:7.0f} MB")
        for name, compile_seconds in run["compile_seconds"].items():
            even = run["break_even_steps"][name]
            summary[name].update(compile_seconds=compile_seconds, break_even_steps=even)
            print(f"  {name}: {summary[name]['tokens_per_second']:9.0f} tokens/s, "
                  f"{summary[name]['tokens_per_second'] / summary['ours']['tokens_per_second']:.2f}x ours; compiling "
                  f"took {compile_seconds:.0f} s, paid back after "
                  f"{'never' if even is None else f'{even:,.0f} steps'}")
        print(f"  ratios (ours / TRL): tokens/s {summary['speedup_tokens_per_second']:.2f}x, peak RSS "
              f"{summary['peak_rss_ratio']:.2f}x, step memory {summary['step_memory_ratio']:.2f}x", flush=True)
    meta = {"host": platform.node(), "cpu_count": os.cpu_count(), "threads": args.threads, "steps": args.steps,
            "trl_version": trl.__version__, "trl_gradient_checkpointing": args.trl_checkpointing,
            "load_average": os.getloadavg()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(f"load average at the end of the run: {meta['load_average']}")


if __name__ == "__main__":
    main()
