"""Busbridge et al.'s distillation scaling law (analysis/distill_law.py) on planted truths: how often its 95%
bootstrap intervals hold the planted coefficients and each cell's planted optimal teacher loss, and how long a fit
with 1,000 resamples on 500 runs takes on this machine.

Planted truths: analysis.simulate.simulate_distill_scaling (Eq. 8 with DISTILL_LAW; five students 70M-2.8B,
three token budgets, a shared pool of ten teachers 50M-100B, 3 no-teacher runs per cell, noise 0.01 nats) in four
cases: "law" (what the fit assumes), "heavy_tails" (Student-t noise), "teacher_noise" (teacher losses recorded
with error), "size_gap" (a penalty on teacher *size* Eq. 8 cannot express). Each simulation: one fit with
N_BOOT resamples, no leave-one-out (it does not enter the intervals).

    .venv/bin/python bench/distill_law_bench.py coverage [N_SIMS] [N_BOOT] [CASE...]
                                                        # default 40 sims, 200 resamples, every case
    .venv/bin/python bench/distill_law_bench.py timing                        # 1,000 resamples on 500 runs
Writes bench/out/distill_law_<mode>.json; RESULTS.md holds the table.
"""
from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.distill_law import PARAM_NAMES, fit_distill_law  # noqa: E402
from analysis.simulate import DISTILL_LAW, SCALING_CASES, simulate_distill_scaling  # noqa: E402


def coverage(n_sims: int, n_boot: int, cases=SCALING_CASES) -> dict:
    out = {}
    for case in cases:
        hits = {name: [] for name in PARAM_NAMES}
        opt_hits, opt_width, undetermined, seconds = [], [], {name: 0 for name in PARAM_NAMES}, []
        for sim in range(n_sims):
            frame = simulate_distill_scaling(case=case, seed=1000 + sim)
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_distill_law(frame, "val_loss", n_boot=n_boot, seed=sim, loso=False)
            seconds.append(time.perf_counter() - started)
            ci = fit.conf_int()
            for name in PARAM_NAMES:
                hits[name].append(bool(ci.at[name, "lower"] <= DISTILL_LAW[name] <= ci.at[name, "upper"]))
            for name in fit.undetermined():
                undetermined[name] += 1
            opt = fit.optimal_teachers()
            truth = np.array([t["teacher_loss_opt"] for t in frame.attrs["simulated"]["optimal_teachers"]])
            opt_hits += list((opt["ci_lower"] <= truth) & (truth <= opt["ci_upper"]))
            opt_width += list(opt["ci_upper"] - opt["ci_lower"])
            print(f"{case} sim {sim}: {seconds[-1]:.1f}s, coefficients covered "
                  f"{sum(hits[n][-1] for n in PARAM_NAMES)}/9, optima covered {np.mean(opt_hits[-len(opt):]):.2f}",
                  flush=True)
        out[case] = {"n_sims": n_sims, "n_boot": n_boot,
                     "coverage": {name: float(np.mean(v)) for name, v in hits.items()},
                     "undetermined_share": {name: v / n_sims for name, v in undetermined.items()},
                     "optimal_teacher_loss_coverage": float(np.mean(opt_hits)),
                     "optimal_teacher_loss_median_width": float(np.median(opt_width)),
                     "median_fit_seconds": float(np.median(seconds))}
    return out


def timing() -> dict:
    # 5 students x 3 budgets x 10 teachers x 3 seeds = 450 distilled runs + 5 x 3 x 3 baselines = 495 runs
    frame = simulate_distill_scaling(n_seeds=3, seed=7)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_distill_law(frame, "val_loss", n_boot=1000, seed=0, loso=False)
    seconds = time.perf_counter() - started
    return {"n_rows": len(frame), "n_distilled_runs": fit.nobs, "n_boot": fit.n_boot, "seconds": seconds,
            "target_seconds": 10.0, "ratio_to_target": seconds / 10.0}


def main(argv: list[str]) -> int:
    mode = argv[0] if argv else "coverage"
    if mode == "coverage":
        result = coverage(int(argv[1]) if len(argv) > 1 else 40, int(argv[2]) if len(argv) > 2 else 200,
                          tuple(argv[3:]) or SCALING_CASES)
    elif mode == "timing":
        result = timing()
    else:
        print(__doc__)
        return 2
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    name = mode if mode == "timing" or len(argv) <= 3 else f"{mode}_{'_'.join(argv[3:])}"
    (out / f"distill_law_{name}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
