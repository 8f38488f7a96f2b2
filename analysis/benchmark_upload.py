"""A benchmark file uploaded to the app: an lm-eval results JSON, a zip of an lm-eval output folder, or a CSV/TSV
already in the benchmark table's contract. Never raises on bad content: the reason is in the result's failures.

It sits apart from analysis.benchmarks (the contract) and analysis.lmeval_import (the lm-eval reader) because it
uses both, and the reader uses the contract: imports point one way.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import lmeval_import
from analysis.benchmarks import (BENCHMARK_COLUMNS, MAX_UPLOAD_BYTES, REQUIRED_BENCHMARK_COLUMNS, ImportFailure,
                                 ImportResult, as_benchmark_frame, empty_benchmark_frame)
from analysis.tabular import DataError, read_table


def load_benchmark_upload(data: bytes, name: str, *, max_bytes: int = MAX_UPLOAD_BYTES) -> ImportResult:
    """An uploaded file -> ImportResult: an lm-eval results JSON, a zip of an lm-eval output folder, or a CSV/TSV
    already in the benchmark contract (at least model, task, metric, value). Never raises on bad content: the
    reason is in `failures`. The zip is read in memory (nothing is written to disk); see lmeval_import.
    """
    if len(data) > max_bytes:
        return _failed(name, f"the upload is {len(data) / 2**20:.0f} MB; the limit is {max_bytes / 2**20:.0f} MB")
    suffix = Path(name).suffix.lower()
    if suffix == ".zip" or data[:4] == b"PK\x03\x04":
        return lmeval_import.import_lmeval_zip(data, name, max_bytes=max_bytes)
    if suffix in (".csv", ".tsv", ".txt"):
        return _import_benchmark_csv(data, name, sep="\t" if suffix == ".tsv" else ",")
    if suffix == ".jsonl":
        return _failed(name, "a .jsonl file is lm-eval's per-sample log; upload the results_<date>.json beside it")
    if suffix == ".json" or data.lstrip()[:1] == b"{":
        try:
            frame, notes = lmeval_import.parse_lmeval_bytes(data, name)
        except lmeval_import.LmevalImportError as exc:
            return _failed(name, str(exc))
        return ImportResult(frame, [], notes)
    return _failed(name, f"unknown file type '{suffix or name}': expected .json (lm-eval results), .zip (an "
                         "lm-eval output folder) or .csv/.tsv (the benchmark table)")


def _failed(name: str, reason: str) -> ImportResult:
    return ImportResult(empty_benchmark_frame(), [ImportFailure(name, reason)], [])


def _import_benchmark_csv(data: bytes, name: str, *, sep: str) -> ImportResult:
    """A CSV/TSV in the benchmark contract (e.g. written by `python -m analysis import-lmeval`)."""
    try:
        table = read_table(data, name=name, file_format="tsv" if sep == "\t" else "csv", as_text=True)
    except DataError as exc:
        return _failed(name, exc.reason)
    raw = table.frame
    raw.index = table.rows - 2  # the loader's file lines: "+ 2" below names the line (the header is line 1)
    if table.pre_dropped:
        row, _, why = table.pre_dropped[0]
        return _failed(name, f"row {row}: {why}")
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in REQUIRED_BENCHMARK_COLUMNS if c not in raw.columns]
    if missing:
        return _failed(name, f"missing column(s) {missing}; a benchmark table needs "
                             f"{list(REQUIRED_BENCHMARK_COLUMNS)} (found {list(raw.columns)})")
    if raw.empty:
        return _failed(name, "the table has a header but no rows")
    notes = [f"{name}: {note}" for note in table.notes]  # e.g. not UTF-8: read as Windows-1252, and where
    extra = [c for c in raw.columns if c not in BENCHMARK_COLUMNS]
    if extra:
        notes.append(f"{name}: ignored column(s) not in the benchmark table: {extra}")
    frame = raw[[c for c in raw.columns if c in BENCHMARK_COLUMNS]].replace({"": None})
    for col in ("model", "task", "metric"):
        blank = frame[col].isna()
        if blank.any():
            row = int(frame.index[blank.to_numpy()][0]) + 2  # line in the file; the header is line 1
            return _failed(name, f"row {row}, column '{col}': expected a name, found an empty cell")
    for col in ("value", "stderr", "n_samples", "n_shot", "params", "limit"):
        if col not in frame.columns:
            continue
        numbers = pd.to_numeric(frame[col], errors="coerce")
        bad = numbers.isna() & frame[col].notna() & ~frame[col].isin(["N/A", "nan", "NaN"])
        if col in ("n_samples", "n_shot"):
            bad = bad | (numbers.notna() & (numbers != numbers.round()))
        if bad.any():
            idx = bad.to_numpy().nonzero()[0]
            more = f" (and {len(idx) - 1} more rows)" if len(idx) > 1 else ""
            expected = "a whole number" if col in ("n_samples", "n_shot") else "a number"
            found = frame[col].iloc[idx[0]]
            return _failed(name, f"row {frame.index[idx[0]] + 2}, column '{col}': expected {expected}, found "
                                 f"{'an empty cell' if found is None else repr(found)}{more}")
        frame[col] = numbers
    no_value = frame["value"].isna()
    if no_value.any():  # an empty or N/A score: nothing to show; dropped, and said so
        lines = [str(i + 2) for i in frame.index[no_value.to_numpy()]]
        notes.append(f"{name}: dropped {len(lines)} row(s) with no value (line(s) {', '.join(lines[:10])}"
                     f"{' ...' if len(lines) > 10 else ''})")
        frame = frame[~no_value]
        if frame.empty:
            return ImportResult(empty_benchmark_frame(), [ImportFailure(name, "no row has a value")], notes)
    for col in ("is_group", "higher_is_better"):
        if col in frame.columns:
            parsed = frame[col].map(_parse_bool)
            bad = parsed.isna() & frame[col].notna()
            if col == "is_group" and bad.any():
                idx = bad.to_numpy().nonzero()[0]
                return _failed(name, f"row {frame.index[idx[0]] + 2}, column '{col}': expected true or false, found "
                                     f"{frame[col].iloc[idx[0]]!r}")
            frame[col] = parsed
    if "date" in frame.columns:
        dates = pd.to_datetime(frame["date"], errors="coerce", format="mixed")
        n_bad = int((dates.isna() & frame["date"].notna()).sum())
        if n_bad:
            notes.append(f"{name}: {n_bad} date(s) could not be read and are left empty")
        frame["date"] = dates
    if "source" not in frame.columns:
        frame["source"] = name
    frame["source"] = frame["source"].fillna(name)
    return ImportResult(as_benchmark_frame(frame), [], notes)


def _parse_bool(value) -> bool | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text)
