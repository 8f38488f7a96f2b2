"""One call on a GPU machine: the GPU tests, the distillation step's throughput and memory (ours against the
straightforward baseline, tokens/s and model FLOPs utilisation against the card's bf16 peak), and the gpu-small
sweep with its law fit, with a table at the end.

    python3 bench/gpu_check.py --out "$OUT"            # on the GPU machine: see bench/gpu_check.sh
    .venv/bin/python bench/gpu_check.py --smoke        # anywhere, on CPU, tiny sizes: checks the script itself

Every section runs on its own: one that fails is recorded with its error and the others go on, and the JSON report
is rewritten after each, so a run cut off at the time limit still leaves what it measured. The sweep gets what is
left of --budget seconds (default 450, under the 8 minutes the issue allows on one H100); a cut-off sweep resumes
when re-run. Writes OUT/gpu_check.json, OUT/gpu_small_results.csv and OUT/gpu_small_law.json.
MFU counts 6 N per trained token for the student (forward and backward) plus 2 N per token for the teacher's
forward, N = parameters (Kaplan et al. 2020), attention ignored.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
# dense bf16 peak FLOP/s by card name fragment (vendor datasheets; SXM parts)
BF16_PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}
# name: (teacher params, student params, vocabulary, batch, seq_len)
GPU_SETTINGS = {"gpu-small sizes": (50_000_000, 12_000_000, 8192, 32, 512),
                "32k vocab": (200_000_000, 50_000_000, 32_000, 16, 1024)}
SMOKE_SETTINGS = {"smoke": (200_000, 60_000, 512, 4, 32)}
SMOKE_PLAN = """name = "gpu-check-smoke"
teacher_params = [80000, 160000]
student_params = [40000, 50000]
data_tokens = [2048]
teacher_tokens = 4096
vocab_size = 300
corpus_max_bytes = 200000
seq_len = 32
batch_size = 8
eval_tokens = 1024
importance = "magnitude"
threads = 1
"""


def peak_flops(name: str) -> float | None:
    for key, value in BF16_PEAK.items():
        if key in name:
            return value
    return None


def step_section(settings: dict, device: str, steps: int) -> list[dict]:
    """Tokens/s, MFU and peak memory of our step, the baseline and the models alone, per setting."""
    import torch

    from distill_step_bench import build, speed

    cuda = device.startswith("cuda")
    card = torch.cuda.get_device_name() if cuda else "cpu"
    peak = peak_flops(card) if cuda else None
    rows = []
    for name, sizes in settings.items():
        tps = speed(sizes, steps, 1, device)
        memory = {}
        fns, batches, _, (n_t, n_s) = build(sizes, 1, 2, device)
        for variant in ("baseline", "ours"):
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            for ids in batches:
                fns[variant](ids)
            memory[variant] = torch.cuda.max_memory_allocated() / 1e9 if cuda else None
        del fns, batches
        if cuda:
            torch.cuda.empty_cache()
        flops_per_token = 6 * n_s + 2 * n_t
        rows.append({"setting": name, "card": card, "teacher_params": n_t, "student_params": n_s, "vocab": sizes[2],
                     "batch": sizes[3], "seq": sizes[4],
                     **{f"{v}_tokens_per_second": tps[v] for v in tps},
                     "speedup": tps["ours"] / tps["baseline"], "ceiling": tps["models_only"] / tps["baseline"],
                     "mfu_ours": tps["ours"] * flops_per_token / peak if peak else None,
                     "mfu_baseline": tps["baseline"] * flops_per_token / peak if peak else None,
                     "peak_memory_gb_ours": memory["ours"], "peak_memory_gb_baseline": memory["baseline"]})
    return rows


def run(cmd: list[str], timeout: float, env: dict, stdout_file: Path | None = None, ok_codes=(0,)) -> dict:
    """A command's exit code and output tails (its whole stdout to stdout_file if given), cut off at timeout;
    RuntimeError for an exit code not in `ok_codes`."""
    start = time.time()
    try:
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=max(timeout, 1))
        out = {"returncode": done.returncode, "stdout_tail": done.stdout[-1500:], "stderr_tail": done.stderr[-1500:]}
        if stdout_file is not None:
            stdout_file.write_text(done.stdout)
        if done.returncode not in ok_codes:
            raise RuntimeError(f"{' '.join(cmd[1:4])} exited with {done.returncode}: {done.stderr[-800:]}")
    except subprocess.TimeoutExpired:
        out = {"returncode": None, "note": f"cut off after {timeout:.0f} s (re-run to resume)"}
    out["wall_seconds"] = round(time.time() - start, 1)
    return out  # a cut-off command counts as done: the sweep resumes where it stopped when re-run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out", help="folder for the report and results")
    ap.add_argument("--budget", type=float, default=450, help="seconds for the whole check; the sweep gets the rest")
    ap.add_argument("--skip-sweep", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny sizes and a tiny sweep: checks this script")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    device = "cpu" if args.smoke else "cuda"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    report: dict = {"device": device, "smoke": args.smoke, "sections": {}}

    def section(name: str, fn) -> None:
        t0 = time.time()
        try:
            report["sections"][name] = {"ok": True, "result": fn()}
        except Exception as exc:  # noqa: BLE001 - one broken section must not lose the others' numbers
            report["sections"][name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                                        "traceback_tail": traceback.format_exc()[-2000:]}
        report["sections"][name]["seconds"] = round(time.time() - t0, 1)
        report["wall_seconds"] = round(time.time() - started, 1)
        (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))
        print(f"[{report['wall_seconds']:6.1f} s] {name}: {'ok' if report['sections'][name]['ok'] else 'FAILED'}",
              flush=True)

    def environment() -> dict:
        import torch
        import transformers

        out = {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__,
               "cuda_available": torch.cuda.is_available()}
        if torch.cuda.is_available():
            out["card"] = torch.cuda.get_device_name()
        elif not args.smoke:
            raise RuntimeError("torch sees no CUDA GPU (run with --smoke to check this script on CPU)")
        return out

    section("environment", environment)
    tests = ["tests/test_eval_runs_kd_loss.py"] + ([] if args.smoke else ["tests/test_eval_runs_gpu.py"])
    section("tests", lambda: run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
                                 180, env))
    section("distillation step", lambda: step_section(SMOKE_SETTINGS if args.smoke else GPU_SETTINGS, device,
                                                      3 if args.smoke else 20))
    if not args.skip_sweep:
        workspace = args.out / "ws" if args.smoke else Path("/tmp/capgap-gpu-check")
        if args.smoke:
            (args.out / "smoke_plan.toml").write_text(SMOKE_PLAN)
            which = ["--plan", str(args.out / "smoke_plan.toml")]
        else:
            which = ["--preset", "gpu-small"]
        left = args.budget - (time.time() - started) - 20  # 20 s for the export and the law fit
        section("sweep", lambda: run([sys.executable, "-m", "eval_runs", "sweep", *which, "--workspace",
                                      str(workspace), "--device", device, "--no-progress"], left, env))
        csv = args.out / "gpu_small_results.csv"
        section("results", lambda: run([sys.executable, "-m", "eval_runs", "results", "--workspace",
                                        str(workspace), "--out", str(csv)], 60, env))
        # exit code 2 is an answer too: the data cannot support a law (the JSON says which teachers to add)
        section("law", lambda: run([sys.executable, "-m", "analysis", "law", str(csv), "--metric", "val_loss",
                                    "--json"], 60, env, args.out / "gpu_small_law.json", ok_codes=(0, 2)))
    print_table(report)


def print_table(report: dict) -> None:
    sections = report["sections"]
    print(f"environment: {sections['environment'].get('result', sections['environment'].get('error'))}")
    tests = sections["tests"]
    print(f"tests: {tests['result']['stdout_tail'].strip().splitlines()[-1:] if tests['ok'] else tests['error']}")
    step = sections["distillation step"]
    if step["ok"]:
        print(f"{'setting':16s} {'teacher':>12s} {'student':>12s} {'vocab':>6s} {'ours tok/s':>11s} "
              f"{'base tok/s':>11s} {'speedup':>8s} {'ceiling':>8s} {'MFU ours':>9s} {'mem ours/base GB':>17s}")
        for r in step["result"]:
            mfu = f"{r['mfu_ours']:.1%}" if r["mfu_ours"] is not None else "n/a"
            mem = (f"{r['peak_memory_gb_ours']:.1f}/{r['peak_memory_gb_baseline']:.1f}"
                   if r["peak_memory_gb_ours"] is not None else "n/a")
            print(f"{r['setting']:16s} {r['teacher_params']:12,d} {r['student_params']:12,d} {r['vocab']:6d} "
                  f"{r['ours_tokens_per_second']:11.0f} {r['baseline_tokens_per_second']:11.0f} "
                  f"{r['speedup']:7.2f}x {r['ceiling']:7.2f}x {mfu:>9s} {mem:>17s}")
    else:
        print(f"distillation step FAILED: {step['error']}")
    for name in ("sweep", "results", "law"):
        if name in sections:
            s = sections[name]
            detail = ({k: v for k, v in s["result"].items() if k in ("returncode", "note", "wall_seconds")}
                      if s["ok"] else s["error"])
            print(f"{name}: {detail}")
    print(f"total {report['wall_seconds']} s; report in gpu_check.json")


if __name__ == "__main__":
    main()
