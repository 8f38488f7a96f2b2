"""Benchmark of the paired comparison: two lm-eval samples files of 100,000 documents each.

    /work/main/.venv/bin/python bench/paired_bench.py [--docs 100000] [--repeats 3] [--loop-resamples 20]

Data: SIMULATED lm-eval 0.4.13 samples files (samples_bench_<date>.jsonl, one JSON object a line, with doc, target,
arguments, resps, filtered_resps, filter, metrics, doc_hash, prompt_hash, target_hash and acc), about 0.6 KB a
line, written to a temporary folder; model A right on 62% of the documents, B on 60%, correlated.
"ours": analysis.samples_io.read_samples_file on both files, then analysis.paired.compare_logs (match by doc_id,
doc_hash check, McNemar exact, the matched-proportions interval, the unpaired numbers, a 2,000-resample paired
bootstrap, the power line). Best and median of `--repeats` runs after one warm-up, reading and comparing timed
apart and together.
"loop": a straightforward implementation timed in the same run: json.loads per line into a dict by doc_id, a Python
loop over the documents for the differences, the discordant counts and the hash check, scipy.stats.binomtest, the t
interval from sums, and a bootstrap that draws n indices per resample with random.choices and averages them in
Python. Its bootstrap runs `--loop-resamples` resamples and is extrapolated linearly to 2,000 (the output says so).
A continuous-metric line (100,000 per-document values, paired t + 2,000 index resamples) is timed too.
Prints the table and the ratios; writes bench/out/paired_bench.json. Target: ours <= 2 s for the comparison.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from statistics import NormalDist

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.atomic_io import write_json_atomic  # noqa: E402
from analysis.paired import compare_logs, paired_stats  # noqa: E402
from analysis.samples_io import read_samples_file  # noqa: E402

N_BOOT = 2000
OUT = Path(__file__).resolve().parent / "out" / "paired_bench.json"


def write_files(folder: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    """Two samples files of n documents (the same documents, correlated outcomes)."""
    rng = np.random.default_rng(seed)
    skill = rng.random(n)
    right_a = skill < 0.62
    right_b = (skill < 0.60) ^ (rng.random(n) < 0.05)  # mostly the same documents, 5% flipped
    paths = []
    for name, right in (("a", right_a), ("b", right_b)):
        path = folder / name / "samples_bench_2026-12-01T00-00-00.000000.jsonl"
        path.parent.mkdir(parents=True)
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(n):
                doc = {"question": f"Question number {i}: which option is right?", "choices": ["A", "B", "C", "D"],
                       "answer": i % 4}
                prompt = f"Question: {doc['question']}\nAnswer:"
                rec = {"doc_id": i, "doc": doc, "target": str(i % 4),
                       "arguments": {f"gen_args_{k}": {"arg_0": prompt, "arg_1": f" {c}"}
                                     for k, c in enumerate(doc["choices"])},
                       "resps": [[["-1.25", "False"]]] * 4, "filtered_resps": [["-1.25", "False"]] * 4,
                       "filter": "none", "metrics": ["acc"],
                       "doc_hash": hashlib.sha256(json.dumps(doc, indent=2).encode()).hexdigest(),
                       "prompt_hash": hashlib.sha256(prompt.encode()).hexdigest(),
                       "target_hash": hashlib.sha256(str(i % 4).encode()).hexdigest(), "acc": float(right[i])}
                fh.write(json.dumps(rec) + "\n")
        paths.append(path)
    return paths[0], paths[1]


def ours(path_a: Path, path_b: Path) -> tuple[float, float, dict]:
    t0 = time.perf_counter()
    log_a, log_b = read_samples_file(path_a), read_samples_file(path_b)
    t1 = time.perf_counter()
    (c,) = compare_logs(log_a, log_b, metric="acc", n_boot=N_BOOT)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, c.to_dict()


def loop(path_a: Path, path_b: Path, loop_resamples: int) -> tuple[float, float, float, dict]:
    """(read seconds, compare seconds without the bootstrap, bootstrap seconds extrapolated to N_BOOT, numbers)."""
    from scipy.stats import binomtest

    t0 = time.perf_counter()
    docs = []
    for path in (path_a, path_b):
        by_id = {}
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                by_id[rec["doc_id"]] = rec
        docs.append(by_id)
    t1 = time.perf_counter()
    a, b = docs
    diffs, n10, n01 = [], 0, 0
    for doc_id, ra in a.items():
        rb = b.get(doc_id)
        if rb is None:
            continue
        if ra["doc_hash"] != rb["doc_hash"]:
            raise ValueError(f"doc {doc_id} differs")
        d = ra["acc"] - rb["acc"]
        diffs.append(d)
        n10 += d > 0
        n01 += d < 0
    n = len(diffs)
    mean = sum(diffs) / n
    var = sum((x - mean) ** 2 for x in diffs) / (n - 1)
    z = NormalDist().inv_cdf(0.975)
    ci = (mean - z * math.sqrt(var / n), mean + z * math.sqrt(var / n))
    p = binomtest(n10, n10 + n01, 0.5).pvalue
    t2 = time.perf_counter()
    rnd = random.Random(0)
    means = []
    for _ in range(loop_resamples):
        sample = rnd.choices(diffs, k=n)
        means.append(sum(sample) / n)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, (t3 - t2) * N_BOOT / loop_resamples, {"diff": mean, "p_value": p, "ci": ci,
                                                                    "discordant": (n10, n01)}


def continuous_line(n: int) -> tuple[float, float]:
    """Seconds for paired_stats on n continuous values (paired t + 2,000 index resamples) and a Python loop's
    per-resample cost for 5 resamples, extrapolated."""
    rng = np.random.default_rng(1)
    a = rng.normal(0.5, 0.2, n)
    b = a + rng.normal(-0.01, 0.1, n)
    t0 = time.perf_counter()
    paired_stats(a, b, n_boot=N_BOOT, kind="continuous")
    t1 = time.perf_counter()
    d = list(a - b)
    rnd = random.Random(0)
    t2 = time.perf_counter()
    for _ in range(5):
        sum(rnd.choices(d, k=n)) / n
    t3 = time.perf_counter()
    return t1 - t0, (t3 - t2) * N_BOOT / 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop-resamples", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path_a, path_b = write_files(Path(tmp), args.docs)
        size_mb = (path_a.stat().st_size + path_b.stat().st_size) / 2**20
        ours(path_a, path_b)  # warm-up (imports, caches)
        runs = [ours(path_a, path_b) for _ in range(args.repeats)]
        reads = sorted(r[0] for r in runs)
        compares = sorted(r[1] for r in runs)
        totals = sorted(r[0] + r[1] for r in runs)
        result = runs[0][2]
        l_read, l_cmp, l_boot, l_nums = loop(path_a, path_b, args.loop_resamples)
    cont_ours, cont_loop = continuous_line(args.docs)
    assert l_nums["discordant"] == (result["discordant_a_only"], result["discordant_b_only"])
    assert math.isclose(l_nums["p_value"], result["p_value"], rel_tol=1e-9)
    loop_total = l_read + l_cmp + l_boot
    med = len(totals) // 2
    rows = [
        ("read both files", reads[0], reads[med], l_read),
        ("compare (McNemar + interval + 2,000-resample bootstrap + power)", compares[0], compares[med],
         l_cmp + l_boot),
        ("read + compare", totals[0], totals[med], loop_total),
    ]
    print(f"paired_bench: 2 files x {args.docs:,} documents ({size_mb:.0f} MB), {N_BOOT} bootstrap resamples, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'step':<66} {'ours best':>10} {'ours median':>12} {'loop':>10} {'loop/ours':>10}")
    for name, best, median, base in rows:
        ratio = base / best
        print(f"{name:<66} {best:>9.3f}s {median:>11.3f}s {base:>9.2f}s {ratio:>9.{0 if ratio >= 10 else 2}f}x")
    print(f"loop bootstrap: {args.loop_resamples} resamples timed, extrapolated to {N_BOOT} ({l_boot:.1f} s)")
    print(f"continuous metric, {args.docs:,} values: ours {cont_ours:.3f}s (paired t + {N_BOOT} index resamples); "
          f"loop bootstrap extrapolated {cont_loop:.1f}s; ratio {cont_loop / cont_ours:.0f}x")
    print(f"numbers agree with the loop: diff {result['diff']:+.5f}, discordant {l_nums['discordant']}, "
          f"McNemar p {result['p_value']:.3g}")
    write_json_atomic(OUT, {"schema_version": 1, "docs": args.docs, "n_boot": N_BOOT, "file_mb": size_mb,
                            "rows": [{"step": n, "ours_best_s": b, "ours_median_s": m, "loop_s": base}
                                     for n, b, m, base in rows],
                            "continuous": {"ours_s": cont_ours, "loop_bootstrap_s": cont_loop},
                            "loop_resamples": args.loop_resamples, "cpus": os.cpu_count(),
                            "load_average": os.getloadavg()[0], "python": platform.python_version()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
