"""Does following the run advisor (analysis.plan) shrink the slope interval more per unit cost than naive plans?

On planted laws (analysis.simulate: parabola, linex, kinked and pseudo-Huber curves, per-student grids and shared
ladders, some with optima at the edge of their grids: shapes and grids the one-stage fit does not assume), each
replicate: a sparse first sweep -> the one-stage fit -> the advisor's plan of N runs (its cost C) and two naive
plans of the same cost C (one more seed of randomly chosen tested cells; one more teacher beyond each side of
randomly chosen students' grids) -> the planned runs drawn from the PLANTED truth (not from the fit) -> refit ->
the slope interval's width. Reported: the mean width reduction per unit cost of each plan, their ratio (advisor /
naive), the advisor's expected width against the realised one, and the time of a plan.

    python bench/plan_bench.py [--replicates 100] [--runs 10] [--out bench/plan_bench.json]
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.collapse import fit_collapse
from analysis.plan import CostModel, _student_ladder, plan_group
from analysis.simulate import simulate_distillation

SCENARIOS = [  # (shape, asymmetry, grid): grids the estimator does not assume included
    ("parabola", 1.0, "ratios"), ("linex", 2.5, "ratios"), ("split", 2.0, "ratios"), ("huber", 1.5, "ratios"),
    ("parabola", 1.0, "ladder"), ("linex", 2.5, "ladder"), ("split", 2.0, "edge"), ("huber", 1.5, "edge"),
]
STUDENTS = (70e6, 160e6, 410e6, 1e9, 2.8e9)
LADDER = (1.6e8, 4.1e8, 1e9, 1.4e9, 2.8e9, 6.9e9, 1.2e10, 2e10)  # Pythia-like shared ladder
COST = CostModel()
DRAWS = 3  # outcome draws of each plan's runs per replicate


def _truth(rep: int) -> dict:
    shape, asym, grid = SCENARIOS[rep % len(SCENARIOS)]
    kw = dict(shape=shape, asymmetry=asym, n_seeds=2, noise=0.015, curvature=0.03, student_params=STUDENTS)
    if grid == "ratios":
        kw["teacher_ratios"] = (1.25, 2.0, 3.2, 5.0, 8.0)
    elif grid == "ladder":
        kw["teacher_ladder"] = LADDER
    else:  # grids that stop at the optimum for the bigger students: optima at the top edge
        kw["teacher_ratios"] = (1.1, 1.5, 2.0, 2.6)
    return kw


def _draw(kw: dict, cells: list[tuple[float, float, int]], seed: int) -> pd.DataFrame:
    """Runs at (student, teacher, n) cells from the planted truth of `kw`."""
    frames = []
    for i, (s, t, n) in enumerate(cells):
        one = {k: v for k, v in kw.items() if k not in ("teacher_ratios", "teacher_ladder", "student_params",
                                                       "n_seeds")}
        f = simulate_distillation(**one, student_params=[s], teacher_ladder=[t], n_seeds=n, seed=seed * 1000 + i)
        f["seed"] = f["seed"] + 100
        frames.append(f)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _width(results: pd.DataFrame) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = fit_collapse(results, "val_loss")
        except ValueError:
            return float("nan")
    ci = fit.conf_int().loc["slope"]
    w = float(ci["upper"] - ci["lower"])
    return w if np.isfinite(w) else float(2 * fit._q(fit.alpha) * fit.bse["slope"])


def _naive(fit, budget: float, rng: np.random.Generator, kind: str) -> tuple[list, float]:
    """Cells of a naive plan of cost <= budget: extra seeds of random tested cells, or teachers beyond random grids."""
    cells = fit.cells
    if kind == "seeds":
        options = [(float(r.student_params), float(r.teacher_params)) for r in cells.itertuples()]
    else:
        options = []
        for s, grp in cells.groupby("student_params"):
            lad = _student_ladder(grp["teacher_params"].to_numpy(dtype=float))
            options += [(float(s), float(lad[0])), (float(s), float(lad[-2]))]
            options = [(a, b) for a, b in options if b > a * 1.05]
    order = rng.permutation(len(options))
    out, spent = [], 0.0
    for i in order:
        s, t = options[i]
        c = float(COST.run_cost(s, t, None))
        if spent + c <= budget:
            out.append((s, t, 1))
            spent += c
    return out, spent


def _refused_replicate(rep: int, kw: dict, first: pd.DataFrame, runs: int) -> dict:
    """A first sweep with no law: does the advisor's plan (or a naive one of the same cost) make it answerable?"""
    from analysis.optimum import find_optima
    from analysis.plan import plan_runs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = plan_runs(first, "val_loss", n_runs=runs)[0]
        optima = find_optima(first, "val_loss")
    row = {"rep": rep, "scenario": "/".join(map(str, SCENARIOS[rep % len(SCENARIOS)])), "verdict": plan.verdict}
    adv = [(r["student_params"], r["teacher_params"], r["n_seeds"]) for r in plan.recommendations.to_dict("records")]
    cells = pd.DataFrame({"student_params": first["student_params"], "teacher_params": first["teacher_params"]})
    fake = type("Fit", (), {"cells": cells.drop_duplicates(), "optima": optima})
    rng = np.random.default_rng(rep)
    arms = {"advisor": adv, "seeds": _naive(fake, plan.cost_total, rng, "seeds")[0],
            "teachers": _naive(fake, plan.cost_total, rng, "teachers")[0]}
    for arm, planned in arms.items():
        row[f"{arm}_answerable"] = float(np.mean([
            np.isfinite(_width(pd.concat([first, _draw(kw, planned, rep * 10 + k)], ignore_index=True)
                               if planned else first)) for k in range(DRAWS)]))
    print(f"rep {rep:3d} {row['scenario']:20s} refused; answerable after: " +
          " ".join(f"{a} {row[a + '_answerable']:.2f}" for a in arms), flush=True)
    return row


ARMS = ("advisor", "seeds", "teachers")


def summarise(table: pd.DataFrame, replicates: int, runs: int, times: list) -> dict:
    """The summary of the replicate rows. A plan after whose runs the law was refused in every outcome draw counts
    as no narrowing (gain 0), for every arm alike, and is counted."""
    ref = table[table["verdict"] == "refused"]
    shrink = table[table["verdict"] == "shrinks"].copy()
    lost = {a: int(shrink[f"{a}_after"].isna().sum()) for a in ARMS}
    for a in ARMS:
        shrink[f"{a}_gain_per_cost"] = shrink[f"{a}_gain_per_cost"].fillna(0.0)
    gains = {a: shrink[f"{a}_gain_per_cost"].to_numpy(dtype=float) for a in ARMS}
    rng = np.random.default_rng(0)
    boot = rng.integers(0, len(shrink), size=(2000, len(shrink)))

    def ratio_ci(naive: str) -> list:
        num, den = gains["advisor"][boot].mean(axis=1), gains[naive][boot].mean(axis=1)
        r = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        return [float(np.nanpercentile(r, 2.5)), float(np.nanpercentile(r, 97.5))] if np.isfinite(r).any() else None

    summary = {
        "replicates": int(replicates), "runs_per_plan": runs, "outcome_draws": DRAWS,
        "verdicts": table["verdict"].value_counts().to_dict(), "planned": int(len(shrink)),
        "law_refused_after_every_draw": lost,
        "mean_gain_per_cost": {a: float(gains[a].mean()) for a in ARMS},
        "median_gain_per_cost": {a: float(np.median(gains[a])) for a in ARMS},
        "advisor_wins": {a: float(np.mean(gains["advisor"] > gains[a])) for a in ARMS[1:]},
        "ratio_of_means": {a: (float(gains["advisor"].mean() / gains[a].mean()) if gains[a].mean() > 0 else None)
                           for a in ARMS[1:]},
        "ratio_of_means_ci95": {a: ratio_ci(a) for a in ARMS[1:]},
        "mean_width_before": float(shrink["width_before"].mean()),
        "median_realised_over_expected": float((shrink["advisor_after"] / shrink["expected_after"]).median()),
        "refused_answerable_after": ({a: float(ref[f"{a}_answerable"].mean()) for a in ARMS} if len(ref) else None),
        "plan_seconds_median": float(np.median([t for t, _n in times])) if times else None,
        "plan_seconds_max": float(np.max([t for t, _n in times])) if times else None,
        "candidates_median": float(np.median([n for _t, n in times])) if times else None,
        "by_scenario": {sc: {a: float(grp[f"{a}_gain_per_cost"].mean()) for a in ARMS}
                        for sc, grp in shrink.groupby("scenario")},
    }
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicates", type=int, default=100)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("plan_bench.json"))
    ap.add_argument("--summarise", action="store_true", help="only recompute the summary of --out's rows")
    args = ap.parse_args()
    if args.summarise:
        saved = json.loads(args.out.read_text())
        summary = summarise(pd.DataFrame(saved["rows"]), saved["summary"]["replicates"],
                            saved["summary"]["runs_per_plan"], saved.get("times", []))
        print(json.dumps(summary, indent=2))
        args.out.write_text(json.dumps({"summary": summary, "rows": saved["rows"], "times": saved.get("times", [])},
                                       indent=1, default=float))
        return
    rows, times, refused = [], [], 0
    for rep in range(args.replicates):
        kw = _truth(rep)
        first = simulate_distillation(**kw, seed=rep)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fit = fit_collapse(first, "val_loss")
            except ValueError:
                refused += 1
                rows.append(_refused_replicate(rep, kw, first, args.runs))
                continue
            t0 = time.perf_counter()
            plan = plan_group(fit, n_runs=args.runs, seed=rep)
            times.append((time.perf_counter() - t0, plan.n_candidates))
        w0 = _width(first)
        row = {"rep": rep, "scenario": "/".join(map(str, SCENARIOS[rep % len(SCENARIOS)])), "width_before": w0,
               "verdict": plan.verdict, "expected_after": plan.ci_width_expected_after}
        adv = [(r["student_params"], r["teacher_params"], r["n_seeds"]) for r in plan.recommendations.to_dict("records")]
        cost = float(plan.cost_total)
        sweep_cost = float(COST.run_cost(first["student_params"], first["teacher_params"], None).sum())
        rng = np.random.default_rng(rep)
        arms = {"advisor": (adv, cost)}
        if adv:
            arms["seeds"] = _naive(fit, cost, rng, "seeds")
            arms["teachers"] = _naive(fit, cost, rng, "teachers")
        for arm, (cells, spent) in arms.items():
            if not cells:
                row[f"{arm}_gain_per_cost"], row[f"{arm}_after"] = 0.0, w0
                continue
            # the mean over DRAWS outcome draws of the planned runs: one draw's refit width is itself noisy
            after = float(np.nanmean([_width(pd.concat([first, _draw(kw, cells, rep * 10 + k)], ignore_index=True))
                                      for k in range(DRAWS)]))
            row[f"{arm}_after"] = after
            # relative narrowing per unit of relative cost (cost / the first sweep's): widths differ tenfold
            # between replicates, so absolute gains would let a few wide ones decide the mean
            row[f"{arm}_gain_per_cost"] = ((w0 - after) / w0) / (spent / sweep_cost) if spent > 0 else 0.0
        rows.append(row)
        print(f"rep {rep:3d} {row['scenario']:20s} before {w0:8.3g} verdict {plan.verdict:13s} " +
              " ".join(f"{a} {row.get(a + '_after', float('nan')):8.3g}" for a in arms), flush=True)
    table = pd.DataFrame(rows)
    summary = summarise(table, args.replicates, args.runs, times)
    print(json.dumps(summary, indent=2))
    args.out.write_text(json.dumps({"summary": summary, "rows": table.to_dict("records"), "times": times}, indent=1,
                                   default=float))


if __name__ == "__main__":
    main()
