"""Coverage of the 95% intervals on planted-law simulations, per condition: the law's slope and each student's T*.

Not a speed benchmark. The planted truths come from analysis/simulate.py: the law as reported (T* = 2.498 S -
11.5M), seven students from 50M to 2B, and conditions the estimators do and do not assume:
    shape    parabola | linex (big side 4x steeper) | split (a kinked parabola, 4x) | huber (straight tails, 4x)
    grid     per-student (1.25x..16x the student, 8 teachers) | one shared 7-teacher ladder (Pythia sizes;
             each student gets the teachers larger than itself, so the 2B student gets two)
    seeds    1, 3, 5
    noise    0.01 and 0.03 nats (curvature 0.03 nats per ln^2)
For each simulation it runs what `python -m analysis law` runs by default (the one-stage fit) and the paper's
two-stage fit (OLS of the bracketed optima), and records whether each 95% slope interval holds 2.498, the slope,
whether the law was refused, and whether each student's T* interval (find_optima's) holds its planted optimum
(among the optima with an interval: an open side bounds nothing; the share with none at all is counted apart).

    .venv/bin/python bench/coverage_study.py [N_SIMS]                # the current code; default 100 per condition
    .venv/bin/python bench/coverage_study.py N_SIMS --old DIR        # the estimator of an older checkout DIR
                                                                      # (e.g. a git worktree of an older commit)
Writes bench/out/coverage_study.json (or coverage_study_old.json); RESULTS.md holds the table.
"""
from __future__ import annotations

import importlib.util
import itertools
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SLOPE, INTERCEPT = 2.498, -11.498e6
STUDENTS = (50e6, 100e6, 200e6, 400e6, 800e6, 1.2e9, 2e9)
LADDER = (70e6, 160e6, 410e6, 1e9, 1.4e9, 2.8e9, 6.9e9)  # Pythia checkpoint sizes
SHAPES = (("parabola", 1.0), ("linex", 4.0), ("split", 4.0), ("huber", 4.0))
GRIDS = ("per_student", "ladder")
SEEDS = (1, 3, 5)
NOISES = (0.01, 0.03)


def _generator():
    """analysis/simulate.py of this checkout, loaded by path (so an --old estimator sees the same truths)."""
    spec = importlib.util.spec_from_file_location("planted_simulate", ROOT / "analysis" / "simulate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.simulate_distillation


def _estimators(old: str | None):
    if old:
        sys.path.insert(0, str(Path(old).resolve()))
        from analysis.law import fit_law
        from analysis.optimum import find_optima

        def run(df):  # the old CLI default: optima, then WLS on every optimum ("auto" weights)
            optima = find_optima(df, "val_loss", n_boot=200)
            fit = fit_law(optima, weights="auto")
            return optima, {"default": fit}
        return run
    sys.path.insert(0, str(ROOT))
    from analysis.collapse import LawRefused
    from analysis.law import fit_law
    from analysis.collapse import fit_collapse
    from analysis.optimum import find_optima

    def run(df):
        optima = find_optima(df, "val_loss")
        fits = {}
        for name, fn in (("default", lambda: fit_collapse(df, "val_loss", optima=optima)),
                         ("two_stage", lambda: fit_law(optima))):
            try:
                fits[name] = fn()
            except (LawRefused, ValueError):
                fits[name] = None
        return optima, fits
    return run


def _fmt(value, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def main(n_sims: int = 100, old: str | None = None) -> dict:
    simulate = _generator()
    run = _estimators(old)
    rows = []
    t0 = time.time()
    for (shape, asym), grid, n_seeds, noise in itertools.product(SHAPES, GRIDS, SEEDS, NOISES):
        acc: dict = {}
        t_hits, t_width, t_none, t_all = [], [], 0, 0
        for i in range(n_sims):
            df = simulate(student_params=STUDENTS, n_seeds=n_seeds, noise=noise, shape=shape, asymmetry=asym,
                          teacher_ladder=LADDER if grid == "ladder" else None, seed=1000 * n_seeds + i)
            truth = df.attrs["simulated"]["planted_optimum"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                optima, fits = run(df)
            planted = optima["student_params"].map(truth).to_numpy()
            lo_raw, hi_raw = optima["ci_lower"].to_numpy(dtype=float), optima["ci_upper"].to_numpy(dtype=float)
            lo, hi = np.nan_to_num(lo_raw, nan=0.0), np.nan_to_num(hi_raw, nan=np.inf)  # an open side bounds nothing
            some = np.isfinite(lo_raw) | np.isfinite(hi_raw)  # both sides open: no interval (or no optimum) at all
            t_hits += list(((lo <= planted) & (planted <= hi))[some])
            t_none += int((~some).sum())
            t_all += len(some)
            t_width += list(np.log(hi_raw / lo_raw))  # NaN where a side is open
            for name, fit in fits.items():
                a = acc.setdefault(name, {"hit": [], "slope": [], "refused": 0, "width": [], "open": 0,
                                          "bounded_slope": []})
                if fit is None:
                    a["refused"] += 1
                    continue
                ci = fit.conf_int().loc["slope"]
                est = float(fit.params["slope"])
                if not (np.isfinite(ci["lower"]) or np.isfinite(ci["upper"])):  # no interval at all: a miss
                    a["hit"].append(False)
                else:  # an open side (the data do not bound the slope there) bounds nothing
                    lo, hi = np.nan_to_num(ci["lower"], nan=-np.inf), np.nan_to_num(ci["upper"], nan=np.inf)
                    a["hit"].append(bool(lo <= SLOPE <= hi))
                    if np.isfinite(hi - lo):
                        a["width"].append(float(hi - lo))
                        a["bounded_slope"].append(est)
                    else:
                        a["open"] += 1
                a["slope"].append(est)
        row = {"shape": shape, "grid": grid, "n_seeds": n_seeds, "noise": noise,
               "optimum_coverage": float(np.mean(t_hits)) if t_hits else None,
               "optimum_no_interval_share": t_none / t_all,
               "optimum_bounded_share": float(np.mean(np.isfinite(t_width))),
               "optimum_median_ln_width": float(np.median(np.asarray(t_width)[np.isfinite(t_width)]))
               if np.isfinite(t_width).any() else None}
        for name, a in acc.items():
            n_fit = len(a["slope"])
            row[name] = {"coverage": float(np.mean(a["hit"])) if a["hit"] else None,
                         "bias": float(np.median(a["slope"]) / SLOPE - 1) if n_fit else None,
                         "mean_bias": float(np.mean(a["slope"]) / SLOPE - 1) if n_fit else None,
                         "median_width": float(np.median(a["width"])) if a["width"] else None,
                         "open_share": a["open"] / n_fit if n_fit else None,
                         "bounded_mean_bias": (float(np.mean(a["bounded_slope"]) / SLOPE - 1)
                                               if a["bounded_slope"] else None),
                         "refused": a["refused"] / n_sims}
        rows.append(row)
        parts = [f"{name} cover {_fmt(v['coverage'], '{:.3f}')} bias {_fmt(v['mean_bias'], '{:+.1%}')} "
                 f"(median {_fmt(v['bias'], '{:+.1%}')}) open {_fmt(v['open_share'], '{:.2f}')} "
                 f"refused {v['refused']:.2f}" for name, v in row.items() if isinstance(v, dict)]
        print(f"{shape:<9}{grid:<12}{n_seeds} seeds noise {noise:<5} T* cover {_fmt(row['optimum_coverage'], '{:.3f}')} "
              f"(none {row['optimum_no_interval_share']:.2f}) | "
              + " | ".join(parts) + f"   ({time.time() - t0:.0f}s)", flush=True)
    out = {"n_sims": n_sims, "estimator": "old: " + old if old else "current", "planted_slope": SLOPE, "rows": rows}
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    name = "coverage_study_old.json" if old else "coverage_study.json"
    (ROOT / "bench" / "out" / name).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    old_dir = None
    if "--old" in args:
        i = args.index("--old")
        old_dir = args[i + 1]
        del args[i:i + 2]
    main(*(int(a) for a in args[:1]), old=old_dir)
