"""The run advisor (analysis.plan): on planted laws it brackets edge optima, seeds tied grids, says when the law is
tight or nothing affordable helps, beats random runs of the same cost, and its exports load where they go."""
import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.collapse import fit_collapse
from analysis.plan import (RECOMMENDATION_KEYS, CostModel, compare_with_plan, parse_ladder, plan_runs, plans_to_csv,
                           plans_to_dict, sweep_plans)
from analysis.simulate import simulate_distillation

STUDENTS = (70e6, 160e6, 410e6, 1e9, 2.8e9)


def sparse(seed=0, **kw):
    args = dict(n_seeds=2, noise=0.015, student_params=STUDENTS, teacher_ratios=(1.25, 1.8, 2.6, 3.8, 5.5))
    args.update(kw)
    return simulate_distillation(seed=seed, **args)


def quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def draw(cells, seed, noise=0.015, **kw):
    """Runs at (student, teacher, n) cells from the planted truth."""
    frames = [simulate_distillation(student_params=[s], teacher_ladder=[t], n_seeds=n, noise=noise,
                                    seed=seed * 100 + i, **kw) for i, (s, t, n) in enumerate(cells)]
    return pd.concat(frames, ignore_index=True)


def slope_width(rows):
    fit = quiet(fit_collapse, rows, "val_loss")
    ci = fit.conf_int().loc["slope"]
    w = float(ci["upper"] - ci["lower"])
    return w if np.isfinite(w) else float(2 * fit._q(fit.alpha) * fit.bse["slope"])


def test_a_student_whose_optimum_is_at_the_top_of_its_grid_gets_a_larger_teacher_first():
    rows = sparse(0)
    rows = rows[(rows.student_params != 2.8e9) | (rows.teacher_params <= 2.8e9 * 2.6)]
    plan = quiet(plan_runs, rows, "val_loss", n_runs=10)[0]
    assert plan.verdict == "shrinks"
    first = plan.recommendations.iloc[0]
    assert first["student_params"] == 2_800_000_000 and first["teacher_params"] > 2.8e9 * 2.6
    assert first["brackets_edge"] and "largest teacher tried" in first["reason"]


def test_a_law_refused_for_edge_optima_gets_the_teachers_that_bracket_them_and_becomes_answerable():
    rows = sparse(3, noise=0.003, teacher_ratios=(1.1, 1.5, 2.0))  # grids stop below the planted ~2.4x optimum
    ladder = [4 * s for s in STUDENTS]  # a teacher four times each student: past its optimum
    plan = quiet(plan_runs, rows, "val_loss", n_runs=12, ladder=ladder)[0]
    assert plan.verdict == "refused" and "No law yet" in plan.message
    recs = plan.recommendations
    assert len(recs) and (recs["teacher_params"] > recs["student_params"] * 2.0).all()
    assert recs["expected_slope_ci_width_after"].isna().all()  # no width is promised without a law
    after = pd.concat([rows, draw([(r.student_params, r.teacher_params, r.n_seeds) for r in recs.itertuples()], 3,
                                  noise=0.003)])
    assert np.isfinite(slope_width(after))


def test_a_grid_whose_teachers_are_all_tied_gets_seeds_there():
    rows = sparse(1, noise=0.2, teacher_ratios=(1.8, 2.6, 3.8))  # noise far above the curve's depth
    plan = quiet(plan_runs, rows, "val_loss", n_runs=40)[0]
    assert plan.verdict == "refused"
    seeds = plan.recommendations[plan.recommendations["kind"] == "seed"]
    assert len(seeds) and all("cannot be told apart" in r for r in seeds["reason"])


def test_a_tight_law_is_said_to_be_tight_and_gets_no_runs():
    rows = simulate_distillation(seed=0, n_seeds=8, noise=0.001)
    plan = quiet(plan_runs, rows, "val_loss", n_runs=10)[0]
    assert plan.verdict == "tight" and plan.recommendations.empty and "already tight" in plan.message


def test_nothing_affordable_is_said_and_nothing_is_recommended():
    plan = quiet(plan_runs, sparse(0), "val_loss", n_runs=10, max_cost=1.0)[0]
    assert plan.verdict == "nothing_helps" and plan.recommendations.empty and "fits" in plan.message


def test_when_the_advisor_says_nothing_helps_the_affordable_runs_indeed_barely_move_the_interval():
    rows = simulate_distillation(seed=2, n_seeds=6)  # 288 runs
    budget = float(CostModel().run_cost(70e6, 87.5e6, None)) * 1.5  # one run of the smallest pair is affordable
    plan = quiet(plan_runs, rows, "val_loss", n_runs=5, max_cost=budget, tight=0.0)[0]
    assert plan.verdict == "nothing_helps" and plan.recommendations.empty and "No affordable run helps" in plan.message
    before = slope_width(rows)
    changes = [abs(slope_width(pd.concat([rows, draw([(70e6, t, 1)], k)])) - before) / before
               for k, t in enumerate((87.5e6, 87.5e6, 87.5e6))]
    assert np.mean(changes) < 0.05


@pytest.mark.slow
def test_following_the_advice_narrows_the_slope_more_per_cost_than_random_runs_of_the_same_cost():
    gains = {"advisor": [], "random": []}
    for rep in range(6):
        shape = ("parabola", "linex", "split")[rep % 3]
        kw = dict(shape=shape, asymmetry=1.0 if shape == "parabola" else 2.0)
        rows = sparse(rep, teacher_ratios=(1.25, 2.0, 3.2, 5.0, 8.0), **kw)
        plan = quiet(plan_runs, rows, "val_loss", n_runs=10)[0]
        if plan.verdict != "shrinks":
            continue
        before = slope_width(rows)
        recs = plan.recommendations
        adv = [(r.student_params, r.teacher_params, r.n_seeds) for r in recs.itertuples()]
        cells = rows[["student_params", "teacher_params"]].drop_duplicates().to_numpy()
        rng = np.random.default_rng(rep)
        rand, spent = [], 0.0
        for i in rng.permutation(len(cells)):
            c = float(CostModel().run_cost(*cells[i], None))
            if spent + c <= plan.cost_total:
                rand.append((cells[i][0], cells[i][1], 1))
                spent += c
        for arm, cellset, cost in (("advisor", adv, plan.cost_total), ("random", rand, spent)):
            after = slope_width(pd.concat([rows, draw(cellset, rep, **kw)]))
            gains[arm].append((before - after) / before / cost)
    assert len(gains["advisor"]) >= 4
    assert np.mean(gains["advisor"]) > np.mean(gains["random"])


def test_the_exported_sweep_plans_load_with_the_engine_and_run_exactly_the_planned_cells(tmp_path):
    from eval_runs.sweep import read_plan

    rows = sparse(0)
    plans = quiet(plan_runs, rows, "val_loss", n_runs=10)
    files = sweep_plans(plans, name="next")
    assert files
    planned = {(r.student_params, r.teacher_params) for r in plans[0].recommendations.itertuples()}
    covered = set()
    for name, text in files:
        (tmp_path / name).write_text(text)
        sweep = read_plan(tmp_path / name)
        assert len(sweep.student_params) == 1 and not sweep.random_init_baseline
        s = sweep.student_params[0]
        for t in sweep.teacher_params:
            assert sweep.min_teacher_ratio <= t / s <= sweep.max_teacher_ratio
            covered.add((s, t))
    assert covered == planned
    with pytest.raises(ValueError):
        sweep_plans(plans, name="../escape")


def test_the_csv_neutralises_formulas_and_the_json_round_trips():
    plans = quiet(plan_runs, sparse(0), "val_loss", n_runs=5)
    plans[0].recommendations.loc[0, "reason"] = "=HYPERLINK(1)"
    assert "'=HYPERLINK" in plans_to_csv(plans)
    out = json.loads(json.dumps(plans_to_dict(plans, metric="val_loss", n_runs=5, max_cost=None), allow_nan=False))
    assert out["recommendations"] and set(RECOMMENDATION_KEYS) <= set(out["recommendations"][0])


def test_after_the_runs_the_comparison_shows_before_expected_and_now():
    from analysis.law import fit_laws

    rows = sparse(0, teacher_ratios=(1.25, 2.0, 3.2, 5.0, 8.0))
    plans = quiet(plan_runs, rows, "val_loss", n_runs=10)
    saved = json.loads(json.dumps(plans_to_dict(plans, metric="val_loss", n_runs=10, max_cost=None)))
    recs = plans[0].recommendations
    after = pd.concat([rows, draw([(r.student_params, r.teacher_params, r.n_seeds) for r in recs.itertuples()], 5)])
    laws = quiet(fit_laws, after, "val_loss")
    (row,) = compare_with_plan(saved, laws)
    assert row["runs_done"] == row["runs_planned"] == int(recs["n_seeds"].sum())
    assert row["ci_width_now"] > 0 and row["ci_width_expected_after"] < row["ci_width_before"]
    with pytest.raises(ValueError):
        compare_with_plan({"kind": "something else"}, laws)


def test_ladders_parse_sizes_and_catalog_families_and_refuse_junk():
    sizes, names = parse_ladder("1B, 160M,410M")
    assert sizes.tolist() == [160e6, 410e6, 1e9] and names == ["", "", ""]
    sizes, names = parse_ladder("catalog:Pythia")
    assert len(sizes) >= 5 and all(n.startswith("EleutherAI/") for n in names)
    for bad in ("", "catalog:nope", "1B," * 300, "-5M"):
        with pytest.raises(ValueError):
            parse_ladder(bad)
    with pytest.raises(ValueError):
        CostModel(teacher_weight=-1)


def test_cli_plan_json_has_the_documented_keys(tmp_path):
    path = tmp_path / "r.csv"
    sparse(0).to_csv(path, index=False)
    proc = subprocess.run([sys.executable, "-m", "analysis", "plan", str(path), "--metric", "val_loss", "--runs", "6",
                           "--ladder", "100M,200M,400M,800M,1.6B,3.2B,6.4B,12.8B,20B", "--json",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["schema_version"] == 1 and out["metric"] == "val_loss"
    for key in ["schema_version", "kind", "metric", "budget", "data_hash", "groups", "recommendations"]:
        assert key in out
    for key in ["family", "data_tokens", "metric", "form", "parameter", "alpha", "verdict", "message", "estimate",
                "ci_width_before", "ci_width_expected_after", "cost_total", "n_runs", "n_candidates", "cost_model",
                "planned_cells", "recommendations", "ci_width_simulated_after", "chosen_by", "n_simulated_refits"]:
        assert key in out["groups"][0]
    assert out["recommendations"]
    for rec in out["recommendations"]:
        for key in ["student_params", "teacher_params", "n_seeds", "cost", "expected_slope_ci_width_after",
                    "reason", "rank", "kind"]:
            assert key in rec
        assert isinstance(rec["student_params"], int) and isinstance(rec["n_seeds"], int)
    assert sum(r["n_seeds"] for r in out["recommendations"]) <= 6
    assert (tmp_path / "out" / "plan.json").exists() and (tmp_path / "out" / "plan.csv").exists()
