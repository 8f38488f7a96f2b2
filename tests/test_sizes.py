"""Parameter counts: human spellings in (parse_size, parse_sizes), human spellings out (format_size)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.sizes import format_size, parse_size, parse_sizes


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1.3B", 1_300_000_000),
        ("125M", 125_000_000),
        ("350m", 350_000_000),
        ("7e9", 7_000_000_000),
        ("6,700,000", 6_700_000),
        ("6_700_000", 6_700_000),
        ("  1.3 B ", 1_300_000_000),
        ("70k", 70_000),
        ("2T", 2_000_000_000_000),
        ("1E+3", 1_000),
        (".5K", 500),
        ("124439808", 124_439_808),
        ("6,738,415,616", 6_738_415_616),
        ("1.2345678912B", 1_234_567_891),  # fractional counts round to the nearest integer
    ],
)
def test_parse_size_reads_the_spellings_people_write(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "number, expected",
    [
        (1.3e9, 1_300_000_000),
        (125_000_000, 125_000_000),
        (np.int64(350_000_000), 350_000_000),
        (np.float32(2.5e6), 2_500_000),
        (np.float64(6.7e9), 6_700_000_000),
        (2**62 + 1, 2**62 + 1),  # big ints stay exact
    ],
)
def test_parse_size_takes_python_and_numpy_numbers(number, expected):
    assert parse_size(number) == expected


def test_an_explicit_unit_multiplies_bare_numbers_but_not_suffixed_ones():
    assert parse_size(1.3, unit="B") == 1_300_000_000
    assert parse_size("125", unit="M") == 125_000_000
    assert parse_size("2", unit="m") == 2_000_000
    assert parse_size("1.3B", unit="M") == 1_300_000_000  # the suffix wins
    assert parse_size(125_000_000, unit=None) == parse_size(125_000_000, unit="") == 125_000_000


def test_an_unknown_unit_argument_is_rejected():
    with pytest.raises(ValueError, match=r"unit must be one of K, M, B, T.*found 'G'"):
        parse_size(1, unit="G")


@pytest.mark.parametrize(
    "bad, found, why",
    [
        (0, "found 0", "must be positive"),
        (-5, "found -5", "must be positive"),
        ("-125M", "found '-125M'", "must be positive"),
        (float("nan"), "found NaN", None),
        (float("inf"), "found inf", None),
        ("inf", "found 'inf'", "must be finite"),
        ("0.5", "found '0.5'", "less than one parameter"),
        ("0.0000000001B", "found '0.0000000001B'", "less than one parameter"),
        ("abc", "found 'abc'", None),
        ("", "found an empty string", None),
        ("1.3X", "found '1.3X'", "unknown unit 'X'"),
        ("2 GB", "found '2 GB'", "unknown unit 'GB'"),
        ("1,3B", "found '1,3B'", "decimals with a dot"),
        ("1,30,000", "found '1,30,000'", None),
        (True, "found True", "boolean"),
        ([1], "found [1]", "a list"),
        (1e30, "found 1e+30", "too large"),
    ],
)
def test_parse_size_rejects_bad_input_saying_what_it_found_and_what_it_expects(bad, found, why):
    with pytest.raises(ValueError) as info:
        parse_size(bad)
    message = str(info.value)
    assert message.startswith("expected a positive size such as 1.3B, 125M or 125000000")
    assert found in message
    if why:
        assert why in message


@pytest.mark.parametrize(
    "n, text",
    [
        (1_300_000_000, "1.3B"),
        (125_000_000, "125M"),
        (350_000, "350K"),
        (124_439_808, "124M"),
        (6_738_415_616, "6.74B"),
        (70_000_000_000, "70B"),
        (2_000_000_000_000, "2T"),
        (1_500_000_000_000_000, "1500T"),
        (999, "999"),
        (1_000, "1K"),
        (999_950, "1M"),  # rounds up into the next unit instead of "1000K"
        (np.int64(350_000_000), "350M"),
        (3.2e9, "3.2B"),
        (-11_498_000.0, "-11.5M"),
        (0, "0"),
        (float("nan"), "n/a"),
    ],
)
def test_format_size_prints_human_units(n, text):
    assert format_size(n) == text


def test_format_size_digits_sets_the_significant_digits():
    assert format_size(6_738_415_616, digits=2) == "6.7B"
    assert format_size(6_738_415_616, digits=5) == "6.7384B"


@pytest.mark.parametrize("n", [125_000_000, 350_000_000, 1_300_000_000, 6_700_000_000, 70_000, 13_000_000_000])
def test_format_then_parse_gives_back_a_round_size(n):
    assert parse_size(format_size(n)) == n


def test_parse_sizes_on_a_text_column_agrees_with_parse_size_and_flags_missing_cells():
    column = pd.Series(["1.3B", None, "", " 125M", "abc", "0", "7e9", "NaN"], dtype="str")
    out = parse_sizes(column)
    assert out.values.dtype == np.int64
    assert out.ok.tolist() == [True, False, False, True, False, False, True, False]
    assert out.missing.tolist() == [False, True, True, False, False, False, False, False]  # "NaN" is text
    assert out.values[out.ok].tolist() == [1_300_000_000, 125_000_000, 7_000_000_000]


def test_parse_sizes_on_a_mixed_object_column_reads_numbers_and_strings():
    column = pd.Series([125_000_000, "1.3B", 2.5e6, None, True, -1], dtype=object)
    out = parse_sizes(column)
    assert out.ok.tolist() == [True, True, True, False, False, False]
    assert out.values[:3].tolist() == [125_000_000, 1_300_000_000, 2_500_000]
    assert out.missing.tolist() == [False, False, False, True, False, False]


def test_parse_sizes_on_a_numeric_column_applies_the_unit_and_rejects_non_positive_values():
    out = parse_sizes(pd.Series([1.3, np.nan, -1.0, 0.5, 0.0000000001]), unit="B")
    assert out.ok.tolist() == [True, False, False, True, False]
    assert out.values[[0, 3]].tolist() == [1_300_000_000, 500_000_000]
    assert out.missing.tolist() == [False, True, False, False, False]


def test_parse_sizes_with_many_distinct_spellings_still_parses_every_one():
    # More than 10,000 distinct strings takes the vectorised numeric path, then the per-spelling path for the rest.
    numbers = [str(125_000_000 + i) for i in range(12_000)]
    column = pd.Series(numbers + ["1.3B", "junk", "-5"], dtype="str")
    out = parse_sizes(column)
    assert out.ok.tolist() == [True] * 12_000 + [True, False, False]
    assert out.values[0] == 125_000_000 and out.values[11_999] == 125_011_999
    assert out.values[12_000] == 1_300_000_000


def test_parse_sizes_on_a_bool_column_parses_nothing():
    out = parse_sizes(pd.Series([True, False]))
    assert out.ok.tolist() == [False, False]
