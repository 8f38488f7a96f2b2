"""The job worker at its path before eval_runs.jobs: a Slurm job queued before the move runs
`python -m eval_runs.job_worker JOB_DIR`, so this path keeps working (it is eval_runs.jobs.worker)."""
import sys

from eval_runs.jobs.worker import main

if __name__ == "__main__":
    sys.exit(main())
