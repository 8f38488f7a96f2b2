"""The analysis CLI: `python -m analysis SUBCOMMAND ...` (see `--help` of each).

  import-lmeval PATH... --out FILE.csv       lm-eval results JSON files/folders -> the benchmark table
  optimum RESULTS --metric NAME              the optimal teacher per student
  law RESULTS --metric NAME [--form ...]     fit the law of capacity gap T*(S)
  whatif (RESULTS --metric NAME | --reported) --student SIZE

RESULTS is any distillation-results file the loader accepts (CSV, TSV, Parquet, JSON, JSONL; see README).
Without --json, sizes print in human units ("1.3B"); with --json, sizes are raw parameter counts.
Exit codes: 0 ok, 1 some input failed (import-lmeval), 2 bad input or usage.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path

import pandas as pd

from analysis.caveats import CapacityGapWarning
from analysis.json_safe import json_safe
from analysis.results_io import DataError, load_distillation_results
from analysis.sizes import format_size, parse_size

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
    if report.dropped or report.warnings:
        print(report.summary(), file=sys.stderr)
    if args.family:
        unknown = sorted(set(args.family) - set(frame["family"]))
        if unknown:
            raise DataError(f"no rows of family {', '.join(map(repr, unknown))}; families in the file: "
                            f"{', '.join(sorted(set(frame['family'])))}", source=str(args.results), column="family")
        frame = frame[frame["family"].isin(args.family)]
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
    from analysis.lmeval_import import import_lmeval

    result = import_lmeval(args.paths, keep="all" if args.all else "newest")
    for failure in result.failures:
        print(f"error: {failure.path}: {failure.reason}", file=sys.stderr)
    if args.out:
        from analysis.atomic_io import write_text_atomic

        write_text_atomic(args.out, result.frame.to_csv(index=False))
        print(f"wrote {len(result.frame)} rows from {result.frame['source'].nunique()} file(s) to {args.out}")
    else:
        print(result.frame.to_csv(index=False), end="")
    return 1 if result.failures else 0


def cmd_optimum(args: argparse.Namespace) -> int:
    from analysis.optimum import find_optima, optima_records, optima_to_dict

    frame = _load(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CapacityGapWarning)
        optima = find_optima(frame, args.metric, alpha=args.alpha, n_boot=args.n_boot, seed=args.seed)
    _report_caveats(caught)
    if args.json:
        _print_json(optima_to_dict(optima, args.metric))
        return 0
    print(f"Optimal teacher per student ({args.metric}; {int((1 - args.alpha) * 100)}% interval)")
    for r in optima_records(optima):
        tokens = "" if r["data_tokens"] is None else f" {format_size(r['data_tokens'])} tokens"
        edge = "  [at the edge of the tested teachers]" if r["at_grid_edge"] else ""
        print(f"  {r['family']}{tokens}: student {_size(r['student_params'])} -> teacher "
              f"{_size(r['teacher_params'])} [{_size(r['ci_lower'])}, {_size(r['ci_upper'])}] "
              f"({r['method']}, {r['n_teachers']} teachers){edge}")
    return 0


def cmd_law(args: argparse.Namespace) -> int:
    from analysis.law import bootstrap_law, fit_law
    from analysis.optimum import find_optima

    frame = _load(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CapacityGapWarning)
        optima = find_optima(frame, args.metric, alpha=args.alpha, n_boot=args.n_boot, seed=args.seed)
        fit = fit_law(optima, form=args.form, alpha=args.alpha, weights=args.weights)
        boot = (bootstrap_law(frame, args.metric, form=args.form, n_boot=args.bootstrap, alpha=args.alpha,
                              seed=args.seed) if args.bootstrap else None)
    _report_caveats(caught)
    out = fit.to_dict()
    out["metric"] = args.metric
    if boot is not None:
        ci = boot.conf_int()
        out["bootstrap"] = {"n_boot": args.bootstrap, "params": {
            name: {"ci_lower": float(ci.loc[name, "lower"]), "ci_upper": float(ci.loc[name, "upper"])}
            for name in ci.index}}
    if args.json:
        _print_json(out)
        return 0
    print(fit.summary())
    if boot is not None:
        print(f"\nPipeline bootstrap ({args.bootstrap} resamples of runs -> optima -> law), "
              f"{int((1 - args.alpha) * 100)}% percentile intervals:")
        for name, row in boot.conf_int().iterrows():
            show = _size if name.endswith("_params") else "{:.4g}".format
            print(f"  {name}: [{show(row['lower'])}, {show(row['upper'])}]")
    return 0


def cmd_whatif(args: argparse.Namespace) -> int:
    from analysis.whatif import whatif

    student = parse_size(args.student)
    results = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CapacityGapWarning)
        if args.reported:
            from analysis.reported_law import load_reported_law

            law = load_reported_law()
        else:
            from analysis.law import fit_law
            from analysis.optimum import find_optima

            results = _load(args)
            law = fit_law(find_optima(results, args.metric, alpha=args.alpha, seed=args.seed),
                          form=args.form, alpha=args.alpha, weights="auto")
        answer = whatif(student, law=law, alpha=args.alpha, results=results,
                        metric=None if args.reported else args.metric)
    _report_caveats(caught)
    out = answer.to_dict()
    if args.json:
        _print_json(out)
        return 0
    t = out["teacher_params"]
    label = "the law as reported by Zhang et al. (no interval reported)" if out["source"] == "reported" else \
        f"the law fitted to {args.results} ({args.metric})"
    print(f"Student {_size(student)} -> optimal teacher {_size(t['mean'])}  (from {label})")
    if out["source"] == "fit":
        pct = int((1 - args.alpha) * 100)
        print(f"  {pct}% confidence interval: [{_size(t['mean_ci_lower'])}, {_size(t['mean_ci_upper'])}]")
        print(f"  {pct}% prediction interval: [{_size(t['obs_ci_lower'])}, {_size(t['obs_ci_upper'])}]")
    if out["candidates"]:
        print("Real checkpoints closest to it:")
        for c in out["candidates"][: args.top]:
            print(f"  {c['model']:<40} {c['family']:<12} {_size(c['params']):>7}")
    return 0


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
        p.add_argument("--n-boot", type=int, default=200, help="resamples for each optimum's interval")
        p.add_argument("--seed", type=int, default=0, help="random seed of the resampling")
        p.add_argument("--column", action="append", type=_key_value, metavar="CONTRACT=YOURS",
                       help="map a column, e.g. --column student_params=student_size (repeatable)")
        p.add_argument("--size-unit", choices=["K", "M", "B", "T"],
                       help="unit of bare numbers in the size columns (e.g. B when 1.3 means 1.3B)")
        p.add_argument("--higher-is-better", action="append", type=_key_value, metavar="METRIC=true|false",
                       help="state a metric's direction when its name does not tell (repeatable)")
        p.add_argument("--family", action="append", help="only these families (repeatable; default: all, pooled)")
        p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("optimum", help="the optimal teacher per student")
    results_args(p)
    p.set_defaults(func=cmd_optimum)

    p = sub.add_parser("law", help="fit the law of capacity gap T*(S)")
    results_args(p)
    p.add_argument("--form", choices=["linear", "proportional", "power"], default="linear")
    p.add_argument("--weights", choices=["auto", "ci", "none"], default="auto",
                   help="ci: WLS weighted by the optima's intervals; none: OLS; auto (default): ci when the optima "
                        "have intervals, else none. In simulations the weighted slope interval covered the truth "
                        "far more often (see README)")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="also run N resamples of the whole pipeline (runs -> optima -> law)")
    p.set_defaults(func=cmd_law)

    p = sub.add_parser("whatif", help="which teacher for a student of a given size")
    results_args(p, optional=True)
    p.add_argument("--reported", action="store_true", help="use the law as reported (Zhang et al.)")
    p.add_argument("--student", required=True, help="student size, e.g. 1.3B")
    p.add_argument("--form", choices=["linear", "proportional", "power"], default="linear")
    p.add_argument("--top", type=int, default=8, help="how many real checkpoints to list")
    p.set_defaults(func=cmd_whatif)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
