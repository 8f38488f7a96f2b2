"""Distillation results in: formats, layouts, units, column names, metric direction, and every kind of bad input."""
from __future__ import annotations

import io
import json
import math
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.results_io import (
    EXAMPLES,
    MAX_STORED_DROPS,
    RESULT_COLUMNS,
    DataError,
    DroppedRow,
    LoadReport,
    infer_higher_is_better,
    list_examples,
    load_distillation_results,
    load_example_results,
)

DATA = Path(__file__).parent / "data" / "results"

# The rows of tests/data/results/long.csv, as the loader must return them.
LONG_STUDENTS = [125_000_000] * 3 + [350_000_000] * 3
LONG_TEACHERS = [350_000_000, 1_300_000_000, 6_700_000_000, 1_300_000_000, 6_700_000_000, 13_000_000_000]
LONG_VALUES = [3.40, 3.31, 3.36, 3.05, 2.98, 3.02]


def load(text: str | bytes, name: str = "results.csv", **kwargs) -> tuple[pd.DataFrame, LoadReport]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return load_distillation_results(data, name=name, **kwargs)


def assert_accounted(report: LoadReport) -> None:
    """Nothing silently lost: every record read is kept, dropped or a duplicate."""
    assert report.n_rows_read == report.n_rows_kept + report.n_dropped + report.n_duplicates


def long_records() -> list[dict]:
    return pd.read_csv(DATA / "long.csv").to_dict(orient="records")


def assert_is_long_fixture(frame: pd.DataFrame) -> None:
    assert frame["student_params"].tolist() == LONG_STUDENTS
    assert frame["teacher_params"].tolist() == LONG_TEACHERS
    np.testing.assert_allclose(frame["value"].to_numpy(), LONG_VALUES, rtol=1e-12)
    assert frame["metric"].tolist() == ["val_loss"] * 6
    assert frame["higher_is_better"].tolist() == [False] * 6
    assert frame["family"].tolist() == ["gpt2"] * 6
    assert frame["data_tokens"].tolist() == [2e9] * 6
    assert frame["seed"].tolist() == [0] * 6


# -- the contract --------------------------------------------------------------------------------------------------


def test_a_long_csv_loads_into_the_contract_columns_and_types():
    frame, report = load_distillation_results(DATA / "long.csv")
    assert list(frame.columns) == list(RESULT_COLUMNS)
    assert frame["student_params"].dtype == np.int64 and frame["teacher_params"].dtype == np.int64
    assert frame["value"].dtype == np.float64 and frame["data_tokens"].dtype == np.float64
    assert frame["higher_is_better"].dtype == bool
    assert str(frame["seed"].dtype) == "Int64"
    assert pd.api.types.is_string_dtype(frame["metric"]) and pd.api.types.is_string_dtype(frame["family"])
    assert_is_long_fixture(frame)
    assert frame["source"].tolist() == ["long.csv"] * 6
    assert frame["run_id"].isna().all() and frame["teacher_value"].isna().all()
    assert (report.source, report.file_format, report.layout) == ("long.csv", "csv", "long")
    assert (report.n_rows_read, report.n_rows_kept, report.n_dropped, report.n_duplicates) == (6, 6, 0, 0)
    assert report.dropped == [] and report.warnings == []
    assert report.encoding == "utf-8"


def test_optional_columns_default_family_to_default_and_data_tokens_to_nan():
    frame, _ = load("student_params,teacher_params,metric,value\n125M,1.3B,val_loss,3.3\n")
    assert frame["family"].tolist() == ["default"]
    assert math.isnan(frame["data_tokens"].iloc[0])
    assert frame["seed"].isna().all()
    assert frame["source"].tolist() == ["results.csv"]


def test_provenance_columns_are_kept_as_text_and_numbers():
    frame, _ = load("student_params,teacher_params,metric,value,run_id,teacher_name,student_name,student_init,"
                    "teacher_value,family\n"
                    "125M,1.3B,val_loss,3.3,7,gpt2-xl,gpt2,pruned,2.9,\n"
                    "125M,6.7B,val_loss,3.4,,opt-6.7b,gpt2,,,opt\n")
    assert frame["run_id"].iloc[0] == "7" and pd.isna(frame["run_id"].iloc[1])  # "7", not "7.0"
    assert frame["teacher_name"].tolist() == ["gpt2-xl", "opt-6.7b"]
    assert frame["student_init"].iloc[0] == "pruned" and pd.isna(frame["student_init"].iloc[1])
    assert frame["teacher_value"].iloc[0] == 2.9 and math.isnan(frame["teacher_value"].iloc[1])
    assert frame["family"].tolist() == ["default", "opt"]


def test_a_source_column_in_the_file_is_kept_and_empty_cells_get_the_file_name():
    frame, _ = load("student_params,teacher_params,metric,value,source\n"
                    "125M,1.3B,val_loss,3.3,sweep-a.csv\n125M,6.7B,val_loss,3.4,\n", name="merged.csv")
    assert frame["source"].tolist() == ["sweep-a.csv", "merged.csv"]


def test_data_tokens_accept_units_and_seeds_become_nullable_integers():
    frame, _ = load("student_params,teacher_params,metric,value,data_tokens,seed\n"
                    "125M,1.3B,val_loss,3.3,2B,3\n125M,1.3B,val_loss,3.2,500M,\n125M,1.3B,val_loss,3.1,,4.0\n")
    assert frame["data_tokens"].tolist()[:2] == [2e9, 5e8] and math.isnan(frame["data_tokens"].iloc[2])
    assert frame["seed"].tolist()[0] == 3 and pd.isna(frame["seed"].iloc[1]) and frame["seed"].iloc[2] == 4


# -- formats -------------------------------------------------------------------------------------------------------


def write_format(tmp_path: Path, fmt: str) -> Path:
    records = long_records()
    path = tmp_path / f"results.{fmt}"
    if fmt == "tsv":
        pd.DataFrame(records).to_csv(path, sep="\t", index=False)
    elif fmt == "parquet":
        pd.DataFrame(records).to_parquet(path, index=False)
    elif fmt == "json":
        path.write_text(json.dumps(records))
    elif fmt == "rows.json":
        path.write_text(json.dumps({"schema_version": 1, "rows": records}))
    elif fmt == "columns.json":
        path.write_text(json.dumps(pd.DataFrame(records).to_dict(orient="list")))
    elif fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


@pytest.mark.parametrize("fmt", ["tsv", "parquet", "json", "rows.json", "columns.json", "jsonl"])
def test_every_format_loads_the_same_results(tmp_path, fmt):
    path = write_format(tmp_path, fmt)
    frame, report = load_distillation_results(path)
    assert_is_long_fixture(frame)
    assert report.file_format == fmt.split(".")[-1]
    assert frame["source"].tolist() == [path.name] * 6
    assert_accounted(report)


@pytest.mark.parametrize("fmt, expected", [("tsv", "tsv"), ("parquet", "parquet"), ("json", "json"),
                                           ("jsonl", "jsonl")])
def test_the_format_is_sniffed_when_the_name_has_no_extension(tmp_path, fmt, expected):
    data = write_format(tmp_path, fmt).read_bytes()
    frame, report = load_distillation_results(data)  # bytes, no name
    assert report.file_format == expected and report.source == "<data>"
    assert_is_long_fixture(frame)


def test_file_format_overrides_the_extension(tmp_path):
    path = tmp_path / "results.txt"
    path.write_text((DATA / "long.csv").read_text().replace(",", "\t"))
    frame, report = load_distillation_results(path, file_format="tsv")
    assert report.file_format == "tsv"
    assert_is_long_fixture(frame)
    with pytest.raises(DataError, match=r"unknown file_format 'xlsx'"):
        load_distillation_results(path, file_format="xlsx")


def test_a_binary_file_like_object_with_a_name_loads_like_a_file():
    buffer = io.BytesIO((DATA / "long.csv").read_bytes())
    buffer.name = "/uploads/long.csv"  # Streamlit's UploadedFile has a name attribute
    frame, report = load_distillation_results(buffer)
    assert report.source == "long.csv"
    assert_is_long_fixture(frame)


def test_a_semicolon_separated_csv_is_read():
    frame, _ = load("student_params;teacher_params;metric;value\n125M;1.3B;val_loss;3.3\n")
    assert frame["teacher_params"].tolist() == [1_300_000_000]


def test_json_records_are_numbered_from_one_and_non_objects_are_dropped():
    records = [{"student_params": "125M", "teacher_params": "1.3B", "metric": "acc", "value": 0.5},
               [1, 2, 3],
               {"student_params": "125M", "teacher_params": "6.7B", "metric": "acc", "value": None}]
    frame, report = load(json.dumps(records), name="r.json")
    assert frame["teacher_params"].tolist() == [1_300_000_000]
    assert [(d.row, d.column) for d in report.dropped] == [(2, None), (3, "value")]
    assert "expected a JSON object" in report.dropped[0].reason
    assert report.dropped[1].reason == "expected a finite number, found a missing value (null or NaN)"
    assert_accounted(report)


def test_a_jsonl_line_that_is_not_json_is_dropped_with_its_line_number():
    lines = ['{"student_params": "125M", "teacher_params": "1.3B", "metric": "acc", "value": 0.5}',
             "",
             '{"student_params": "125M", "teacher_params": broken',
             '{"student_params": "125M", "teacher_params": "6.7B", "metric": "acc", "value": 0.6}']
    frame, report = load("\n".join(lines), name="r.jsonl")
    assert frame["teacher_params"].tolist() == [1_300_000_000, 6_700_000_000]
    assert len(report.dropped) == 1 and report.dropped[0].row == 3
    assert report.dropped[0].reason.startswith("not valid JSON")
    assert (report.n_rows_read, report.n_dropped) == (3, 1)


def test_an_lm_eval_results_file_is_refused_with_a_pointer_to_the_benchmark_importer():
    obj = {"results": {"arc_easy": {"acc,none": 0.5}}, "versions": {"arc_easy": 1}, "config": {}}
    with pytest.raises(DataError, match=r"lm-eval results file"):
        load(json.dumps(obj), name="results_2024.json")


def test_column_oriented_json_with_unequal_columns_is_an_error():
    obj = {"student_params": ["125M", "350M"], "teacher_params": ["1.3B"], "metric": ["acc"] * 2, "value": [1, 2]}
    with pytest.raises(DataError, match=r"columns of equal length.*'teacher_params': 1"):
        load(json.dumps(obj), name="r.json")


# -- wide files ----------------------------------------------------------------------------------------------------


def test_a_wide_file_is_melted_row_by_row_with_one_record_per_metric():
    frame, report = load_distillation_results(DATA / "wide.csv")
    assert report.layout == "wide" and report.metric_columns == ["val_loss", "avg_acc"]
    assert frame["metric"].tolist() == ["val_loss", "avg_acc"] * 4
    assert frame["student_params"].tolist() == [125_000_000] * 4 + [350_000_000] * 4
    assert frame["teacher_params"].tolist() == [350_000_000, 350_000_000, 1_300_000_000, 1_300_000_000,
                                                1_300_000_000, 1_300_000_000, 6_700_000_000, 6_700_000_000]
    np.testing.assert_allclose(frame["value"], [3.40, 0.41, 3.31, 0.43, 3.05, 0.47, 2.98, 0.49], rtol=1e-12)
    assert frame["higher_is_better"].tolist() == [False, True] * 4
    assert report.columns_used["student_params"] == "student"
    assert report.columns_used["teacher_params"] == "teacher_size"
    assert report.warnings == ["ignored column(s) that are not results columns: 'notes'"]
    assert (report.n_file_rows, report.n_rows_read, report.n_rows_kept) == (4, 8, 8)


def test_in_a_wide_file_a_bad_metric_cell_drops_one_record_and_a_bad_size_drops_the_row():
    frame, report = load("student,teacher,val_loss,acc\n125M,1.3B,3.1,abc\n125M,zero,3.0,0.5\n350M,1.3B,2.9,0.6\n")
    assert frame["metric"].tolist() == ["val_loss", "val_loss", "acc"]
    assert frame["value"].tolist() == [3.1, 2.9, 0.6]
    assert report.n_rows_read == 6 and report.n_dropped == 3
    assert report.dropped_by_column == {"teacher": 2, "acc": 1}
    assert [(d.row, d.column) for d in report.dropped] == [(2, "acc"), (3, "teacher"), (3, "teacher")]
    assert report.dropped[0].reason == "expected a finite number, found 'abc'"
    # the summary lists the row dropped for its size once, not once per metric
    assert report.summary().count("row 3, column 'teacher'") == 1
    assert_accounted(report)


def test_a_pandas_index_column_is_not_mistaken_for_a_metric():
    frame, report = load(",student_params,teacher_params,val_loss\n0,125M,1.3B,3.1\n1,125M,6.7B,3.0\n")
    assert frame["metric"].tolist() == ["val_loss", "val_loss"]
    assert "'Unnamed: 0'" in report.warnings[0]


# -- units, column names -------------------------------------------------------------------------------------------


def test_sizes_with_units_are_read_as_raw_counts():
    frame, _ = load('student_params,teacher_params,metric,value\n'
                    '125M,1.3B,acc,0.5\n350m,7e9,acc,0.5\n"6,700,000",1300000000,acc,0.5\n'
                    '125000000.0,1.3 b,acc,0.6\n')
    assert frame["student_params"].tolist() == [125_000_000, 350_000_000, 6_700_000, 125_000_000]
    assert frame["teacher_params"].tolist() == [1_300_000_000, 7_000_000_000, 1_300_000_000, 1_300_000_000]


def test_size_unit_multiplies_bare_numbers_but_not_sizes_with_units():
    frame, report = load("student_params,teacher_params,metric,value\n125,1.3B,acc,0.5\n350,6700,acc,0.5\n",
                         size_unit="M")
    assert frame["student_params"].tolist() == [125_000_000, 350_000_000]
    assert frame["teacher_params"].tolist() == [1_300_000_000, 6_700_000_000]
    assert report.warnings == []
    with pytest.raises(DataError, match=r"size_unit: unit must be one of K, M, B, T"):
        load("student_params,teacher_params,metric,value\n125,1.3B,acc,0.5\n", size_unit="GB")


def test_bare_sizes_in_millions_are_refused_with_the_unit_they_look_like_and_load_exactly_with_it():
    text = "student_params,teacher_params,metric,value\n70,1300,acc,0.5\n87.5,160000000,acc,0.6\n"
    with pytest.raises(DataError, match=r"found 70.0 \(70 parameters is not a model size: write its unit \(70M\?\)"):
        load(text)
    frame, report = load(text, size_unit="M")  # 87.5 in millions is 87,500,000 parameters, not 88
    assert frame["student_params"].tolist() == [70_000_000, 87_500_000] and not report.dropped
    assert frame["teacher_params"].tolist() == [1_300_000_000, 160_000_000_000_000]


def test_aliases_and_loose_header_spelling_map_to_the_contract():
    frame, report = load("Student Size,teacher,Metric,VALUE,tokens,random_seed,Model-Family\n"
                         "125M,1.3B,acc,0.5,2B,1,pythia\n")
    assert report.columns_used == {"student_params": "Student Size", "teacher_params": "teacher",
                                   "metric": "Metric", "value": "VALUE", "family": "Model-Family",
                                   "data_tokens": "tokens", "seed": "random_seed"}
    assert (frame["student_params"].iloc[0], frame["data_tokens"].iloc[0], frame["seed"].iloc[0]) == \
        (125_000_000, 2e9, 1)
    assert frame["family"].iloc[0] == "pythia"


def test_column_map_wins_over_exact_names_and_aliases():
    frame, report = load("S,T,student_params,metric,value\n125M,1.3B,999,acc,0.5\n",
                         column_map={"student_params": "S", "teacher_params": "T"})
    assert frame["student_params"].tolist() == [125_000_000]
    assert frame["teacher_params"].tolist() == [1_300_000_000]
    assert report.columns_used["student_params"] == "S"
    assert "ignored column(s) that are not results columns: 'student_params'" in report.warnings


def test_a_bad_column_map_names_the_problem():
    text = "S,T,metric,value\n125M,1.3B,acc,0.5\n"
    with pytest.raises(DataError, match=r"column_map maps teacher_params to 'X', but there is no such column; "
                                        r"found columns 'S', 'T', 'metric', 'value'"):
        load(text, column_map={"student_params": "S", "teacher_params": "X"})
    with pytest.raises(DataError, match=r"column_map: 'studnt' is not a results column; expected keys among"):
        load(text, column_map={"studnt": "S"})
    with pytest.raises(DataError, match=r"did you swap keys and values"):
        load(text, column_map={"S": "student_params"})


# -- metric direction ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric, expected",
    [
        ("val_loss", False), ("loss", False), ("ppl", False), ("word_perplexity", False), ("bits_per_byte", False),
        ("bpb", False), ("error_rate", False), ("nll", False), ("wer", False),
        ("acc", True), ("acc,none", True), ("avg_acc", True), ("accuracy", True), ("acc_norm", True),
        ("score", True), ("f1", True), ("exact_match", True), ("em", True), ("bleu", True), ("rougeL", True),
        ("pass@1", True), ("log_likelihood", True), ("negative_log_likelihood", False),
        ("mystery", None), ("temperature", None), ("", None),
    ],
)
def test_direction_is_inferred_from_the_metric_name(metric, expected):
    assert infer_higher_is_better(metric) is expected


def test_a_higher_is_better_column_is_read_where_filled_and_the_name_decides_elsewhere():
    frame, _ = load("student_params,teacher_params,metric,value,higher_is_better\n"
                    "125M,1.3B,mystery,1,yes\n125M,1.3B,mystery2,1,0\n125M,1.3B,val_loss,1,\n"
                    "125M,1.3B,quirk,1,TRUE\n125M,1.3B,quirk2,1,False\n")
    assert frame["higher_is_better"].tolist() == [True, False, False, True, False]


def test_the_higher_is_better_argument_decides_metrics_the_name_leaves_open():
    frame, report = load("student_params,teacher_params,metric,value\n125M,1.3B,mystery,1\n125M,1.3B,acc,0.5\n",
                         higher_is_better={"mystery": False, "absent_metric": True})
    assert frame["higher_is_better"].tolist() == [False, True]
    assert any("'absent_metric'" in w for w in report.warnings)


def test_an_unknown_direction_is_an_error_that_says_how_to_state_it():
    with pytest.raises(DataError) as info:
        load("student_params,teacher_params,metric,value\n125M,1.3B,mystery,1\n125M,1.3B,acc,0.5\n")
    message = str(info.value)
    assert message.startswith("results.csv: cannot tell whether higher or lower is better for metric(s) 'mystery'")
    assert "higher_is_better column" in message
    assert "--higher-is-better mystery=true|false" in message


def test_an_unreadable_higher_is_better_cell_drops_the_row():
    frame, report = load("student_params,teacher_params,metric,value,higher_is_better\n"
                         "125M,1.3B,acc,0.5,maybe\n125M,6.7B,acc,0.6,true\n")
    assert frame["teacher_params"].tolist() == [6_700_000_000]
    assert report.dropped == [DroppedRow(2, "higher_is_better",
                                         "expected true or false (or 1/0, yes/no), found 'maybe'")]


def test_json_booleans_and_nulls_in_higher_is_better_fall_back_to_the_name_where_null():
    records = [{"student_params": 125e6, "teacher_params": "1.3B", "metric": "quirk", "value": 1,
                "higher_is_better": True},
               {"student_params": 125e6, "teacher_params": "2B", "metric": "val_loss", "value": 1,
                "higher_is_better": None}]
    frame, _ = load(json.dumps(records), name="r.json")
    assert frame["higher_is_better"].tolist() == [True, False]


def test_conflicting_directions_for_one_metric_are_kept_with_a_warning():
    _, report = load("student_params,teacher_params,metric,value,higher_is_better\n"
                     "125M,1.3B,acc,0.5,true\n125M,6.7B,acc,0.6,false\n")
    assert any("'acc' has higher_is_better true in some rows and false in others" in w for w in report.warnings)


# -- bad input: whole file -----------------------------------------------------------------------------------------


def test_missing_required_columns_are_named_with_the_columns_found():
    with pytest.raises(DataError) as info:
        load("student_params,metric,value\n125M,acc,0.5\n")
    message = str(info.value)
    assert message.startswith("results.csv: missing required column(s) 'teacher_params'; "
                              "found columns 'student_params', 'metric', 'value'")
    assert "column_map" in message and info.value.source == "results.csv"


def test_a_long_file_missing_its_value_column_says_so():
    with pytest.raises(DataError, match=r"missing required column 'value'.*found columns 'student_params', "
                                        r"'teacher_params', 'metric', 'score'"):
        load("student_params,teacher_params,metric,score\n125M,1.3B,acc,0.5\n")


def test_a_file_with_no_metric_columns_at_all_is_missing_metric_and_value():
    with pytest.raises(DataError, match=r"missing required column\(s\) 'metric', 'value'"):
        load("student_params,teacher_params,notes\n125M,1.3B,hello\n")


@pytest.mark.parametrize("content, what", [
    (b"", "the file is empty (0 bytes)"),
    (b"   \n\n  ", "the file is empty"),
    (b"student_params,teacher_params,metric,value\n", "the file has a header but no data rows"),
    (b"student_params,teacher_params,metric,value\n\n\n", "the file has a header but no data rows"),
])
def test_an_empty_file_is_an_error_naming_the_file(content, what):
    with pytest.raises(DataError) as info:
        load(content, name="empty.csv")
    assert str(info.value).startswith(f"empty.csv: {what}")


@pytest.mark.parametrize("name", ["empty.json", "empty.jsonl", "empty.parquet"])
def test_empty_json_jsonl_and_parquet_files_are_errors(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".parquet"):
        pd.DataFrame({"student_params": pd.Series([], dtype="int64")}).to_parquet(path)
    else:
        path.write_text("[]" if name.endswith(".json") else "\n\n")
    with pytest.raises(DataError, match=rf"^{name}: "):
        load_distillation_results(path)


def test_a_binary_file_is_refused_naming_the_nul_byte():
    rng = np.random.default_rng(0)
    data = b"student_params,teacher\x00" + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    with pytest.raises(DataError) as info:
        load(data, name="results.csv")
    assert str(info.value).startswith("results.csv: this is a binary file (a NUL byte at byte offset 22)")


@pytest.mark.parametrize("magic, hint", [
    (b"PK\x03\x04\x14\x00\x06\x00", "Excel .xlsx"),
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "gzip-compressed"),
    (b"PAR1\x15\x04\x15", "file_format='parquet'"),
])
def test_known_binary_formats_get_a_specific_hint(magic, hint):
    with pytest.raises(DataError, match=hint):
        load(magic + b"\x00" * 100, name="results.csv")


def test_a_file_larger_than_max_bytes_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes((DATA / "long.csv").read_bytes())
    with pytest.raises(DataError, match=r"^big.csv: the file is \d+ bytes; the limit is 100 bytes"):
        load_distillation_results(path, max_bytes=100)
    with pytest.raises(DataError, match=r"the limit is 100 bytes"):
        load_distillation_results(io.BytesIO(path.read_bytes()), name="big.csv", max_bytes=100)


def test_a_missing_path_is_a_data_error():
    with pytest.raises(DataError, match=r"^nope.csv: no such file"):
        load_distillation_results("/nonexistent/nope.csv")


def test_unparseable_json_is_an_error_naming_the_file():
    with pytest.raises(DataError, match=r"^r.json: not valid JSON: Expecting"):
        load('[{"student_params": "125M",', name="r.json")


def test_a_csv_line_with_too_many_fields_is_dropped_with_its_line_number():
    frame, report = load("student_params,teacher_params,metric,value\n125M,1.3B,acc,0.5\n"
                         "125M,1.3B,acc,0.5,extra\n125M,6.7B,acc,0.6\n")
    assert frame["teacher_params"].tolist() == [1_300_000_000, 6_700_000_000]
    assert report.dropped[0].row == 3 and report.dropped[0].column is None
    assert "expected 4 fields, saw 5" in report.dropped[0].reason
    assert report.dropped_by_column == {"whole line": 1}
    assert_accounted(report)


def test_a_first_data_line_with_one_field_too_many_is_dropped_not_read_as_an_index():
    # pandas would otherwise take the first column as an index and shift every value one column left
    frame, report = load("student_params,teacher_params,metric,value\n125M,1.3B,acc,0.5,extra\n"
                         "125M,6.7B,acc,0.6\n")
    assert frame["teacher_params"].tolist() == [6_700_000_000]
    assert report.dropped == [DroppedRow(2, None, "could not split this line into the header's columns "
                                                  "(expected 4 fields, saw 5)")]
    assert_accounted(report)


def test_a_string_holding_file_content_is_not_mistaken_for_a_path():
    with pytest.raises(TypeError, match=r"pass the content as bytes"):
        load_distillation_results("student_params,teacher_params,metric,value\n125M,1.3B,acc,0.5\n")


def test_when_every_row_is_dropped_the_error_summarises_the_first_reasons():
    with pytest.raises(DataError) as info:
        load("student_params,teacher_params,metric,value\n0,1.3B,acc,0.5\n125M,abc,acc,0.5\n125M,1B,acc,x\n")
    message = str(info.value)
    assert message.startswith("results.csv: no usable rows: all 3 were dropped, e.g. results.csv, row 2, "
                              "column 'student_params'")
    assert "row 3, column 'teacher_params'" in message and "row 4, column 'value'" in message


# -- bad input: rows -----------------------------------------------------------------------------------------------


def test_the_messy_fixture_drops_each_bad_row_naming_line_column_and_reason():
    frame, report = load_distillation_results(DATA / "messy.csv")
    expected = [
        (3, "teacher_params", "expected a positive size such as 1.3B, 125M or 125000000, found 'abc'"),
        (4, "student_params", "expected a positive size such as 1.3B, 125M or 125000000, found '-125M' "
                              "(sizes must be positive)"),
        (6, "value", "expected a finite number, found 'nan'"),
        (7, "value", "expected a finite number, found 'inf'"),
        (8, "value", "expected a finite number, found an empty cell"),
        (13, "seed", "expected an integer seed such as 0 or 3 (or an empty cell), found 1.5"),
        (14, "teacher_params", "expected a positive size such as 1.3B, 125M or 125000000, found '1.3X' "
                               "(unknown unit 'X'; use K, M, B or T)"),
    ]
    assert [(d.row, d.column, d.reason) for d in report.dropped] == expected
    # kept: line 2, line 5 (teacher 0: trained without a teacher), and lines 10-11 (teacher <= student: warned,
    # kept); line 12 repeats line 2
    assert frame["teacher_params"].tolist() == [1_300_000_000, 0, 350_000_000, 125_000_000]
    assert (report.n_rows_read, report.n_rows_kept, report.n_dropped, report.n_duplicates) == (12, 4, 7, 1)
    assert report.dropped_by_column == {"student_params": 1, "teacher_params": 2, "value": 3, "seed": 1}
    assert "dropped 1 exact duplicate row (row 12)" in report.warnings[0]
    assert report.warnings[1].startswith("teacher_params <= student_params in 2 rows (rows 10, 11): kept")
    assert_accounted(report)


def test_a_dropped_row_message_names_file_row_and_column_like_the_plan_says():
    _, report = load("student_params,teacher_params,metric,value\n" + "125M,1.3B,acc,0.5\n" * 0
                     + "".join(f"125M,{t}B,acc,0.5\n" for t in range(1, 6)) + "125M,abc,acc,0.5\n")
    assert report.dropped[0].describe(report.source) == (
        "results.csv, row 7, column 'teacher_params': expected a positive size such as 1.3B, 125M or 125000000, "
        "found 'abc'")
    assert "results.csv, row 7, column 'teacher_params'" in report.summary()


def test_text_in_a_numeric_column_drops_that_row_only():
    frame, report = load("student_params,teacher_params,metric,value\n125M,1.3B,acc,0.5\n125M,6.7B,acc,high\n")
    assert frame["value"].tolist() == [0.5]
    assert report.dropped == [DroppedRow(3, "value", "expected a finite number, found 'high'")]


@pytest.mark.parametrize("student, teacher, column", [
    ("0", "1.3B", "student_params"), ("-125000000", "1.3B", "student_params"),
    ("125M", "-1.3B", "teacher_params"),
])
def test_zero_or_negative_sizes_drop_the_row(student, teacher, column):
    frame, report = load(f"student_params,teacher_params,metric,value\n125M,1.3B,acc,0.5\n{student},{teacher},acc,0.4\n")
    assert len(frame) == 1
    assert report.dropped[0].row == 3 and report.dropped[0].column == column
    assert "must be positive" in report.dropped[0].reason


@pytest.mark.parametrize("cell", ["", "none", "None", "0", "no teacher"])
def test_a_student_without_a_teacher_is_kept_with_teacher_params_zero(cell):
    frame, report = load(f"student_params,teacher_params,metric,value\n125M,1.3B,acc,0.5\n125M,{cell},acc,0.4\n")
    assert frame["teacher_params"].tolist() == [1_300_000_000, 0] and not report.dropped
    assert not any("teacher_params <= student_params" in w for w in report.warnings)


def test_nan_and_inf_values_from_json_are_dropped():
    text = ('[{"student_params": 125000000, "teacher_params": 1.3e9, "metric": "acc", "value": NaN},'
            ' {"student_params": 125000000, "teacher_params": 1.3e9, "metric": "acc", "value": Infinity},'
            ' {"student_params": 125000000, "teacher_params": 6.7e9, "metric": "acc", "value": 0.5},'
            ' {"student_params": Infinity, "teacher_params": 6.7e9, "metric": "acc", "value": 0.5}]')
    frame, report = load(text, name="r.json")
    assert frame["teacher_params"].tolist() == [6_700_000_000]
    assert [(d.row, d.column) for d in report.dropped] == [(1, "value"), (2, "value"), (4, "student_params")]
    assert report.dropped[1].reason == "expected a finite number, found inf"
    assert report.dropped[2].reason == "expected a positive size such as 1.3B, 125M or 125000000, found inf"


def test_r_style_na_cells_are_missing_in_optional_columns_but_bad_in_required_ones():
    frame, report = load("student_params,teacher_params,metric,value,data_tokens,seed\n"
                         "125M,1.3B,acc,0.5,NA,NA\n125M,6.7B,acc,NA,2B,1\n")
    assert len(frame) == 1 and math.isnan(frame["data_tokens"].iloc[0]) and pd.isna(frame["seed"].iloc[0])
    assert report.dropped == [DroppedRow(3, "value", "expected a finite number, found 'NA'")]


def test_teacher_no_larger_than_student_is_kept_and_the_rows_are_named():
    frame, report = load("student_params,teacher_params,metric,value\n"
                         "1.3B,1.3B,acc,0.5\n1.3B,125M,acc,0.4\n125M,1.3B,acc,0.6\n")
    assert len(frame) == 3 and report.n_dropped == 0
    assert report.warnings == ["teacher_params <= student_params in 2 rows (rows 2, 3): kept, but a teacher no "
                               "larger than its student is unusual; check that the columns are not swapped"]


def test_exact_duplicates_are_dropped_and_counted_after_normalising_units():
    frame, report = load("student_params,teacher_params,metric,value\n"
                         "125M,1.3B,acc,0.5\n125000000,1300000000,acc,0.5\n125M,1.3B,acc,0.51\n125M,1.3B,acc,0.5\n")
    assert frame["value"].tolist() == [0.5, 0.51]
    assert report.n_duplicates == 2
    assert report.warnings == ["dropped 2 exact duplicate rows (rows 3, 5); each repeats an earlier one"]
    assert_accounted(report)


def test_rows_differing_only_in_seed_are_not_duplicates():
    frame, report = load("student_params,teacher_params,metric,value,seed\n"
                         "125M,1.3B,acc,0.5,0\n125M,1.3B,acc,0.5,1\n")
    assert len(frame) == 2 and report.n_duplicates == 0


def test_the_stored_dropped_list_is_capped_but_the_count_is_complete():
    n_bad = MAX_STORED_DROPS + 500
    text = "student_params,teacher_params,metric,value\n125M,1.3B,acc,0.5\n" + "125M,1.3B,acc,x\n" * n_bad
    frame, report = load(text)
    assert len(frame) == 1
    assert len(report.dropped) == MAX_STORED_DROPS and report.n_dropped == n_bad
    assert report.dropped[0].row == 3 and report.dropped[-1].row == 2 + MAX_STORED_DROPS
    assert f"... and {n_bad - 10:,} more" in report.summary()
    assert_accounted(report)


# -- text encodings ------------------------------------------------------------------------------------------------


def test_non_utf8_text_is_read_as_windows_1252_with_a_warning_naming_the_first_bad_byte():
    text = "student_params,teacher_params,metric,value,family\n125M,1.3B,acc,0.5,Café – test\n"
    frame, report = load(text.encode("cp1252"))
    assert frame["family"].tolist() == ["Café – test"]
    assert report.encoding == "cp1252"
    offset = text.encode("cp1252").index(b"\xe9")
    assert report.warnings == [
        f"the file is not valid UTF-8 (first bad byte 0xE9 at byte offset {offset}, line 2); it was read as "
        f"Windows-1252, so check accented or special characters in names; save it as UTF-8 to silence this"]


def test_bytes_windows_1252_leaves_undefined_fall_back_to_latin_1():
    data = b"student_params,teacher_params,metric,value,family\n125M,1.3B,acc,0.5,x\x81y\n"
    frame, report = load(data)
    assert report.encoding == "latin-1" and frame["family"].iloc[0] == "x\x81y"
    assert "Latin-1" in report.warnings[0]


def test_a_bad_byte_past_the_first_megabyte_is_located_exactly(tmp_path):
    header = "student_params,teacher_params,metric,value,family\n"
    row = "125M,1.3B,acc,0.5,ok\n"
    n_rows = 2**20 // len(row) + 10
    data = (header + row * n_rows).encode() + b"125M,1.3B,acc,0.5,\xe9\n"
    path = tmp_path / "r.csv"
    path.write_bytes(data)
    _, report = load_distillation_results(path)
    assert f"byte offset {len(data) - 2:,}, line {n_rows + 2}" in report.warnings[0]


def test_utf8_with_a_bom_and_utf16_from_excel_are_read():
    text = "student_params,teacher_params,metric,value\n125M,1.3B,acc,0.5\n"
    frame, report = load(b"\xef\xbb\xbf" + text.encode())
    assert report.columns_used["student_params"] == "student_params" and report.warnings == []
    frame, report = load(text.replace(",", "\t").encode("utf-16"), name="excel.txt")
    assert report.file_format == "tsv" and frame["teacher_params"].tolist() == [1_300_000_000]


# -- the report ----------------------------------------------------------------------------------------------------


def test_the_summary_says_what_was_kept_dropped_and_warned():
    _, report = load_distillation_results(DATA / "messy.csv")
    summary = report.summary()
    assert summary.splitlines()[0] == "messy.csv: kept 4 of 12 rows [CSV, long layout]."
    assert "Dropped 7 rows with bad values (student_params: 1, teacher_params: 2, value: 3, seed: 1):" in summary
    assert "messy.csv, row 6, column 'value': expected a finite number, found 'nan'" in summary
    assert "Warning: dropped 1 exact duplicate row (row 12)" in summary


def test_a_data_error_survives_pickling_with_its_location():
    error = DataError("expected x, found y", source="r.csv", row=7, column="value")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.source, copy.row, copy.column) == (str(error), "r.csv", 7, "value")
    assert isinstance(copy, ValueError)


# -- bundled examples ----------------------------------------------------------------------------------------------


def test_list_examples_names_the_simulated_dataset():
    assert ("simulated", EXAMPLES["simulated"][1]) in list_examples()
    assert "SIMULATED" in EXAMPLES["simulated"][1]


@pytest.mark.parametrize("name", ["measured", "simulated"])
def test_every_bundled_example_loads_completely(name):
    frame, report = load_example_results(name)
    assert len(frame) > 0 and report.n_dropped == 0 and report.n_duplicates == 0
    assert (frame["teacher_params"] > 0).all() and frame["value"].notna().all()


def test_the_measured_example_is_the_default_only_if_its_law_can_be_fitted():
    from analysis.law import fit_laws

    assert "MEASURED" in EXAMPLES["measured"][1]
    frame, _ = load_example_results("measured")
    assert set(frame["metric"]) == {"val_loss", "bits_per_byte"} and set(frame["source"]) == {"eval_runs"}
    laws = fit_laws(frame, "val_loss")  # refuses a group with fewer than 3 students whose optima are bracketed
    measured_fits = any(law.fit is not None for law in laws)
    assert list_examples()[0][0] == ("measured" if measured_fits else "simulated")


def test_an_unknown_example_name_lists_the_available_ones():
    with pytest.raises(ValueError, match=r"unknown example 'nope'; available: simulated, measured"):
        load_example_results("nope")


# -- scale ---------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_100_mb_csv_loads_without_hanging(tmp_path):
    n = 2_000_000  # about 100 MB with these columns
    rng = np.random.default_rng(0)
    students = np.array(["125M", "350M", "1.3B"])[rng.integers(0, 3, n)]
    teachers = np.array([1_300_000_000, 2_700_000_000, 6_700_000_000])[rng.integers(0, 3, n)]
    frame = pd.DataFrame({"student_params": students, "teacher_params": teachers, "metric": "val_loss",
                          "value": rng.normal(3.0, 0.1, n).round(6).astype(object), "family": "gpt2",
                          "seed": rng.integers(0, 10, n), "run_id": np.char.add("run-", np.arange(n).astype(str))})
    frame.loc[1234, "value"] = "oops"
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    n_bytes = path.stat().st_size
    start = time.perf_counter()
    loaded, report = load_distillation_results(path)
    seconds = time.perf_counter() - start
    print(f"\nloaded {n_bytes / 1e6:.0f} MB, {n:,} rows in {seconds:.1f} s")
    assert n_bytes > 90e6
    assert report.n_rows_kept + report.n_duplicates == n - 1
    assert report.dropped == [DroppedRow(1236, "value", "expected a finite number, found 'oops'")]
    assert loaded["student_params"].dtype == np.int64
    assert_accounted(report)
