"""Hostile and careless input, one test per case: what a spreadsheet would run, what the Markdown renderer would
fetch, sizes without units, directions against a metric's name, and decimal commas. (The bad-input corpus of the
app is tests/test_app_bad_input.py.)"""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from app_harness import open_app, texts

def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "analysis", *map(str, args)], capture_output=True, text=True)


def test_a_model_name_that_is_a_spreadsheet_formula_is_neutralised_in_the_csv(tmp_path):
    evil = "=cmd|' /C calc'!A0"
    (tmp_path / "r.json").write_text(json.dumps({
        "results": {"lambada": {"acc": 0.5, "acc_stderr": 0.01}}, "versions": {"lambada": 0},
        "config": {"model_args": f"pretrained={evil}"}}))
    out = tmp_path / "bench.csv"
    proc = run_cli("import-lmeval", tmp_path / "r.json", "--out", out)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out, keep_default_na=False)
    assert table["model"].iloc[0] == "'" + evil  # shown as text by the spreadsheet, not run
    assert float(table["value"].iloc[0]) == 0.5 and not any(str(v).startswith("=") for v in table.iloc[0])
    stdout = run_cli("import-lmeval", tmp_path / "r.json").stdout
    assert "\n'=cmd" in stdout or stdout.startswith("'=") or ",'=cmd" in stdout


def test_negative_numbers_stay_numbers_in_a_safe_csv():
    from analysis.csv_safe import to_safe_csv

    text = to_safe_csv(pd.DataFrame({"name": ["-x", "@y", "ok"], "value": [-0.5, 1.0, 2.0]}))
    assert text.splitlines() == ["name,value", "'-x,-0.5", "'@y,1.0", "ok,2.0"]


@pytest.mark.parametrize("text", ["1.3", "70", "87.5"])
def test_a_size_without_its_unit_is_refused_with_a_hint_in_the_what_if(text):
    proc = run_cli("whatif", "--reported", "--student", text)
    assert proc.returncode == 2 and "is not a model size: write its unit" in proc.stderr
    assert "Traceback" not in proc.stderr and "Real checkpoints" not in proc.stdout


def test_the_reported_law_declines_for_a_student_it_gives_no_positive_teacher():
    from analysis.reported_law import load_reported_law
    from analysis.whatif import whatif

    answer = whatif(2_000_000, law=load_reported_law())  # 2.498 * 2M - 11.5M < 0
    assert answer.declined and answer.candidates.empty and "no positive teacher size" in answer.reason


@pytest.mark.parametrize("text, hint", [("0,125B", "ambiguous: a comma may be a decimal comma"),
                                        ("1,250B", "ambiguous: a comma may be a decimal comma"),
                                        ("1,3B", "write decimals with a dot")])
def test_european_decimal_commas_are_refused_not_misread(text, hint):
    from analysis.sizes import parse_size

    with pytest.raises(ValueError, match=hint):
        parse_size(text)
    assert parse_size("6,700,000") == 6_700_000  # thousands separators still read


@pytest.mark.parametrize("metric, stated, says", [("val_loss", "true", "lower"), ("acc", "false", "higher")])
def test_a_direction_against_the_metrics_name_is_warned_naming_the_column(metric, stated, says):
    from analysis.results_io import load_distillation_results

    text = (f"student_params,teacher_params,metric,value,better_high\n125M,1.3B,{metric},0.5,{stated}\n"
            f"125M,2.6B,{metric},0.6,{stated}\n")
    _, report = load_distillation_results(text.encode(), name="r.csv", column_map={"higher_is_better": "better_high"})
    warning = next(w for w in report.warnings if f"metric {metric!r} is marked" in w)
    assert f"its name says {says} is better" in warning and "column 'better_high'" in warning
    _, report = load_distillation_results(text.replace(f",{stated}", "").replace(",better_high", "").encode(),
                                          name="r.csv", higher_is_better={metric: stated == "true"})
    assert any(f"--higher-is-better {metric}={stated}" in w for w in report.warnings)


DEEP = ("[" * 1000 + "]" * 1000).encode()  # 2 KB, nested 1,000 levels
NEARLY = ('{"results": ' + "[" * 500 + "]" * 500 + "}").encode()  # loads in Python, too deep to walk safely


def good_lmeval(model="pretrained=gpt2") -> str:
    return json.dumps({"results": {"lambada": {"acc": 0.5, "acc_stderr": 0.01}}, "versions": {"lambada": 0},
                       "config": {"model_args": model}})


@pytest.mark.parametrize("deep", [DEEP, NEARLY], ids=["1000 levels", "500 levels"])
def test_a_deep_json_is_a_clean_failure_of_its_own_file_and_the_good_files_beside_it_import(tmp_path, deep):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "results_2024-01-01T00-00-00.json").write_text(good_lmeval())
    (folder / "results_2024-01-02T00-00-00.json").write_bytes(deep)
    out = tmp_path / "bench.csv"
    proc = run_cli("import-lmeval", folder, "--all", "--out", out)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "nested" in proc.stderr
    assert "results_2024-01-02" in proc.stderr
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table["value"]) == [0.5]  # the good file beside it is not lost


def test_a_zip_with_one_deep_member_keeps_its_other_members(tmp_path):
    import zipfile

    path = tmp_path / "out.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("out/m1/results_2024-01-01T00-00-00.json", good_lmeval("pretrained=m1"))
        z.writestr("out/m2/results_2024-01-01T00-00-00.json", DEEP)
    from analysis.lmeval_import import import_lmeval

    result = import_lmeval([path])
    assert set(result.frame["model"]) == {"m1"} and len(result.failures) == 1
    assert "nested" in str(result.failures[0])


@pytest.mark.parametrize("name", ["deep.json", "deep.jsonl"])
def test_a_deep_results_file_is_refused_with_a_message_not_a_recursion_error(name):
    from analysis.results_io import DataError, load_distillation_results

    if name.endswith(".json"):
        with pytest.raises(DataError, match="nested"):
            load_distillation_results(DEEP, name=name)
        return
    good = b'{"student_params": "125M", "teacher_params": "1B", "metric": "val_loss", "value": 3.0}\n'
    frame, report = load_distillation_results(good + DEEP + b"\n", name=name)
    assert len(frame) == 1 and report.dropped[0].row == 2 and "nested" in report.dropped[0].reason


def test_the_workspace_own_records_refuse_a_deep_json_cleanly(tmp_path):
    from analysis.json_io import JsonError, read_json

    (tmp_path / "spec.json").write_bytes(DEEP)
    with pytest.raises(JsonError, match="spec.json: the JSON is nested too deeply"):
        read_json(tmp_path / "spec.json")


# ---------------------------------------------------------------------------------------------- jobs and names
INJECTION = "proj\nrm -rf ~"


@pytest.mark.parametrize("field", ["account", "partition"])
def test_a_newline_in_a_slurm_field_never_reaches_the_batch_script(tmp_path, field, monkeypatch):
    import submitit.slurm.slurm

    from eval_runs.jobs.executors import SlurmExecutor
    from eval_runs.jobs.spec import JobSpec, JobSpecError, SlurmOptions, build_job_spec

    with pytest.raises(JobSpecError, match=f"slurm {field}"):
        build_job_spec(["sweep", "--preset", "cpu-tiny"], workspace=tmp_path, executor="slurm",
                       slurm={field: INJECTION})
    # a spec written to disk by hand is checked again when read (the runner never trusts its own files)
    good = build_job_spec(["sweep", "--preset", "cpu-tiny"], workspace=tmp_path, executor="slurm",
                          slurm={field: "proj"}).to_dict()
    good["slurm"][field] = INJECTION
    with pytest.raises(JobSpecError):
        JobSpec.from_dict(good)
    # what a valid value becomes: one #SBATCH line and nothing else
    monkeypatch.setattr(submitit.slurm.slurm.SlurmExecutor, "affinity", classmethod(lambda cls: 1))
    ex = SlurmExecutor(SlurmOptions(**{field: "proj"})).make_submitit_executor(tmp_path / "submitit")
    script = ex._executor._make_submission_file_text("echo job", "uid")
    assert f"#SBATCH --{field}=proj" in script.splitlines()
    assert "rm -rf" not in script


def test_a_link_with_a_newline_in_the_slurm_account_launches_nothing(workspace):
    at = open_app(page="views/runs.py", query={"r_exec": "slurm", "r_acct": INJECTION})
    at.button(key="launch_sweep").click().run()
    assert any("Not launched" in e and "slurm account" in e for e in texts(at.error)), texts(at.error)
    from eval_runs.jobs import list_jobs

    assert list_jobs() == []


@pytest.mark.parametrize("value", ["--workspace=/etc", "-rf"])
def test_a_path_that_begins_like_an_option_is_refused(tmp_path, value):
    from eval_runs.jobs.spec import JobSpecError, build_job_spec

    with pytest.raises(JobSpecError, match="begin with '-'|needs a value"):
        build_job_spec(["prune", "--teacher", value, "--params", "100K", "--out", str(tmp_path / "s")],
                       workspace=tmp_path)


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "..", ".hidden", "a/b", "x\ny"])
def test_names_cannot_leave_the_workspace_from_any_entry_point(tmp_path, name):
    from eval_runs.jobs.spec import JobSpecError, build_job_spec
    from eval_runs.sweep import PRESETS, run_sweep
    from eval_runs.workspace import check_name

    with pytest.raises(ValueError):
        check_name(name)
    with pytest.raises(JobSpecError, match="--name"):
        build_job_spec(["sweep", "--preset", "cpu-tiny", "--name", name], workspace=tmp_path)
    from dataclasses import replace

    with pytest.raises(ValueError, match="sweep name"):
        run_sweep(replace(PRESETS["cpu-tiny"], name=name), workspace=tmp_path, progress=False)
    proc = subprocess.run([sys.executable, "-m", "eval_runs", "sweep", "--preset", "cpu-tiny", "--name", name,
                           "--workspace", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert not (tmp_path.parent / "x").exists() and not any(tmp_path.glob("sweeps/*"))


def test_two_sweeps_that_differ_only_in_an_unexported_setting_are_kept_apart(tmp_path):
    from analysis.results_io import load_distillation_results
    from eval_runs.results import results_frame

    row = dict(student_params=100_000, teacher_params=400_000, metric="val_loss", value=3.4, higher_is_better=False,
               family="llama", data_tokens=204_800, seed=0, run_id="s100K_t400K", source="eval_runs")
    for sweep, tokens, value in (("short-teachers", 600_000, 3.40), ("long-teachers", 2_000_000, 3.30)):
        folder = tmp_path / "sweeps" / sweep / "students" / "s100K_t400K"
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps({"rows": [{**row, "value": value,
                                                                  "teacher_tokens": tokens}]}))
    frame = results_frame(tmp_path)
    assert sorted(frame["sweep"]) == ["long-teachers", "short-teachers"]
    assert sorted(frame["family"]) == ["llama/long-teachers", "llama/short-teachers"]  # not two seeds of one run
    assert set(results_frame(tmp_path, pool_sweeps=True)["family"]) == {"llama"}
    assert list(results_frame(tmp_path, sweep="long-teachers")["value"]) == [3.30]
    out = tmp_path / "r.csv"
    proc = subprocess.run([sys.executable, "-m", "eval_runs", "results", "--workspace", str(tmp_path), "--out",
                           str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded, _ = load_distillation_results(out)
    assert loaded["family"].nunique() == 2


# ---------------------------------------------------------------------------------------------- a full disk
def test_a_full_disk_while_checkpointing_leaves_no_half_checkpoint_and_says_why(tmp_path, monkeypatch):
    import torch

    from eval_runs import train_loop
    from eval_runs.run_folder import RunFolder

    run = RunFolder(tmp_path / "run")
    run.path.mkdir(parents=True)
    model = torch.nn.Linear(4, 4)
    trainee = train_loop.Trainee(run=run, model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    train_loop._save_checkpoint([trainee], 10)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError, match="could not write checkpoint 20 of run .*No space left.*MB free"):
        train_loop._save_checkpoint([trainee], 20)
    names = sorted(p.name for p in run.path.iterdir())
    assert names == ["checkpoint-10"]  # the last whole checkpoint, and nothing half-written beside it


def test_the_jobs_cli_stays_readable_when_sqlite_and_the_disk_fail(tmp_path, monkeypatch):
    import sqlite3

    from eval_runs.jobs import registry as job_registry
    from eval_runs.jobs import list_jobs, submit_job

    ws = tmp_path / "ws"
    job_id = submit_job(["--steps", "1", "--seconds", "0"], workspace=ws, module="eval_runs.jobs.probe")
    folder = job_registry.JobRegistry(ws).job_dir(job_id)
    job_registry.update_status(folder, state="running", pid=2 ** 22 + 12345)  # a worker that is gone

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(job_registry.JobRegistry, "_connect", broken)
    monkeypatch.setattr(job_registry, "write_json_atomic", no_space)
    jobs = list_jobs(ws)  # neither the registry nor status.json can be written: still listed, with the reason
    assert [j.job_id for j in jobs] == [job_id]
    assert jobs[0].status == "failed" and "ended without writing a final status" in jobs[0].message
