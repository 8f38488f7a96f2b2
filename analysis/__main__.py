"""The analysis CLI: `python -m analysis SUBCOMMAND ...` (see `--help` of each).

  import-lmeval PATH... --out FILE.csv       lm-eval results JSON files/folders -> the benchmark table
  optimum RESULTS --metric NAME              the optimal teacher per student
  law RESULTS --metric NAME [--form ...]     fit the law of capacity gap T*(S) per (family, data_tokens)
  whatif (RESULTS --metric NAME | --reported) --student SIZE
  compare A B [C...] [--task T] [--metric M] [--filter F] [--cluster FIELD]
                                             paired comparison from lm-eval per-sample logs (files, folders, zips)
  optimum / law ... --table latex|markdown   a paper-ready table (booktabs tabular / Markdown) on stdout
  plan RESULTS --metric NAME --runs N [--ladder SIZES] [--json]   which runs to pay for next
  scaling-law RESULTS --metric NAME          Busbridge et al.'s distillation scaling law beside the linear law

RESULTS is any distillation-results file the loader accepts (CSV, TSV, Parquet, JSON, JSONL; see README).
Without --json, sizes print in human units ("1.3B"); with --json, sizes are raw parameter counts.
Exit codes: 0 ok, 1 some input failed (import-lmeval), 2 bad input or usage, or the tool declines to answer
(no group's law can be fitted; a what-if the data cannot support): the message says why and what to run.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.caveats import CapacityGapWarning
from analysis.fit_text import fmt_interval
from analysis.json_safe import json_safe
from analysis.results_io import DataError, load_distillation_results
from analysis.sizes import format_size, parse_model_size, parse_size

# ---------------------------------------------------------------------------------------------- helpers
def _key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, found {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def _bool_word(metric: str, word: str) -> bool:
    low = word.lower()
    if low in ("true", "1", "yes", "higher"):
        return True
    if low in ("false", "0", "no", "lower"):
        return False
    raise DataError(f"expected true or false for metric {metric!r}, found {word!r}", source="--higher-is-better")


def _load(args: argparse.Namespace) -> pd.DataFrame:
    """Load RESULTS with the loader options; print the report's dropped rows and warnings to stderr."""
    directions = {m: _bool_word(m, v) for m, v in (args.higher_is_better or [])}
    frame, report = load_distillation_results(
        args.results,
        column_map=dict(args.column or []) or None,
        size_unit=args.size_unit,
        higher_is_better=directions or None,
    )
    if report.dropped or report.warnings or report.inferred:
        print(report.summary(), file=sys.stderr)
    args.inferred = list(report.inferred)
    args.data_source = report.source
    if args.family:
        unknown = sorted(set(args.family) - set(frame["family"]))
        if unknown:
            raise DataError(f"no rows of family {', '.join(map(repr, unknown))}; families in the file: "
                            f"{', '.join(sorted(set(frame['family'])))}", source=str(args.results), column="family")
        frame = frame[frame["family"].isin(args.family)]
    if args.data_tokens:
        wanted = np.array([parse_size(t) for t in args.data_tokens], dtype=float)
        tokens = pd.to_numeric(frame["data_tokens"], errors="coerce").to_numpy(dtype=float)
        # "819K" names 819,200 tokens as the CLI prints it: a budget matches within the rounding of its name
        keep = pd.Series(np.isclose(tokens[:, None], wanted[None, :], rtol=5e-3).any(axis=1), index=frame.index)
        if not keep.any():
            found = sorted({format_size(t) for t in tokens[np.isfinite(tokens)]}) or ["none given"]
            raise DataError(f"no rows with data_tokens {', '.join(args.data_tokens)}; token budgets in the file: "
                            f"{', '.join(found)}", source=str(args.results), column="data_tokens")
        frame = frame[keep]
    if args.metric not in set(frame["metric"]):
        known = ", ".join(sorted(set(frame["metric"])))
        raise DataError(f"no rows with metric {args.metric!r}; metrics in the file: {known}",
                        source=str(args.results), column="metric")
    return frame


def _print_json(obj) -> None:
    print(json.dumps(json_safe(obj), indent=2, allow_nan=False))


def _size(value) -> str:
    return "—" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format_size(value)


# ---------------------------------------------------------------------------------------------- commands
def cmd_import_lmeval(args: argparse.Namespace) -> int:
    from analysis.csv_safe import to_safe_csv
    from analysis.lmeval_import import import_lmeval

    result = import_lmeval(args.paths, keep="all" if args.all else "newest")
    for failure in result.failures:
        print(f"error: {failure.path}: {failure.reason}", file=sys.stderr)
    if args.out:
        from analysis.atomic_io import write_text_atomic

        write_text_atomic(args.out, to_safe_csv(result.frame))
        print(f"wrote {len(result.frame)} rows from {result.frame['source'].nunique()} file(s) to {args.out}")
    else:
        print(to_safe_csv(result.frame), end="")
    return 1 if result.failures else 0


def cmd_optimum(args: argparse.Namespace) -> int:
    from analysis.optimum import find_optima, optima_records, optima_to_dict

    frame = _load(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CapacityGapWarning)
        optima = find_optima(frame, args.metric, alpha=args.alpha)
    _report_caveats(caught)
    if args.table:
        from analysis.paper_tables import optima_table

        _print_table(*optima_table(optima, alpha=args.alpha), args, method="optimal teacher per student")
        return 0
    if args.json:
        _print_json({**optima_to_dict(optima, args.metric), "inferred": args.inferred})
        return 0
    print(f"Optimal teacher per student ({args.metric}; {int((1 - args.alpha) * 100)}% interval)")
    for r in optima_records(optima):
        tokens = "" if r["data_tokens"] is None else f" {format_size(r['data_tokens'])} tokens"
        edge = "  [at the edge of the tested teachers]" if r["at_grid_edge"] else ""
        student = _size(r["student_params"]) + (f" ({r['student_name']})" if r["student_name"] else "")
        best = f"; best tested {r['teacher_name']}" if r["teacher_name"] else ""
        print(f"  {r['family']}{tokens}: student {student} -> teacher {_size(r['teacher_params'])} "
              f"[{fmt_interval(r['ci_lower'], r['ci_upper'])}] ({r['method']}, {r['n_teachers']} teachers{best})"
              f"{edge}")
    return 0


def _law_record(law, metric: str) -> dict:
    """One group's law JSON: the fit's to_dict, or a declined record with the same keys (null values)."""
    from analysis.optimum import SCHEMA_VERSION, optima_records

    if law.fit is not None:
        out = law.fit.to_dict()
        out["metric"] = metric
        out.setdefault("method", "two_stage")
        out.setdefault("declined", False)
        out["group"] = {"family": law.family, "data_tokens": None if pd.isna(law.data_tokens)
                        else int(law.data_tokens)}
        return out
    return {"schema_version": SCHEMA_VERSION, "metric": metric, "form": None, "alpha": None, "n_points": 0,
            "params": None, "r2": None, "optima": [] if law.optima is None else optima_records(law.optima),
            "declined": True, "reason": law.refused,
            "group": {"family": law.family, "data_tokens": None if pd.isna(law.data_tokens) else int(law.data_tokens)}}


def cmd_law(args: argparse.Namespace) -> int:
    from analysis.law import bootstrap_law, fit_laws, group_rows, slope_difference_test

    frame = _load(args)
    method = args.method.replace("-", "_")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CapacityGapWarning)
        laws = fit_laws(frame, args.metric, form=args.form, alpha=args.alpha, method=method, weights=args.weights)
        for law in laws:
            for cav in law.caveats:
                warnings.warn(cav, stacklevel=2)
        tests = {by: slope_difference_test(laws, by) for by in (args.by or [])}
        boots = {}
        if args.bootstrap:
            for law in laws:
                if law.fit is None:
                    continue
                rows = group_rows(frame, law.family, law.data_tokens)
                boots[law.label] = bootstrap_law(rows, args.metric, form=args.form, n_boot=args.bootstrap,
                                                 alpha=args.alpha, seed=args.seed)
    _report_caveats(caught)
    records = [_law_record(law, args.metric) for law in laws]
    fitted = [r for r in records if not r["declined"]]
    out = dict(fitted[0] if fitted else records[0])
    out["groups"] = records
    out["inferred"] = args.inferred
    if tests:
        out["tests"] = {by: {k: v for k, v in t.items()} for by, t in tests.items()}
    first = laws[[r["declined"] for r in records].index(False)] if fitted else None
    if first is not None and first.label in boots:
        ci = boots[first.label].conf_int()
        out["bootstrap"] = {"n_boot": args.bootstrap, "method": "two_stage", "params": {
            name: {"ci_lower": float(ci.loc[name, "lower"]), "ci_upper": float(ci.loc[name, "upper"])}
            for name in ci.index}}
    for law in laws:
        if law.fit is None:
            print(f"error: {law.label}: {law.refused}", file=sys.stderr)
    if args.table:
        from analysis.paper_tables import law_table

        _print_table(*law_table(laws, alpha=args.alpha), args,
                     method=f"law of capacity gap, {args.form} form, {args.method}")
        return 0 if fitted else 2
    if args.json:
        _print_json(out)
        return 0 if fitted else 2
    for law in laws:
        if len(laws) > 1:
            print(f"== {law.label}")
        if law.fit is None:
            print(f"  {law.refused}")
            continue
        print(law.fit.summary())
        if law.label in boots:
            print(f"\nTwo-stage pipeline bootstrap ({args.bootstrap} resamples of runs -> optima -> law), "
                  f"{int((1 - args.alpha) * 100)}% percentile intervals:")
            for name, row in boots[law.label].conf_int().iterrows():
                show = _size if name.endswith("_params") else "{:.4g}".format
                print(f"  {name}: [{show(row['lower'])}, {show(row['upper'])}]")
        print()
    for test in tests.values():
        print(test["sentence"])
    return 0 if fitted else 2


def cmd_plan(args: argparse.Namespace) -> int:
    from analysis.atomic_io import write_text_atomic
    from analysis.plan import CostModel, parse_ladder, plan_runs, plans_to_csv, plans_to_dict, sweep_plans

    frame = _load(args)
    ladder, names = parse_ladder(args.ladder) if args.ladder else (None, None)
    cost = CostModel(teacher_weight=args.teacher_cost, student_weight=args.student_cost, per_run=args.run_cost,
                     teacher_pretrain=args.pretrain_cost)
    plans = plan_runs(frame, args.metric, form=args.form, alpha=args.alpha, n_runs=args.runs, max_cost=args.max_cost,
                      ladder=ladder, ladder_names=names, cost_model=cost, seed=args.seed)
    out = plans_to_dict(plans, metric=args.metric, n_runs=args.runs, max_cost=args.max_cost)
    if args.out:
        folder = Path(args.out).expanduser().resolve()
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"--out {folder}: expected a folder, found a file")
        folder.mkdir(parents=True, exist_ok=True)
        for fname, text in sweep_plans(plans, name=args.name):
            write_text_atomic(folder / fname, text)
        write_text_atomic(folder / f"{args.name}.csv", plans_to_csv(plans))
        write_text_atomic(folder / f"{args.name}.json", json.dumps(out, indent=2, allow_nan=False))
        print(f"wrote the plan to {folder} ({args.name}.json, {args.name}.csv and the sweep plans)", file=sys.stderr)
    if args.table:
        from analysis.paper_tables import plan_table

        _print_table(*plan_table(plans), args, method=f"next runs, {args.runs} per group")
        return 0
    if args.json:
        _print_json(out)
        return 0
    for plan in plans:
        if len(plans) > 1:
            print(f"== {plan.label}")
        print(f"  {plan.message}")
        for r in plan.recommendations.to_dict("records"):
            width = r["expected_slope_ci_width_after"]
            print(f"  {r['rank']:>2}. student {_size(r['student_params'])}, teacher {_size(r['teacher_params'])}"
                  f"{' (' + r['teacher_name'] + ')' if r['teacher_name'] else ''} x{r['n_seeds']}: cost "
                  f"{r['cost']:.3g}" + ("" if width is None or not math.isfinite(width) else
                                       f", {plan.parameter} interval then ~{width:.3g} wide"))
            print(f"      {r['reason']}")
    return 0


def cmd_whatif(args: argparse.Namespace) -> int:
    from analysis.whatif import declined, whatif

    student = parse_model_size(args.student)
    results = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CapacityGapWarning)
        if args.reported:
            from analysis.reported_law import load_reported_law

            answer = whatif(student, law=load_reported_law(), alpha=args.alpha)
        else:
            from analysis.law import fit_laws

            results = _load(args)
            laws = fit_laws(results, args.metric, form=args.form, alpha=args.alpha,
                            method=args.method.replace("-", "_"))
            if len(laws) > 1:
                raise DataError(f"the rows hold {len(laws)} (family, data_tokens) groups "
                                f"({', '.join(law.label for law in laws[:6])}); choose one with --family and "
                                f"--data-tokens", source=str(args.results))
            law = laws[0]
            if law.fit is None:
                answer = declined(student, law.refused, alpha=args.alpha)
            else:
                answer = whatif(student, law=law.fit, alpha=args.alpha, results=results, metric=args.metric,
                                extrapolate=args.extrapolate)
    _report_caveats(caught)
    out = answer.to_dict()
    if args.json:
        _print_json(out)
        return 2 if answer.declined else 0
    if answer.declined:
        print(f"No answer for a {_size(student)} student: {answer.reason}")
        return 2
    t = out["teacher_params"]
    label = "the law as reported by Zhang et al. (no interval reported)" if out["source"] == "reported" else \
        f"the law fitted to {args.results} ({args.metric})"
    guess = "  [EXTRAPOLATION: a guess past the data]" if answer.extrapolated else ""
    print(f"Student {_size(student)} -> optimal teacher {_size(t['mean'])}  (from {label}){guess}")
    if out["source"] == "fit":
        pct = int((1 - args.alpha) * 100)
        print(f"  {pct}% confidence interval: [{_size(t['mean_ci_lower'])}, {_size(t['mean_ci_upper'])}]")
        print(f"  {pct}% prediction interval: [{_size(t['obs_ci_lower'])}, {_size(t['obs_ci_upper'])}]")
    if out["candidates"]:
        print("Real checkpoints closest to it:")
        for c in out["candidates"][: args.top]:
            print(f"  {c['model']:<40} {c['family']:<12} {_size(c['params']):>7}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from analysis.paired import PairedError, compare_many
    from analysis.samples_io import SamplesError, read_samples

    try:
        runs = {}
        for path in args.runs:
            run = read_samples(path)
            name = run.model if run.model not in runs else f"{run.model} ({path})"
            runs[name] = run
        result = compare_many(runs, task=args.task, metric=args.metric, filter=args.filter, cluster=args.cluster,
                              correction=args.correction, alpha=args.alpha, n_boot=args.n_boot, seed=args.seed,
                              detect=args.detect)
    except (SamplesError, PairedError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for refusal in result.refused:
        print(f"not compared: {refusal.reason}", file=sys.stderr)
    if args.table:
        from analysis.paper_tables import paired_table

        if not result.comparisons:
            print("error: nothing was compared, so there is no table (see the reasons above)", file=sys.stderr)
            return 2
        from analysis import __version__
        from analysis.paired import CORRECTION_LABELS
        from analysis.paper_tables import render_table

        caption = (f"paired comparison from per-document logs; {100 * (1 - args.alpha):g}% intervals; p-values "
                   f"adjusted by {CORRECTION_LABELS[args.correction]}; runs {', '.join(map(str, args.runs))}; "
                   f"Capacity Gap Lab {__version__}")
        print(render_table(*paired_table(result.frame(), alpha=args.alpha), args.table, caption=caption), end="")
        return 0
    if args.json:
        _print_json(result.to_dict())
        return 0
    from analysis.paired_report import comparison_text

    print(comparison_text(result))
    return 0


def _print_table(frame: pd.DataFrame, columns, args: argparse.Namespace, *, method: str) -> None:
    """A paper table (LaTeX booktabs or Markdown) on stdout, with what made it as its caption/comment."""
    from analysis import __version__
    from analysis.paper_tables import render_table

    caption = (f"{method}; metric {args.metric}; {100 * (1 - args.alpha):g}% intervals; data {args.data_source}; "
               f"Capacity Gap Lab {__version__}")
    print(render_table(frame, columns, args.table, caption=caption), end="")
def cmd_scaling_law(args: argparse.Namespace) -> int:
    from analysis.law_compare import better_law, compare_laws, comparison_to_dict
    from analysis.teacher_quality import HOW_TO_ADD, missing_teacher_values

    frame = _load(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CapacityGapWarning)
        comparisons = compare_laws(frame, args.metric, form=args.form, alpha=args.alpha, n_boot=args.n_boot_law,
                                   seed=args.seed)
    _report_caveats(caught)
    fitted = [c for c in comparisons if c.fit is not None]
    for c in comparisons:
        if c.fit is None:
            print(f"error: {c.family}: {c.refused}", file=sys.stderr)
    if args.json:
        _print_json(comparison_to_dict(comparisons, args.metric, frame))
        return 0 if fitted else 2
    missing = missing_teacher_values(frame, args.metric)
    if len(missing):
        print(f"{len(missing)} {args.metric} row(s) with a teacher lack the teacher's score. {HOW_TO_ADD}\n")
    pct = int((1 - args.alpha) * 100)
    for c in comparisons:
        if len(comparisons) > 1:
            print(f"== {c.family}")
        print(c.fit.summary() if c.fit is not None else f"  No scaling-law fit: {c.refused}")
        print(f"  Teachers' size -> loss: {c.curve.describe()}")
        print(f"\nOptimal teacher per student, both laws ({pct}% intervals):")
        for r in c.side_by_side.to_dict("records"):
            lin = ("—" if not np.isfinite(r["linear_teacher_params"]) else
                   f"{_size(r['linear_teacher_params'])} [{_size(r['linear_ci_lower'])}, {_size(r['linear_ci_upper'])}]")
            sca = ("—" if not np.isfinite(r["scaling_teacher_loss"]) else
                   f"loss {r['scaling_teacher_loss']:.3f} [{r['scaling_ci_lower']:.3f}, {r['scaling_ci_upper']:.3f}]"
                   f" -> {_size(r['scaling_teacher_params'])} [{_size(r['scaling_params_ci_lower'])}, "
                   f"{_size(r['scaling_params_ci_upper'])}]")
            print(f"  {_size(r['student_params'])} student, {_size(r['data_tokens'])} tokens: linear law {lin}; "
                  f"scaling law {sca}")
        for reason in dict.fromkeys(r for r in c.side_by_side["linear_refused"] if r):
            print(f"  (linear law: {reason})")
        ho = c.held_out
        print("\nHeld-out students (each law refitted without the student; regret = loss of its pick minus the "
              "best tested teacher's, nats/token):")
        for r in ho.to_dict("records"):
            lin = f"{r['linear_regret']:.4f}" if np.isfinite(r["linear_regret"]) else "declines without it"
            sca = f"{r['scaling_regret']:.4f}" if np.isfinite(r["scaling_regret"]) else "declines without it"
            print(f"  {_size(r['student_params'])}: linear law {lin}, scaling law {sca}")
        print(f"  better on held-out students: {better_law(ho)}")
        if not c.diagnosis.empty:
            print("\nSteps up past a student's best teacher that made it worse:")
            for sentence in c.diagnosis["sentence"]:
                print(f"  {sentence}")
        print()
    return 0 if fitted else 2


def _report_caveats(caught) -> None:
    """Print each statistical caveat once (a fit and a what-if may both raise the same one)."""
    seen = set()
    for w in caught:
        if issubclass(w.category, CapacityGapWarning) and str(w.message) not in seen:
            seen.add(str(w.message))
            print(f"warning: {w.message}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("import-lmeval", help="lm-eval results JSON (files or folders) -> benchmark CSV")
    p.add_argument("paths", nargs="+", type=Path, help="results_*.json files or lm-eval output folders")
    p.add_argument("--out", type=Path, help="CSV to write (default: standard output)")
    p.add_argument("--all", action="store_true", help="keep every result, not only the newest per model and task")
    p.set_defaults(func=cmd_import_lmeval)

    def results_args(p: argparse.ArgumentParser, optional: bool = False) -> None:
        p.add_argument("results", nargs="?" if optional else None, help="distillation-results file")
        p.add_argument("--metric", required=not optional, help="metric to analyse, e.g. val_loss")
        p.add_argument("--alpha", type=float, default=0.05, help="1 - confidence level (default 0.05)")
        p.add_argument("--n-boot", type=int, default=0,
                       help="accepted for old scripts; the optima's intervals no longer resample")
        p.add_argument("--seed", type=int, default=0, help="random seed of the two-stage pipeline bootstrap")
        p.add_argument("--column", action="append", type=_key_value, metavar="CONTRACT=YOURS",
                       help="map a column, e.g. --column student_params=student_size (repeatable)")
        p.add_argument("--size-unit", choices=["K", "M", "B", "T"],
                       help="unit of bare numbers in the size columns (e.g. B when 1.3 means 1.3B)")
        p.add_argument("--higher-is-better", action="append", type=_key_value, metavar="METRIC=true|false",
                       help="state a metric's direction when its name does not tell (repeatable)")
        p.add_argument("--family", action="append", help="only these families (repeatable; default: all)")
        p.add_argument("--data-tokens", action="append", metavar="TOKENS",
                       help="only these distillation-token budgets, e.g. 2B (repeatable; default: all)")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument("--table", choices=["latex", "markdown"],
                       help="print a paper-ready table instead: a LaTeX booktabs tabular or a Markdown table")

    p = sub.add_parser("optimum", help="the optimal teacher per student")
    results_args(p)
    p.set_defaults(func=cmd_optimum)

    p = sub.add_parser("law", help="fit the law of capacity gap T*(S), one law per (family, data_tokens)")
    results_args(p)
    p.add_argument("--form", choices=["linear", "proportional", "power"], default="linear")
    p.add_argument("--method", choices=["one-stage", "two-stage"], default="one-stage",
                   help="one-stage (default): every curve at once, the estimator whose intervals held on the "
                        "planted-law study; two-stage: the paper's argmin -> regression, for comparison")
    p.add_argument("--weights", choices=["auto", "ci", "none"], default="none",
                   help="two-stage only: none (OLS, the paper's; default), ci (WLS by the optima's intervals), "
                        "auto (ci when the optima have intervals)")
    p.add_argument("--by", action="append", choices=["family", "data_tokens"],
                   help="test whether the slope differs across families / token budgets (repeatable)")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="also run N resamples of the two-stage pipeline (runs -> optima -> law)")
    p.set_defaults(func=cmd_law)

    p = sub.add_parser("whatif", help="which teacher for a student of a given size")
    results_args(p, optional=True)
    p.add_argument("--reported", action="store_true", help="use the law as reported (Zhang et al.)")
    p.add_argument("--student", required=True, help="student size, e.g. 1.3B")
    p.add_argument("--form", choices=["linear", "proportional", "power"], default="linear")
    p.add_argument("--method", choices=["one-stage", "two-stage"], default="one-stage",
                   help="how the law is fitted (see law --help)")
    p.add_argument("--extrapolate", action="store_true",
                   help="answer even where the data cannot (interval reaching zero, student >10x outside the "
                        "fitted ones); every number is then labelled as an extrapolation")
    p.add_argument("--top", type=int, default=8, help="how many real checkpoints to list")
    p.set_defaults(func=cmd_whatif)

    p = sub.add_parser("compare", help="paired comparison of models on the same documents (lm-eval samples logs)",
                       description="Compare models document by document from lm-eval per-sample logs "
                                   "(--log_samples; 0.3 --write_out): McNemar's exact test for 0/1 metrics, paired t "
                                   "and bootstrap intervals for continuous ones, the unpaired numbers beside them, "
                                   "and the documents a difference would need.")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN",
                   help="two or more: a samples_<task>_<date>.jsonl file, an lm-eval output folder or a zip of one")
    p.add_argument("--task", help="only this task (or group: its subtasks, pooled with --cluster task)")
    p.add_argument("--metric", help="only this metric, e.g. acc (default: every per-document metric)")
    p.add_argument("--filter", help="only this filter, e.g. strict-match (default: every filter)")
    p.add_argument("--cluster", metavar="FIELD",
                   help="documents come in groups: a field of the logged documents (e.g. subject, doc.passage_id), "
                        "or 'task' to pool a group's subtasks (--task GROUP) with each subtask a cluster")
    p.add_argument("--correction", choices=["holm", "bh"], default="holm",
                   help="multiple-comparison adjustment over all comparisons: holm (family-wise error; default) or "
                        "bh (Benjamini-Hochberg false discovery rate)")
    p.add_argument("--alpha", type=float, default=0.05, help="1 - confidence level (default 0.05)")
    p.add_argument("--n-boot", type=int, default=2000, help="paired bootstrap resamples (0: none; default 2000)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap")
    p.add_argument("--detect", type=float, metavar="D",
                   help="the difference the power line is about, in the metric's units (default: 0.01, one point, "
                        "for 0/1 metrics; the observed difference for continuous ones)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--table", choices=["latex", "markdown"],
                   help="print a paper-ready table instead: a LaTeX booktabs tabular or a Markdown table")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("plan", help="which runs to pay for next: the largest expected narrowing of the slope "
                                    "interval per unit cost")
    results_args(p)
    p.add_argument("--runs", type=int, default=10, help="budget: runs per (family, data_tokens) group (default 10)")
    p.add_argument("--max-cost", type=float, help="budget: cost limit per group, in the cost model's units")
    p.add_argument("--ladder", help="teacher sizes to choose from, e.g. 160M,410M,1B,2.8B, or catalog:Pythia "
                                    "(default: each student's grid extended by its own step)")
    p.add_argument("--form", choices=["linear", "proportional", "power"], default="linear")
    p.add_argument("--teacher-cost", type=float, default=1.0, help="cost per teacher param and token (default 1)")
    p.add_argument("--student-cost", type=float, default=1.0, help="cost per student param and token (default 1)")
    p.add_argument("--run-cost", type=float, default=0.0, help="fixed cost per run (default 0)")
    p.add_argument("--pretrain-cost", type=float, default=0.0,
                   help="extra cost of a teacher size not used yet (default 0: public checkpoints)")
    p.add_argument("--out", help="folder to write the plan into: NAME.json (with the expected widths), NAME.csv and "
                                 "one eval_runs sweep plan (TOML) per student")
    p.add_argument("--name", default="plan", help="name of the written files and sweeps (default plan)")
    p.set_defaults(func=cmd_plan)
    p = sub.add_parser("scaling-law", help="Busbridge et al.'s distillation scaling law beside the linear law")
    results_args(p)
    p.add_argument("--form", choices=["linear", "proportional", "power"], default="linear",
                   help="form of the law of capacity gap shown beside it")
    p.add_argument("--bootstrap", dest="n_boot_law", type=int, default=1000, metavar="N",
                   help="bootstrap resamples of runs for the scaling law's intervals (default 1000)")
    p.set_defaults(func=cmd_scaling_law)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "compare" and len(args.runs) < 2:
        parser.error("compare: give at least two runs (samples files, output folders or zips)")
    if args.command == "whatif" and bool(args.reported) == bool(args.results):
        parser.error("whatif: give either RESULTS --metric NAME or --reported")
    if args.command == "whatif" and args.results and not args.metric:
        parser.error("whatif: --metric is required with RESULTS")
    try:
        return args.func(args)
    except (DataError, ValueError, FileNotFoundError, IsADirectoryError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
