"""The tabular reader every table in the project goes through: a results file, a benchmark CSV, the model
catalog, a table pasted into the app. Bytes in, a raw frame of the file's own columns out, with the file row of
each frame row and the lines that never became rows; what the columns mean is the caller's business.

    table = read_table("results.csv")          # or bytes with name=, or a binary file-like (an upload)
    table.frame, table.rows, table.pre_dropped, table.notes, table.format, table.encoding
    strings = text_frame(table.frame)           # every cell as stripped text, "" where empty

- Format: `file_format` if given, else the file extension (.csv .tsv/.tab .parquet/.pq .json .jsonl/.ndjson),
  else sniffed from the first bytes (Parquet magic, JSON brackets, tabs vs commas; ; where a comma-decimal
  spreadsheet wrote it).
- JSON: a list of records, {"rows": [...]} (also "records", "data" or "results"), or {column: [values]}; every
  JSON parse goes through analysis.json_io (a depth limit).
- Text encoding: UTF-8 (a UTF-8 BOM is stripped; a UTF-16 BOM, as Excel's "Unicode text" writes, is honoured);
  a file that is not valid UTF-8 is decoded as Windows-1252 (Latin-1 where Windows-1252 leaves bytes undefined)
  with a note naming the first offending byte, its offset and line.
- Refused with a DataError naming the file: a file larger than `max_bytes`, empty, binary (NUL bytes, or the magic
  of a zip/xlsx, gzip, PDF, image, SQLite), unparseable. A CSV line with too many fields and a JSONL line that is
  not an object are not rows: they come back in `pre_dropped` with the reason.
- Row numbers: CSV/TSV and JSONL: the line of the file (CSV header = line 1); JSON and Parquet: the 1-based record.
"""
from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from analysis import json_io

FORMATS: tuple[str, ...] = ("csv", "tsv", "parquet", "json", "jsonl")
MAX_BYTES = 512 * 2**20  # 512 MiB: far above any sweep's results; a bigger file is almost surely the wrong file
MAX_PASTE_CHARS = 5_000_000  # a pasted table: a few thousand rows copied from a paper is a few hundred KB

_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
               ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_FORMAT_ALIASES = {"ndjson": "jsonl", "tab": "tsv", "pq": "parquet"}
_SNIFF_BYTES = 8192
_BINARY_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one): save the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook: save the sheet as CSV"),
    (b"\x1f\x8b", "gzip-compressed: decompress it first"),
    (b"PAR1", "a Parquet file: name it .parquet or pass file_format='parquet'"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"SQLite format 3\x00", "an SQLite database"),
)


# ---------------------------------------------------------------------------------------------------------------
# Errors


def _locate(source: str, row: int | None, column: str | None) -> str:
    parts = [source]
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column {column!r}")
    return ", ".join(parts)


class DataError(ValueError):
    """A results file that cannot be used as given. str() reads "results.csv, row 7, column 'value': expected ...".

    Attributes: source (file name), row (int | None, see the module docstring for numbering), column (str | None,
    the file's own column name), reason (the message without the location).
    """

    def __init__(self, reason: str, *, source: str, row: int | None = None, column: str | None = None):
        self.reason, self.source, self.row, self.column = reason, source, row, column
        super().__init__(f"{_locate(source, row, column)}: {reason}")

    def __reduce__(self):  # keyword-only arguments: tell pickle how to rebuild (multiprocessing, caches)
        return (_rebuild_data_error, (self.reason, self.source, self.row, self.column))


def _rebuild_data_error(reason: str, source: str, row: int | None, column: str | None) -> DataError:
    return DataError(reason, source=source, row=row, column=column)


# ---------------------------------------------------------------------------------------------------------------
# Reading bytes: source, size, format, encoding


@dataclass
class _Input:
    name: str  # shown in messages
    path: Path | None  # read from disk (CSV streams from here)
    data: bytes | None  # or from memory
    n_bytes: int
    head: bytes  # the first _SNIFF_BYTES
    n_lines: int | None = None  # lines in the file, counted while checking the encoding (None: not counted)

    def open(self) -> io.BufferedIOBase:
        return open(self.path, "rb") if self.path is not None else io.BytesIO(self.data)

    def read_all(self) -> bytes:
        return self.path.read_bytes() if self.path is not None else self.data

    def chunks(self, size: int = 2**20):
        if self.path is not None:
            with open(self.path, "rb") as fh:
                while chunk := fh.read(size):
                    yield chunk
        else:
            view = memoryview(self.data)
            for start in range(0, len(view), size):
                yield bytes(view[start:start + size])


def _open_input(source: Any, name: str | None, max_bytes: int) -> _Input:
    limit = f"the limit is {max_bytes:,} bytes (max_bytes)"
    if isinstance(source, (str, os.PathLike)):
        if isinstance(source, str) and "\n" in source:
            raise TypeError("source is a str holding text, which is read as a path; pass the content as bytes")
        path = Path(source).expanduser()
        shown = name or path.name
        try:
            if not path.exists():
                raise DataError(f"no such file ({path})", source=shown)
            if not path.is_file():
                raise DataError(f"not a file ({path})", source=shown)
            n_bytes = path.stat().st_size
            if n_bytes > max_bytes:
                raise DataError(f"the file is {n_bytes:,} bytes; {limit}", source=shown)
            with open(path, "rb") as fh:
                head = fh.read(_SNIFF_BYTES)
        except OSError as e:
            raise DataError(f"cannot read {path}: {e.strerror or e}", source=shown) from None
        return _Input(shown, path, None, n_bytes, head)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        shown = name or "<data>"
    elif hasattr(source, "read"):  # a binary file-like, e.g. Streamlit's UploadedFile
        data = source.read(max_bytes + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
        shown = name or os.path.basename(str(getattr(source, "name", "") or "")) or "<data>"
    else:
        raise TypeError(f"source must be a path, bytes or a binary file-like object, found {type(source).__name__}")
    if len(data) > max_bytes:
        raise DataError(f"the data is more than {max_bytes:,} bytes; {limit}", source=shown)
    return _Input(shown, None, data, len(data), data[:_SNIFF_BYTES])


def _choose_format(file_format: str | None, inp: _Input) -> str:
    if file_format:
        fmt = file_format.strip().lower().lstrip(".")
        fmt = _FORMAT_ALIASES.get(fmt, fmt)
        if fmt not in FORMATS:
            raise DataError(f"unknown file_format {file_format!r}; expected one of {', '.join(FORMATS)}",
                            source=inp.name)
        return fmt
    for named in (inp.name, inp.path.name if inp.path is not None else ""):
        suffix = Path(named).suffix.lower()
        if suffix in _EXTENSIONS:
            return _EXTENSIONS[suffix]
    return _sniff_format(inp.head)


def _sniff_format(head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if head.startswith(bom):
            text = head.decode(codec, errors="ignore")
            break
    else:
        text = head.decode("utf-8", errors="ignore")
    text = text.lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        first, _, rest = text.partition("\n")
        try:
            json_io.loads(first)
        except ValueError:
            return "json"  # an object spread over lines
        return "jsonl" if rest.strip().startswith("{") else "json"
    first_line = text.split("\n", 1)[0]
    return "tsv" if first_line.count("\t") > first_line.count(",") else "csv"


def _last_byte(inp: _Input) -> bytes:
    if inp.path is None:
        return inp.data[-1:]
    with open(inp.path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1)


def _check_not_binary(inp: _Input, fmt: str) -> None:
    if fmt == "parquet" or inp.head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return
    for magic, what in _BINARY_MAGIC:
        if inp.head.startswith(magic):
            raise DataError(f"this looks like {what}; expected {fmt.upper()} text", source=inp.name)
    nul = inp.head.find(b"\x00")
    if nul >= 0:
        raise DataError(
            f"this is a binary file (a NUL byte at byte offset {nul}), not {fmt.upper()} text; expected a "
            f"CSV, TSV, JSON, JSONL or Parquet results table", source=inp.name)


def _detect_encoding(inp: _Input) -> tuple[str, str | None]:
    """(codec, warning or None). UTF-8 when valid; otherwise Windows-1252 (or Latin-1) with a warning."""
    if inp.head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", None
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = n_newlines = 0  # bytes and newlines before the current chunk
    bad: tuple[int, int, int] | None = None  # (byte offset, byte value, line)
    for chunk in itertools.chain(inp.chunks(), [None]):
        pending = len(decoder.getstate()[0])  # bytes of a character split across chunks (never a newline)
        try:
            decoder.decode(chunk or b"", final=chunk is None)
        except UnicodeDecodeError as e:  # e.object is pending + chunk
            line = n_newlines + e.object.count(b"\n", 0, e.start) + 1
            bad = (offset - pending + e.start, e.object[e.start], line)
            break
        if chunk is not None:
            offset += len(chunk)
            n_newlines += chunk.count(b"\n")
    if bad is None:
        inp.n_lines = n_newlines + (0 if inp.n_bytes == 0 or _last_byte(inp) == b"\n" else 1)
        return "utf-8-sig", None  # utf-8-sig strips a BOM when present and reads plain UTF-8 too
    codec, label = "cp1252", "Windows-1252"
    try:
        for chunk in inp.chunks():
            chunk.decode("cp1252")
    except UnicodeDecodeError:
        codec, label = "latin-1", "Latin-1"
    at, byte, line = bad
    return codec, (f"the file is not valid UTF-8 (first bad byte 0x{byte:02X} at byte offset {at:,}, line {line}); "
                   f"it was read as {label}, so check accented or special characters in names; "
                   f"save it as UTF-8 to silence this")


# ---------------------------------------------------------------------------------------------------------------
# Parsing into a raw frame (the file's own columns) with a file row number per frame row


@dataclass
class _Raw:
    frame: pd.DataFrame
    rows: np.ndarray  # int64, the file row number of each frame row
    pre_dropped: list[tuple[int, str | None, str]]  # lines that never became frame rows: (row, column, reason)
    missing_word: str  # how an empty cell is described in messages
    notes: list[str] = field(default_factory=list)  # caveats about the reading itself, for LoadReport.warnings


def _read_frame(inp: _Input, fmt: str, encoding: str, check_header: Callable[[list[str]], Any] | None,
                as_text: bool = False) -> _Raw:
    if fmt in ("csv", "tsv"):
        return _read_delimited(inp, fmt, encoding, check_header, as_text)
    if fmt == "parquet":
        return _read_parquet(inp)
    text = inp.read_all().decode(encoding)
    if not text.strip():
        raise DataError("the file is empty (only whitespace)", source=inp.name)
    return _read_json(inp, text) if fmt == "json" else _read_jsonl(inp, text)


def _read_delimited(inp: _Input, fmt: str, encoding: str, check_header: Callable[[list[str]], Any] | None,
                    as_text: bool = False) -> _Raw:
    first_line = inp.head.decode(encoding if encoding != "utf-8-sig" else "utf-8", errors="ignore")
    first_line = first_line.lstrip("\ufeff").split("\n", 1)[0]
    if fmt == "tsv":
        sep = "\t"
    elif "," not in first_line and ";" in first_line:
        sep = ";"  # spreadsheets in comma-decimal locales write ; as the separator
    elif "," not in first_line and "\t" in first_line:
        sep = "\t"
    else:
        sep = ","
    try:
        with inp.open() as fh:
            header = pd.read_csv(fh, sep=sep, nrows=0, encoding=encoding)
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty (no header line)", source=inp.name) from None
    except (pd.errors.ParserError, ValueError, UnicodeError) as e:
        raise DataError(f"could not read the header as {fmt.upper()}: {e}", source=inp.name) from None
    if check_header is not None:  # e.g. a bad column_map fails before the long read
        check_header(list(header.columns))
    # No dtype is forced: pandas' inference is the fast path (forcing str costs ~3x on a 100 MB file). A numeric
    # column comes back as text only if a cell is not a number, which validation then reports; text columns that
    # hold only numbers (run ids 1, 2, 3) are turned back into text ("1", not "1.0") in _to_strings.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        try:
            with inp.open() as fh:
                # index_col=False: a first data line with one field too many must not turn column 1 into an index
                frame = pd.read_csv(fh, sep=sep, encoding=encoding, keep_default_na=False, na_values=[""],
                                    skip_blank_lines=False, on_bad_lines="warn", index_col=False,
                                    dtype=str if as_text else None)
        except pd.errors.EmptyDataError:
            raise DataError("the file is empty", source=inp.name) from None
        except (pd.errors.ParserError, ValueError, UnicodeError) as e:
            raise DataError(f"could not parse the file as {fmt.upper()}: {e}", source=inp.name) from None
    bad_lines: list[tuple[int, str | None, str]] = []
    for w in caught:
        for line, why in re.findall(r"Skipping line (\d+): ([^\n]*)", str(w.message)):
            bad_lines.append((int(line), None, f"could not split this line into the header's columns ({why})"))
    if any("Length of header or names does not match" in str(w.message) for w in caught) and len(frame):
        # pandas truncates (rather than skips) a too-long FIRST data line under index_col=False: drop it ourselves
        first = _first_data_line(inp.head.decode(encoding, errors="replace"), sep)
        if first is not None and first[1] > len(frame.columns) and first[0] - 2 < len(frame):
            line, n_fields = first
            frame = frame.drop(index=line - 2).reset_index(drop=True)  # frame row = line - 2 before any skip
            bad_lines.insert(0, (line, None, f"could not split this line into the header's columns (expected "
                                             f"{len(frame.columns)} fields, saw {n_fields})"))
    # Line numbers: header = line 1, then data lines in order, minus the lines pandas skipped.
    n = len(frame)
    candidates = np.arange(2, 2 + n + len(bad_lines), dtype=np.int64)
    rows = candidates[~np.isin(candidates, [b[0] for b in bad_lines])] if bad_lines else candidates
    if len(rows) != n:  # pragma: no cover - defensive: pandas reported skipped lines we could not place
        rows = np.arange(2, 2 + n, dtype=np.int64)
    notes = []
    if inp.n_lines is not None and inp.n_lines - 1 > n + len(bad_lines):
        notes.append("some quoted cells span several lines, so row numbers after the first such cell count "
                     "records, not lines of the file")
    blank = frame.isna().all(axis=1).to_numpy() if n else np.zeros(0, dtype=bool)
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
        rows = rows[~blank]
    if len(frame) == 0 and not bad_lines:
        raise DataError("the file has a header but no data rows", source=inp.name)
    return _Raw(frame, rows, bad_lines, "an empty cell", notes)


def _first_data_line(text: str, sep: str) -> tuple[int, int] | None:
    """(line number, number of fields) of the first non-blank record after the header, from the file's head."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=sep)
    try:
        next(reader)  # the header
        for fields in reader:
            if any(f.strip() for f in fields):
                return reader.line_num, len(fields)
    except csv.Error:
        return None
    return None


def _read_parquet(inp: _Input) -> _Raw:
    try:
        frame = pd.read_parquet(inp.path if inp.path is not None else io.BytesIO(inp.data))
    except Exception as e:  # noqa: BLE001 - pyarrow raises several unrelated types for a corrupt file
        raise DataError(f"could not read the file as Parquet: {e}", source=inp.name) from None
    if len(frame) == 0:
        raise DataError("the Parquet file has no rows", source=inp.name)
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    return _Raw(frame, np.arange(1, len(frame) + 1, dtype=np.int64), [], "a missing value (null or NaN)")


def _read_json(inp: _Input, text: str) -> _Raw:
    try:
        obj = json_io.loads(text, source=inp.name)
    except ValueError as e:
        raise DataError(f"not valid JSON: {e}", source=inp.name) from None
    records: Any = None
    if isinstance(obj, list):
        records = obj
    elif isinstance(obj, dict):
        for key in ("rows", "records", "data", "results"):
            if isinstance(obj.get(key), list):
                records = obj[key]
                break
        else:
            if obj and all(isinstance(v, list) for v in obj.values()):  # column-oriented
                lengths = {k: len(v) for k, v in obj.items()}
                if len(set(lengths.values())) > 1:
                    shown = ", ".join(f"{k!r}: {n}" for k, n in lengths.items())
                    raise DataError(f"column-oriented JSON needs columns of equal length, found {shown}",
                                    source=inp.name)
                frame = pd.DataFrame(obj)
                if len(frame) == 0:
                    raise DataError("the JSON columns are empty (no results)", source=inp.name)
                return _Raw(frame, np.arange(1, len(frame) + 1, dtype=np.int64), [], "a missing value (null or NaN)")
            hint = ""
            if "results" in obj and ("versions" in obj or "config" in obj):
                hint = " (this looks like an lm-eval results file: import it as benchmark results instead)"
            keys = ", ".join(repr(k) for k in list(obj)[:8])
            raise DataError(f"unrecognised JSON layout{hint}; expected a list of records, {{\"rows\": [...]}} or "
                            f"{{column: [values]}}, found an object with keys {keys}", source=inp.name)
    else:
        raise DataError(f"unrecognised JSON layout; expected a list of records, found a {type(obj).__name__}",
                        source=inp.name)
    if not records:
        raise DataError("the JSON holds no records", source=inp.name)
    return _records_to_raw(inp, records, np.arange(1, len(records) + 1, dtype=np.int64), "record")


def _read_jsonl(inp: _Input, text: str) -> _Raw:
    records: list[Any] = []
    rows: list[int] = []
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append(json_io.loads(line, source=inp.name))
            except json_io.JsonError as e:
                records.append(_BadLine(str(e).split(": ", 1)[-1]))
            except ValueError as e:
                records.append(_BadLine(f"not valid JSON ({e})"))
            rows.append(i)
    if not records:
        raise DataError("the file is empty (only whitespace)", source=inp.name)
    return _records_to_raw(inp, records, np.asarray(rows, dtype=np.int64), "line")


@dataclass
class _BadLine:
    reason: str


def _records_to_raw(inp: _Input, records: list[Any], rows: np.ndarray, what: str) -> _Raw:
    pre: list[tuple[int, str | None, str]] = []
    keep = np.zeros(len(records), dtype=bool)
    for i, rec in enumerate(records):  # parsing JSON is per record anyway; this only sorts objects from the rest
        if isinstance(rec, dict):
            keep[i] = True
        elif isinstance(rec, _BadLine):
            pre.append((int(rows[i]), None, rec.reason))
        else:
            pre.append((int(rows[i]), None, f"expected a JSON object (one result per {what}), "
                                            f"found {type(rec).__name__} {_clip(rec)}"))
    good = [r for r, k in zip(records, keep) if k]
    frame = pd.DataFrame(good) if good else pd.DataFrame()
    return _Raw(frame.reset_index(drop=True), rows[keep], pre, "a missing value (null or NaN)")


def _clip(value: Any, n: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


# ---------------------------------------------------------------------------------------------------------------
# The public reader


@dataclass
class Table:
    """What read_table found: the raw frame (the file's own columns, pandas' dtypes), the file row of each frame
    row, the lines that never became rows, notes about the reading, the format and the encoding."""

    name: str
    frame: pd.DataFrame
    rows: np.ndarray
    pre_dropped: list[tuple[int, str | None, str]]
    missing_word: str
    notes: list[str]
    format: str
    encoding: str  # "utf-8", "cp1252", "latin-1", "utf-16" or "" (Parquet)


def open_input(source: Any, name: str | None = None, max_bytes: int = MAX_BYTES, *,
               file_format: str | None = None) -> tuple[_Input, str, str, str | None]:
    """(input, format, codec, encoding note or None) after the size, emptiness and binary checks."""
    inp = _open_input(source, name, max_bytes)
    if inp.n_bytes == 0:
        raise DataError("the file is empty (0 bytes)", source=inp.name)
    fmt = _choose_format(file_format, inp)
    _check_not_binary(inp, fmt)
    encoding, note = ("", None) if fmt == "parquet" else _detect_encoding(inp)
    return inp, fmt, encoding, note


def read_table(source: Any, *, name: str | None = None, file_format: str | None = None,
               max_bytes: int = MAX_BYTES, check_header: Callable[[list[str]], Any] | None = None,
               as_text: bool = False) -> Table:
    """Read a table (see the module docstring). check_header(columns) runs on a CSV/TSV header before the long
    read, so a wrong mapping fails fast. as_text: every cell as the text the file holds ("1.5e9" stays "1.5e9"),
    stripped, "" where empty (text_frame). Raises DataError for a file that cannot be read at all."""
    inp, fmt, encoding, note = open_input(source, name, max_bytes, file_format=file_format)
    raw = _read_frame(inp, fmt, encoding, check_header, as_text)
    if as_text:
        raw.frame = text_frame(raw.frame)
    notes = ([note] if note else []) + raw.notes
    return Table(inp.name, raw.frame, raw.rows, raw.pre_dropped, raw.missing_word, notes, fmt,
                 "utf-8" if encoding == "utf-8-sig" else encoding)


def text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as stripped text, "" where missing; whole numbers read as floats (a column with a blank) are
    written without ".0" (run ids 1, 2: "1", "2"). For readers whose contract is text (the catalog, benchmarks)."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            x = s.to_numpy(dtype=np.float64, na_value=np.nan)
            finite = x[np.isfinite(x)]
            if len(finite) and np.all(finite == np.round(finite)) and np.all(np.abs(finite) < 2**53):
                s = s.astype("Int64")
        text = s.astype("string").str.strip()
        out[str(col).strip()] = text.fillna("").astype(object)
    return pd.DataFrame(out, index=frame.index)


def pasted_table(text: str) -> tuple[str, bytes]:
    """(file name, bytes) of a table pasted as text, for the same loader as a file: tab-separated when its header
    has tabs (a spreadsheet or a web page), else comma-separated; a header that has neither but columns set apart
    by runs of two or more spaces (text copied from a PDF) is turned into tabs, line by line. ValueError for an
    empty paste, one without a data line, or one over MAX_PASTE_CHARS."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the pasted text is empty: paste a table whose first line names the columns")
    if len(text) > MAX_PASTE_CHARS:
        raise ValueError(f"the pasted text has {len(text):,} characters; the limit is {MAX_PASTE_CHARS:,}: "
                         "upload it as a file instead")
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line.strip()]
    if len(lines) < 2:
        raise ValueError("the pasted text has a single line: the first line names the columns, the next ones hold "
                         "the rows")
    header = lines[0]
    if "\t" in header:
        return "pasted_table.tsv", ("\n".join(lines) + "\n").encode("utf-8")
    if "," not in header and re.search(r"\S {2,}\S", header):
        return "pasted_table.tsv", ("\n".join(re.sub(r" {2,}", "\t", line.strip()) for line in lines)
                                    + "\n").encode("utf-8")
    return "pasted_table.csv", ("\n".join(lines) + "\n").encode("utf-8")
