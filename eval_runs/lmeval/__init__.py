"""lm-eval runs: a model folder evaluated with lm-evaluation-harness on the bundled task folder (tasks/) or the
user's own, results written where the Benchmarks page finds them. run.py holds the code; the CLI is
`python -m eval_runs lmeval` (and a job of the runner)."""
