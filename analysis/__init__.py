"""analysis: distillation results and benchmark results -> optimal teachers -> the law of capacity gap -> figures.

Pure data and statistics: no torch, no Streamlit, no eval_runs (tests/test_imports.py proves it).
Modules, one concept each:
  sizes          parse "1.3B" / format 1_300_000_000 parameter counts
  results_io     load and validate distillation results (the contract in DESIGN.md)
  lmeval_import  read lm-eval results JSON of every layout 0.3 - 0.4.x into the benchmark table
  benchmarks     the benchmark table contract, the bundled MiniMA table, model comparisons
  simulate       planted-law simulated distillation results (the bundled stand-in dataset, tests, benches)
  optimum        the optimal teacher per student (argmin / log-parabola vertex, bootstrap CI)
  law            the law fit T*(S) in three forms, its results object and the pipeline bootstrap
  caveats        Warning subclasses for statistical caveats shown to users
  reported_law   the law as reported by Zhang et al. (ACL 2025)
  catalog        real checkpoints and their parameter counts; ranking teachers for a student
  whatif         S -> T*, T -> S, with candidates from the catalog
  figures        plotly figures (pure functions)
  atomic_io      atomic file writes
  json_safe      JSON-ready numbers (None for NaN) for every to_dict and --json output
CLI: `python -m analysis --help`.
"""

__version__ = "0.1.0"
