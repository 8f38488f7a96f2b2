"""Parameter counts (and token counts) written by people: parse "1.3B", "125M", "7e9", "6,700,000"; print "1.3B".

Sizes are raw counts everywhere in the project (`*_params` are ints, not millions). This module is the one place
where human spellings become counts and counts become human spellings:

    parse_size("1.3B") == 1_300_000_000      parse_size("350m") == 350_000_000
    parse_size(7e9) == 7_000_000_000         parse_size("6,700,000") == 6_700_000
    parse_size(1.3, unit="B") == 1_300_000_000   # a bare number in a column "in billions"
    format_size(1_300_000_000) == "1.3B"     format_size(125_000_000) == "125M"

`parse_sizes` is the vectorised form the results loader uses on whole columns (fast for numeric columns and for
string columns with few distinct spellings, which is what size columns are).
"""
from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

# Suffix -> multiplier. K/M/B/T as in model names ("125M", "1.3B"); case-insensitive, so "350m" is 350 million
# (nobody counts parameters in milli-units).
UNITS: dict[str, int] = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}

EXPECTED = "expected a positive size such as 1.3B, 125M or 125000000"

# Counts are stored as int64; anything larger is a typo (or a unit applied twice), not a model.
_MAX_COUNT = 2**63 - 1
# No language model has fewer parameters than this (this project's own smallest test models have ~10K): a bare
# number below it, or a fractional one, is a size written in millions or billions without its unit.
MIN_MODEL_PARAMS = 1_000

_SIZE_RE = re.compile(
    r"""^(?P<number>
        [+-]?
        (?: \d{1,3}(?:,\d{3})+(?:\.\d*)?     # thousands separated by commas: 6,700,000
          | \d+(?:_\d+)*(?:\.\d*)?           # plain or Python-style underscores: 125, 1.3, 6_700_000
          | \.\d+ )                          # .5
        (?:[eE][+-]?\d+)?                    # scientific notation: 7e9, 1.3E+9
      )
      \s*
      (?P<suffix>[kKmMbBtT])?
    $""",
    re.VERBOSE,
)
# A number followed by letters we do not know ("1.3X", "2 GB"): worth a more specific message than "junk".
_UNKNOWN_SUFFIX_RE = re.compile(r"^[+-]?[\d.,_]+(?:[eE][+-]?\d+)?\s*(?P<suffix>[A-Za-z]\w*)$")


def _unit_multiplier(unit: str | None) -> int:
    key = (unit or "").strip().upper()
    if key not in UNITS:
        raise ValueError(f"unit must be one of K, M, B, T (or None for raw counts), found {unit!r}")
    return UNITS[key]


def _shown(value: Any) -> str:
    """How a rejected value appears in a message: strings quoted, numbers bare."""
    if isinstance(value, str):
        return repr(value) if value.strip() else "an empty string"
    return str(value)


def parse_size(value: Any, *, unit: str | None = None) -> int:
    """A positive parameter (or token) count from a number or a string with an optional K/M/B/T suffix.

    Accepts ints, floats, numpy numbers and strings such as "1.3B", "125M", "350m", "70k", "7e9", "1.3 B",
    "6,700,000", "6_700_000" (surrounding spaces ignored). `unit` ("K", "M", "B", "T") multiplies bare numbers only
    ("sizes are in billions"); a suffix in the string wins over it. Fractional results are rounded to the nearest
    integer (1.2345678912B is 1234567891). Raises ValueError for zero, negative, NaN, inf, counts below one,
    booleans and anything else, with a message saying what was found and what is expected.
    """
    mult = _unit_multiplier(unit)
    number: Decimal
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{EXPECTED}, found {value} (a boolean, not a size)")
    if isinstance(value, (int, np.integer)):
        number = Decimal(int(value))
    elif isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            raise ValueError(f"{EXPECTED}, found NaN")
        if math.isinf(x):
            raise ValueError(f"{EXPECTED}, found {x}")
        number = Decimal(repr(x))  # repr is the shortest exact spelling: 1.3 -> Decimal("1.3"), not 1.29999...
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{EXPECTED}, found {value}")
        number = value
    elif isinstance(value, str):
        text = value.strip()
        match = _SIZE_RE.match(text)
        if match is None:
            why = ""
            unknown = _UNKNOWN_SUFFIX_RE.match(text)
            if unknown and unknown["suffix"].upper() in UNITS:  # "1,3B": the number, not the unit, is wrong
                why = " (write decimals with a dot and commas only between thousands, e.g. 1.3B or 1,300,000)"
            elif unknown:
                why = f" (unknown unit {unknown['suffix']!r}; use K, M, B or T)"
            elif text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
                why = " (sizes must be finite)"
            raise ValueError(f"{EXPECTED}, found {_shown(value)}{why}")
        if "," in match["number"] and (match["suffix"] or re.match(r"^[+-]?0,", match["number"])):
            # "0,125B" or "1,250B": a decimal comma (European) or a thousands comma? Refuse rather than guess.
            raise ValueError(f"{EXPECTED}, found {_shown(value)} (ambiguous: a comma may be a decimal comma here; "
                             f"write decimals with a dot and commas only between thousands, e.g. 1.3B or "
                             f"1,300,000)")
        try:
            number = Decimal(match["number"].replace(",", "").replace("_", ""))
        except InvalidOperation:  # pragma: no cover - the regex only lets decimal literals through
            raise ValueError(f"{EXPECTED}, found {_shown(value)}") from None
        if match["suffix"]:
            mult = UNITS[match["suffix"].upper()]
    else:
        raise ValueError(f"{EXPECTED}, found {value!r} (a {type(value).__name__})")

    count = number * mult
    if count <= 0:
        raise ValueError(f"{EXPECTED}, found {_shown(value)} (sizes must be positive)")
    if count < 1:
        raise ValueError(f"{EXPECTED}, found {_shown(value)} (less than one parameter; is the unit right?)")
    rounded = int(count.to_integral_value(rounding=ROUND_HALF_EVEN))
    if rounded > _MAX_COUNT:
        raise ValueError(f"{EXPECTED}, found {_shown(value)} (too large; is the unit applied twice?)")
    return rounded


class SizeArray(NamedTuple):
    """Result of `parse_sizes`: counts (0 where not ok), which entries parsed, and which were empty."""

    values: np.ndarray  # int64, raw counts; 0 where ok is False
    ok: np.ndarray  # bool: parsed to a valid size
    missing: np.ndarray  # bool: None, NaN or an empty/blank string (a subset of ~ok)


def parse_sizes(values: Any, *, unit: str | None = None) -> SizeArray:
    """`parse_size` over a column, vectorised: numeric columns in numpy, text columns once per distinct spelling.

    Never raises for bad entries (they come back with ok=False; call `parse_size` on one to get its message).
    """
    mult = _unit_multiplier(unit)
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    s = s.reset_index(drop=True)
    n = len(s)
    out = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)

    if pd.api.types.is_bool_dtype(s.dtype):
        return SizeArray(out, ok, s.isna().to_numpy())
    if pd.api.types.is_numeric_dtype(s.dtype):
        missing = s.isna().to_numpy()
        _numeric_sizes(s.to_numpy(dtype=np.float64, na_value=np.nan), mult, out, ok)
        if pd.api.types.is_integer_dtype(s.dtype) and mult == 1:
            # Integers beyond 2**53 lose precision as floats; take them exactly.
            raw = s.to_numpy(dtype=np.int64, na_value=0)
            out[ok] = raw[ok]
        return SizeArray(out, ok, missing)

    # Text, or objects mixing numbers and strings (JSON; a CSV column with a stray word), as text: str() of a
    # float round-trips exactly, and a boolean becomes "True", which is not a size.
    text = (s if _is_text_dtype(s.dtype) else s.astype("str")).str.strip()
    missing = (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
    target = ~missing
    codes, uniques = pd.factorize(text.where(target, None))  # -1 where missing
    if len(uniques) > 10_000:
        # Many distinct spellings (e.g. raw counts written as text): plain numbers vectorised, the rest by value.
        nums = pd.to_numeric(text.where(target, None), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        _numeric_sizes(nums, mult, out, ok)
        target = target & ~np.isfinite(nums)  # text that is not a plain number, e.g. "1.3B"
        codes, uniques = pd.factorize(text.where(target, None))
    # Parse each distinct spelling once (a size column holds a handful of grid sizes) and look the rows up by code.
    parsed = np.zeros(len(uniques) + 1, dtype=np.int64)  # the extra slot, index -1, serves missing cells
    for j, u in enumerate(uniques):
        try:
            parsed[j] = parse_size(u, unit=unit)
        except ValueError:
            pass
    mapped = parsed[codes]
    out[target] = mapped[target]
    ok[target] = mapped[target] > 0
    return SizeArray(out, ok, missing)


def _is_text_dtype(dtype: Any) -> bool:
    """pandas' string dtype (vectorised .str methods), as opposed to object columns of arbitrary Python values."""
    return pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype)


def _numeric_sizes(x: np.ndarray, mult: int, out: np.ndarray, ok: np.ndarray) -> None:
    """Fill `out`/`ok` from a float array: finite, at least one after scaling, and within int64."""
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = x * float(mult)
        good = np.isfinite(scaled) & (scaled >= 1) & (scaled < 9.2e18)
    out[good] = np.rint(scaled[good]).astype(np.int64)
    ok[good] = True


def format_size(n_params: Any, *, digits: int = 3) -> str:
    """A count in human units with up to `digits` significant digits: 1_300_000_000 -> "1.3B", 350_000 -> "350K".

    For display only, so it is lenient: floats (e.g. a predicted optimum), negatives ("-5M", a law's intercept)
    and zero print; NaN prints "n/a".
    """
    x = float(n_params)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x < 0:
        return "-" + format_size(-x, digits=digits)
    suffixes = ["", "K", "M", "B", "T"]
    i = 0
    while i < len(suffixes) - 1 and x >= 1000 * 10 ** (3 * i):
        i += 1
    scaled = float(f"{x / 10 ** (3 * i):.{digits}g}")
    if scaled >= 1000 and i < len(suffixes) - 1:  # 999_950 rounds to 1000K: say 1M
        i += 1
        scaled = float(f"{x / 10 ** (3 * i):.{digits}g}")
    text = f"{scaled:.{digits}g}"
    if "e" in text:  # .3g writes 1500T as 1.5e+03; write it out
        text = f"{scaled:.0f}"
    return text + suffixes[i]


def implausible_model_size(value: Any, count: int, *, unit: str | None = None) -> str:
    """Why `value` (parsed to `count`) cannot be a model's size, or "" when it can: a bare number (no K/M/B/T and
    no `unit`) below MIN_MODEL_PARAMS or with a fraction is a size in millions or billions written without its
    unit (70 -> 70M; 1.3 -> 1.3B), never a model of 70 or 1.3 parameters."""
    if unit:
        return ""
    if isinstance(value, str):
        match = _SIZE_RE.match(value.strip())
        if match is None or match["suffix"]:
            return ""
        number = float(match["number"].replace(",", "").replace("_", ""))
    elif isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return ""
    else:
        number = float(value)
    if number >= MIN_MODEL_PARAMS and number == int(number):
        return ""
    guess = "B" if number < 20 else "M"
    shown = f"{number:g}"
    return (f"{shown} parameters is not a model size: write its unit ({shown}{guess}?), or say the unit of bare "
            f"numbers (--size-unit {guess} in the CLI, the size unit in the app's mapping form)")


def implausible_model_sizes(column: pd.Series, *, unit: str | None = None) -> np.ndarray:
    """(n,) bool: cells of a size column that implausible_model_size refuses (vectorised over the column)."""
    if unit:
        return np.zeros(len(column), dtype=bool)
    s = column.reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            return np.isfinite(x) & (x > 0) & ((x < MIN_MODEL_PARAMS) | (x != np.floor(x)))
    text = s.astype("string").str.strip()
    codes, uniques = pd.factorize(text)
    bad = np.array([bool(implausible_model_size(u, 0)) for u in uniques] + [False])
    return bad[codes]  # code -1 (missing) takes the extra False


def parse_model_size(value: Any, *, unit: str | None = None) -> int:
    """parse_size for a model's size typed by a person: a bare number below MIN_MODEL_PARAMS or with a fraction
    ("1.3") is refused with a hint to write its unit, never taken as a model of one parameter."""
    count = parse_size(value, unit=unit)
    why = implausible_model_size(value, count, unit=unit)
    if why:
        raise ValueError(f"{EXPECTED}, found {_shown(value)} ({why})")
    return count
