"""Coverage of the 95% intervals on planted-law simulations: the law's slope, and each student's optimal teacher.

Not a speed benchmark. `slope` measures how often OLS, WLS (weights from the optima's intervals) and the pipeline
bootstrap cover the planted slope when the optima are estimated from noisy runs (the README quotes it).
`optimum` measures how often find_optima's interval covers each student's planted optimal teacher, by seeds per
teacher, with the run noise equal for every teacher or rising or falling with the teacher/student ratio (sd 0.005
to 0.02 nats), for the moderated run bootstrap (analysis.optimum.POOLED_DF) against resampling each teacher's runs
alone (POOLED_DF = 0).

    .venv/bin/python bench/coverage_study.py [N_SIMS] [N_SEEDS]      # slope; defaults: 200 simulations, 3 seeds
    .venv/bin/python bench/coverage_study.py optimum [N_SIMS]        # optimum; default 500 simulations
Writes bench/out/coverage_study.json (slope) or bench/out/coverage_optimum.json (optimum).
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import analysis.optimum as optimum  # noqa: E402
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


def _noisy(n_seeds: int, seed: int, noise: str):
    """A simulated sweep; noise "equal" (sd 0.01, simulate's default) or sd 0.005 -> 0.02 along ln(T/S)."""
    if noise == "equal":
        return simulate_distillation(n_seeds=n_seeds, seed=seed)
    df = simulate_distillation(n_seeds=n_seeds, seed=seed, noise=0.0)
    r = np.log(df["teacher_params"] / df["student_params"]).to_numpy()
    frac = (r - r.min()) / (r.max() - r.min())
    sd = 0.005 + 0.015 * (frac if noise == "rising" else 1 - frac)
    return df.assign(value=df["value"] + sd * np.random.default_rng(seed).standard_normal(len(df)))


def optimum_coverage(n_sims: int = 500) -> dict:
    chosen = optimum.POOLED_DF
    rows = []
    print(f"{n_sims} simulations x 6 students; 95% interval of T* covering the planted optimum (median ln width)")
    try:
        for noise in ("equal", "rising", "falling"):
            for n_seeds in (2, 3, 5, 10):
                row = {"noise": noise, "n_seeds": n_seeds}
                for label, pooled_df in (("per_teacher", 0.0), ("moderated", chosen)):
                    optimum.POOLED_DF = pooled_df
                    hits, widths = [], []
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        for i in range(n_sims):
                            df = _noisy(n_seeds, 100 + i, noise)
                            o = optimum.find_optima(df, "val_loss", n_boot=400, seed=i)
                            truth = o["student_params"].map(df.attrs["simulated"]["planted_optimum"]).to_numpy()
                            hits += list((o["ci_lower"] <= truth) & (truth <= o["ci_upper"]))
                            widths += list(np.log(o["ci_upper"] / o["ci_lower"]))
                    row[label] = float(np.mean(hits))
                    row[f"{label}_median_ln_width"] = float(np.median(widths))
                rows.append(row)
                print(f"  noise {noise:<8} {n_seeds:>2} seeds: per teacher {row['per_teacher']:.3f} "
                      f"({row['per_teacher_median_ln_width']:.2f}), moderated (POOLED_DF={chosen:g}) "
                      f"{row['moderated']:.3f} ({row['moderated_median_ln_width']:.2f})", flush=True)
    finally:
        optimum.POOLED_DF = chosen
    out = {"n_sims": n_sims, "pooled_df": chosen, "rows": rows}
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "out" / "coverage_optimum.json").write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["optimum"]:
        optimum_coverage(*(int(a) for a in sys.argv[2:3]))
    else:
        main(*(int(a) for a in sys.argv[1:3]))
