"""analysis: distillation results and benchmark results -> optimal teachers -> the law of capacity gap -> figures.

Pure data and statistics: no torch, no Streamlit, no eval_runs (tests/test_imports.py proves it).
Modules, one concept each:
  sizes          parse "1.3B" / format 1_300_000_000 parameter counts
  results_io     load and validate distillation results (the contract in DESIGN.md)
  lmeval_import  read lm-eval results JSON of every layout 0.3 - 0.4.x into the benchmark table
  benchmarks     the benchmark table contract, the bundled MiniMA table, model comparisons
  benchmark_upload  an uploaded benchmark file (lm-eval JSON, zip of an output folder, CSV) -> the table
  samples_io     read lm-eval per-sample logs (0.3 write_out, 0.4.x samples_<task>_<date>.jsonl; folders, zips)
  paired         paired comparisons on the same documents: McNemar, paired t / bootstrap, clusters, power
  paired_report  the paired table beside the unpaired one, the power sentence, the CLI text, the forest plot
  simulate       planted-law simulated distillation results (the bundled stand-in dataset, tests, benches)
  optimum        the optimal teacher per student: best teacher, the teachers tied with it, the grid interval
  collapse       the one-stage law fit of every curve at once (curve collapse), the default law
  law            the law per (family, data_tokens); the paper's two-stage fit, its pipeline bootstrap; slope tests
  fit_text       how a fit shows itself (one-line repr, HTML table, number formats)
  caveats        Warning subclasses for statistical caveats shown to users
  reported_law   the law as reported by Zhang et al. (ACL 2025)
  catalog        real checkpoints and their parameter counts; ranking teachers for a student
  whatif         S -> T*, T -> S, with candidates from the catalog
  figures        plotly figures (pure functions)
  distill_law    Busbridge et al.'s distillation scaling law (Eq. 8): robust fit, bootstrap intervals, held-out error
  teacher_quality  the teachers' own scores, their size -> loss curve, too strong vs not better
  law_compare    both laws side by side per student, held-out regrets, the what-if from each
  teacher_figures  plotly figures of the second lens
  atomic_io      atomic file writes
  json_safe      JSON-ready numbers (None for NaN) for every to_dict and --json output
  json_io        the depth-limited JSON parser every reader uses
  csv_safe       CSV cells a spreadsheet would run, neutralised
  safe_zip       the checks every reader of an uploaded zip makes (member count, unsafe paths)
CLI: `python -m analysis --help`.

The names a notebook needs are importable from here (loaded on first use, so `import analysis` stays light):

    from analysis import load_results, find_optima, fit_laws, fit_collapse, fit_law, what_if
    from analysis import read_samples, compare_runs       # paired comparisons from lm-eval per-sample logs
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it (the one list of the library's surface)
_PUBLIC = {
    "load_results": ("results_io", "load_distillation_results"),
    "load_distillation_results": ("results_io", "load_distillation_results"),
    "load_example_results": ("results_io", "load_example_results"),
    "DataError": ("results_io", "DataError"),
    "find_optima": ("optimum", "find_optima"),
    "fit_laws": ("law", "fit_laws"),
    "fit_law": ("law", "fit_law"),
    "compare_forms": ("law", "compare_forms"),
    "bootstrap_law": ("law", "bootstrap_law"),
    "slope_difference_test": ("law", "slope_difference_test"),
    "fit_collapse": ("collapse", "fit_collapse"),
    "compare_collapse_forms": ("collapse", "compare_collapse_forms"),
    "LawRefused": ("collapse", "LawRefused"),
    "what_if": ("whatif", "whatif"),  # not "whatif": that name is the module analysis.whatif
    "best_served_student": ("whatif", "best_served_student"),
    "load_reported_law": ("reported_law", "load_reported_law"),
    "load_catalog": ("catalog", "load_catalog"),
    "simulate_distillation": ("simulate", "simulate_distillation"),
    "simulate_distill_scaling": ("simulate", "simulate_distill_scaling"),
    "fit_distill_law": ("distill_law", "fit_distill_law"),
    "DistillLawRefused": ("distill_law", "DistillLawRefused"),
    "compare_laws": ("law_compare", "compare_laws"),
    "diagnose_teachers": ("teacher_quality", "diagnose_teachers"),
    "import_lmeval": ("lmeval_import", "import_lmeval"),
    "read_samples": ("samples_io", "read_samples"),
    "compare_runs": ("paired", "compare_runs"),
    "compare_many": ("paired", "compare_many"),
    "paired_stats": ("paired", "paired_stats"),
    "documents_needed": ("paired", "documents_needed"),
    "forest_figure": ("paired_report", "forest_figure"),
    "parse_size": ("sizes", "parse_size"),
    "format_size": ("sizes", "format_size"),
    "figures": ("figures", None),
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    module_name, attr = _PUBLIC[name]
    module = importlib.import_module(f"analysis.{module_name}")
    return module if attr is None else getattr(module, attr)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
