"""The benchmark table: the bundled MiniMA table, uploads (JSON, zip, CSV) and two-model comparisons."""
from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from analysis.benchmarks import (
    BENCHMARK_COLUMNS,
    MINIMA_SOURCE,
    as_benchmark_frame,
    compare_models,
    load_minima_benchmarks,
    load_minima_table,
)
from analysis.benchmark_upload import load_benchmark_upload
from analysis.lmeval_import import read_lmeval_file

DATA = Path(__file__).parent / "data" / "lmeval"
QWEN = DATA / "v0.4.2" / "Qwen__Qwen2.5-0.5B" / "results_2024-06-01T12-00-07.123456.json"


# ---------------------------------------------------------------------------------------------- MiniMA
def test_the_minima_table_melts_into_the_contract_with_fractions_and_shots_from_column_names():
    bench = load_minima_benchmarks()
    assert list(bench.columns) == BENCHMARK_COLUMNS
    assert len(bench) == 13 * 6  # 13 models x 6 benchmarks, no blank scores
    row = bench[(bench.model == "MiniMA-3B") & (bench.task == "mmlu")].iloc[0]
    assert row.value == pytest.approx(0.2851, rel=1e-12)  # README: 28.51 (percent)
    assert (row.metric, row["filter"], row.n_shot, row.params) == ("acc", "", 5, 3.0e9)
    assert row.source == MINIMA_SOURCE and not row.is_group and row.higher_is_better
    assert math.isnan(row.stderr) and pd.isna(row.n_samples) and pd.isna(row.date)
    gsm = bench[(bench.model == "Phi-2-2.8B") & (bench.task == "gsm8k")].iloc[0]
    assert (gsm.metric, gsm.n_shot, gsm.value) == ("exact_match", 8, pytest.approx(0.5542, rel=1e-12))
    assert dict(bench.groupby("task").metric.first()) == {
        "mmlu": "acc", "ceval": "acc", "drop": "f1", "humaneval": "pass@1", "bbh": "exact_match",
        "gsm8k": "exact_match"}
    assert bench[bench.model == "MiniMix-2/4x3B"].params.isna().all()  # MoE: no single parameter count


def test_the_wide_minima_table_carries_training_compute_in_flops():
    table = load_minima_table()
    row = table[table.model == "MiniMA-3B"].iloc[0]
    assert row.train_compute_flops == pytest.approx(4.0e21, rel=1e-12)
    assert row.params == 3.0e9 and row.mmlu_5shot == 28.51  # scores as published, in percent
    assert math.isnan(table[table.model == "MiniMix-2/4x3B"].params.iloc[0])


# ---------------------------------------------------------------------------------------------- uploads
def test_an_uploaded_results_json_reads_like_the_file():
    result = load_benchmark_upload(QWEN.read_bytes(), "qwen.json")
    assert result.ok
    expected = as_benchmark_frame(read_lmeval_file(QWEN).assign(source="qwen.json"))
    pd.testing.assert_frame_equal(result.frame, expected)


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_an_uploaded_zip_of_an_output_folder_imports_its_results_and_skips_samples_and_model_files():
    stamp = "2024-06-01T12-00-07.123456"
    data = make_zip({
        f"out/Qwen__Qwen2.5-0.5B/results_{stamp}.json": QWEN.read_bytes(),
        f"out/Qwen__Qwen2.5-0.5B/samples_gsm8k_{stamp}.jsonl": b'{"doc_id": 0}\n',
        "out/gpt-4/results_2024-03-05T09-15-42.512345.json":
            (DATA / "v0.4.1_api" / "gpt-4" / "results_2024-03-05T09-15-42.512345.json").read_bytes(),
        "model/config.json": b'{"model_type": "gpt2"}',
    })
    result = load_benchmark_upload(data, "runs.zip")
    assert result.failures == []
    assert set(result.frame.model) == {"Qwen/Qwen2.5-0.5B", "gpt-4"} and len(result.frame) == 8
    assert f"runs.zip/out/Qwen__Qwen2.5-0.5B/results_{stamp}.json" in set(result.frame.source)
    assert any("model/config.json: skipped" in n for n in result.notes)


@pytest.mark.parametrize("member", ["../escape/results_2024-01-01T00-00-00.json", "/etc/results.json",
                                    "C:/temp/results.json"])
def test_a_zip_with_an_absolute_or_parent_path_is_refused_whole(member):
    data = make_zip({member: QWEN.read_bytes(), "ok/results.json": QWEN.read_bytes()})
    result = load_benchmark_upload(data, "evil.zip")
    assert result.frame.empty and len(result.failures) == 1
    assert "unsafe path" in result.failures[0].reason


def test_a_zip_member_beyond_the_size_cap_is_not_read():
    data = make_zip({"a/results.json": QWEN.read_bytes(), "b/results.json": b" " * 50_000 + QWEN.read_bytes()})
    result = load_benchmark_upload(data, "big.zip", max_bytes=len(QWEN.read_bytes()) + 10_000)
    assert [f.path for f in result.failures] == ["big.zip/b/results.json"]
    assert "limit" in result.failures[0].reason and len(result.frame) == 4


def test_a_csv_in_the_benchmark_contract_round_trips():
    frame = pd.concat([read_lmeval_file(QWEN), read_lmeval_file(DATA / "v0.4.8_dict_args.json")],
                      ignore_index=True)
    result = load_benchmark_upload(frame.to_csv(index=False).encode(), "bench.csv")
    assert result.ok
    pd.testing.assert_frame_equal(result.frame, as_benchmark_frame(frame))


def test_a_minimal_csv_gets_defaults_and_its_name_as_source():
    text = "model,task,metric,value\nm1,arc_easy,acc,0.5\n"
    result = load_benchmark_upload(text.encode(), "mine.csv")
    row = result.frame.iloc[0]
    assert (row.model, row.task, row.metric, row["filter"], row.value, row.source) == (
        "m1", "arc_easy", "acc", "", 0.5, "mine.csv")
    assert math.isnan(row.stderr) and not row.is_group


def test_csv_rows_without_a_value_are_dropped_and_counted_and_later_errors_keep_their_line_numbers():
    text = "model,task,metric,value,is_group\nm1,arc,acc,0.5,false\nm2,arc,acc,,false\nm3,arc,acc,N/A,true\n"
    result = load_benchmark_upload(text.encode(), "gaps.csv")
    assert list(result.frame.model) == ["m1"]
    assert result.notes == ["gaps.csv: dropped 2 row(s) with no value (line(s) 3, 4)"]
    text = "model,task,metric,value,is_group\nm1,arc,acc,,false\nm2,arc,acc,0.5,maybe\n"
    result = load_benchmark_upload(text.encode(), "gaps.csv")
    assert "row 3, column 'is_group': expected true or false, found 'maybe'" in result.failures[0].reason


@pytest.mark.parametrize("text, reason", [
    ("model,task,metric,value\nm1,arc,acc,0.5\nm2,arc,acc,high\n", "row 3, column 'value': expected a number"),
    ("model,task,metric,value,n_shot\nm1,arc,acc,0.5,2.5\n", "row 2, column 'n_shot': expected a whole number"),
    ("model,task,value\nm1,arc,0.5\n", "missing column(s) ['metric']"),
    ("model,task,metric,value\n", "no data rows"),
])
def test_a_bad_csv_is_refused_naming_the_row_and_column(text, reason):
    result = load_benchmark_upload(text.encode(), "bad.csv")
    assert result.frame.empty and len(result.failures) == 1
    assert result.failures[0].path == "bad.csv" and reason in result.failures[0].reason


@pytest.mark.parametrize("data, name, reason", [
    (b"{oops", "r.json", "not valid JSON"),
    (b"\xff\xfe\x00binary", "r.json", "not UTF-8"),
    (b'{"doc_id": 0}\n', "samples_x.jsonl", "per-sample log"),
    (b"\x00\x01", "weights.bin", "unknown file type"),
])
def test_an_unreadable_upload_is_a_failure_not_an_exception(data, name, reason):
    result = load_benchmark_upload(data, name)
    assert result.frame.empty and reason in result.failures[0].reason


# ---------------------------------------------------------------------------------------------- comparison
def bench_of(*rows: dict) -> pd.DataFrame:
    base = {"task": "arc_easy", "metric": "acc", "filter": "none", "n_shot": 0}
    return as_benchmark_frame([{**base, **r} for r in rows])


def test_two_models_differ_by_their_values_with_a_normal_interval_from_both_stderrs():
    bench = bench_of({"model": "a", "value": 0.60, "stderr": 0.010}, {"model": "b", "value": 0.55, "stderr": 0.012})
    cmp = compare_models(bench, "a", "b", "arc_easy", "acc")
    z = 1.959963984540054  # the 97.5% standard normal quantile
    se = math.sqrt(0.010**2 + 0.012**2)
    assert cmp.difference == pytest.approx(0.05, rel=1e-12)
    assert cmp.stderr == pytest.approx(se, rel=1e-12)
    assert (cmp.ci_lower, cmp.ci_upper) == (pytest.approx(0.05 - z * se, rel=1e-12),
                                            pytest.approx(0.05 + z * se, rel=1e-12))
    assert cmp.note == "" and cmp.filter == "none"
    wide = compare_models(bench, "a", "b", "arc_easy", "acc", alpha=0.01)
    assert wide.ci_upper - wide.ci_lower > cmp.ci_upper - cmp.ci_lower


def test_a_missing_stderr_gives_no_interval_and_says_why():
    bench = bench_of({"model": "a", "value": 8.0, "stderr": None, "metric": "word_perplexity"},
                     {"model": "b", "value": 9.0, "stderr": 0.5, "metric": "word_perplexity"})
    cmp = compare_models(bench, "a", "b", "arc_easy", "word_perplexity")
    assert cmp.difference == -1.0 and math.isnan(cmp.ci_lower) and math.isnan(cmp.ci_upper)
    assert "no interval" in cmp.note and "'a'" in cmp.note
    assert cmp.to_dict()["ci_lower"] is None


def test_several_shared_filters_must_be_chosen_and_an_unknown_model_names_the_available_ones():
    bench = bench_of({"model": "a", "value": 0.3, "stderr": 0.01, "filter": "strict-match"},
                     {"model": "a", "value": 0.4, "stderr": 0.01, "filter": "flexible-extract"},
                     {"model": "b", "value": 0.2, "stderr": 0.01, "filter": "strict-match"},
                     {"model": "b", "value": 0.25, "stderr": 0.01, "filter": "flexible-extract"},
                     {"model": "c", "value": 0.1, "stderr": 0.01, "filter": "strict-match"})
    with pytest.raises(ValueError, match="several filters"):
        compare_models(bench, "a", "b", "arc_easy", "acc")
    cmp = compare_models(bench, "a", "b", "arc_easy", "acc", "strict-match")
    assert cmp.difference == pytest.approx(0.1, rel=1e-12)
    # the one filter two models share is picked, whatever other filters they have
    assert compare_models(bench, "a", "c", "arc_easy", "acc").filter == "strict-match"
    with pytest.raises(ValueError, match=r"model 'd'.*\['a', 'b', 'c'\]"):
        compare_models(bench, "a", "d", "arc_easy", "acc", "strict-match")


def test_the_newest_of_several_results_is_compared_and_the_note_says_so():
    bench = bench_of({"model": "a", "value": 0.3, "stderr": 0.01, "date": "2024-01-01"},
                     {"model": "a", "value": 0.5, "stderr": 0.01, "date": "2024-02-01"},
                     {"model": "b", "value": 0.4, "stderr": 0.01, "date": "2024-01-01", "n_shot": 5})
    cmp = compare_models(bench, "a", "b", "arc_easy", "acc")
    assert cmp.value_a == 0.5
    assert "the newest is used" in cmp.note and "0-shot vs 5-shot" in cmp.note


def test_a_comparison_serialises_to_strict_json_with_its_numbers():
    bench = bench_of({"model": "a", "value": 0.6, "stderr": 0.01}, {"model": "b", "value": 0.5, "stderr": None})
    out = json.loads(json.dumps(compare_models(bench, "a", "b", "arc_easy", "acc").to_dict(), allow_nan=False))
    assert list(out) == ["model_a", "model_b", "task", "metric", "filter", "value_a", "value_b", "stderr_a",
                         "stderr_b", "difference", "stderr", "ci_lower", "ci_upper", "alpha", "higher_is_better",
                         "note"]
    assert out["difference"] == pytest.approx(0.1) and out["stderr_b"] is None and out["ci_lower"] is None
