"""eval_runs: everything that trains or evaluates a model, and the workspace where runs and uploads live.

Importing the package is light (no torch): heavy modules import torch themselves, so the app can use
`eval_runs.workspace` without loading it. CLI: `python -m eval_runs --help`.
"""
