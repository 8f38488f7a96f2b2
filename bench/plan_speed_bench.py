"""How long a 10-run plan over ~50 candidates takes (the app's target: <= 10 s on the project's 2-core machine),
against one one-stage fit of the same data measured in the same run (the baseline).

    python bench/plan_speed_bench.py [--repeats 5] [--out bench/plan_speed_bench.json]
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from analysis.collapse import fit_collapse
from analysis.plan import plan_group, plan_runs
from analysis.simulate import simulate_distillation


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.min(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("plan_speed_bench.json"))
    args = ap.parse_args()
    rows = simulate_distillation(seed=0, n_seeds=2, noise=0.015, teacher_ratios=(1.25, 2.0, 3.2, 5.0, 8.0),
                                 student_params=(70e6, 160e6, 410e6, 1e9, 2.8e9))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_collapse(rows, "val_loss")
        plan = plan_group(fit, n_runs=10)
        fit_s = _best(lambda: fit_collapse(rows, "val_loss"), args.repeats)
        plan_s = _best(lambda: plan_group(fit, n_runs=10), args.repeats)
        total_s = _best(lambda: plan_runs(rows, "val_loss", n_runs=10), args.repeats)
    out = {"candidates": plan.n_candidates, "runs": plan.n_runs, "fit_seconds": fit_s, "plan_seconds": plan_s,
           "fit_and_plan_seconds": total_s, "plan_over_fit": plan_s / fit_s, "target_seconds": 10.0}
    print(json.dumps(out, indent=2))
    args.out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
