"""Distillation results in: read a user's CSV/TSV/Parquet/JSON/JSONL file into the results contract (DESIGN.md).

    frame, report = load_distillation_results("sweep.csv")
    print(report.summary())

The output frame has exactly RESULT_COLUMNS, one row per (distilled student run, metric):
student_params/teacher_params int64 (raw counts), metric str, value float64, higher_is_better bool,
family str ("default" when absent), data_tokens float64 (NaN when absent), seed Int64, source str (the file name,
unless the file has its own non-empty `source` column), and the provenance columns as str / float64.

How files are read (analysis.tabular, the reader every table goes through)
- Format: `file_format` if given, else the file extension (.csv .tsv/.tab .parquet/.pq .json .jsonl/.ndjson),
  else sniffed from the first bytes (Parquet magic, JSON brackets, tabs vs commas).
- JSON: a list of records, {"rows": [...]} (also "records", "data" or "results"), or column-oriented
  {column: [values]}.
- Columns are matched by name after lower-casing and turning spaces/hyphens/dots into "_" ("Student Params" is
  student_params), then through the short COLUMN_ALIASES table ("student_size" is student_params). An explicit
  `column_map` {contract name: your column} wins over both.
- Long layout: `metric` and `value` columns. Wide layout (no metric/value columns): every other column that holds
  numbers is a metric and is melted; the record order stays the file's (row by row).
- Sizes found without asking (analysis.size_columns): a column whose name states a unit (`student_params_B`,
  `teacher_size (B)`, `size_m`) is read in that unit and preferred over a column of checkpoint names; sizes come
  from names (`pythia-1.4b`, `Qwen2.5-0.5B`) through the model catalog, then the size written in the name, and the
  names are kept as student_name / teacher_name. LoadReport.inferred says what was inferred from which column;
  a size more than one column could give is answered with the first and named (LoadReport.size_choices).
- Sizes accept units ("1.3B", "125M", "7e9", "6,700,000"; see analysis.sizes). `size_unit` multiplies bare numbers
  in student_params/teacher_params ("sizes are in millions"); data_tokens accepts units too but not size_unit.
- higher_is_better: from the file's column when the cell is filled (true/false, 1/0, yes/no), else from the
  `higher_is_better` argument {metric: bool}, else inferred from the metric name (infer_higher_is_better). A metric
  left undecided is a DataError that says how to state it.

Text encoding (non-UTF-8 choice): files are read as UTF-8 (a UTF-8 BOM is stripped; a UTF-16 BOM, as Excel's
"Unicode text" writes, is honoured). A file that is not valid UTF-8 is not rejected: it is decoded as Windows-1252
(what Excel on Windows writes; Latin-1 if it has bytes Windows-1252 leaves undefined), and LoadReport.warnings
names the first offending byte, its byte offset and line, so a mangled name can be traced.

Validation
- Fatal (DataError naming the file): missing required columns (the message lists the columns found), an empty file
  or one with no data rows, a binary file (NUL bytes in the first 8 KiB, with a hint for xlsx/zip/gzip/Parquet),
  an unparseable file, a file larger than `max_bytes`, a metric whose direction is unknown, every row dropped.
- Per row (dropped and recorded as DroppedRow, never silently): text in a numeric column, zero/negative/NaN/inf
  sizes or sizes that do not parse, a missing/NaN/inf value, a bad seed, higher_is_better, data_tokens or
  teacher_value cell, a CSV line with too many fields, a JSONL line that is not a JSON object. In a wide file a bad
  metric cell drops only that record; a bad size drops the whole row (all its records).
- Exact duplicate records (after normalisation, so "1.3B" equals 1300000000) are dropped and counted.
- Kept but warned: teacher_params <= student_params (the rows are named), sizes that all look like millions or
  billions written without a unit, ignored columns, non-UTF-8 text.
- Accounting: n_rows_read == n_rows_kept + n_dropped + n_duplicates, counted in records (rows of the output; in a
  wide file that is file rows x metric columns). The stored `dropped` list is capped at MAX_STORED_DROPS.

Row numbers (DataError.row, DroppedRow.row): CSV/TSV: the line of the file, header = line 1 (a quoted field
spanning lines shifts later numbers); JSONL: the line of the file; JSON: the 1-based record number; Parquet: the
1-based row number. Blank lines are not rows.

Validation is vectorised (numpy/pandas over whole columns); messages are built only for the rows that fail.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from analysis.metric_direction import infer_higher_is_better
from analysis.size_columns import SizeChoice, choose_size_columns, sizes_from_names, unit_in_name
from analysis.sizes import EXPECTED as SIZE_EXPECTED
from analysis.sizes import SizeArray, implausible_model_sizes, parse_model_size, parse_size, parse_sizes
from analysis.tabular import FORMATS, MAX_BYTES, DataError, _clip, _locate, _Raw, _read_frame, open_input

REQUIRED_COLUMNS: tuple[str, ...] = ("student_params", "teacher_params", "metric", "value")
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "higher_is_better", "family", "data_tokens", "seed",
    "run_id", "source", "teacher_name", "student_name", "student_init", "teacher_value",
)
RESULT_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

MAX_STORED_DROPS = 1000  # DroppedRow entries kept for display; the count covers all
DEFAULT_FAMILY = "default"

# Other names people give the contract columns (compared after _normalise). Kept short and unambiguous on purpose:
# a file that uses something else says so through column_map. "score" is not an alias of value: it is a metric name.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "student_params": ("student_size", "student", "student_n_params", "n_student_params", "student_parameters"),
    "teacher_params": ("teacher_size", "teacher", "teacher_n_params", "n_teacher_params", "teacher_parameters"),
    "metric": ("metric_name",),
    "value": ("metric_value",),
    "higher_is_better": ("greater_is_better", "higher_better"),
    "family": ("model_family",),
    "data_tokens": ("tokens", "n_tokens", "distill_tokens", "distillation_tokens", "train_tokens"),
    "seed": ("random_seed",),
    "run_id": ("run", "run_name"),
    "teacher_name": ("teacher_model",),
    "student_name": ("student_model",),
    "student_init": ("init", "student_initialization"),
    "teacher_value": ("teacher_score", "teacher_metric_value"),
}

# Bundled example datasets in analysis/data/: name -> (file name, one-line description).
# The first example is the app's default dataset. Our measured sweep may be the default only when its law can be
# fitted (at least 3 students with bracketed optima, tests/test_results_io.py checks the rule against the file);
# measured_cpu_small.csv cannot (2 students, optima at the grid's edge), so the app opens on the simulated one and
# its Overview says why.
EXAMPLES: dict[str, tuple[str, str]] = {
    "simulated": (
        "simulated_distillation.csv",
        "SIMULATED distillation sweep drawn from the reported law T* = 2.498 S - 11.498M with noise "
        "(a stand-in, not measured)",
    ),
    "measured": (
        "measured_cpu_small.csv",
        "MEASURED cpu-small sweep of this project's engine (Llama-style, 100K/200K-param students pruned from "
        "125K-1.6M teachers, 2 distillation budgets, one seed; 2026-11-27)",
    ),
}
DATA_DIR = Path(__file__).resolve().parent / "data"

_NA_TEXT = frozenset({"", "na", "nan", "null", "none", "n/a", "#n/a"})  # missing-value spellings (R writes NA)
_NA_TEXT_MAX_LEN = max(map(len, _NA_TEXT))
_TRUE_TEXT = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE_TEXT = frozenset({"false", "f", "no", "n", "0", "0.0"})


# ---------------------------------------------------------------------------------------------------------------
# Errors and the report


# DataError is the reader's (analysis.tabular); results_io re-exports it: every caller catches it from here


@dataclass(frozen=True)
class DroppedRow:
    """One record left out of the output: where (file row, file column) and why (expected vs found)."""

    row: int | None
    column: str | None
    reason: str

    def describe(self, source: str) -> str:
        return f"{_locate(source, self.row, self.column)}: {self.reason}"


@dataclass
class LoadReport:
    """What a load kept, dropped and warned about. Counts are in records (output rows).

    n_rows_read == n_rows_kept + n_dropped + n_duplicates always holds.
    """

    source: str  # the file name
    n_rows_read: int = 0  # records found in the file (wide layout: file rows x metric columns)
    n_rows_kept: int = 0
    dropped: list[DroppedRow] = field(default_factory=list)  # the first MAX_STORED_DROPS, in file order
    warnings: list[str] = field(default_factory=list)  # kept-but-suspicious findings, as sentences
    n_dropped: int = 0  # all dropped records (may exceed len(dropped))
    n_duplicates: int = 0  # exact duplicate records dropped
    dropped_by_column: dict[str, int] = field(default_factory=dict)  # file column -> dropped records
    file_format: str = ""  # csv | tsv | parquet | json | jsonl
    layout: str = ""  # long | wide
    metric_columns: list[str] = field(default_factory=list)  # wide layout: the melted columns
    columns_used: dict[str, str] = field(default_factory=dict)  # contract column -> the file's column
    inferred: list[str] = field(default_factory=list)  # how sizes were found without being told, as sentences
    size_choices: dict[str, SizeChoice] = field(default_factory=dict)  # student/teacher_params: column, unit, rivals
    encoding: str = "utf-8"
    n_file_rows: int = 0  # data rows in the file (blank lines excluded)

    def summary(self, max_listed: int = 10) -> str:
        """A few lines for a person: kept/read, why rows were dropped (first few), duplicates, warnings."""
        unit = "record" if self.layout == "wide" else "row"
        head = f"{self.source}: kept {self.n_rows_kept:,} of {_plural(self.n_rows_read, unit)}"
        if self.layout == "wide":
            n_metrics = len(self.metric_columns)
            head += f" ({_plural(self.n_file_rows, 'row')} x {_plural(n_metrics, 'metric column')})"
        lines = [head + f" [{self.file_format.upper()}, {self.layout} layout]."]
        lines.extend(f"Inferred: {line}" for line in self.inferred)
        if self.n_dropped:
            by_col = ", ".join(f"{col}: {n:,}" for col, n in self.dropped_by_column.items())
            lines.append(f"Dropped {_plural(self.n_dropped, unit)} with bad values ({by_col}):")
            listed = _unique(self.dropped)[:max_listed]  # a wide row dropped for a bad size repeats per metric
            lines.extend(f"  - {d.describe(self.source)}" for d in listed)
            n_more = self.n_dropped - sum(1 for d in self.dropped if d in listed)
            if n_more > 0:
                lines.append(f"  - ... and {n_more:,} more")
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Columns: contract name -> file column


def _normalise(name: Any) -> str:
    return re.sub(r"[\s\-.]+", "_", str(name).strip().lower())


def _map_columns(columns: list[str], column_map: dict[str, str] | None,
                 source: str) -> tuple[dict[str, str], list[str]]:
    """({contract column: file column}, [file columns that lost an alias tie]) by column_map, name, then alias."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    if column_map:
        unknown = [k for k in column_map if k not in RESULT_COLUMNS]
        if unknown:
            hint = ""
            if all(v in RESULT_COLUMNS for v in column_map.values()):
                hint = " (column_map goes from the contract name to your column: did you swap keys and values?)"
            verb = "is not a results column" if len(unknown) == 1 else "are not results columns"
            raise DataError(f"column_map: {', '.join(map(repr, unknown))} {verb}{hint}; expected keys among "
                            f"{', '.join(RESULT_COLUMNS)}", source=source)
        by_norm = {_normalise(c): c for c in reversed(columns)}
        for contract, col in column_map.items():
            found = col if col in columns else by_norm.get(_normalise(col))
            if found is None:
                raise DataError(f"column_map maps {contract} to {col!r}, but there is no such column; found "
                                f"columns {_list_columns(columns)}", source=source)
            mapping[contract] = found
            used.add(found)
    norm = {c: _normalise(c) for c in columns}
    for contract in RESULT_COLUMNS:  # exact names first, so an alias never steals another column's exact name
        if contract not in mapping:
            for c in columns:
                if c not in used and norm[c] == contract:
                    mapping[contract] = c
                    used.add(c)
                    break
    losers: list[str] = []
    for contract, aliases in COLUMN_ALIASES.items():
        if contract in mapping:
            continue
        candidates = [c for alias in aliases for c in columns if c not in used and norm[c] == alias]
        if candidates:
            mapping[contract] = candidates[0]
            used.add(candidates[0])
            losers.extend(c for c in candidates[1:] if c not in losers)
    return mapping, losers


def _list_columns(columns: list[str]) -> str:
    return ", ".join(repr(c) for c in columns) if columns else "none"


def _is_index_column(name: str) -> bool:
    return _normalise(name) in ("", "index", "level_0") or re.fullmatch(r"unnamed: \d+", str(name).lower()) is not None


def _numeric_share(s: pd.Series) -> float:
    """Share of the filled cells that are numbers (bool columns count as not numeric)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return 0.0
    filled = s.notna()
    if not filled.any():
        return 0.0
    if pd.api.types.is_numeric_dtype(s.dtype):
        return 1.0
    x, missing = _to_numbers(s)
    filled_x = x[~missing]
    return float((~np.isnan(filled_x)).mean()) if len(filled_x) else 0.0


# ---------------------------------------------------------------------------------------------------------------
# Vectorised cell conversions. Each returns arrays over the frame's rows; messages are built later, per bad row.


def _is_text_dtype(dtype: Any) -> bool:
    """pandas' string dtype (vectorised .str methods), as opposed to object columns of arbitrary Python values."""
    return pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype)


def _text_and_missing(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(stripped text, str dtype, NaN where missing; missing mask: empty or NA-spelled cells)."""
    # Objects (JSON values, or a CSV column mixing numbers with a stray word) become text first: str() of a float
    # round-trips exactly, and one vectorised path is far faster than a Python function per cell.
    text = (s if _is_text_dtype(s.dtype) else s.astype("str")).str.strip()
    missing = text.isna().to_numpy(dtype=bool, copy=True)
    short = (text.str.len() <= _NA_TEXT_MAX_LEN).to_numpy(dtype=bool, na_value=False)
    if short.any():  # lower-casing every cell of a 100 MB column costs; NA spellings are short
        missing[short] |= text[short].str.lower().isin(_NA_TEXT).to_numpy(dtype=bool)
    return text.where(~missing), missing


def _to_numbers(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, NaN where not a number; missing mask: empty/NA cells)."""
    if pd.api.types.is_bool_dtype(s.dtype):  # True is not a measurement
        return np.full(len(s), np.nan), s.isna().to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(s.dtype):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
        return x, np.isnan(x)
    text, missing = _text_and_missing(s)
    x = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    return x, missing


def _to_bools(s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bool values, ok mask, missing mask) for true/false, 1/0, yes/no cells."""
    if pd.api.types.is_bool_dtype(s.dtype):
        missing = s.isna().to_numpy(dtype=bool)
        return s.fillna(False).to_numpy(dtype=bool), ~missing, missing
    if pd.api.types.is_numeric_dtype(s.dtype):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
        return x == 1, (x == 1) | (x == 0), np.isnan(x)
    text, missing = _text_and_missing(s)
    codes, uniques = pd.factorize(text.str.lower())  # a handful of distinct spellings; -1 where missing
    lookup = np.array([1.0 if u in _TRUE_TEXT else 0.0 if u in _FALSE_TEXT else np.nan for u in uniques] + [np.nan])
    x = lookup[codes]
    return x == 1, ~np.isnan(x), missing


def _to_strings(s: pd.Series, fill: str | None = None) -> tuple[pd.Series, np.ndarray]:
    """(str-dtype column, stripped, NaN or `fill` where missing; missing mask)."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(x)
        finite = x[~missing]
        if len(finite) and np.all(finite == np.round(finite)) and np.all(np.abs(finite) < 2**53):
            s = s.astype("Int64")  # run ids 1, 2, 3 read as floats because of a blank: "1", not "1.0"
        out = s.astype("str")
    else:
        out, missing = _text_and_missing(s)
    if fill is not None:
        out = out.where(~missing, fill)
    return out, missing


def _describe_cell(value: Any, missing_word: str) -> str:
    """How a rejected cell is shown: quoted text, a bare number, or 'an empty cell'."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return missing_word
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return "NaN" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(value, str):
        return repr(value) if value.strip() else missing_word
    if isinstance(value, (int, np.integer, bool, np.bool_)):
        return str(value)
    return f"{_clip(value)} (a {type(value).__name__})"


# ---------------------------------------------------------------------------------------------------------------
# The loader


def load_distillation_results(
    source: Any,
    *,
    name: str | None = None,
    column_map: dict[str, str] | None = None,
    size_unit: str | None = None,
    higher_is_better: dict[str, bool] | None = None,
    file_format: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> tuple[pd.DataFrame, LoadReport]:
    """Read a distillation-results file into the results contract; see the module docstring for every rule.

    source: a path, bytes, or a binary file-like object (`name` then gives the file name and, through its
    extension, the format). column_map: {contract column: your column}. size_unit: "K"|"M"|"B"|"T" for bare
    numbers in student_params/teacher_params. higher_is_better: {metric: bool} for metrics the file and the metric
    name leave undecided. file_format: csv|tsv|parquet|json|jsonl to override the extension.
    Returns (frame, report); raises DataError for a file that cannot be used at all.
    """
    inp, fmt, encoding, encoding_warning = open_input(source, name, max_bytes, file_format=file_format)
    if size_unit is not None:
        try:
            parse_size(1, unit=size_unit)
        except ValueError as e:
            raise DataError(f"size_unit: {e}", source=inp.name) from None
    raw = _read_frame(inp, fmt, encoding, lambda columns: _map_columns(columns, column_map, inp.name))
    report = LoadReport(source=inp.name, file_format=fmt, encoding="utf-8" if encoding == "utf-8-sig" else encoding)
    if encoding_warning:
        report.warnings.append(encoding_warning)
    report.warnings.extend(raw.notes)

    if len(raw.frame) == 0 and raw.pre_dropped:
        first = "; ".join(_locate(inp.name, r, c) + ": " + why for r, c, why in raw.pre_dropped[:3])
        raise DataError(f"no usable rows: all {_plural(len(raw.pre_dropped), 'line')} were dropped, e.g. {first}",
                        source=inp.name)
    layout = _resolve_layout(raw.frame, column_map, inp.name, report)
    cells = _convert_cells(raw, layout, size_unit)
    report.inferred = _inferred_lines(layout.sizes)  # again: now with how many names each source sized
    keep = _account_drops(raw, layout, cells, report)
    for column in list(raw.frame.columns):  # messages are built: free the file's copy before building the output
        del raw.frame[column]
    frame, rec_rows = _build_frame(raw, layout, cells, keep, inp.name)
    _resolve_direction(frame, cells, keep, higher_is_better, inp.name, report)
    frame = _drop_duplicates(frame, rec_rows, layout, report)
    report.n_rows_kept = len(frame)
    assert report.n_rows_read == report.n_rows_kept + report.n_dropped + report.n_duplicates
    return frame, report


# -- layout: long (metric + value columns) or wide (one numeric column per metric) ----------------------------------


@dataclass
class _Layout:
    mapping: dict[str, str]  # contract column -> file column
    kind: str  # long | wide
    value_columns: list[str]  # long: [the value column]; wide: the metric columns
    sizes: dict[str, SizeChoice] = field(default_factory=dict)  # how student/teacher_params are read


def _resolve_layout(df: pd.DataFrame, column_map: dict[str, str] | None, source: str,
                    report: LoadReport) -> _Layout:
    columns = [str(c) for c in df.columns]
    df.columns = columns
    mapping, alias_losers = _map_columns(columns, column_map, source)
    exact = {c for c, col in mapping.items() if _normalise(col) == c}
    choices = choose_size_columns(df, mapping, set(column_map or {}), exact)
    report.size_choices = choices
    report.inferred = _inferred_lines(choices)
    # a column whose name says "a size, in billions" is never a metric, even when another column gave the size
    alias_losers = alias_losers + [c for c in columns if unit_in_name(c) is not None and c not in alias_losers]
    used = set(mapping.values())
    leftovers = [c for c in columns if c not in used]
    ignored = [c for c in leftovers if c in alias_losers or _is_index_column(c)]
    if "metric" in mapping and "value" in mapping:
        kind, value_columns = "long", [mapping["value"]]
        ignored += [c for c in leftovers if c not in ignored]
    elif "metric" in mapping or "value" in mapping:
        have, lack = ("metric", "value") if "metric" in mapping else ("value", "metric")
        raise DataError(f"missing required column {lack!r} (the file has {have!r} as {mapping[have]!r}, so it is "
                        f"read as long: one row per metric with metric and value columns); found columns "
                        f"{_list_columns(columns)}; rename it, or pass column_map={{'{lack}': 'your column'}}",
                        source=source)
    else:
        kind = "wide"
        candidates = [c for c in leftovers if c not in ignored]
        value_columns = [c for c in candidates if _numeric_share(df[c]) >= 0.5]
        ignored += [c for c in candidates if c not in value_columns]
    missing = [c for c in ("student_params", "teacher_params") if c not in mapping]
    if kind == "wide" and not value_columns:
        missing += ["metric", "value"]
    if missing:
        aliases = "; ".join(f"{c} may also be called {', '.join(COLUMN_ALIASES[c][:3])}"
                            for c in missing if c in ("student_params", "teacher_params"))
        raise DataError(
            f"missing required column(s) {', '.join(map(repr, missing))}; found columns {_list_columns(columns)}. "
            f"Expected student_params, teacher_params and either metric + value columns (long) or one numeric "
            f"column per metric (wide)" + (f" ({aliases})" if aliases else "")
            + "; rename the columns or pass column_map={'student_params': 'your column', ...}",
            source=source)
    if ignored:
        report.warnings.append(f"ignored column(s) that are not results columns: {_list_columns(ignored)}")
    report.layout = kind
    report.metric_columns = list(value_columns) if kind == "wide" else []
    report.columns_used = {k: mapping[k] for k in RESULT_COLUMNS if k in mapping}
    return _Layout(mapping, kind, value_columns, choices)


def _inferred_lines(choices: dict[str, SizeChoice]) -> list[str]:
    """The sentences about sizes the loader found without being told (none for a contract file)."""
    return [ch.describe() for ch in choices.values()
            if ch.unit or ch.from_names or ch.ambiguous or _normalise(ch.column) != ch.contract]


# -- cells: every contract column converted over the whole frame, with row-level checks -----------------------------


@dataclass
class _Check:
    """A row-level validation: which rows fail, and how to explain one."""

    column: str  # the file's column name
    bad: np.ndarray  # bool over the frame's rows
    explain: Callable[[int], str]  # frame row index -> reason


@dataclass
class _Cells:
    checks: list[_Check]  # in contract order: the first failing check is the one reported for a row
    numbers: dict[str, Any]  # contract column -> converted array over the frame's rows
    strings: dict[str, pd.Series]  # contract column -> str Series over the frame's rows
    hib: tuple[np.ndarray, np.ndarray] | None  # (values, missing) of the higher_is_better column
    hib_column: str | None  # the file's column that gave it
    values: np.ndarray  # (n rows, n value columns) float64, NaN/inf where not a usable value
    explain_value: Callable[[int, int], str]  # (frame row, value column index) -> reason


NO_TEACHER_WORDS = frozenset({"", "none", "no teacher", "no_teacher", "0"})  # teacher_params cells of a student
#                                                                       trained without a teacher


def _no_teacher_cells(column: pd.Series) -> np.ndarray:
    """(n,) bool: teacher_params cells that say "no teacher" (empty, NA, none, 0)."""
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return (column.isna() | (column == 0)).to_numpy(dtype=bool, na_value=True)
    text = column.astype("string").str.strip().str.lower()
    return (text.isna() | text.isin(NO_TEACHER_WORDS)).to_numpy(dtype=bool, na_value=True)


def _convert_cells(raw: _Raw, layout: _Layout, size_unit: str | None) -> _Cells:
    df, mapping, missing_word = raw.frame, layout.mapping, raw.missing_word
    n = len(df)

    def cell(col: str, i: int) -> str:
        return _describe_cell(df[col].iat[i], missing_word)

    checks: list[_Check] = []
    numbers: dict[str, Any] = {}
    strings: dict[str, pd.Series] = {}
    for contract in ("student_params", "teacher_params"):
        col = mapping[contract]
        choice = layout.sizes.get(contract)
        unit = size_unit or (choice.unit if choice is not None else None)  # a stated size_unit wins over a name
        if choice is not None and choice.from_names:
            params, ok, choice.resolved = sizes_from_names(df[col])
            parsed = SizeArray(params, ok, _text_and_missing(df[col])[1])
        else:
            parsed = parse_sizes(df[col], unit=unit)
            # a bare 70 or 87.5 is a size in millions without its unit, never a 70-parameter model
            implausible = parsed.ok & implausible_model_sizes(df[col], unit=unit)
            parsed = parsed._replace(ok=parsed.ok & ~implausible)
        numbers[contract] = parsed.values
        if contract == "teacher_params":  # no teacher (empty, none, 0): the student's no-distillation reference
            alone = _no_teacher_cells(df[col])
            numbers[contract] = np.where(alone, 0, parsed.values)
            parsed = parsed._replace(ok=parsed.ok | alone)

        def explain_size(i: int, col: str = col, unit: str | None = unit, choice: SizeChoice | None = choice) -> str:
            value = df[col].iat[i]
            if _describe_cell(value, missing_word) == missing_word:
                return f"{SIZE_EXPECTED}, found {missing_word}"
            if choice is not None and choice.from_names:
                return (f"expected a checkpoint name whose size is known (in the model catalog, or written in the "
                        f"name such as Qwen2.5-0.5B or opt-350m), found {_describe_cell(value, missing_word)}; add "
                        f"a size column (e.g. {choice.contract}_B) or map one")
            try:
                parse_model_size(value, unit=unit)
            except ValueError as e:
                return str(e)
            return "expected a positive size"  # pragma: no cover - parse_sizes and parse_size agree

        checks.append(_Check(col, ~parsed.ok, explain_size))

    if layout.kind == "long":
        mcol = mapping["metric"]
        strings["metric"], metric_missing = _to_strings(df[mcol])
        checks.append(_Check(mcol, metric_missing,
                             lambda i: f"expected a metric name such as val_loss, found {cell(mcol, i)}"))

    hib = None
    if "higher_is_better" in mapping:
        hcol = mapping["higher_is_better"]
        hib_values, hib_ok, hib_missing = _to_bools(df[hcol])
        hib = (hib_values, hib_missing)
        checks.append(_Check(hcol, ~hib_ok & ~hib_missing,
                             lambda i: f"expected true or false (or 1/0, yes/no), found {cell(hcol, i)}"))

    numbers["data_tokens"] = np.full(n, np.nan)
    if "data_tokens" in mapping:
        tcol = mapping["data_tokens"]
        parsed = parse_sizes(df[tcol])
        numbers["data_tokens"][parsed.ok] = parsed.values[parsed.ok]
        tokens_missing = _to_numbers(df[tcol])[1]  # an empty or NA cell: no token count given, which is fine

        def explain_tokens(i: int) -> str:
            try:
                parse_size(df[tcol].iat[i])
            except ValueError as e:
                return str(e).replace("positive size such as 1.3B, 125M or 125000000",
                                      "positive token count such as 2B or 2000000000 (or an empty cell)")
            return "expected a positive token count"  # pragma: no cover

        checks.append(_Check(tcol, ~parsed.ok & ~tokens_missing, explain_tokens))

    numbers["seed"] = pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))  # all <NA>
    if "seed" in mapping:
        scol = mapping["seed"]
        x, seed_missing = _to_numbers(df[scol])
        with np.errstate(invalid="ignore"):
            seed_ok = np.isfinite(x) & (x == np.round(x)) & (np.abs(x) < 2**53)
        numbers["seed"] = pd.arrays.IntegerArray(np.where(seed_ok, x, 0).astype(np.int64), ~seed_ok)
        checks.append(_Check(scol, ~seed_ok & ~seed_missing,
                             lambda i: f"expected an integer seed such as 0 or 3 (or an empty cell), "
                                       f"found {cell(scol, i)}"))

    numbers["teacher_value"] = np.full(n, np.nan)
    if "teacher_value" in mapping:
        vcol = mapping["teacher_value"]
        x, tv_missing = _to_numbers(df[vcol])
        tv_ok = np.isfinite(x)
        numbers["teacher_value"][tv_ok] = x[tv_ok]
        checks.append(_Check(vcol, ~tv_ok & ~tv_missing,
                             lambda i: f"expected a finite number (or an empty cell), found {cell(vcol, i)}"))

    for contract in ("family", "run_id", "source", "teacher_name", "student_name", "student_init"):
        if contract in mapping:
            strings[contract] = _to_strings(df[mapping[contract]])[0]

    values = np.empty((n, len(layout.value_columns)), dtype=np.float64)
    for m, col in enumerate(layout.value_columns):
        values[:, m] = _to_numbers(df[col])[0]
    return _Cells(checks, numbers, strings, hib, mapping.get("higher_is_better"), values,
                  lambda i, m: f"expected a finite number, found {cell(layout.value_columns[m], i)}")


# -- accounting: which records are dropped, counted per column, explained for the first MAX_STORED_DROPS ------------


def _account_drops(raw: _Raw, layout: _Layout, cells: _Cells, report: LoadReport) -> np.ndarray:
    """Fill the report's counts and DroppedRow list; return keep, a bool (n rows, n value columns) array."""
    n, n_metrics = cells.values.shape
    n_pre = len(raw.pre_dropped)
    row_fail = np.full(n, -1, dtype=np.int64)  # index into checks of the first failing check
    for k, check in enumerate(cells.checks):
        row_fail[check.bad & (row_fail < 0)] = k
    cell_bad = ~np.isfinite(cells.values)
    dropped = (row_fail >= 0)[:, None] | cell_bad  # (n, M)

    by_column: dict[str, int] = {"whole line": n_pre * n_metrics} if n_pre else {}
    for k, check in enumerate(cells.checks):
        n_bad = int((row_fail == k).sum()) * n_metrics
        if n_bad:
            by_column[check.column] = by_column.get(check.column, 0) + n_bad
    for m, col in enumerate(layout.value_columns):
        n_bad = int((cell_bad[:, m] & (row_fail < 0)).sum())
        if n_bad:
            by_column[col] = by_column.get(col, 0) + n_bad

    order = {c: j for j, c in enumerate(raw.frame.columns)}  # count per column in the file's column order
    by_column = dict(sorted(by_column.items(), key=lambda item: order.get(item[0], -1)))

    stored: list[tuple[int, int, DroppedRow]] = []  # (file row, value column, entry), sorted into file order
    for row, column, reason in raw.pre_dropped[:MAX_STORED_DROPS]:
        stored.extend((row, m, DroppedRow(row, column, reason)) for m in range(n_metrics))
    for flat in np.flatnonzero(dropped.ravel())[:MAX_STORED_DROPS]:
        i, m = divmod(int(flat), n_metrics)
        row = int(raw.rows[i])
        if row_fail[i] >= 0:
            check = cells.checks[row_fail[i]]
            stored.append((row, m, DroppedRow(row, check.column, check.explain(i))))
        else:
            stored.append((row, m, DroppedRow(row, layout.value_columns[m], cells.explain_value(i, m))))
    stored.sort(key=lambda t: (t[0], t[1]))

    report.n_file_rows = n + n_pre
    report.n_rows_read = (n + n_pre) * n_metrics
    report.n_dropped = int(dropped.sum()) + n_pre * n_metrics
    report.dropped = [entry for _, _, entry in stored[:MAX_STORED_DROPS]]
    report.dropped_by_column = by_column
    keep = ~dropped
    if not keep.any():
        first = "; ".join(d.describe(report.source) for d in _unique(report.dropped)[:3])
        raise DataError(f"no usable rows: all {report.n_rows_read:,} were dropped, e.g. {first}",
                        source=report.source)
    return keep


# -- the output frame -------------------------------------------------------------------------------------------------


def _repeat_str(value: str | None, n: int) -> pd.Series:
    """A str column holding one value (or missing) n times, without a Python list of n strings."""
    return pd.Series([value], dtype="str").iloc[np.zeros(n, dtype=np.int64)].reset_index(drop=True)


def _build_frame(raw: _Raw, layout: _Layout, cells: _Cells, keep: np.ndarray,
                 source: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The kept records in file order (row by row, then metric column), and each record's file row number."""
    rec_i, rec_m = np.nonzero(keep)  # row-major
    k = len(rec_i)

    def take(s: pd.Series) -> pd.Series:
        return s.iloc[rec_i].reset_index(drop=True)  # stays in pandas' string storage: no Python objects

    if layout.kind == "long":
        metric = take(cells.strings["metric"])
    else:
        names = pd.Series([str(c).strip() for c in layout.value_columns], dtype="str")
        metric = names.iloc[rec_m].reset_index(drop=True)
    def take_or(contract: str, fill: str | None) -> pd.Series:
        if contract not in cells.strings:
            return _repeat_str(fill, k)
        column = take(cells.strings[contract])
        return column.fillna(fill) if fill is not None and column.isna().any() else column

    family = take_or("family", DEFAULT_FAMILY)
    text = {c: take_or(c, source if c == "source" else None)  # the file's own source column wins where filled
            for c in ("run_id", "source", "teacher_name", "student_name", "student_init")}
    frame = pd.DataFrame({
        "student_params": cells.numbers["student_params"][rec_i],
        "teacher_params": cells.numbers["teacher_params"][rec_i],
        "metric": metric,
        "value": cells.values[rec_i, rec_m],
        "higher_is_better": np.zeros(k, dtype=bool),  # decided in _resolve_direction
        "family": family,
        "data_tokens": cells.numbers["data_tokens"][rec_i],
        "seed": cells.numbers["seed"][rec_i],
        **text,
        "teacher_value": cells.numbers["teacher_value"][rec_i],
    }, columns=list(RESULT_COLUMNS))
    return frame, raw.rows[rec_i]


def _resolve_direction(frame: pd.DataFrame, cells: _Cells, keep: np.ndarray, hib_arg: dict[str, bool] | None,
                       source: str, report: LoadReport) -> None:
    """Fill frame['higher_is_better']: the file's column, else the argument, else the name; DataError if none."""
    n = len(frame)
    rec_i = np.nonzero(keep)[0]
    from_column = np.zeros(n, dtype=bool)
    direction = np.zeros(n, dtype=bool)
    if cells.hib is not None:
        values, missing = cells.hib
        from_column = ~missing[rec_i]
        direction[from_column] = values[rec_i][from_column]
    given: dict[str, bool] = {}
    for metric, flag in (hib_arg or {}).items():
        parsed, ok, _ = _to_bools(pd.Series([flag], dtype=object))
        if not ok[0]:
            raise DataError(f"higher_is_better for metric {metric!r} must be true or false, found {flag!r}",
                            source=source)
        given[str(metric).strip()] = bool(parsed[0])

    codes, metrics = pd.factorize(frame["metric"])  # a few distinct metrics over many records
    metrics = [str(m) for m in metrics]
    unused = [m for m in given if m not in metrics]
    if unused:
        report.warnings.append(f"higher_is_better was given for metric(s) not in the file: "
                               f"{', '.join(map(repr, unused))}")
    needed = np.bincount(codes[~from_column], minlength=len(metrics)) > 0
    per_metric = np.zeros(len(metrics), dtype=bool)
    undecided = []
    for j, metric in enumerate(metrics):
        flag = given.get(metric, infer_higher_is_better(metric))
        if flag is None and needed[j]:
            undecided.append(metric)
        per_metric[j] = bool(flag)
    if undecided:
        raise DataError(
            f"cannot tell whether higher or lower is better for metric(s) {', '.join(map(repr, undecided))}: the "
            f"name matches no known pattern (loss, perplexity/ppl, bits/bpb, error, nll: lower; acc, score, f1, "
            f"exact_match, bleu, rouge, pass@k: higher). State it with a higher_is_better column (true/false) in "
            f"the file, or on the command line with --higher-is-better {undecided[0]}=true|false", source=source)
    direction[~from_column] = per_metric[codes[~from_column]]
    frame["higher_is_better"] = direction

    if cells.hib is not None:  # kept, but named: one metric should have one direction
        n_true = np.bincount(codes, weights=direction, minlength=len(metrics))
        n_all = np.bincount(codes, minlength=len(metrics))
        for j in np.flatnonzero((n_true > 0) & (n_true < n_all)):
            report.warnings.append(f"metric {metrics[j]!r} has higher_is_better true in some rows and false in "
                                   f"others")
        for j, metric in enumerate(metrics):
            mine = from_column & (codes == j)
            if metric in given and (direction[mine] != given[metric]).any():
                report.warnings.append(f"the file's higher_is_better column disagrees with the given "
                                       f"{metric}={str(given[metric]).lower()}; the file's column was used where "
                                       f"filled")
    # a stated direction against the metric's own name ("loss", higher is better) is usually a slip that turns
    # every optimum upside down: say where it came from
    hib_col = cells.hib_column
    for j, metric in enumerate(metrics):
        by_name = infer_higher_is_better(metric)
        rows = codes == j
        if by_name is None or not (direction[rows] != by_name).any():
            continue
        n_against = int((direction[rows] != by_name).sum())
        where = (f"column {hib_col!r}" if (from_column & rows & (direction != by_name)).any() and hib_col
                 else f"--higher-is-better {metric}={str(not by_name).lower()}")
        report.warnings.append(
            f"metric {metric!r} is marked {'higher' if not by_name else 'lower'} is better in {n_against:,} "
            f"row{'s' * (n_against != 1)} (from {where}), but its name says {'lower' if not by_name else 'higher'} "
            f"is better: the analysis follows what was stated, which turns every optimum upside down if it is a "
            f"slip; check {where}")


def _drop_duplicates(frame: pd.DataFrame, rec_rows: np.ndarray, layout: _Layout,
                     report: LoadReport) -> pd.DataFrame:
    """Drop exact duplicate records (after normalisation) and warn about suspicious sizes."""
    # Columns the file did not fill are constant: leave them out of the comparison (hashing strings is the cost).
    filled = {"student_params", "teacher_params", "metric", "value", "higher_is_better"} | set(layout.mapping)
    subset = [c for c in RESULT_COLUMNS if c in filled]
    # A duplicate record is first a duplicate in its numbers, which are cheap to compare; compare the text columns
    # only among those candidates.
    numeric = [c for c in subset if c in ("student_params", "teacher_params", "value", "data_tokens", "seed",
                                          "teacher_value")]
    candidates = frame.duplicated(subset=numeric, keep=False).to_numpy()
    dup = np.zeros(len(frame), dtype=bool)
    if candidates.any():
        dup[candidates] = frame.loc[candidates].duplicated(subset=subset, keep="first").to_numpy()
    unit = "record" if layout.kind == "wide" else "row"
    if dup.any():
        report.n_duplicates = int(dup.sum())
        report.warnings.append(
            f"dropped {report.n_duplicates:,} exact duplicate {unit}{'s' * (report.n_duplicates != 1)} "
            f"({_name_rows(rec_rows[dup])}); each repeats an earlier one")
        frame = frame.loc[~dup].reset_index(drop=True)
        rec_rows = rec_rows[~dup]

    teacher = frame["teacher_params"].to_numpy()
    small = (teacher > 0) & (teacher <= frame["student_params"].to_numpy())
    if small.any():
        n_rows = len(_sorted_unique(rec_rows[small]))
        report.warnings.append(
            f"teacher_params <= student_params in {n_rows:,} row{'s' * (n_rows != 1)} "
            f"({_name_rows(rec_rows[small])}): kept, but a teacher no larger than its student is unusual; "
            f"check that the columns are not swapped")
    largest = max(int(frame["student_params"].max()), int(frame["teacher_params"].max()))
    if largest < 1000:
        report.warnings.append(
            f"the largest model size is {largest} parameters: are the sizes in millions or billions? "
            f"Write them with units (1.3B, 125M) or pass size_unit='M' or 'B'")
    return frame


def _sorted_unique(rows: np.ndarray) -> np.ndarray:
    """np.unique for row numbers that are already in file order (sorted), without another sort."""
    return rows[np.r_[True, rows[1:] != rows[:-1]]] if len(rows) else rows


def _name_rows(rows: np.ndarray, n_shown: int = 5) -> str:
    unique = _sorted_unique(rows)
    shown = ", ".join(str(int(r)) for r in unique[:n_shown])
    more = f" and {len(unique) - n_shown:,} more" if len(unique) > n_shown else ""
    return f"row{'s' * (len(unique) != 1)} {shown}{more}"


def _unique(entries: list[DroppedRow]) -> list[DroppedRow]:
    return list(dict.fromkeys(entries))  # first occurrences, in order


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' * (n != 1)}"


# ---------------------------------------------------------------------------------------------------------------
# Bundled examples


def list_examples() -> list[tuple[str, str]]:
    """[(name, one-line description)] of the bundled example datasets."""
    return [(name, description) for name, (_, description) in EXAMPLES.items()]


def load_example_results(name: str = "simulated") -> tuple[pd.DataFrame, LoadReport]:
    """A bundled example dataset (analysis/data/), loaded like a user's file."""
    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; available: {', '.join(EXAMPLES)}")
    path = DATA_DIR / EXAMPLES[name][0]
    if not path.is_file():
        raise FileNotFoundError(f"the bundled example {name!r} is missing: {path} does not exist")
    return load_distillation_results(path)


__all__ = [
    "COLUMN_ALIASES", "DataError", "DroppedRow", "EXAMPLES", "FORMATS", "LoadReport", "MAX_BYTES",
    "MAX_STORED_DROPS", "OPTIONAL_COLUMNS", "REQUIRED_COLUMNS", "RESULT_COLUMNS",
    "infer_higher_is_better", "list_examples", "load_distillation_results", "load_example_results",
]
