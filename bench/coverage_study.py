"""Coverage of the law's 95% slope interval through the whole pipeline, on planted-law simulations.

Not a speed benchmark: it measures how often OLS, WLS (weights from the optima's intervals) and the pipeline
bootstrap cover the planted slope when the optima are estimated from noisy runs (the README quotes it).

    .venv/bin/python bench/coverage_study.py [N_SIMS] [N_SEEDS]      # defaults: 200 simulations, 3 seeds
Writes bench/out/coverage_study.json.
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.law import bootstrap_law, fit_law  # noqa: E402
from analysis.simulate import simulate_distillation  # noqa: E402

SLOPE = 2.498  # planted (simulate_distillation's default: the law as reported)


def main(n_sims: int = 200, n_seeds: int = 3) -> dict:
    hits = {"ols": [], "wls": [], "bootstrap": []}
    estimates = {"ols": [], "wls": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(n_sims):
            df = simulate_distillation(n_seeds=n_seeds, seed=10_000 + i)
            boot = bootstrap_law(df, "val_loss", n_boot=500, seed=i)
            for name, fit in (("ols", fit_law(boot.optima)), ("wls", fit_law(boot.optima, weights="ci"))):
                lo, hi = fit.conf_int().loc["slope"]
                hits[name].append(lo <= SLOPE <= hi)
                estimates[name].append(fit.params["slope"])
            lo, hi = boot.conf_int().loc["slope"]
            hits["bootstrap"].append(lo <= SLOPE <= hi)
    out = {"n_sims": n_sims, "n_seeds": n_seeds, "planted_slope": SLOPE,
           "coverage": {k: float(np.mean(v)) for k, v in hits.items()},
           "mean_slope": {k: float(np.mean(v)) for k, v in estimates.items()}}
    print(f"{n_sims} simulations, {n_seeds} seeds per (student, teacher); planted slope {SLOPE}")
    for k, v in out["coverage"].items():
        print(f"  95% slope interval coverage, {k:<9}: {v:.3f}")
    for k, v in out["mean_slope"].items():
        print(f"  mean slope estimate, {k}: {v:.4f} ({100 * (v / SLOPE - 1):+.1f}%)")
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "out" / "coverage_study.json").write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
