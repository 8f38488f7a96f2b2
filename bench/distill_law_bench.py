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
    .venv/bin/python bench/distill_law_bench.py timing [N_BOOT]     # default 1,000 resamples on 495 runs
(coverage writes its JSON after every simulation, so a run cut short reports what it measured.)
Writes bench/out/distill_law_<mode>.json; RESULTS.md holds the table.
"""
from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.distill_law import PARAM_NAMES, fit_distill_law  # noqa: E402
from analysis.simulate import DISTILL_LAW, SCALING_CASES, simulate_distill_scaling  # noqa: E402


def _summary(case_runs: dict) -> dict:
    out = {}
    for case, runs in case_runs.items():
        out[case] = {"n_sims": len(runs), "n_boot": runs[0]["n_boot"] if runs else None,
                     "coverage": {n: float(np.mean([r["covered"][n] for r in runs])) for n in PARAM_NAMES},
                     "undetermined_share": {n: float(np.mean([n in r["undetermined"] for r in runs]))
                                            for n in PARAM_NAMES},
                     "optimal_teacher_loss_coverage": float(np.mean(sum((r["opt_hits"] for r in runs), []))),
                     "optimal_teacher_loss_median_width": float(np.median(sum((r["opt_width"] for r in runs), []))),
                     "competing_fits_share": float(np.mean([r["n_basins"] > 1 for r in runs])),
                     "median_fit_seconds": float(np.median([r["seconds"] for r in runs]))}
    return out


def coverage(n_sims: int, n_boot: int, cases=SCALING_CASES, write=None) -> dict:
    case_runs = {case: [] for case in cases}
    for case in cases:
        for sim in range(n_sims):
            frame = simulate_distill_scaling(case=case, seed=1000 + sim)
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_distill_law(frame, "val_loss", n_boot=n_boot, seed=sim, loso=False)
            ci = fit.conf_int()
            opt = fit.optimal_teachers()
            truth = np.array([t["teacher_loss_opt"] for t in frame.attrs["simulated"]["optimal_teachers"]])
            run = {"n_boot": n_boot, "seconds": time.perf_counter() - started, "n_basins": fit.n_basins,
                   "covered": {n: bool(ci.at[n, "lower"] <= DISTILL_LAW[n] <= ci.at[n, "upper"])
                               for n in PARAM_NAMES},
                   "undetermined": fit.undetermined(),
                   "opt_hits": [bool(h) for h in (opt["ci_lower"] <= truth) & (truth <= opt["ci_upper"])],
                   "opt_width": [float(w) for w in opt["ci_upper"] - opt["ci_lower"]]}
            case_runs[case].append(run)
            print(f"{case} sim {sim}: {run['seconds']:.1f}s, {fit.n_basins} competing fit(s), coefficients "
                  f"covered {sum(run['covered'].values())}/9, optima covered {np.mean(run['opt_hits']):.2f}",
                  flush=True)
            if write is not None:  # after every simulation, so a run cut short still reports what it measured
                write(_summary({c: r for c, r in case_runs.items() if r}))
    return _summary(case_runs)


def timing(n_boot: int = 1000) -> dict:
    # 5 students x 3 budgets x 10 teachers x 3 seeds = 450 distilled runs + 5 x 3 x 3 baselines = 495 runs
    frame = simulate_distill_scaling(n_seeds=3, seed=7)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_distill_law(frame, "val_loss", n_boot=0, seed=0, loso=False)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_distill_law(frame, "val_loss", n_boot=n_boot, seed=0, loso=False)
    seconds = time.perf_counter() - started
    per_resample = (seconds - fit_seconds) / max(n_boot, 1)
    return {"n_rows": len(frame), "n_distilled_runs": fit.nobs, "n_boot": fit.n_boot,
            "n_competing_fits": fit.n_basins, "seconds": seconds, "fit_seconds_without_bootstrap": fit_seconds,
            "seconds_per_resample": per_resample, "seconds_for_1000_resamples": fit_seconds + 1000 * per_resample,
            "target_seconds": 10.0, "ratio_to_target": (fit_seconds + 1000 * per_resample) / 10.0,
            "load_average_1min_at_end": os.getloadavg()[0]}


def main(argv: list[str]) -> int:
    mode = argv[0] if argv else "coverage"
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    name = mode if mode == "timing" or len(argv) <= 3 else f"{mode}_{'_'.join(argv[3:])}"
    path = out / f"distill_law_{name}.json"

    def write(result: dict) -> None:
        path.write_text(json.dumps(result, indent=2))

    if mode == "coverage":
        result = coverage(int(argv[1]) if len(argv) > 1 else 40, int(argv[2]) if len(argv) > 2 else 200,
                          tuple(argv[3:]) or SCALING_CASES, write=write)
    elif mode == "timing":
        result = timing(int(argv[1]) if len(argv) > 1 else 1000)
    else:
        print(__doc__)
        return 2
    write(result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
