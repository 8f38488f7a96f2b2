"""eval_runs: everything that trains or evaluates a model, and the workspace where runs and uploads live.

Importing the package is light (no torch): heavy modules import torch themselves, so the app can use
`eval_runs.workspace` without loading it. CLI: `python -m eval_runs --help`.

Three roles, one place each:

  the engine (flat, one concept per module)
    models        model families and shapes from a parameter budget       tokenizer    local BPE tokenizers
    corpus        offline text corpora                                    token_data   tokenised, cached corpora
    prune         structured pruning (gradient / magnitude importance)    kd_loss      the distillation loss
    train_loop    training with checkpoints and resume                    evaluate     held-out loss, bits/byte
    pipeline      pretrain / prune / distil / evaluate stages             sweep        a sweep, in one process
    sweep_plan    what a sweep is (plan, presets, pairs)                  sweep_cells  a sweep cut into cells
    checkpoints   teachers from local folders or Hugging Face hub ids
    devices, distributed   CPU/GPU settings, multi-GPU                    results      a workspace's rows -> CSV
    run_folder    one run's folder (spec, status, log, result)            workspace    the workspace, names, uploads
    cli_options   CLI options built from the config dataclasses
  jobs/      the job runner: spec (what runs, validated), registry (state on disk), worker (runs one job),
             executors (local process, Slurm via submitit), processes (pids, reaping, signals), probe (a test
             command), fanout (a sweep's cells as jobs: dependencies, a parallel limit, requeues), launch (typed
             launches and the one function that makes a job's command); `eval_runs.jobs` is its API and
             `python -m eval_runs jobs` its CLI
  lmeval/    lm-eval runs on a model folder (run.py) and the bundled task folder (tasks/)

(`eval_runs.job_worker` and `eval_runs.job_probe` remain as the old paths job records and queued Slurm jobs name.)
"""
