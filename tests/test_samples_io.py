"""lm-eval per-sample logs of every layout (tests/data/lmeval_samples, hand-written; see its README) are read and
compared with the planted numbers, and bad or hostile input is refused with a message that says what is wrong."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar

from analysis.paired import PairedError, compare_runs
from analysis.samples_io import SamplesError, read_samples, read_samples_file, read_samples_zip, task_from_name

DATA = Path(__file__).parent / "data" / "lmeval_samples"
ROOT = Path(__file__).resolve().parents[1]
LAYOUTS = {"v0.4.13": ("org__model-a", "org__model-b"), "v0.4_plain": ("org__model-a", "org__model-b"),
           "v0.4_array": ("model_a", "model_b"), "v0.3": ("model_a", "model_b")}


def _pair(layout: str):
    a, b = LAYOUTS[layout]
    return read_samples(DATA / layout / a), read_samples(DATA / layout / b)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_gives_the_planted_paired_numbers(layout):
    run_a, run_b = _pair(layout)
    assert "arc_easy" in run_a.logs and run_a.logs["arc_easy"].metrics[0] == "acc"
    result = compare_runs(run_a, run_b, task="arc_easy", metric="acc")
    (c,) = result.comparisons
    assert (c.n_matched, c.mean_a, c.mean_b) == (10, pytest.approx(0.7), pytest.approx(0.4))
    assert c.diff == pytest.approx(0.3)
    assert (c.discordant_a_only, c.discordant_b_only) == (4, 1)
    assert c.test == "mcnemar_exact"
    assert c.p_value == pytest.approx(binomtest(4, 5, 0.5).pvalue, rel=1e-12)
    assert c.p_value == pytest.approx(mcnemar([[3, 4], [1, 2]], exact=True).pvalue, rel=1e-12)
    assert c.p_value == pytest.approx(12 / 32, rel=1e-12)


def test_layouts_are_recognised_with_their_task_names_and_metric_types():
    assert read_samples(DATA / "v0.4.13" / "org__model-a").logs["arc_easy"].layout == "0.4 jsonl"
    v040 = read_samples(DATA / "v0.4_array" / "model_a")
    assert set(v040.logs) == {"arc_easy", "gsm8k"}  # task names from the results file beside the logs
    assert v040.logs["arc_easy"].layout == "0.4 json array"
    assert v040.logs["gsm8k"].filters == ["none", "filter_2"]  # two passes, no filter key: named in file order
    assert read_samples(DATA / "v0.3" / "model_a").logs["arc_easy"].layout == "0.3 write_out"
    assert task_from_name("samples_arc_easy_2024-06-01T10-00-00.000001.jsonl") == "arc_easy"
    assert task_from_name("hellaswag_write_out_info.json") == "hellaswag"
    v0413 = read_samples(DATA / "v0.4.13" / "org__model-a")
    assert v0413.model == "org/model-a" and v0413.logs["squad_f1"].corpus_metrics == ("f1", "exact")
    assert v0413.higher_is_better[("arc_easy", "acc")] is True


def test_a_task_with_two_unnamed_filters_compares_each_pass():
    run_a, run_b = _pair("v0.4_array")
    result = compare_runs(run_a, run_b, task="gsm8k")
    got = {c.filter: (c.mean_a, c.mean_b, c.discordant_a_only, c.discordant_b_only) for c in result.comparisons}
    # the second pass marks doc 0 wrong for both models: both means drop by 0.1, the discordant pairs stay
    assert got == {"none": (pytest.approx(0.7), pytest.approx(0.4), 4, 1),
                   "filter_2": (pytest.approx(0.6), pytest.approx(0.3), 4, 1)}


def test_a_single_samples_file_and_a_zip_of_the_folder_read_like_the_folder():
    folder = DATA / "v0.4.13"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path in (folder / "org__model-a").iterdir():
            z.write(path, f"outputs/org__model-a/{path.name}")
    zipped = read_samples_zip(buf.getvalue(), "a.zip")
    single = read_samples(next((folder / "org__model-b").glob("samples_arc_easy_*.jsonl")))
    c = compare_runs(zipped, single, task="arc_easy").comparisons[0]
    assert (c.discordant_a_only, c.discordant_b_only, c.model_a) == (4, 1, "org/model-a")


def test_hashes_on_one_side_only_fall_back_to_the_logged_document():
    run_a = read_samples(DATA / "v0.4.13" / "org__model-a")  # with doc_hash
    run_b = read_samples(DATA / "v0.4_plain" / "org__model-b")  # without: the `doc` objects are compared instead
    c = compare_runs(run_a, run_b, task="arc_easy").comparisons[0]
    assert c.diff == pytest.approx(0.3) and not any("doc_id only" in n for n in c.notes)


# ------------------------------------------------------------------------------------------------ bad input
def _copy(tmp_path: Path, layout: str, who: int) -> Path:
    import shutil

    src = DATA / layout / LAYOUTS[layout][who]
    dst = tmp_path / f"{layout}_{who}"
    shutil.copytree(src, dst)
    return dst


def test_a_corpus_level_metric_is_refused_with_the_reason():
    run_a, run_b = _pair("v0.4.13")
    with pytest.raises(PairedError, match="f1 on 'squad_f1' is a corpus-level metric"):
        compare_runs(run_a, run_b, task="squad_f1", metric="f1")
    result = compare_runs(run_a, run_b)  # every task: squad_f1's metrics are listed as refused, arc_easy compared
    assert [c.task for c in result.comparisons] == ["arc_easy"]
    assert {r.metric for r in result.refused} == {"f1", "exact"}


def test_runs_of_different_tasks_are_refused_naming_both():
    a = read_samples(DATA / "v0.4.13" / "org__model-a")
    b = read_samples(DATA / "v0.4_array" / "model_b")
    b.logs.pop("arc_easy")
    with pytest.raises(PairedError, match="share no task.*squad_f1.*gsm8k"):
        compare_runs(a, b)


def test_no_common_documents_is_refused(tmp_path):
    b = _copy(tmp_path, "v0.4_plain", 1)
    f = next(b.glob("samples_*.jsonl"))
    lines = [json.loads(x) for x in f.read_text().splitlines()]
    f.write_text("".join(json.dumps({**r, "doc_id": r["doc_id"] + 100}) + "\n" for r in lines))
    with pytest.raises(PairedError, match="no document in common.*0-9.*100-109"):
        compare_runs(read_samples(DATA / "v0.4_plain" / "org__model-a"), read_samples(b))


def test_a_different_document_under_the_same_id_is_named(tmp_path):
    b = _copy(tmp_path, "v0.4.13", 1)
    f = next(b.glob("samples_arc_easy_*.jsonl"))
    lines = [json.loads(x) for x in f.read_text().splitlines()]
    lines[6]["doc_hash"] = "f" * 64
    f.write_text("".join(json.dumps(r) + "\n" for r in lines))
    with pytest.raises(PairedError, match="doc_id 6 is a different document"):
        compare_runs(read_samples(DATA / "v0.4.13" / "org__model-a"), read_samples(b), task="arc_easy")
    c = _copy(tmp_path, "v0.4_plain", 1)  # no hashes: the logged documents themselves are compared
    f = next(c.glob("samples_*.jsonl"))
    lines = [json.loads(x) for x in f.read_text().splitlines()]
    lines[3]["doc"]["question"] = "Something else?"
    f.write_text("".join(json.dumps(r) + "\n" for r in lines))
    with pytest.raises(PairedError, match="doc_id 3 is a different document.*doc_hash"):
        compare_runs(read_samples(DATA / "v0.4_plain" / "org__model-a"), read_samples(c))


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"  \n\n", "the file is empty"),
    (b'{"doc_id": 0, "acc": 1.0}\n{"doc_id": 1, "ac', "line 2: not valid JSON.*truncated"),
    (b'[{"doc_id": 0, "acc": 1.0}, {"doc_', "not valid JSON.*truncated"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"doc_id,acc\n0,1\n", "expected lm-eval per-sample records"),
    (b"[]", "no records"),
    (b'{"doc_id": "x", "acc": 1}\n', "expected an integer doc_id"),
    (b'{"doc_id": 0, "resps": []}\n', "no per-document metric"),
    (b'{"doc_id": 0, "acc": 1}\n{"doc_id": 0, "acc": 0, "filter": "none"}\n', "appears twice"),
    (b'{"doc_id": 0, "filter": "none", "metrics": ["acc"], "acc": "maybe"}\n', "'acc' is 'maybe', not a number"),
    (b"[" * 5000 + b"]" * 5000, "nested"),
])
def test_bad_samples_files_get_a_clear_message(tmp_path, content, message):
    path = tmp_path / "samples_arc_easy_2024-06-01T10-00-00.000001.jsonl"
    path.write_bytes(content)
    with pytest.raises(SamplesError, match=message):
        read_samples_file(path)


def test_a_results_json_given_instead_of_a_samples_file_says_which_file_to_give():
    results = next((DATA / "v0.4.13" / "org__model-a").glob("results_*.json"))
    with pytest.raises(SamplesError, match="an lm-eval results file.*samples_<task>_<date>.jsonl.*--log_samples"):
        read_samples(results)


def test_size_limits_and_unsafe_archives_are_refused(tmp_path):
    path = next((DATA / "v0.4.13" / "org__model-a").glob("samples_arc_easy_*.jsonl"))
    with pytest.raises(SamplesError, match="over the 0 MB limit"):
        read_samples_file(path, max_bytes=100)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../evil/samples_x_2024-06-01T10-00-00.jsonl", b'{"doc_id": 0, "acc": 1}\n')
    with pytest.raises(SamplesError, match="unsafe path"):
        read_samples_zip(buf.getvalue(), "evil.zip")
    with pytest.raises(SamplesError, match="not a readable zip"):
        read_samples_zip(b"PK\x03\x04broken", "broken.zip")
    with pytest.raises(SamplesError, match="no lm-eval per-sample logs"):
        read_samples(tmp_path)
    with pytest.raises(SamplesError, match="logs of 2 runs"):
        read_samples(DATA / "v0.4.13")


def test_a_cluster_field_that_no_document_has_names_the_fields_there_are():
    run_a, run_b = _pair("v0.4.13")
    with pytest.raises(SamplesError, match="no document has a field 'passage'.*subject"):
        compare_runs(run_a, run_b, task="arc_easy", cluster="passage")


# ------------------------------------------------------------------------------------------------ the CLI
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis", "compare", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_the_cli_json_has_the_contract_keys():
    out = _cli(str(DATA / "v0.4.13" / "org__model-a"), str(DATA / "v0.4.13" / "org__model-b"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["schema_version"] == 1 and data["correction"] == "holm"
    (c,) = data["comparisons"]
    for key in ("task", "metric", "filter", "n_matched", "mean_a", "mean_b", "diff", "ci_lower", "ci_upper",
                "p_value", "test", "discordant_a_only", "discordant_b_only"):
        assert key in c
    assert (c["task"], c["discordant_a_only"], c["discordant_b_only"]) == ("arc_easy", 4, 1)
    assert "not compared: f1 on 'squad_f1' is a corpus-level metric" in out.stderr


def test_the_cli_clusters_by_a_field_of_the_logged_documents():
    out = _cli(str(DATA / "v0.4.13" / "org__model-a"), str(DATA / "v0.4.13" / "org__model-b"), "--cluster",
               "subject", "--task", "arc_easy", "--json")
    assert out.returncode == 0, out.stderr
    (c,) = json.loads(out.stdout)["comparisons"]
    assert (c["test"], c["n_clusters"], c["cluster"]) == ("cluster_robust_t", 2, "subject")
    # d = A - B per doc id: 0 0 0 1 1 1 1 -1 0 0; math (even ids) sums to 2, history (odd ids) to 1; residual sums
    # 2 - 5 * 0.3 = 0.5 and 1 - 1.5 = -0.5; the sandwich: sqrt(G / (G - 1) * (0.5^2 + 0.5^2)) / n = 0.1
    se = (2 / 1 * (0.5 ** 2 + 0.5 ** 2)) ** 0.5 / 10
    assert c["diff"] == pytest.approx(0.3) and c["se"] == pytest.approx(se, rel=1e-10)


def test_the_cli_text_and_its_refusals():
    a, b = str(DATA / "v0.3" / "model_a"), str(DATA / "v0.3" / "model_b")
    out = _cli(a, b, "--cluster", "subject")
    assert out.returncode == 2 and "no document has a field 'subject'" in out.stderr  # 0.3 logs no documents
    out = _cli(a, b)
    assert out.returncode == 0, out.stderr
    assert "A right & B wrong 4, B right & A wrong 1" in out.stdout and "McNemar exact" in out.stdout
    out = _cli(a)
    assert out.returncode == 2 and "at least two runs" in out.stderr
    out = _cli(a, b, "--n-boot", "1000000000")
    assert out.returncode == 2 and "n_boot must be between 0 and 100,000" in out.stderr
    results = next((DATA / "v0.4.13" / "org__model-a").glob("results_*.json"))
    out = _cli(str(results), b)
    assert out.returncode == 2 and "not a per-sample log" in out.stderr
