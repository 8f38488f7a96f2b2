"""Benchmark of one distillation step: ours (chunked KD loss from hidden states, bf16 teacher probabilities) against a
straightforward baseline (teacher and student HF forward passes, full-vocabulary float32 logits, F.cross_entropy +
F.kl_div), at the cpu-small sizes and at a 32k-token vocabulary.

    .venv/bin/python bench/distill_step_bench.py [--steps 20] [--threads 1]

Speed: both variants in one process, alternating step by step so that both see the same machine load; tokens/s
from the median step time. Memory: each variant in its own subprocess (3 steps) so that peak RSS (ru_maxrss) is
that variant's alone; reported as the process peak and as the increase over the RSS after setup, before the
first step (the memory the step itself needs). A third variant, the two models' forward/backward with no loss
at all, gives the ceiling on any loss implementation's speedup at these sizes. Targets (issue #4): >= 1.5x
tokens/s at cpu-small sizes; <= 0.7x peak memory at 32k vocab.

Allocator: every variant runs with the allocator setting the engine uses on CPU (`keep_freed_memory`), so the
ratios compare the losses alone; `--glibc-default` runs them all with glibc's default instead. With
`--preset-pairs`, `--allocator-ab` also runs the engine's setting and glibc's default side by side, in two
processes pinned to two cores at the same time (same machine load for both), and prints what the setting gains
and how the engine's step compares with the baseline run as a plain script (default allocator).
Writes bench/out/distill_step_bench.json (or distill_step_pairs_PRESET[_glibc-default].json). Timings are never
asserted in tests.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere: the repo's packages come first
SETTINGS = {
    # name: (teacher params, student params, vocabulary, batch, seq_len)
    "cpu-small": (1_200_000, 300_000, 1024, 16, 64),
    "vocab-32k": (6_000_000, 3_000_000, 32_000, 8, 128),
}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def build(sizes: tuple, threads: int, n_batches: int, device: str = "cpu", keep_freed: bool = True):
    """Step functions of the three variants for one setting, its batches, tokens per step and parameter counts.

    On CUDA the models run under bf16 autocast (as the engine's loop does) and the optimizer is fused. On CPU the
    allocator is set up as the engine does (`configure_device`) unless keep_freed is False.
    """
    import torch
    import torch.nn.functional as F

    from eval_runs.devices import configure_device
    from eval_runs.evaluate import final_hidden
    from eval_runs.kd_loss import distillation_loss, teacher_targets
    from eval_runs.models import count_model_params, ladder_shape, new_model

    dev = torch.device(device)
    cuda = dev.type == "cuda"
    if cuda or keep_freed:
        configure_device(dev)
    if not cuda:
        torch.set_num_threads(threads)
    t_params, s_params, vocab, batch, seq = sizes
    teacher = new_model(ladder_shape("llama", t_params, vocab_size=vocab, max_seq_len=seq), 0).to(dev).eval()
    student = new_model(ladder_shape("llama", s_params, vocab_size=vocab, max_seq_len=seq), 1).to(dev)
    opt = torch.optim.AdamW(student.parameters(), lr=1e-3, fused=cuda)
    g = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, vocab, (batch, seq + 1), generator=g).to(dev) for _ in range(n_batches)]

    def amp():
        return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda)

    def step_ours(ids):
        x, y = ids[:, :-1], ids[:, 1:].flatten()
        with torch.no_grad(), amp():
            shared = teacher_targets(final_hidden(teacher, x).flatten(0, 1), teacher.get_output_embeddings().weight)
        with amp():
            hidden = final_hidden(student, x).flatten(0, 1)
        parts = distillation_loss(hidden.bfloat16() if cuda else hidden, student.get_output_embeddings().weight,
                                  y, shared)
        parts.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def step_baseline(ids):
        x, y = ids[:, :-1], ids[:, 1:].flatten()
        with torch.no_grad(), amp():
            t_logits = teacher(input_ids=x).logits.float().flatten(0, 1)  # (B*T, V) float32
        with amp():
            s_logits = student(input_ids=x).logits.float().flatten(0, 1)
        ce = F.cross_entropy(s_logits, y)
        kl = F.kl_div(F.log_softmax(s_logits, -1), F.softmax(t_logits, -1), reduction="batchmean")
        (0.5 * ce + 0.5 * kl).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def step_models_only(ids):  # the two models' own work with no loss at all: no loss can make a step faster
        x = ids[:, :-1]
        with torch.no_grad(), amp():
            final_hidden(teacher, x)
        with amp():
            hidden = final_hidden(student, x)
        hidden.float().pow(2).mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    counts = (count_model_params(teacher).total_params, count_model_params(student).total_params)
    return ({"ours": step_ours, "baseline": step_baseline, "models_only": step_models_only}, batches, batch * seq,
            counts)


def memory_of_variant(setting: str, variant: str, steps: int, threads: int, keep_freed: bool) -> dict:
    """Peak RSS of a process that runs only this variant (called in a subprocess)."""
    steps_fns, batches, _, _ = build(SETTINGS[setting], threads, steps, keep_freed=keep_freed)
    rss_setup = _rss_mb()  # models, optimizer and imports; the steps' own memory comes on top
    for ids in batches:
        steps_fns[variant](ids)
    return {"peak_rss_mb": _rss_mb(), "step_rss_increase_mb": _rss_mb() - rss_setup}


def speed(sizes: tuple, steps: int, threads: int, device: str = "cpu", keep_freed: bool = True) -> dict:
    """Tokens/s of every variant in one process, alternating step by step (same load for all); median step."""
    import torch

    fns, batches, tokens, _ = build(sizes, threads, steps + 1, device, keep_freed)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    times = {name: [] for name in fns}
    for name in fns:  # warm-up
        fns[name](batches[0])
    for ids in batches[1:]:
        for name, fn in fns.items():
            sync()
            t0 = time.perf_counter()
            fn(ids)
            sync()
            times[name].append(time.perf_counter() - t0)
    return {name: tokens / statistics.median(ts) for name, ts in times.items()}


def _pairs_json(preset: str, keep_freed: bool) -> Path:
    return REPO / "bench" / "out" / f"distill_step_pairs_{preset}{'' if keep_freed else '_glibc-default'}.json"


def preset_pairs(preset: str, steps: int, threads: int, keep_freed: bool = True) -> None:
    """The speed ratios at each (teacher, student) size pair a sweep preset distils, at its vocabulary and batch."""
    from eval_runs.sweep import PRESETS, plan_pairs

    plan = PRESETS[preset]
    pairs = sorted({(p.teacher_params, p.student_params) for p in plan_pairs(plan, list(plan.teacher_params))})
    rows = []
    print(f"{preset}: vocab {plan.vocab_size:,}, batch {plan.batch_size}x{plan.seq_len}, allocator "
          f"{'as the engine sets it' if keep_freed else 'glibc default'}; tokens/s ratios against the baseline")
    for t, s in pairs:
        tps = speed((t, s, plan.vocab_size, plan.batch_size, plan.seq_len), steps, threads, keep_freed=keep_freed)
        rows.append({"teacher_params": t, "student_params": s, **tps, "speedup": tps["ours"] / tps["baseline"],
                     "ceiling": tps["models_only"] / tps["baseline"]})
        print(f"  teacher {t:>9,} student {s:>9,}: ours {rows[-1]['speedup']:.2f}x   models alone (ceiling) "
              f"{rows[-1]['ceiling']:.2f}x", flush=True)
    out = _pairs_json(preset, keep_freed)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"threads": threads, "steps": steps, "keep_freed_memory": keep_freed,
                               "load_average": os.getloadavg(), "pairs": rows}, indent=2))


def allocator_ab(preset: str, steps: int) -> None:
    """preset_pairs with the engine's allocator setting and with glibc's default, at once on two pinned cores."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("--allocator-ab needs two CPU cores (it runs both settings at the same time, one per core)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, __file__, "--preset-pairs", preset, "--steps", str(steps),
                               "--threads", "1", *flag], env=env, stdout=subprocess.DEVNULL,
                              preexec_fn=lambda core=core: os.sched_setaffinity(0, {core}))
             for core, flag in zip(cores, ([], ["--glibc-default"]))]
    if any(p.wait() for p in procs):
        raise SystemExit("a side of the allocator comparison failed (run it alone to see why)")
    tuned, plain = ({(r["teacher_params"], r["student_params"]): r for r in json.loads(_pairs_json(preset, k)
                                                                                       .read_text())["pairs"]}
                    for k in (True, False))
    print(f"{preset}: the engine's allocator setting against glibc's default, run side by side (tokens/s ratios)")
    for key, r in tuned.items():
        d = plain[key]
        print(f"  teacher {key[0]:>9,} student {key[1]:>9,}: the setting gives ours {r['ours'] / d['ours']:.2f}x, "
              f"the baseline {r['baseline'] / d['baseline']:.2f}x; engine (ours + setting) against the baseline as "
              f"a plain script {r['ours'] / d['baseline']:.2f}x; like for like {r['speedup']:.2f}x with the "
              f"setting, {d['speedup']:.2f}x without", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20, help="timed steps per variant (alternating)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 on a busy shared machine)")
    ap.add_argument("--preset-pairs", metavar="PRESET", help="instead: tokens/s at every teacher/student pair of a "
                    "sweep preset (e.g. cpu-small), ours and the models alone against the baseline")
    ap.add_argument("--glibc-default", action="store_true", help="run every variant with glibc's default allocator "
                    "instead of the engine's setting")
    ap.add_argument("--allocator-ab", action="store_true", help="with --preset-pairs: the engine's allocator "
                    "setting against glibc's default, in two processes at once on two cores")
    ap.add_argument("--one", nargs=2, metavar=("SETTING", "VARIANT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    keep_freed = not args.glibc_default
    if args.one:
        print(json.dumps(memory_of_variant(args.one[0], args.one[1], 3, args.threads, keep_freed)))
        return
    if args.preset_pairs and args.allocator_ab:
        allocator_ab(args.preset_pairs, args.steps)
        return
    if args.preset_pairs:
        preset_pairs(args.preset_pairs, args.steps, args.threads, keep_freed)
        return
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    results = {}
    for setting in SETTINGS:
        summary = {"ours": {}, "baseline": {}}
        for variant in ("baseline", "ours"):
            out = subprocess.run([sys.executable, __file__, "--one", setting, variant, "--threads", str(args.threads),
                                  *(["--glibc-default"] if args.glibc_default else [])],
                                 capture_output=True, text=True, env=env, check=True)
            summary[variant].update(json.loads(out.stdout.strip().splitlines()[-1]))
        tps = speed(SETTINGS[setting], args.steps, args.threads, keep_freed=keep_freed)
        for variant in ("baseline", "ours"):
            summary[variant]["tokens_per_second"] = tps[variant]
        summary["speedup_tokens_per_second"] = tps["ours"] / tps["baseline"]
        summary["models_only_tokens_per_second"] = tps["models_only"]
        summary["speedup_ceiling"] = tps["models_only"] / tps["baseline"]
        summary["peak_rss_ratio"] = summary["ours"]["peak_rss_mb"] / summary["baseline"]["peak_rss_mb"]
        summary["step_memory_ratio"] = (summary["ours"]["step_rss_increase_mb"]
                                        / max(summary["baseline"]["step_rss_increase_mb"], 1e-9))
        results[setting] = summary
        t, s, v, b, q = SETTINGS[setting]
        print(f"{setting}: teacher {t:,} / student {s:,} params, vocab {v:,}, batch {b}x{q}")
        for variant in ("baseline", "ours"):
            r = summary[variant]
            print(f"  {variant:9s} {r['tokens_per_second']:9.0f} tokens/s   peak RSS {r['peak_rss_mb']:7.0f} MB   "
                  f"step RSS increase {r['step_rss_increase_mb']:7.0f} MB")
        print(f"  ratios (ours / baseline): tokens/s {summary['speedup_tokens_per_second']:.2f}x, peak RSS "
              f"{summary['peak_rss_ratio']:.2f}x, step memory {summary['step_memory_ratio']:.2f}x", flush=True)
        print(f"  ceiling: the models alone, with no loss at all, run {summary['speedup_ceiling']:.2f}x the "
              f"baseline's tokens/s; no loss implementation can beat that", flush=True)
    meta = {"host": platform.node(), "cpu_count": os.cpu_count(), "threads": args.threads, "steps": args.steps,
            "keep_freed_memory": keep_freed, "load_average": os.getloadavg()}
    out_dir = REPO / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "distill_step_bench.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(f"load average during the run: {meta['load_average']}")


if __name__ == "__main__":
    main()
