"""What fanning a sweep out costs or saves on this machine: the same small sweep (two teachers of 80K and 160K
parameters, three distillations in four cells) run in one process and as local cell jobs two at a time
(`--max-parallel 2`, eval_runs/jobs/fanout.py), each in a fresh workspace.

    .venv/bin/python bench/fanout_bench.py [--data-tokens 2048] [--repeats 1]

Prints the wall seconds of each variant and their ratio to the one-process run, and checks that every variant
wrote the same rows. Cells start Python, torch and transformers again and re-read the corpus, so with cells of
seconds the fan-out is slower; raise --data-tokens to see where parallel cells start to pay on your machine.
Writes bench/out/fanout_bench.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere: the repo's packages come first
VARIANTS = {"one process": [], "local jobs, 2 at a time": ["--max-parallel", "2"]}


def main() -> None:
    from eval_runs.results import results_frame

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-tokens", type=int, default=2048, help="distillation tokens per student")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1"}
    seconds: dict[str, list[float]] = {v: [] for v in VARIANTS}
    rows = {}
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        tmp = Path(tmp)
        (tmp / "corpus.txt").write_text(open(textwrap.__file__, encoding="utf-8").read() * 4, encoding="utf-8")
        (tmp / "plan.toml").write_text(textwrap.dedent(f"""
            name = "bench"
            teacher_params = [80000, 160000]
            student_params = [50000]
            data_tokens = [{args.data_tokens}]
            teacher_tokens = 4096
            vocab_size = 300
            corpus_paths = ["{tmp / 'corpus.txt'}"]
            seq_len = 32
            batch_size = 8
            eval_tokens = 1024
            importance = "magnitude"
            threads = 1
        """))
        for r in range(args.repeats):
            for i, (variant, extra) in enumerate(VARIANTS.items()):
                ws = tmp / f"ws{r}-{i}"
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "eval_runs", "sweep", "--plan", str(tmp / "plan.toml"),
                                "--workspace", str(ws), "--no-progress", *extra], env=env, check=True,
                               capture_output=True)
                seconds[variant].append(time.perf_counter() - started)
                frame = results_frame(ws).sort_values(["run_id", "metric"])
                rows[variant] = frame["value"].tolist()
    base = statistics.median(seconds["one process"])
    same = all(v == rows["one process"] for v in rows.values())
    report = {"schema_version": 1, "data_tokens": args.data_tokens, "repeats": args.repeats, "same_rows": same,
              "seconds": {v: statistics.median(s) for v, s in seconds.items()},
              "ratio_to_one_process": {v: statistics.median(s) / base for v, s in seconds.items()}}
    for v, s in report["seconds"].items():
        print(f"{v:28s} {s:7.1f} s   x{report['ratio_to_one_process'][v]:.2f}")
    print(f"same rows in every variant: {same}")
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "fanout_bench.json").write_text(json.dumps(report, indent=2))
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
