"""`python -m eval_runs.jobs ...`: the jobs CLI on its own (the same commands as `python -m eval_runs jobs`)."""
import sys

from eval_runs.jobs import main

sys.exit(main())
