"""The job runner's test command at its path before eval_runs.jobs: job records and queued Slurm jobs name it.

    python -m eval_runs.job_probe ...   (the same as python -m eval_runs.jobs.probe ...)
"""
import sys

from eval_runs.jobs.probe import main

if __name__ == "__main__":
    sys.exit(main())
