"""The Runs page's launch forms: a sweep (a preset or a custom grid), one distillation, an lm-eval run; each builds a
typed launch (app.runs_data -> eval_runs.jobs.launch) and submits it, locally or on Slurm."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import runs_data, settings
from app.display import md
from app.guard import describe_error
from eval_runs.jobs import list_jobs
from eval_runs.jobs.launch import DEVICES, submit_launch
from eval_runs.lmeval.run import BUNDLED_TASKS
from eval_runs.models import FAMILIES
from eval_runs.jobs.spec import EXECUTORS
from eval_runs.sweep_plan import IMPORTANCE_METHODS, PRESET_NOTES, PRESETS

TYPED = "(type a path)"
KINDS = {"sweep": "Sweep", "distill": "One distillation", "lmeval": "lm-eval run"}


def _launch(make_launch, executor: str, slurm: dict | None, max_parallel: int = 1) -> None:
    """Build the launch from the form (ValueError: the form's message), submit it, select the new job."""
    try:
        launch, job_executor, job_slurm = runs_data.with_executor(make_launch(), executor, slurm, max_parallel)
        runs_data.check_not_running(launch, list_jobs())
        job_id = submit_launch(launch, executor=job_executor, slurm=job_slurm)
    except ValueError as error:  # the form's checks and JobSpecError (paths, subcommand, executor)
        st.error(f"Not launched: {md(describe_error(error))}", icon=":material/error:")
        return
    st.success(f"Launched job {md(job_id)} (follow it in the table below)", icon=":material/rocket_launch:")
    settings.assign("job", job_id)


def _executor_options(sweep: bool = False) -> tuple[str, dict | None, int]:
    """Where the job runs (local: a background process here; slurm: through submitit) and, for a sweep, how many
    of its cells run at once."""
    c = st.columns([1, 2, 1, 1, 2])
    executor = settings.choice("Executor", list(EXECUTORS), key="r_exec", default="local", container=c[0],
                               help="local: background processes on this machine. slurm: cluster jobs through "
                                    "submitit (needs sbatch here); a sweep runs one job per cell.")
    parallel = 1
    if sweep:
        parallel = settings.number("Cells at once", key="r_par", default=1, min_value=1, max_value=1000,
                                   help="A sweep's cells (a teacher; a teacher's students per budget and seed) "
                                        "queued or running at once; 1 runs it in one process.")
    if executor == "local":
        return executor, None, parallel
    slurm = {"partition": settings.text("Partition", key="r_part", container=c[1], placeholder="cluster default"),
             "gpus_per_node": settings.number("GPUs", key="r_gpus", default=0, min_value=0, max_value=16,
                                              container=c[2]),
             "timeout_min": settings.number("Time limit (min)", key="r_tmin", default=60, min_value=1,
                                            max_value=7 * 24 * 60, container=c[3]),
             "account": settings.text("Account", key="r_acct", container=c[4], placeholder="your default")}
    return executor, {k: v.strip() if isinstance(v, str) else v for k, v in slurm.items()}, parallel


def _model_picker(label: str, key: str, hub: bool = False) -> str:
    """A finished model folder of the workspace, or a typed path (or, for a teacher, a Hugging Face hub id)."""
    models = {m.path: m.label for m in runs_data.finished_models()}
    options = list(models) + [TYPED]
    pick = settings.choice(label, options, key=key, default=options[0], format_func=lambda p: models.get(p, p),
                           help="Model folders of finished runs in this workspace, or any local Hugging Face "
                                "folder" + (" or hub id (downloaded when online)" if hub else "") + ".")
    if pick == TYPED:
        return settings.text(f"{label}: path" + (" or hub id" if hub else ""), key=f"{key}_path",
                             placeholder="/path/to/hf-model-folder" + (" or EleutherAI/pythia-160m" if hub else ""))
    return pick


def sweep_form() -> None:
    mode = settings.choice("Grid", ["preset", "custom"], key="r_mode", default="preset", widget="radio",
                           horizontal=True, format_func={"preset": "a preset", "custom": "a custom grid"}.get)
    if mode == "preset":
        c = st.columns([1, 3])
        preset = settings.choice("Preset", list(PRESETS), key="r_preset", container=c[0])
        c[1].caption(PRESET_NOTES[preset])
        grid = None
    else:
        grid = _grid_form()
    device = settings.choice("Device", list(DEVICES), key="r_device", default="cpu")
    executor, slurm, parallel = _executor_options(sweep=True)
    if st.button("Launch sweep", key="launch_sweep", type="primary", icon=":material/rocket_launch:"):
        _launch(lambda: runs_data.preset_launch(preset, device) if grid is None else
                runs_data.grid_launch(grid, device), executor, slurm, parallel)


def _grid_form() -> runs_data.GridForm:
    c = st.columns(3)
    name = settings.text("Sweep name", key="r_name", default="my-sweep", container=c[0],
                         help="Its folder under <workspace>/sweeps/ and its dataset name.")
    family = settings.choice("Family", list(FAMILIES), key="r_family", container=c[1])
    c[2].caption("Sizes are parameter counts: 100K, 1.3M or 1300000; several separated by spaces or commas.")
    c = st.columns(3)
    students = settings.text("Student sizes", key="r_students", default="100K", container=c[0])
    teachers = settings.text("Teacher sizes", key="r_teachers", default="150K 300K", container=c[1])
    tokens = settings.text("Distillation tokens", key="r_tokens", default="40K", container=c[2],
                           help="Distillation budgets (a sweep axis: the optimum moves with it).")
    with st.expander("Training details (empty or 0 keeps the engine's default)"):
        d = st.columns(4)
        details = dict(
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
            importance=settings.choice("Pruning importance", list(IMPORTANCE_METHODS), key="r_imp",
                                       container=d[0]),
            random_init_baseline=settings.flag("Random-init baseline", key="r_rib", default=True, container=d[1]))
    return runs_data.GridForm(name=name, family=family, student_params=students, teacher_params=teachers,
                              data_tokens=tokens, **details)


def distill_form() -> None:
    st.caption("Prune a teacher to the student size, distil it and evaluate it: a one-pair sweep, whose row joins "
               "the datasets like any sweep's. The teacher may be a Hugging Face hub id (EleutherAI/pythia-160m).")
    teacher = _model_picker("Teacher", "r_teacher", hub=True)
    c = st.columns(3)
    student = settings.text("Student size", key="r_dstudent", default="50K", container=c[0])
    tokens = settings.text("Distillation tokens", key="r_dtokens", default="40K", container=c[1])
    name = settings.text("Run name", key="r_dname", container=c[2], placeholder="distill-<teacher>-<size>")
    device = settings.choice("Device", list(DEVICES), key="r_ddevice", default="cpu")
    executor, slurm, _ = _executor_options()

    def launch():
        folder = Path(teacher.strip() or "teacher")
        default = f"distill-{(folder.parent.name if folder.name == 'model' else folder.name) or 'teacher'}-{student}"
        run_name = name.strip() or "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in default)[:64]
        return runs_data.distill_launch(teacher, student, tokens, run_name, device)

    if st.button("Launch distillation", key="launch_distill", type="primary", icon=":material/rocket_launch:"):
        _launch(launch, executor, slurm)


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
    device = settings.choice("Device", list(DEVICES), key="r_ldevice", default="cpu")
    executor, slurm, _ = _executor_options()
    if st.button("Launch lm-eval", key="launch_lmeval", type="primary", icon=":material/rocket_launch:"):
        _launch(lambda: runs_data.LmevalLaunch(model, tuple(tasks), limit=int(limit), device=device,
                                               num_fewshot=None if shots < 0 else int(shots)), executor, slurm)


def launch_section() -> None:
    kind = settings.choice("What to run", list(KINDS), key="r_kind", default="sweep", widget="radio",
                           horizontal=True, format_func=KINDS.get)
    with st.container(border=True):
        {"sweep": sweep_form, "distill": distill_form, "lmeval": lmeval_form}[kind]()
