"""lm-eval runs offline: the bundled tasks and their data, task-folder resolution, clear refusals, and (slow) a real
run on a toy GPT-2 whose results file `python -m analysis import-lmeval` reads back value by value.

lm-eval and torch run in subprocesses only (offline variables must be set before `datasets` is imported)."""
from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from eval_runs.lmeval.run import (BUNDLED_TASKS, BUNDLED_TASKS_DIR, TASK_DIR_TOKEN, LmevalError, check_model_dir,
                                  offline_environment, resolve_task_folder)

ROOT = Path(__file__).resolve().parents[1]


def test_bundled_task_data_matches_its_manifest_and_stays_small():
    manifest = json.loads((BUNDLED_TASKS_DIR / "data" / "MANIFEST.json").read_text())
    for name, facts in manifest["files"].items():
        data = (BUNDLED_TASKS_DIR / "data" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == facts["sha256"]
        assert len(data) <= 200_000
        rows = [json.loads(line) for line in data.decode().splitlines()]
        assert len(rows) == facts["n_rows"] > 0
    cloze = [json.loads(x) for x in (BUNDLED_TASKS_DIR / "data" / "capgap_pydoc_cloze.jsonl").read_text().splitlines()]
    assert all(len(r["choices"]) == 4 and len(set(r["choices"])) == 4 and 0 <= r["answer"] < 4 for r in cloze)


def test_each_bundled_task_has_a_yaml_reading_local_data_through_the_task_dir_token():
    for task in BUNDLED_TASKS:
        text = (BUNDLED_TASKS_DIR / f"{task}.yaml").read_text()
        assert f"task: {task}" in text and "dataset_path: json" in text and TASK_DIR_TOKEN in text


def test_a_task_folder_is_copied_with_absolute_data_paths(tmp_path):
    out = resolve_task_folder(BUNDLED_TASKS_DIR, tmp_path / "cache")
    assert out != BUNDLED_TASKS_DIR and out.parent == tmp_path / "cache" / "lmeval_tasks"
    text = (out / "capgap_pydoc_heldout.yaml").read_text()
    assert TASK_DIR_TOKEN not in text
    assert f"test: {BUNDLED_TASKS_DIR}/data/capgap_pydoc_heldout.jsonl" in text
    assert resolve_task_folder(BUNDLED_TASKS_DIR, tmp_path / "cache") == out  # same content -> same copy
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "t.yaml").write_text("task: t\ndataset_path: json\n")
    assert resolve_task_folder(plain, tmp_path / "cache") == plain  # nothing to resolve: used as it is


def test_a_folder_that_is_not_a_hugging_face_model_is_refused_with_a_clear_message(tmp_path):
    with pytest.raises(LmevalError, match="does not exist"):
        check_model_dir(tmp_path / "missing")
    with pytest.raises(LmevalError, match="no config.json"):
        check_model_dir(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(LmevalError, match="no tokenizer"):
        check_model_dir(tmp_path)


def test_the_offline_environment_keeps_caches_in_the_workspace(tmp_path):
    env = offline_environment(tmp_path)
    assert env["HF_HUB_OFFLINE"] == env["HF_DATASETS_OFFLINE"] == env["TRANSFORMERS_OFFLINE"] == "1"
    assert env["HF_DATASETS_CACHE"].startswith(str(tmp_path))


# ------------------------------------------------------------------------------------------------ real runs

@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer GPT-2 with its own BPE tokenizer (tests/lmeval_fixture.py), built in a subprocess."""
    folder = tmp_path_factory.mktemp("lmeval_model") / "model"
    code = ("import json, sys; sys.path.insert(0, 'tests'); from pathlib import Path\n"
            "from lmeval_fixture import build_model\n"
            "text = [json.loads(l)['text'] for l in open('eval_runs/lmeval/tasks/data/capgap_pydoc_heldout.jsonl')]\n"
            "build_model(Path(sys.argv[1]), text * 2)\n")
    subprocess.run([sys.executable, "-c", code, str(folder)], cwd=ROOT, check=True, capture_output=True)
    return folder


def _lmeval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eval_runs.lmeval.run", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_an_lmeval_run_on_the_bundled_tasks_is_imported_value_by_value(tiny_model, tmp_path):
    ws = tmp_path / "ws"
    run = _lmeval("--model", str(tiny_model), "--tasks", ",".join(BUNDLED_TASKS), "--limit", "4", "--workspace",
                  str(ws), "--batch-size", "4")
    assert run.returncode == 0, run.stderr[-3000:]
    paths = [line.split(": ", 1)[1] for line in run.stdout.splitlines() if line.startswith("result_path: ")]
    results_file = Path(paths[0])
    assert results_file.parent.parent == ws / "lmeval" and results_file.name.startswith("results_")
    assert {Path(p).name.split("_2")[0] for p in paths[1:]} == {f"samples_{t}" for t in BUNDLED_TASKS}
    results = json.loads(results_file.read_text())

    csv = tmp_path / "bench.csv"
    imported = subprocess.run([sys.executable, "-m", "analysis", "import-lmeval", str(ws / "lmeval"), "--out",
                               str(csv)], cwd=ROOT, capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    frame = pd.read_csv(csv)
    expected = {(task, key.split(",")[0], key.split(",")[1]): value
                for task, metrics in results["results"].items() for key, value in metrics.items()
                if "," in key and "_stderr" not in key}
    assert len(expected) == 5  # 3 perplexity metrics + acc + acc_norm
    got = {(r.task, r.metric, r.filter): r.value for r in frame.itertuples()}
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert math.isclose(got[key], value, rel_tol=1e-9), key
    assert set(frame["n_samples"]) == {4}
    assert (frame["model"] == str(tiny_model)).all()


@pytest.mark.slow
def test_unknown_tasks_and_tasks_that_need_a_download_fail_with_a_message_that_says_so(tiny_model, tmp_path):
    ws = tmp_path / "ws"
    run = _lmeval("--model", str(tiny_model), "--tasks", "hellaswag", "--workspace", str(ws))
    assert run.returncode == 2 and "unknown task(s) hellaswag" in run.stderr and "download" in run.stderr
    hub_task = tmp_path / "hub_task"
    hub_task.mkdir()
    (hub_task / "needs_hub.yaml").write_text(
        "task: needs_hub\ndataset_path: capgap-nonexistent-org/nonexistent-dataset\ntest_split: test\n"
        "output_type: loglikelihood_rolling\ndoc_to_text: ''\ndoc_to_target: '{{text}}'\n"
        "metric_list:\n  - metric: bits_per_byte\n")
    run = _lmeval("--model", str(tiny_model), "--tasks", "needs_hub", "--include-path", str(hub_task),
                  "--workspace", str(ws), "--limit", "1")
    assert run.returncode == 2, run.stderr[-2000:]
    assert "needs a download" in run.stderr and "offline" in run.stderr
    run = _lmeval("--model", str(tiny_model.parent), "--tasks", BUNDLED_TASKS[0], "--workspace", str(ws))
    assert run.returncode == 2 and "not a Hugging Face model folder" in run.stderr


@pytest.mark.slow
def test_an_lmeval_job_writes_results_the_job_shows(tiny_model, tmp_path):
    from eval_runs.jobs import submit_job, wait_for_job

    ws = tmp_path / "ws"
    job_id = submit_job(["lmeval", "--model", str(tiny_model), "--tasks", BUNDLED_TASKS[1], "--limit", "4"],
                        workspace=ws)
    done = wait_for_job(ws, job_id, timeout_seconds=300)
    assert done.status == "succeeded", done.log_tail
    assert any(Path(p).name.startswith("results_") for p in done.result_paths)
