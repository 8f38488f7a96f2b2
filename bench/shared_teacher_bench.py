"""Benchmark of the shared-teacher loop: one teacher distilling three students in one data loop (each batch's
teacher forward pass computed once) against three independent runs (one teacher forward per student per batch).

    .venv/bin/python bench/shared_teacher_bench.py [--steps 20] [--repeats 2] [--threads 1]

Both use the engine's own training loop (eval_runs.train_loop.train_models) on random token data with the
cpu-small sizes (teacher 1.2M parameters; students 150K, 300K and 300K, as in a cpu-small group). Variants
alternate within each repeat; wall seconds are the median. Target (issue #4): shared <= 0.6x the independent
runs' wall time. It also prints the FLOP-count ideal for the sizes chosen, (2 N_T + 6 sum N_S) / (6 N_T + 6 sum N_S):
sharing saves two of three teacher forward passes (2 N_T FLOPs per token each) and none of the students' work
(6 N_S each), so the ratio is bounded by the teacher's share of the work, whatever the loop does.
Writes bench/out/shared_teacher_bench.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere: the repo's packages come first


def main() -> None:
    from eval_runs.devices import configure_device
    from eval_runs.models import count_model_params, count_params, ladder_shape, new_model
    from eval_runs.run_folder import RunFolder
    from eval_runs.token_data import TokenData
    from eval_runs.train_loop import Trainee, TrainConfig, train_models

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--teacher-params", type=float, default=1.2e6)
    ap.add_argument("--students", type=float, nargs=3, default=(150_000, 300_000, 300_000),
                    help="three student sizes (cpu-small's own three-student group: --teacher-params 4e5 "
                         "--students 1e5 2e5 2e5)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    configure_device(torch.device("cpu"))  # the allocator as the engine's stages set it up
    vocab, seq, batch = 1024, 64, 16
    rng = np.random.default_rng(0)
    data = TokenData(folder=Path("."), train=rng.integers(0, vocab, 200_000).astype(np.uint16),
                     val=rng.integers(0, vocab, 10_000).astype(np.uint16), vocab_size=vocab, eos_token_id=0,
                     byte_lengths=torch.ones(vocab, dtype=torch.int64), corpus_hash="random", tokenizer_hash="random")
    cfg = TrainConfig(n_tokens=args.steps * batch * seq, batch_size=batch, seq_len=seq, checkpoint_every=0,
                      log_every=10**9, lr=1e-3)
    teacher = new_model(ladder_shape("llama", int(args.teacher_params), vocab_size=vocab, max_seq_len=seq), 0).eval()
    student_sizes = tuple(int(x) for x in args.students)

    def students():
        return [new_model(ladder_shape("llama", s, vocab_size=vocab, max_seq_len=seq), i)
                for i, s in enumerate(student_sizes)]

    def shared(tmp):
        trainees = [Trainee(RunFolder(Path(tmp) / f"s{i}"), m) for i, m in enumerate(students())]
        t0 = time.perf_counter()
        train_models(trainees, data, cfg, device=torch.device("cpu"), teacher=teacher, progress=False)
        return time.perf_counter() - t0

    def independent(tmp):
        total = 0.0
        for i, m in enumerate(students()):
            t0 = time.perf_counter()
            train_models([Trainee(RunFolder(Path(tmp) / f"i{i}"), m)], data, cfg, device=torch.device("cpu"),
                         teacher=teacher, progress=False)
            total += time.perf_counter() - t0
        return total

    times = {"shared": [], "independent": []}
    for _ in range(args.repeats):
        for name, fn in (("independent", independent), ("shared", shared)):
            with tempfile.TemporaryDirectory() as tmp:
                times[name].append(fn(tmp))
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["shared"] / med["independent"]
    # the FLOP-count ideal: sharing removes two of the three teachers' forward passes (2 N_T per token each) and
    # nothing of the students' forward/backward (6 N_S per token), whatever the loop does (Kaplan et al. 2020)
    n_t = count_model_params(teacher).total_params
    n_s = [count_params(ladder_shape("llama", s, vocab_size=vocab, max_seq_len=seq)).total_params
           for s in student_sizes]
    ideal = (2 * n_t + 6 * sum(n_s)) / (3 * 2 * n_t + 6 * sum(n_s))
    print(f"teacher {int(args.teacher_params):,} params, students {', '.join(f'{s:,}' for s in student_sizes)}; "
          f"{args.steps} steps of {batch}x{seq} tokens, {args.threads} thread(s)")
    print(f"  three independent runs: {med['independent']:.1f} s   shared-teacher loop: {med['shared']:.1f} s   "
          f"ratio {ratio:.2f}x")
    print(f"  FLOP-count ideal for these sizes (the teacher's forward is all that sharing saves): {ideal:.2f}x")
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "shared_teacher_bench.json").write_text(json.dumps(
        {"seconds": times, "median_seconds": med, "ratio_shared_over_independent": ratio,
         "teacher_params": args.teacher_params, "student_params": student_sizes, "steps": args.steps,
         "threads": args.threads, "flop_ideal_ratio": ideal,
         "load_average": os.getloadavg()}, indent=2))


if __name__ == "__main__":
    main()
