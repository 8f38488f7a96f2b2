"""The law of capacity gap as reported (Zhang et al., ACL 2025): the bundled numbers and the LawFit-like API."""
import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis.reported_law import PREDICTION_COLUMNS, REPORTED_LAW_PATH, ReportedLaw, load_reported_law


@pytest.fixture(scope="module")
def law():
    return load_reported_law()


def test_the_bundled_law_has_the_published_slope_intercept_and_r_squared(law):
    assert law.slope == 2.498
    assert law.intercept_params == -11_498_000.0  # -11.498 in millions of parameters
    assert law.r_squared == 0.9957
    assert law.label == "as reported" and law.form == "linear"


def test_the_bundled_law_keeps_its_citation_and_caveats(law):
    assert "2311.07052" in law.paper and "ACL 2025" in law.paper
    assert len(law.caveats) == 3 and any("confidence interval" in c for c in law.caveats)
    raw = json.loads(REPORTED_LAW_PATH.read_text(encoding="utf-8"))
    assert raw["paper"] == law.paper and tuple(raw["caveats"]) == law.caveats


def test_a_3000M_student_gets_a_7482M_teacher_as_the_papers_caveat_says(law):
    # 2.498 * 3000 - 11.498 = 7482.502 (millions of parameters)
    assert law.predict(3_000_000_000)["mean"].iloc[0] == pytest.approx(7_482_502_000, rel=1e-12)


def test_predictions_have_lawfits_columns_and_nan_intervals(law):
    pred = law.predict([125e6, 1.3e9], alpha=0.1)
    assert list(pred.columns) == list(PREDICTION_COLUMNS)
    assert pred.index.name == "student_params" and list(pred.index) == [125e6, 1.3e9]
    assert pred.drop(columns="mean").isna().all().all()
    expected = [2.498 * 125 - 11.498, 2.498 * 1300 - 11.498]  # millions, computed by hand from the equation
    np.testing.assert_allclose(pred["mean"].to_numpy() / 1e6, expected, rtol=1e-12)


def test_invert_gives_the_student_a_teacher_serves_best(law):
    inv = law.invert([7_482_502_000])
    assert list(inv.columns) == list(PREDICTION_COLUMNS) and inv.index.name == "teacher_params"
    assert inv["mean"].iloc[0] == pytest.approx(3e9, rel=1e-12)
    assert inv.drop(columns="mean").isna().all().all()


def test_invert_undoes_predict_over_three_decades(law):
    students = np.geomspace(1e8, 1e11, 7)
    teachers = law.predict(students)["mean"].to_numpy()
    np.testing.assert_allclose(law.invert(teachers)["mean"].to_numpy(), students, rtol=1e-12)


def test_params_use_lawfits_names(law):
    assert law.params.to_dict() == {"slope": 2.498, "intercept_params": -11_498_000.0}


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf"), "abc"])
def test_sizes_that_are_not_positive_counts_are_rejected_naming_the_value(law, bad):
    with pytest.raises(ValueError, match="student_params"):
        law.predict([1e9, bad])


def test_to_dict_is_plain_json_with_the_label(law):
    out = json.loads(json.dumps(law.to_dict(), allow_nan=False))
    assert out["label"] == "as reported" and out["slope"] == 2.498 and out["schema_version"] == 1


def test_a_file_missing_a_key_is_named_with_the_key(tmp_path):
    raw = json.loads(REPORTED_LAW_PATH.read_text(encoding="utf-8"))
    del raw["slope"]
    path = tmp_path / "law.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match=r"law\.json: missing key 'slope'"):
        load_reported_law(path)


def test_a_text_slope_is_rejected_with_expected_and_found(tmp_path):
    raw = json.loads(REPORTED_LAW_PATH.read_text(encoding="utf-8"))
    raw["slope"] = "2.5"
    path = tmp_path / "law.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match=r"key 'slope': expected a float, found '2.5'"):
        load_reported_law(path)


def test_a_file_that_is_not_json_is_named(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        load_reported_law(path)


def test_the_dataclass_is_frozen(law):
    with pytest.raises(dataclasses.FrozenInstanceError):
        law.slope = 3.0  # type: ignore[misc]
    assert isinstance(law, ReportedLaw) and math.isclose(law.slope, 2.498)
    assert isinstance(law.predict(1e9), pd.DataFrame)
