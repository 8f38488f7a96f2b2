"""lm-eval results JSON of every layout -> the benchmark table, checked value by value.

Hand-written files in tests/data/lmeval/ stand for the older layouts (0.3.0, 0.4.0, 0.4.1 API model, 0.4.2,
0.4.8); a real lm-eval 0.4.13 run on a toy model (tests/lmeval_fixture.py) gives the current one.
"""
from __future__ import annotations

import json
import math
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.benchmarks import BENCHMARK_COLUMNS
from analysis.lmeval_import import (
    LmevalImportError,
    import_lmeval,
    parse_lmeval_results,
    read_lmeval_file,
)

DATA = Path(__file__).parent / "data" / "lmeval"
NAN = math.nan
NA = None  # an unknown Int64 / boolean cell


def only_row(frame: pd.DataFrame, task: str, metric: str, filt: str) -> pd.Series:
    rows = frame[(frame.task == task) & (frame.metric == metric) & (frame["filter"] == filt)]
    assert len(rows) == 1, f"{task} {metric} {filt!r}: {len(rows)} rows"
    return rows.iloc[0]


def same(found, expected) -> bool:
    """Equal, with NaN == NaN and <NA> == None."""
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return pd.isna(found)
    return not pd.isna(found) and found == expected


def check_rows(frame: pd.DataFrame, expected: list[tuple]) -> None:
    """expected: (task, metric, filter, value, stderr, n_samples, n_shot, is_group, higher_is_better, alias)."""
    assert len(frame) == len(expected), sorted(zip(frame.task, frame.metric, frame["filter"]))
    fields = ("value", "stderr", "n_samples", "n_shot", "is_group", "higher_is_better", "alias")
    for task, metric, filt, *values in expected:
        row = only_row(frame, task, metric, filt)
        for name, want in zip(fields, values):
            assert same(row[name], want), f"{task} {metric} {filt!r} {name}: found {row[name]!r}, expected {want!r}"


# ---------------------------------------------------------------------------------------------- older layouts
def test_a_0_3_file_reads_acc_and_acc_stderr_with_an_empty_filter_and_the_global_few_shot():
    path = DATA / "v0.3.0_pythia-160m.json"
    frame = read_lmeval_file(path)
    assert list(frame.columns) == BENCHMARK_COLUMNS
    check_rows(frame, [
        ("hellaswag", "acc", "", 0.2872, 0.004515, NA, 0, False, True, "hellaswag"),
        ("hellaswag", "acc_norm", "", 0.3082, 0.004607, NA, 0, False, True, "hellaswag"),
        ("lambada_openai", "ppl", "", 38.3064, 1.4273, NA, 0, False, False, "lambada_openai"),
        ("lambada_openai", "acc", "", 0.3276, 0.006539, NA, 0, False, True, "lambada_openai"),
        ("hendrycksTest-abstract_algebra", "acc", "", 0.22, 0.041633, NA, 0, False, True,
         "hendrycksTest-abstract_algebra"),
        ("hendrycksTest-abstract_algebra", "acc_norm", "", 0.25, 0.043519, NA, 0, False, True,
         "hendrycksTest-abstract_algebra"),
        ("wikitext", "word_perplexity", "", 37.2537, NAN, NA, 0, False, False, "wikitext"),
        ("wikitext", "byte_perplexity", "", 1.7152, NAN, NA, 0, False, False, "wikitext"),
        ("wikitext", "bits_per_byte", "", 0.7784, NAN, NA, 0, False, False, "wikitext"),
    ])
    assert set(frame.model) == {"EleutherAI/pythia-160m@step100000"}  # a non-main revision stays in the name
    assert set(frame.lm_eval_version) == {"0.3"}
    assert set(frame.source) == {str(path)}
    assert frame.date.isna().all() and frame.params.isna().all() and frame.limit.isna().all()


def test_a_0_4_0_file_counts_groups_once_skips_placeholders_and_strips_aliases():
    frame = read_lmeval_file(DATA / "v0.4.0_llama2" / "results.json")
    check_rows(frame, [
        ("mmlu", "acc", "none", 0.4587, 0.0041, NA, NA, True, True, "mmlu"),
        ("mmlu_humanities", "acc", "none", 0.4316, 0.0070, NA, NA, True, True, "humanities"),
        ("mmlu_formal_logic", "acc", "none", 0.2857, 0.0404, NA, 5, False, True, "formal_logic"),
        ("mmlu_world_religions", "acc", "none", 0.6842, 0.0357, NA, 5, False, True, "world_religions"),
        ("mmlu_abstract_algebra", "acc", "none", 0.30, 0.0461, NA, 5, False, True, "abstract_algebra"),
        ("wikitext", "word_perplexity", "none", 8.7921, NAN, NA, 0, False, False, "wikitext"),
        ("wikitext", "byte_perplexity", "none", 1.4985, NAN, NA, 0, False, False, "wikitext"),
        ("wikitext", "bits_per_byte", "none", 0.5835, NAN, NA, 0, False, False, "wikitext"),
    ])
    assert "mmlu_stem" not in set(frame.task)  # a group without an aggregate: no row is invented for it
    assert set(frame.model) == {"meta-llama/Llama-2-7b-hf"}
    assert set(frame.lm_eval_version) == {"0.4 (git 4600d6b)"}
    assert frame.date.isna().all()  # no `date` key and no timestamp in the name "results.json"


def test_a_0_4_2_file_reads_n_shot_n_samples_higher_is_better_model_name_date_and_filters():
    path = DATA / "v0.4.2" / "Qwen__Qwen2.5-0.5B" / "results_2024-06-01T12-00-07.123456.json"
    frame = read_lmeval_file(path)
    check_rows(frame, [
        ("gsm8k", "exact_match", "strict-match", 0.2835, 0.0124, 100, 5, False, True, "gsm8k"),
        ("gsm8k", "exact_match", "flexible-extract", 0.3207, 0.0129, 100, 5, False, True, "gsm8k"),
        ("arc_easy", "acc", "none", 0.65, 0.0098, 100, 0, False, True, "arc_easy"),
        ("arc_easy", "acc_norm", "none", 0.58, 0.0101, 100, 0, False, True, "arc_easy"),
    ])
    assert set(frame.model) == {"Qwen/Qwen2.5-0.5B"}
    assert set(frame.params) == {494032768.0}
    assert set(frame.limit) == {100.0}
    assert set(frame.lm_eval_version) == {"0.4 (git e3f2a1b)"}
    # `date` (UNIX time, UTC) wins over the file name's timestamp
    assert set(frame.date) == {pd.Timestamp("2024-06-01 12:00:00.5")}


def test_an_api_model_is_named_from_model_args_and_dated_from_the_file_name():
    path = DATA / "v0.4.1_api" / "gpt-4" / "results_2024-03-05T09-15-42.512345.json"
    frame = read_lmeval_file(path)
    check_rows(frame, [
        ("gsm8k_cot_zeroshot", "exact_match", "strict-match", 0.8711, NAN, NA, 0, False, True, "gsm8k_cot_zeroshot"),
        ("gsm8k_cot_zeroshot", "exact_match", "flexible-extract", 0.9204, NAN, NA, 0, False, True,
         "gsm8k_cot_zeroshot"),
        ("truthfulqa_gen", "bleu_max", "none", 24.31, 0.86, NA, 0, False, NA, "truthfulqa_gen"),
        ("truthfulqa_gen", "rouge1_acc", "none", 0.58, 0.0173, NA, 0, False, NA, "truthfulqa_gen"),
    ])
    assert set(frame.model) == {"gpt-4"}
    assert set(frame.lm_eval_version) == {"0.4"}
    assert set(frame.date) == {pd.Timestamp("2024-03-05 09:15:42.512345")}


def test_model_args_as_a_dict_and_versions_as_strings_read_like_any_other():
    frame = read_lmeval_file(DATA / "v0.4.8_dict_args.json")
    check_rows(frame, [
        ("arc_challenge", "acc", "none", 0.1852, 0.011353, 586, 25, False, True, "arc_challenge"),
        ("arc_challenge", "acc_norm", "none", 0.2159, 0.012023, 586, 25, False, NA, "arc_challenge"),
        ("arc_easy", "acc", "none", 0.3775, 0.009947, 1188, 25, False, True, "arc_easy"),
        ("arc_easy", "acc_norm", "none", 0.3615, 0.009858, 1188, 25, False, True, "arc_easy"),
    ])
    assert "ai2_arc" not in set(frame.task)  # placeholder group {" ": " "}: not averaged by us
    assert set(frame.model) == {"EleutherAI/pythia-70m@step3000"}
    assert frame.params.isna().all()  # lm-eval's -1 means unknown
    assert set(frame.limit) == {0.5}
    assert set(frame.lm_eval_version) == {"0.4.8"}
    assert set(frame.date) == {pd.Timestamp("2025-01-01 00:00:00")}


def test_odd_values_are_parsed_or_skipped_with_a_note():
    notes: list[str] = []
    obj = {
        "results": {"t": {"acc,none": "0.5", "acc_stderr,none": "np.float64(0.1)", "f1,none": [0.1, 0.2],
                          "em,none": None, "orphan_stderr,none": 0.3, "bypass,none": 999,
                          "alias": "t", "sample_len": 10}},
        "samples": {"t": [{"doc_id": 0}]},
    }
    frame = parse_lmeval_results(obj, "inline", model="m", notes=notes)
    check_rows(frame, [("t", "acc", "none", 0.5, 0.1, 10, NA, False, True, "t")])
    assert set(frame.model) == {"m"}
    assert any("'f1,none'" in n for n in notes) and any("'em,none'" in n for n in notes)
    assert any("orphan_stderr" in n for n in notes) and any("predict-only" in n for n in notes)


def test_an_object_without_results_is_refused_with_the_reason():
    with pytest.raises(LmevalImportError, match="no 'results' object"):
        parse_lmeval_results({"model": "x"}, "x.json")


# ---------------------------------------------------------------------------------------------- folders
def write_results(folder: Path, stamp: str, acc: float, *, with_samples: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    obj = {"results": {"arc_easy": {"alias": "arc_easy", "acc,none": acc, "acc_stderr,none": 0.01}},
           "n-shot": {"arc_easy": 0}, "config": {"model": "hf", "model_args": "pretrained=org/model-a"}}
    path = folder / f"results_{stamp}.json"
    path.write_text(json.dumps(obj))
    if with_samples:
        (folder / f"samples_arc_easy_{stamp}.jsonl").write_text('{"doc_id": 0}\n')
    return path


def test_a_folder_keeps_the_newest_result_per_model_and_task_and_reports_a_broken_file(tmp_path):
    model_dir = tmp_path / "out" / "org__model-a"
    write_results(model_dir, "2024-01-01T00-00-00.000000", 0.40)
    newest = write_results(model_dir, "2024-02-01T00-00-00.000000", 0.45)
    broken = model_dir / "results_2024-03-01T00-00-00.000000.json"
    broken.write_text("{oops")

    result = import_lmeval(tmp_path / "out")
    assert [f.path for f in result.failures] == [str(broken)]
    assert "not valid JSON" in result.failures[0].reason
    row = only_row(result.frame, "arc_easy", "acc", "none")
    assert row.value == 0.45 and row.source == str(newest) and row.model == "org/model-a"
    assert row.date == pd.Timestamp("2024-02-01")

    everything = import_lmeval([tmp_path / "out"], keep="all")
    assert sorted(everything.frame.value) == [0.40, 0.45]


def test_a_missing_path_and_an_empty_folder_are_failures_and_the_rest_imports(tmp_path):
    (tmp_path / "empty").mkdir()
    result = import_lmeval([DATA / "v0.3.0_pythia-160m.json", tmp_path / "empty", tmp_path / "nope.json"])
    assert {Path(f.path).name: f.reason for f in result.failures} == {
        "empty": "no lm-eval results files (results_<date>.json) in this folder or below",
        "nope.json": "no such file or folder",
    }
    assert len(result.frame) == 9


def test_the_whole_fixture_folder_imports_without_failures():
    result = import_lmeval(DATA)
    assert result.failures == []
    assert set(result.frame.model) == {
        "EleutherAI/pythia-160m@step100000", "meta-llama/Llama-2-7b-hf", "Qwen/Qwen2.5-0.5B", "gpt-4",
        "EleutherAI/pythia-70m@step3000"}
    assert len(result.frame) == 9 + 8 + 4 + 4 + 4


def test_a_huge_or_binary_file_is_refused_without_reading_it_whole(tmp_path):
    huge = tmp_path / "results_huge.json"
    with open(huge, "wb") as fh:  # sparse: 101 MB on paper, nothing on disk
        fh.truncate(101 * 1024 * 1024)
    binary = tmp_path / "results_bin.json"
    binary.write_bytes(bytes(range(256)) * 4)
    result = import_lmeval([huge, binary, DATA / "v0.3.0_pythia-160m.json"])
    reasons = {Path(f.path).name: f.reason for f in result.failures}
    assert "too large" in reasons["results_huge.json"] and "not UTF-8" in reasons["results_bin.json"]
    assert len(result.frame) == 9


def test_a_zip_file_path_imports_like_a_folder(tmp_path):
    import zipfile

    archive = tmp_path / "runs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(DATA / "v0.3.0_pythia-160m.json", "out/pythia/results_2023-05-01T10-00-00.000000.json")
        zf.writestr("out/pythia/samples_hellaswag_2023-05-01T10-00-00.000000.jsonl", '{"doc_id": 0}\n')
    result = import_lmeval(archive)
    assert result.failures == [] and len(result.frame) == 9
    assert set(result.frame.source) == {f"{archive}/out/pythia/results_2023-05-01T10-00-00.000000.json"}
    assert set(result.frame.date) == {pd.Timestamp("2023-05-01 10:00:00")}


def test_a_samples_file_named_explicitly_is_a_failure_that_points_at_the_results_file(tmp_path):
    samples = tmp_path / "samples_arc_easy_2024-01-01T00-00-00.000000.jsonl"
    samples.write_text('{"doc_id": 0}\n')
    result = import_lmeval(samples)
    assert len(result.failures) == 1 and "per-sample log" in result.failures[0].reason


# ---------------------------------------------------------------------------------------------- a real run
@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """lm-eval 0.4.13 on a toy GPT-2 and local tasks, offline, in a subprocess (tests/lmeval_fixture.py)."""
    pytest.importorskip("lm_eval")
    sys.path.insert(0, str(Path(__file__).parent))
    import lmeval_fixture  # noqa: E402  (tests/ is not a package)

    work = tmp_path_factory.mktemp("lmeval_real")
    proc = subprocess.run([sys.executable, str(Path(lmeval_fixture.__file__)), str(work)],
                          env=lmeval_fixture.offline_env(work), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    info = json.loads((work / "run.json").read_text())
    with open(info["pickle"], "rb") as fh:
        memory = pickle.load(fh)
    return work, Path(info["out"]), memory


@pytest.mark.slow  # one real lm-eval run (about 15 s on 2 cores), shared by the module
def test_a_real_lm_eval_output_folder_imports_value_by_value(real_run):
    work, out, memory = real_run
    files = sorted(out.rglob("results_*.json"))
    assert len(files) == 1 and files[0].parent.parent == out  # <out>/<model_name_sanitized>/results_<date>.json
    assert sorted(out.rglob("samples_*.jsonl"))  # samples were written beside it (and are not read)

    result = import_lmeval(out)
    assert result.failures == []
    frame = result.frame
    expected = 0
    for task, entry in memory["results"].items():
        for key, value in entry.items():
            if "," not in key or "_stderr," in key:
                continue
            expected += 1
            metric, filt = key.split(",", 1)
            row = only_row(frame, task, metric, filt)
            assert row.value == value
            stderr = entry[f"{metric}_stderr,{filt}"]
            assert math.isnan(row.stderr) if stderr == "N/A" else row.stderr == stderr
            counts = memory["n-samples"].get(task)
            assert row.n_samples == (counts["effective"] if counts else entry["sample_len"])
            assert same(row.n_shot, memory["n-shot"].get(task))
            assert row.is_group == (task in memory.get("groups", {}))
            assert row.higher_is_better == memory["higher_is_better"][task][metric]
            assert row.alias == entry["alias"]
    assert len(frame) == expected  # groups (in `results` and `groups`) once each; nothing added
    assert frame.is_group.sum() == len(memory["groups"]) == 1

    assert set(frame.model) == {memory["model_name"]}
    assert set(frame.params) == {float(memory["config"]["model_num_parameters"])}
    assert set(frame.lm_eval_version) == {memory["lm_eval_version"]} == {"0.4.13"}
    assert set(frame.date) == {pd.Timestamp(memory["date"], unit="s")}
    assert set(frame.limit) == {float(memory["config"]["limit"])}
    assert set(frame.source) == {str(files[0])}
    assert set(frame["filter"]) == {"none", "strict-match", "flexible-extract"}
    pd.testing.assert_frame_equal(frame, read_lmeval_file(files[0]))


@pytest.mark.slow  # one real lm-eval run (about 15 s on 2 cores), shared by the module
def test_importing_the_whole_work_folder_skips_model_and_cache_json_without_failing(real_run):
    work, out, _ = real_run
    result = import_lmeval(work)  # holds model/config.json, tokenizer.json, the datasets cache's dataset_info.json
    assert result.failures == []
    assert len(result.frame) == len(import_lmeval(out).frame)
    assert any("config.json: skipped" in n for n in result.notes)


@pytest.mark.slow  # one real lm-eval run (about 15 s on 2 cores), shared by the module
def test_a_second_real_run_of_the_same_model_replaces_the_first(real_run, tmp_path):
    _, out, _ = real_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    (original,) = sorted(copy.rglob("results_*.json"))
    obj = json.loads(original.read_text())
    obj["date"] += 3600.0
    obj["results"]["capgap_mc_a"]["acc,none"] = 0.99
    later = original.with_name("results_2099-01-01T00-00-00.000000.json")
    later.write_text(json.dumps(obj))
    frame = import_lmeval(copy).frame
    assert only_row(frame, "capgap_mc_a", "acc", "none").value == 0.99
    assert set(frame.source) == {str(later)}
    assert len(import_lmeval(copy, keep="all").frame) == 2 * len(frame)
