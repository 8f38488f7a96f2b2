"""One call on a GPU machine: the GPU tests, the gpu-small sweep and the distillation-step throughput (tokens/s and
model FLOPs utilisation against the card's bf16 peak), with a table at the end.

    .venv/bin/python bench/gpu_check.py [--sweep-timeout 420] [--skip-sweep]

UNTESTED: written in a session without a GPU. Budget: under 8 minutes on one H100 (the sweep is cut off at
--sweep-timeout seconds; a cut-off sweep resumes when re-run). Writes bench/out/gpu_check.json and the sweep's
results CSV to bench/out/gpu_small_results.csv. MFU counts 6 N per trained token for the student (forward and
backward) plus 2 N per token for the teacher's forward, N = parameters (Kaplan et al. 2020), attention ignored.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
# dense bf16 peak FLOP/s by card name fragment (vendor datasheets; SXM parts)
BF16_PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}


def peak_flops(name: str) -> float | None:
    for key, value in BF16_PEAK.items():
        if key in name:
            return value
    return None


def throughput(teacher_params: int, student_params: int, vocab: int, batch: int, seq: int, steps: int) -> dict:
    import torch

    from eval_runs.evaluate import final_hidden
    from eval_runs.kd_loss import distillation_loss, teacher_targets
    from eval_runs.models import count_model_params, ladder_shape, new_model

    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    teacher = new_model(ladder_shape("llama", teacher_params, vocab_size=vocab, max_seq_len=seq), 0).to(dev).eval()
    student = new_model(ladder_shape("llama", student_params, vocab_size=vocab, max_seq_len=seq), 1).to(dev)
    opt = torch.optim.AdamW(student.parameters(), lr=1e-3, fused=True)
    ids = torch.randint(0, vocab, (batch, seq + 1), device=dev)
    x, y = ids[:, :-1], ids[:, 1:].flatten()

    def step():
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            shared = teacher_targets(final_hidden(teacher, x).flatten(0, 1), teacher.get_output_embeddings().weight)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            h = final_hidden(student, x).flatten(0, 1)
        distillation_loss(h.bfloat16(), student.get_output_embeddings().weight, y, shared).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    n_t, n_s = count_model_params(teacher).total_params, count_model_params(student).total_params
    tokens = steps * batch * seq
    flops = tokens * (6 * n_s + 2 * n_t)
    name = torch.cuda.get_device_name()
    peak = peak_flops(name)
    return {"card": name, "teacher_params": n_t, "student_params": n_s, "vocab": vocab, "batch": batch, "seq": seq,
            "tokens_per_second": tokens / seconds, "model_flops_per_second": flops / seconds,
            "mfu": (flops / seconds / peak) if peak else None,
            "peak_memory_gb": torch.cuda.max_memory_allocated() / 1e9}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sweep-timeout", type=int, default=420)
    ap.add_argument("--skip-sweep", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    report: dict = {}
    t0 = time.time()
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests/test_eval_runs_gpu.py", "tests/test_eval_runs_kd_loss.py"],
                           cwd=REPO, env=env, capture_output=True, text=True)
    report["tests"] = {"returncode": tests.returncode, "tail": tests.stdout.strip().splitlines()[-1:]}
    report["throughput"] = [throughput(50_000_000, 12_000_000, 8192, 32, 512, 20),
                            throughput(200_000_000, 50_000_000, 32_000, 16, 1024, 10)]
    if not args.skip_sweep:
        ws = Path("/tmp/capgap-gpu-check")
        start = time.time()
        try:
            sweep = subprocess.run([sys.executable, "-m", "eval_runs", "sweep", "--preset", "gpu-small",
                                    "--workspace", str(ws), "--device", "cuda", "--no-progress"], cwd=REPO, env=env,
                                   capture_output=True, text=True, timeout=args.sweep_timeout)
            report["sweep"] = {"returncode": sweep.returncode, "stderr_tail": sweep.stderr[-1500:]}
        except subprocess.TimeoutExpired:
            report["sweep"] = {"returncode": None, "note": f"cut off after {args.sweep_timeout} s (re-run to resume)"}
        report["sweep"]["wall_seconds"] = round(time.time() - start, 1)
        subprocess.run([sys.executable, "-m", "eval_runs", "results", "--workspace", str(ws), "--out",
                        str(OUT / "gpu_small_results.csv")], cwd=REPO, env=env)
    report["wall_seconds"] = round(time.time() - t0, 1)
    (OUT / "gpu_check.json").write_text(json.dumps(report, indent=2))
    print(f"GPU tests: rc={report['tests']['returncode']} {report['tests']['tail']}")
    print(f"{'card':28s} {'teacher':>11s} {'student':>11s} {'vocab':>6s} {'tokens/s':>10s} {'MFU':>6s} {'mem GB':>7s}")
    for r in report["throughput"]:
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a"
        print(f"{r['card'][:28]:28s} {r['teacher_params']:11,d} {r['student_params']:11,d} {r['vocab']:6d} "
              f"{r['tokens_per_second']:10.0f} {mfu:>6s} {r['peak_memory_gb']:7.1f}")
    if "sweep" in report:
        print(f"gpu-small sweep: {report['sweep']}")
    print(f"total {report['wall_seconds']} s")


if __name__ == "__main__":
    main()
