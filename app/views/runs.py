"""Runs page: launch a sweep (a preset or a custom grid), one distillation or an lm-eval run, locally or on Slurm;
follow the jobs (live progress, log tail), cancel them, resume a stopped sweep, and use what finished.

Jobs run `python -m eval_runs ...` in the background (eval_runs.jobs): they outlive the page, and a restarted app
finds them in the workspace. A finished sweep becomes a dataset in the sidebar ("Sweep: <name>"), a finished
lm-eval run joins the Benchmarks page. This page imports no torch: the engine runs in the job's own process.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app import runs_data, settings
from app.display import code, empty_state, md
from app.guard import describe_error, guarded
from eval_runs.jobs import cancel_job, list_jobs, read_log, submit_job
from eval_runs.lmeval.run import BUNDLED_TASKS
from eval_runs.workspace import workspace_root

POLL_SECONDS = 2.0  # how often the jobs table refreshes itself (a fragment; the rest of the page stays put)
TYPED = "(type a path)"
KINDS = {"sweep": "Sweep", "distill": "One distillation", "lmeval": "lm-eval run"}
PRESET_NOTES = {"cpu-tiny": "2 teachers × 1 student, ~2 minutes on 2 CPU cores: a first try",
                "cpu-small": "5 teachers × 2 students × 2 budgets, ~1 hour on 2 CPU cores",
                "gpu-small": "4 teachers × 2 students × 2 budgets, aimed at ~8 minutes on one GPU (device cuda)"}
RESUMABLE = ("failed", "cancelled")  # a stopped sweep resumes: the engine skips finished runs, resumes the rest

st.title("Runs")
st.markdown("Launch distillation sweeps and lm-eval runs and follow them here. Jobs keep running when you leave "
            "the page; finished sweeps appear as datasets in the sidebar (**Sweep: name**), finished lm-eval runs on "
            "the **Benchmarks** page.")
st.caption(f"Workspace: {code(workspace_root())} (the environment variable CAPGAP_HOME moves it)")


# ------------------------------------------------------------------------------------------ launching
def _launch(make_argv, executor: str, slurm: dict | None) -> None:
    """Build the argv from the form (ValueError: the form's message), submit it, select the new job."""
    try:
        argv = make_argv()
        runs_data.check_not_running(argv, list_jobs())
        job_id = submit_job(argv, executor=executor, slurm=slurm)
    except ValueError as error:  # the form's checks and JobSpecError (paths, subcommand, executor)
        st.error(f"Not launched: {md(describe_error(error))}", icon=":material/error:")
        return
    st.success(f"Launched job {md(job_id)}: {md(' '.join(argv[:3]))} … (follow it in the table below)",
               icon=":material/rocket_launch:")
    settings.assign("job", job_id)


def _executor_options() -> tuple[str, dict | None]:
    """Where the job runs: local (a background process here) or Slurm (through submitit)."""
    c = st.columns([1, 2, 1, 1, 2])
    executor = settings.choice("Executor", ["local", "slurm"], key="r_exec", default="local", container=c[0],
                               help="local: a background process on this machine. slurm: a cluster job through "
                                    "submitit (needs sbatch on this machine).")
    if executor == "local":
        return executor, None
    slurm = {"partition": settings.text("Partition", key="r_part", container=c[1], placeholder="cluster default"),
             "gpus_per_node": settings.number("GPUs", key="r_gpus", default=0, min_value=0, max_value=16,
                                              container=c[2]),
             "timeout_min": settings.number("Time limit (min)", key="r_tmin", default=60, min_value=1,
                                            max_value=7 * 24 * 60, container=c[3]),
             "account": settings.text("Account", key="r_acct", container=c[4], placeholder="your default")}
    return executor, {k: v.strip() if isinstance(v, str) else v for k, v in slurm.items()}


def _model_picker(label: str, key: str) -> str:
    """A finished model folder of the workspace, or a typed path to any local Hugging Face folder."""
    models = {m.path: m.label for m in runs_data.finished_models()}
    options = list(models) + [TYPED]
    pick = settings.choice(label, options, key=key, default=options[0],
                           format_func=lambda p: models.get(p, p),
                           help="Model folders of finished runs in this workspace, or any local Hugging Face "
                                "folder (config.json, weights and tokenizer).")
    if pick == TYPED:
        return settings.text(f"{label}: path", key=f"{key}_path", placeholder="/path/to/hf-model-folder")
    return pick


def sweep_form() -> None:
    mode = settings.choice("Grid", ["preset", "custom"], key="r_mode", default="preset", widget="radio",
                           horizontal=True, format_func={"preset": "a preset", "custom": "a custom grid"}.get)
    if mode == "preset":
        c = st.columns([1, 3])
        preset = settings.choice("Preset", list(runs_data.PRESET_NAMES), key="r_preset", container=c[0])
        c[1].caption(PRESET_NOTES[preset])
        grid = None
    else:
        c = st.columns(3)
        name = settings.text("Sweep name", key="r_name", default="my-sweep", container=c[0],
                             help="Its folder under <workspace>/sweeps/ and its dataset name.")
        family = settings.choice("Family", list(runs_data.FAMILIES), key="r_family", container=c[1])
        c[2].caption("Sizes are parameter counts: 100K, 1.3M or 1300000; several separated by spaces or commas.")
        c = st.columns(3)
        students = settings.text("Student sizes", key="r_students", default="100K", container=c[0])
        teachers = settings.text("Teacher sizes", key="r_teachers", default="150K 300K", container=c[1])
        tokens = settings.text("Distillation tokens", key="r_tokens", default="40K", container=c[2],
                               help="Distillation budgets (a sweep axis: the optimum moves with it).")
        with st.expander("Training details (empty or 0 keeps the engine's default)"):
            d = st.columns(4)
            grid_details = dict(
                teacher_tokens=settings.text("Teacher tokens", key="r_ttok", container=d[0],
                                             help="Pretraining tokens per teacher (default 2M)."),
                seeds=settings.text("Seeds", key="r_seeds", default="0", container=d[1]),
                eval_tokens=settings.text("Evaluation tokens", key="r_etok", container=d[2]),
                corpus_max_bytes=settings.text("Corpus bytes (cap)", key="r_cbytes", container=d[3],
                                               help="Cap on the default corpus (Python's own sources, ~13 MB)."),
                vocab_size=settings.number("Vocabulary", key="r_vocab", default=0, min_value=0, max_value=262_144,
                                           container=d[0]),
                seq_len=settings.number("Sequence length", key="r_seq", default=0, min_value=0, max_value=32_768,
                                        container=d[1]),
                batch_size=settings.number("Batch size", key="r_batch", default=0, min_value=0, max_value=4096,
                                           container=d[2]),
                threads=settings.number("CPU threads", key="r_threads", default=1, min_value=0, max_value=256,
                                        container=d[3], help="torch threads; 0 = all cores."),
                importance=settings.choice("Pruning importance", ["gradient", "magnitude"], key="r_imp",
                                           container=d[0]),
                random_init_baseline=settings.flag("Random-init baseline", key="r_rib", default=True,
                                                   container=d[1]))
        grid = runs_data.GridForm(name=name, family=family, student_params=students, teacher_params=teachers,
                                  data_tokens=tokens, **grid_details)
    device = settings.choice("Device", list(runs_data.DEVICES), key="r_device", default="cpu")
    executor, slurm = _executor_options()
    if st.button("Launch sweep", key="launch_sweep", type="primary", icon=":material/rocket_launch:"):
        _launch(lambda: runs_data.preset_argv(preset, device) if grid is None else runs_data.grid_argv(grid, device),
                executor, slurm)


def distill_form() -> None:
    st.caption("Prune a teacher to the student size, distil it and evaluate it: a one-pair sweep, whose row joins "
               "the datasets like any sweep's.")
    teacher = _model_picker("Teacher", "r_teacher")
    c = st.columns(3)
    student = settings.text("Student size", key="r_dstudent", default="50K", container=c[0])
    tokens = settings.text("Distillation tokens", key="r_dtokens", default="40K", container=c[1])
    name = settings.text("Run name", key="r_dname", container=c[2], placeholder="distill-<teacher>-<size>")
    device = settings.choice("Device", list(runs_data.DEVICES), key="r_ddevice", default="cpu")
    executor, slurm = _executor_options()

    def argv():
        default = f"distill-{Path(teacher.strip() or 'teacher').parent.name or 'teacher'}-{student.strip()}"
        run_name = name.strip() or "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in default)[:64]
        return runs_data.distill_argv(teacher, student, tokens, run_name, device)

    if st.button("Launch distillation", key="launch_distill", type="primary", icon=":material/rocket_launch:"):
        _launch(argv, executor, slurm)


def lmeval_form() -> None:
    st.caption("Evaluate a model folder offline with lm-eval on the bundled local tasks; the results join the "
               "Benchmarks page.")
    model = _model_picker("Model", "r_model")
    c = st.columns(3)
    tasks = settings.choices("Tasks", list(BUNDLED_TASKS), key="r_tasks", container=c[0])
    limit = settings.number("Documents per task (0 = all)", key="r_limit", default=50, min_value=0,
                            max_value=1_000_000, container=c[1])
    shots = settings.number("Few-shot examples (-1 = the task's own)", key="r_shots", default=-1, min_value=-1,
                            max_value=64, container=c[2])
    device = settings.choice("Device", list(runs_data.DEVICES), key="r_ldevice", default="cpu")
    executor, slurm = _executor_options()
    if st.button("Launch lm-eval", key="launch_lmeval", type="primary", icon=":material/rocket_launch:"):
        _launch(lambda: runs_data.lmeval_argv(model, tasks, limit=limit, num_fewshot=None if shots < 0 else shots,
                                              device=device), executor, slurm)


st.header("Launch")
with guarded("draw the launch form"):
    kind = settings.choice("What to run", list(KINDS), key="r_kind", default="sweep", widget="radio",
                           horizontal=True, format_func=KINDS.get)
    with st.container(border=True):
        {"sweep": sweep_form, "distill": distill_form, "lmeval": lmeval_form}[kind]()


# ------------------------------------------------------------------------------------------ jobs
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


def job_details(job) -> None:
    c = st.columns(4)
    c[0].metric("Status", job.status)
    c[1].metric("Progress", "—" if job.progress is None else f"{100 * job.progress:.0f}%")
    c[2].metric("Process", str(job.pid or job.external_id or "—"))
    c[3].metric("Exit code", "—" if job.exit_code is None else str(job.exit_code))
    if job.message:
        (st.error if job.status == "failed" else st.info)(job.message)
    st.caption(f"{code('python -m ' + job.module + ' ' + ' '.join(job.argv))} · executor {md(job.executor)}")
    st.code(job.log_tail or "(no output yet)", language=None)
    with st.expander("Whole log"):
        lines = read_log(None, job.job_id).splitlines()
        st.code("\n".join(lines[-500:]) or "(empty)", language=None)
        if len(lines) > 500:
            st.caption(f"The last 500 of {len(lines):,} lines (the file: {code(str(job.job_dir) + '/log.txt')}).")
    if job.result_paths:
        st.caption("Results: " + ", ".join(code(p) for p in job.result_paths))
    b = st.columns(4)
    sweep = job.name if job.kind == "sweep" else None
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
    if job.argv[:1] == ("lmeval",) and job.status == "succeeded":
        if b[2].button("Open Benchmarks", key=f"bench_{job.job_id}", icon=":material/leaderboard:"):
            st.switch_page("views/benchmarks.py")


@st.fragment(run_every=POLL_SECONDS)
def jobs_panel() -> None:
    """The jobs table and the chosen job, redrawn every POLL_SECONDS; a job that just finished reruns the whole app
    so the sidebar lists its sweep."""
    with guarded("list the jobs"):
        jobs = list_jobs()
        finished = {j.job_id for j in jobs if j.finished}
        seen = st.session_state.get("_runs_finished_jobs")
        st.session_state["_runs_finished_jobs"] = finished
        if seen is not None and finished - seen:
            st.rerun(scope="app")
        if not jobs:
            empty_state("No jobs yet: launch a sweep, a distillation or an lm-eval run above.")
            return
        n_active = sum(not j.finished for j in jobs)
        st.caption(f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}, {n_active} queued or running · "
                   f"refreshed every {POLL_SECONDS:g} s")
        st.dataframe(jobs_table(jobs), hide_index=True, width="stretch", key="jobs_table",
                     column_config={"progress": st.column_config.ProgressColumn("progress", min_value=0.0,
                                                                                max_value=1.0, format="percent")})
        by_id = {j.job_id: j for j in jobs}
        ids = list(reversed(by_id))
        job_id = settings.choice("Job", ids, key="job", default=ids[0],
                                 format_func=lambda i: f"{i} · {by_id[i].label} · {by_id[i].status}")
        job_details(by_id[job_id])


st.header("Jobs")
jobs_panel()
