"""One tabular reader for every table: results files, benchmark CSVs, the catalog and pasted tables."""
from __future__ import annotations

import pytest

from analysis.benchmark_upload import load_benchmark_upload
from analysis.catalog import load_catalog
from analysis.results_io import load_distillation_results
from analysis.tabular import DataError, pasted_table, read_table

CP1252 = "model,task,metric,value\nCaf\xe9-1B,arc,acc,0.5\n".encode("cp1252")


def test_a_benchmark_csv_that_is_not_utf8_loads_as_the_results_loader_would_with_a_note():
    result = load_benchmark_upload(CP1252, "bench.csv")
    assert result.failures == [] and result.frame["model"].tolist() == ["Café-1B"]
    assert any("not valid UTF-8" in note and "0xE9" in note for note in result.notes)


def test_the_benchmark_csv_and_the_catalog_refuse_binary_files_as_the_results_loader_does():
    pdf = b"%PDF-1.4\n" + b"\x00" * 40
    assert "a PDF document" in load_benchmark_upload(pdf, "bench.csv").failures[0].reason
    with pytest.raises(ValueError, match="a PDF document"):
        load_catalog(pdf)
    with pytest.raises(DataError, match="a PDF document"):
        load_distillation_results(pdf, name="r.csv")


def test_as_text_keeps_what_the_file_wrote():
    table = read_table(b"a,b\n1.5e9,\n007,x\n", name="t.csv", as_text=True)
    assert table.frame.to_dict("list") == {"a": ["1.5e9", "007"], "b": ["", "x"]}
    assert table.rows.tolist() == [2, 3]


@pytest.mark.parametrize("text, name, first", [
    ("student\tteacher\tacc\nopt-125m\topt-1.3b\t0.5\n", "pasted_table.tsv", "student\tteacher\tacc"),
    ("student,teacher,acc\r\nopt-125m,opt-1.3b,0.5\r\n", "pasted_table.csv", "student,teacher,acc"),
    # copied from a PDF: columns set apart by runs of spaces, a name with one space kept whole
    ("student   teacher     avg acc\nopt-125m  opt-1.3b    0.5\n", "pasted_table.tsv", "student\tteacher\tavg acc"),
])
def test_a_pasted_table_becomes_a_file_for_the_same_loader(text, name, first):
    got_name, data = pasted_table(text)
    assert got_name == name and data.decode().splitlines()[0] == first


def test_a_pasted_wide_table_loads_and_melts_like_a_file():
    name, data = pasted_table("student\tteacher\tarc_acc\thellaswag_acc\nopt-125m\topt-1.3b\t0.4\t0.3\n"
                              "opt-125m\topt-2.7b\t0.41\t0.31\n")
    frame, report = load_distillation_results(data, name=name)
    assert report.layout == "wide" and sorted(set(frame["metric"])) == ["arc_acc", "hellaswag_acc"]
    assert frame["teacher_params"].tolist() == [1_300_000_000] * 2 + [2_700_000_000] * 2
    assert report.n_rows_kept == 4


@pytest.mark.parametrize("text, message", [("", "empty"), ("   \n\n", "empty"), ("a,b,c\n", "single line"),
                                           ("x" * 5_000_001, "limit")])
def test_a_paste_that_is_not_a_table_is_refused_with_the_reason(text, message):
    with pytest.raises(ValueError, match=message):
        pasted_table(text)
