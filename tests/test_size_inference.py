"""Sizes found without asking: units in column names, sizes from checkpoint names, names kept, ambiguity said."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.optimum import find_optima
from analysis.results_io import load_distillation_results
from analysis.size_columns import size_from_name, unit_in_name

ROOT = Path(__file__).resolve().parents[1]


def load(text: str, name: str = "paper.csv", **kwargs):
    return load_distillation_results(text.encode("utf-8"), name=name, **kwargs)


@pytest.mark.parametrize("column, expected", [
    ("student_params_B", ("student", "B")),
    ("teacher_params_B", ("teacher", "B")),
    ("teacher_size (B)", ("teacher", "B")),
    ("Student size [M]", ("student", "M")),
    ("size_m", (None, "M")),
    ("n_params_millions", (None, "M")),
    ("teacher_n_params_billions", ("teacher", "B")),
])
def test_a_unit_in_a_column_name_is_read(column, expected):
    assert unit_in_name(column) == expected


@pytest.mark.parametrize("column", ["student_params", "val_loss", "tokens_B", "teacher", "size", "acc_m_b_size"])
def test_a_column_without_a_single_stated_unit_states_none(column):
    assert unit_in_name(column) is None


@pytest.mark.parametrize("name, expected", [
    ("pythia-1.4b", (1_414_647_808, "catalog")),  # the catalog's published count, not 1.4e9
    ("EleutherAI/pythia-1.4b", (1_414_647_808, "catalog")),
    ("Qwen2.5-0.5B", (490_000_000, "catalog")),
    ("Llama-3.2-3B-Instruct", (3_210_000_000, "catalog")),  # a variant suffix does not hide the checkpoint
    ("opt-350m", (350_000_000, "catalog")),
    ("Qwen2.5-72B-Instruct", (72_700_000_000, "catalog")),
    ("MyLab-Student-0.7B", (700_000_000, "name")),  # not in the catalog: the size written in the name
    ("foo-350m-chat", (350_000_000, "name")),
])
def test_sizes_come_from_the_catalog_first_and_the_name_second(name, expected):
    assert size_from_name(name) == expected


@pytest.mark.parametrize("name", ["Mixtral-8x7B", "gpt-4", "model-7b-1b", "", "Qwen2.5"])
def test_a_name_that_states_no_single_size_gives_none(name):
    assert size_from_name(name) is None


PAPER = """student,teacher,student_params_B,teacher_params_B,avg_acc
Qwen2.5-0.5B,Qwen2.5-1.5B,0.49,1.54,40.1
Qwen2.5-0.5B,Qwen2.5-3B,0.49,3.09,41.0
Qwen2.5-0.5B,Qwen2.5-7B,0.49,7.61,41.5
Qwen2.5-0.5B,Qwen2.5-72B-Instruct,0.49,72.7,40.0
"""


def test_a_column_whose_name_gives_the_unit_wins_over_a_column_of_names_and_every_row_is_kept():
    frame, report = load(PAPER)
    assert report.n_rows_kept == 4 and report.n_dropped == 0
    assert frame["student_params"].tolist() == [490_000_000] * 4
    assert frame["teacher_params"].tolist() == [1_540_000_000, 3_090_000_000, 7_610_000_000, 72_700_000_000]
    assert frame["teacher_name"].tolist() == ["Qwen2.5-1.5B", "Qwen2.5-3B", "Qwen2.5-7B", "Qwen2.5-72B-Instruct"]
    assert frame["student_name"].tolist() == ["Qwen2.5-0.5B"] * 4
    assert report.metric_columns == ["avg_acc"]  # the size columns are not melted as metrics
    assert any("'student_params_B', in billions" in line for line in report.inferred)
    assert "Inferred: teacher_params inferred from column 'teacher_params_B'" in report.summary()


def test_sizes_are_read_from_checkpoint_names_when_no_size_column_is_given():
    text = "student_model,teacher_model,val_loss\npythia-160m,pythia-1.4b,3.1\npythia-160m,opt-350m,3.2\n"
    frame, report = load(text)
    assert frame["student_params"].tolist() == [162_322_944] * 2
    assert frame["teacher_params"].tolist() == [1_414_647_808, 350_000_000]
    assert frame["teacher_name"].tolist() == ["pythia-1.4b", "opt-350m"]
    assert any("checkpoint names in column 'teacher_model'" in line and "2 by the catalog, 0 by the name" in line
               for line in report.inferred)


def test_a_names_column_under_a_size_alias_becomes_names_and_unknown_names_are_dropped_with_the_reason():
    text = "student,teacher,ppl\nopt-125m,opt-1.3b,20\nopt-125m,my-teacher,21\nopt-125m,,25\n"
    frame, report = load(text)
    assert frame["teacher_params"].tolist() == [1_300_000_000, 0]  # the empty teacher: the no-teacher reference
    assert report.n_dropped == 1
    assert "my-teacher" in report.dropped[0].reason and "catalog" in report.dropped[0].reason


def test_two_size_columns_for_one_model_are_a_question_answered_with_the_first_and_said():
    text = "student_size,student_params_B,teacher_size_B,loss\n1.3B,1.3,6.7,2.0\n1.3B,1.3,13,2.1\n"
    frame, report = load(text)
    choice = report.size_choices["student_params"]
    assert choice.ambiguous and choice.column == "student_size" and choice.candidates == ["student_size",
                                                                                          "student_params_B"]
    assert any("also possible: 'student_params_B'" in line for line in report.inferred)
    assert not report.size_choices["teacher_params"].ambiguous
    assert frame["teacher_params"].tolist() == [6_700_000_000, 13_000_000_000]


def test_a_stated_mapping_or_size_unit_overrides_the_inference():
    frame, report = load(PAPER, column_map={"teacher_params": "teacher"})
    assert report.size_choices["teacher_params"].from_names  # mapped to the names: sizes from the catalog
    assert frame["teacher_params"].iloc[0] == 1_540_000_000
    frame, _ = load("student_params_B,teacher_params_B,loss\n500,1500,2\n", size_unit="M")
    assert frame["student_params"].tolist() == [500_000_000]


def test_a_role_less_unit_column_fills_the_one_missing_size():
    frame, report = load("model,size_m,teacher_params,loss\nx,125,1.3B,2.0\n")
    assert frame["student_params"].tolist() == [125_000_000]
    assert report.size_choices["student_params"].unit == "M"


def test_contract_files_infer_nothing():
    frame, report = load("student_params,teacher_params,metric,value\n125M,1.3B,loss,2.0\n")
    assert report.inferred == [] and "Inferred" not in report.summary()


def _curve(students, teachers, optimum_factor=2.5):
    rows = []
    for sname, s in students:
        for tname, t in teachers:
            rows.append({"student_params": s, "teacher_params": t, "student_name": sname, "teacher_name": tname,
                         "metric": "val_loss", "value": 2 + 0.3 * np.log(t / (optimum_factor * s)) ** 2
                         + 0.05 * (ord(sname[0]) - 64), "higher_is_better": False, "family": "default"})
    return pd.DataFrame(rows)


def test_two_named_students_of_one_size_are_two_students_not_two_seeds():
    teachers = [(f"T{k}", int(3e9 * 2 ** k)) for k in range(-2, 4)]
    frame = _curve([("Qwen2.5-3B", 3_000_000_000), ("Llama-3.2-3B", 3_000_000_000)], teachers)
    optima = find_optima(frame, "val_loss")
    assert len(optima) == 2
    assert sorted(optima["student_name"]) == ["Llama-3.2-3B", "Qwen2.5-3B"]
    assert (optima["n_runs"] == 6).all()  # each student's own 6 runs, not 12 pooled as seeds


def test_names_that_each_label_one_run_are_provenance_not_students():
    teachers = [(f"T{k}", int(1e9 * 2 ** k)) for k in range(-2, 4)]
    frame = _curve([("s", 1_000_000_000)], teachers)
    frame["student_name"] = [f"run-{i}" for i in range(len(frame))]  # as the engine writes run ids
    optima = find_optima(frame, "val_loss")
    assert len(optima) == 1 and optima["student_name"].iloc[0] == ""


def test_the_one_stage_law_gives_each_named_student_its_own_level():
    from analysis.collapse import fit_collapse

    teachers = [(f"T{k}", int(2e8 * 2 ** (k / 2))) for k in range(0, 14)]
    students = [("A-100M", 100_000_000), ("B-100M", 100_000_000), ("C-200M", 200_000_000),
                ("D-400M", 400_000_000)]
    frame = pd.concat([_curve(students, teachers).assign(seed=i) for i in range(2)], ignore_index=True)
    rng = np.random.default_rng(0)
    frame["value"] += rng.normal(0, 0.002, len(frame))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_collapse(frame, "val_loss", form="proportional")
    assert fit.nobs == 4
    assert fit.params["slope"] == pytest.approx(2.5, rel=0.1)


def test_the_cli_loads_a_paper_table_with_no_mapping_flags_keeping_every_row(tmp_path):
    rows = ["student,teacher,student_params_B,teacher_params_B,avg_acc"]
    students = [("Qwen2.5-0.5B", 0.49), ("Llama-3.2-1B", 1.23), ("Qwen2.5-1.5B", 1.54), ("Qwen2.5-3B", 3.09)]
    teachers = [("Qwen2.5-7B", 7.61), ("Qwen2.5-14B", 14.7), ("Qwen2.5-32B", 32.5), ("Qwen2.5-72B-Instruct", 72.7),
                ("Llama-3.1-70B", 70.0)]
    for sname, s in students:
        for tname, t in teachers:
            rows.append(f"{sname},{tname},{s},{t},{50 - (np.log(t / (8 * s))) ** 2:.3f}")
    path = tmp_path / "paper.csv"
    path.write_text("\n".join(rows) + "\n")
    out = subprocess.run([sys.executable, "-m", "analysis", "optimum", str(path), "--metric", "avg_acc", "--json"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "kept 20 of 20 records" in out.stderr
    assert "teacher_params inferred from column 'teacher_params_B', in billions" in out.stderr
    data = json.loads(out.stdout)
    assert len(data["optima"]) == 4 and any("student_params_B" in line for line in data["inferred"])
    assert {o["student_name"] for o in data["optima"]} == {s for s, _ in students}


def test_a_size_mapped_by_hand_still_keeps_the_names_beside_it():
    frame, report = load(PAPER, column_map={"student_params": "student_params_B", "teacher_params": "teacher_params_B"})
    assert frame["teacher_name"].iloc[-1] == "Qwen2.5-72B-Instruct" and frame["student_name"].iloc[0] == "Qwen2.5-0.5B"
    assert frame["teacher_params"].iloc[-1] == 72_700_000_000  # the unit in the mapped column's name is still read


def test_the_curse_figure_draws_two_named_students_of_one_size_as_two_lines_each_with_its_optimum():
    from analysis.figures import curse_figure

    teachers = [(f"T{k}", int(3e9 * 2 ** k)) for k in range(-2, 4)]
    frame = _curve([("Qwen2.5-3B", 3_000_000_000), ("Llama-3.2-3B", 3_000_000_000)], teachers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = curse_figure(frame, find_optima(frame, "val_loss"), "val_loss")
    names = [t.name for t in fig.data]
    assert "student 3B (Qwen2.5-3B)" in names and "student 3B (Llama-3.2-3B)" in names
    stars = next(t for t in fig.data if t.name == "optimal teacher")
    assert len(stars.x) == 2 and len(set(stars.marker.color)) == 2  # each star in its own student's colour
