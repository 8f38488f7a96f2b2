"""Runs page: launch a sweep (a preset or a custom grid), one distillation or an lm-eval run, locally or on Slurm;
follow the jobs (live progress, a sweep's cells, log tail), cancel them, resume a stopped sweep, and use what
finished.

Jobs run `python -m eval_runs ...` in the background (eval_runs.jobs): they outlive the page, and a restarted app
finds them in the workspace. A finished sweep becomes a dataset in the sidebar ("Sweep: <name>"), a finished
lm-eval run joins the Benchmarks page. This page imports no torch: the engine runs in the job's own process. The
forms are in app/runs_forms.py, the jobs panel in app/runs_jobs.py.
"""
from __future__ import annotations

import streamlit as st

from app.display import code
from app.guard import guarded
from app.runs_forms import launch_section
from app.runs_jobs import jobs_panel
from eval_runs.workspace import workspace_root

st.title("Runs")
st.markdown("Launch distillation sweeps and lm-eval runs and follow them here. Jobs keep running when you leave "
            "the page; finished sweeps appear as datasets in the sidebar (**Sweep: name**), finished lm-eval runs on "
            "the **Benchmarks** page.")
st.caption(f"Workspace: {code(workspace_root())} (the environment variable CAPGAP_HOME moves it)")

st.header("Launch")
with guarded("draw the launch form"):
    launch_section()

st.header("Jobs")
jobs_panel()
