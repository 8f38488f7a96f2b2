"""The Runs page's jobs panel: the jobs table (a fanned-out sweep's cell jobs shown under their sweep), the chosen
job's details (status, log, cancel, resume, use the result) and a sweep's cells."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import runs_data, settings
from app.display import code, empty_state, md
from app.guard import describe_error, guarded
from eval_runs.jobs import cancel_job, list_jobs, read_log, submit_job
from eval_runs.workspace import workspace_root

POLL_SECONDS = 2.0  # how often the jobs table refreshes itself (a fragment; the rest of the page stays put)
RESUMABLE = ("failed", "cancelled")  # a stopped sweep resumes: finished runs are skipped, the rest resume


def jobs_table(jobs) -> pd.DataFrame:
    return pd.DataFrame([{"job": j.job_id, "what": j.label, "status": j.status,
                          "progress": 1.0 if j.status == "succeeded" else j.progress,
                          "executor": j.executor, "started": j.started_at or "", "finished": j.finished_at or ""}
                         for j in reversed(jobs)])  # newest first


def _resume(job) -> None:
    from eval_runs.jobs.registry import JobRegistry

    spec = JobRegistry(workspace_root()).spec(job.job_id)
    try:
        runs_data.check_not_running(spec.argv, list_jobs())
        new_id = submit_job(list(spec.argv), executor=spec.executor, slurm=spec.slurm, module=spec.module)
    except ValueError as error:
        st.error(f"Not resumed: {md(describe_error(error))}", icon=":material/error:")
        return
    settings.assign("job", new_id)
    st.rerun()  # the whole page: a fragment-only rerun is refused outside fragment reruns


def _use_sweep(name: str) -> None:
    """Make the sweep the active dataset (as the Data page does for an upload) and open the Law page."""
    settings.assign("data", f"{runs_data.SWEEP_PREFIX}{name}")
    for k in ("map", "unit", "hib", "fam", "tok", "metric"):
        settings.assign(k, None)
    st.switch_page("views/law.py")


def sweep_cells(name: str) -> None:
    """A fanned-out sweep's cells: what each is, its state, how often it was submitted, its job's last message."""
    cells = runs_data.sweep_cells_table(name)
    if cells is None:
        return
    st.caption(f"Cells of sweep {md(name)}: a teacher, then its students per budget and seed (one job each).")
    st.dataframe(cells, hide_index=True, width="stretch", key="cells_table")
    jobs = {c: j for c, j in zip(cells["cell"], cells["job"]) if j}
    if jobs:
        cell = st.selectbox("A cell's log", list(jobs), key=f"cell_log_{name}")
        st.code("\n".join(read_log(None, jobs[cell]).splitlines()[-20:]) or "(no output yet)", language=None)


def job_details(job) -> None:
    c = st.columns(4)
    c[0].metric("Status", job.status)
    c[1].metric("Progress", "—" if job.progress is None else f"{100 * job.progress:.0f}%")
    c[2].metric("Process", str(job.pid or job.external_id or "—"))
    c[3].metric("Exit code", "—" if job.exit_code is None else str(job.exit_code))
    if job.message:
        (st.error if job.status == "failed" else st.info)(job.message)
    st.caption(f"{code('python -m ' + job.module + ' ' + ' '.join(job.argv))} · executor {md(job.executor)}")
    sweep = job.name if job.kind == "sweep" else None
    if sweep:
        sweep_cells(sweep)
    st.code(job.log_tail or "(no output yet)", language=None)
    with st.expander("Whole log"):
        lines = read_log(None, job.job_id).splitlines()
        st.code("\n".join(lines[-500:]) or "(empty)", language=None)
        if len(lines) > 500:
            st.caption(f"The last 500 of {len(lines):,} lines (the file: {code(str(job.job_dir) + '/log.txt')}).")
    if job.result_paths:
        st.caption("Results: " + ", ".join(code(p) for p in job.result_paths))
    b = st.columns(4)
    if not job.finished and b[0].button("Cancel", key=f"cancel_{job.job_id}", icon=":material/stop:"):
        cancel_job(None, job.job_id)
        st.rerun()  # the whole page: a fragment-only rerun is refused outside fragment reruns
    if sweep and job.status in RESUMABLE and b[1].button("Resume", key=f"resume_{job.job_id}",
                                                         icon=":material/replay:",
                                                         help="Submit the same sweep again: finished runs are "
                                                              "skipped, interrupted ones resume."):
        _resume(job)
    if sweep and job.status == "succeeded" and any(s.name == sweep for s in runs_data.finished_sweeps()):
        if b[2].button("Analyse on the Law page", key=f"use_{job.job_id}", icon=":material/show_chart:"):
            _use_sweep(sweep)
    if job.kind == "lmeval" and job.status == "succeeded":
        if b[2].button("Open Benchmarks", key=f"bench_{job.job_id}", icon=":material/leaderboard:"):
            st.switch_page("views/benchmarks.py")


@st.fragment(run_every=POLL_SECONDS)
def jobs_panel() -> None:
    """The jobs table and the chosen job, redrawn every POLL_SECONDS; a job that just finished reruns the whole app
    so the sidebar lists its sweep."""
    with guarded("list the jobs"):
        every = list_jobs()
        finished = {j.job_id for j in every if j.finished}
        seen = st.session_state.get("_runs_finished_jobs")
        st.session_state["_runs_finished_jobs"] = finished
        if seen is not None and finished - seen:
            st.rerun(scope="app")
        jobs = [j for j in every if j.kind != "sweep-cell"]  # shown with their sweep
        if not jobs:
            empty_state("No jobs yet: launch a sweep, a distillation or an lm-eval run above.")
            return
        n_active = sum(not j.finished for j in every)
        n_cells = len(every) - len(jobs)
        st.caption(f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}"
                   + (f" (and {n_cells} sweep cell jobs, shown under their sweep)" if n_cells else "")
                   + f", {n_active} queued or running · refreshed every {POLL_SECONDS:g} s")
        st.dataframe(jobs_table(jobs), hide_index=True, width="stretch", key="jobs_table",
                     column_config={"progress": st.column_config.ProgressColumn("progress", min_value=0.0,
                                                                                max_value=1.0, format="percent")})
        by_id = {j.job_id: j for j in jobs}
        ids = list(reversed(by_id))
        job_id = settings.choice("Job", ids, key="job", default=ids[0],
                                 format_func=lambda i: f"{i} · {by_id[i].label} · {by_id[i].status}")
        job_details(by_id[job_id])
