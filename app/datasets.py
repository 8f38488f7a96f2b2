"""The active dataset: which distillation results the pages analyse, how they were loaded, and the upload store.

A dataset is named by a key that also lives in the URL (`?data=...`):
  example:<name>   a bundled example (analysis.results_io.load_example_results)
  upload:<hash>    a file the user uploaded, kept in the workspace by content hash (eval_runs.workspace)
  sweep:<name>     a finished sweep of the workspace (its rows; app/runs_data.py, launched on the Runs page)
  none             no data: pages fall back to the law as reported by Zhang et al.
Each upload folder also holds a hidden `.capgap.json` with what the app learned about the file (its kind,
and the column mapping / size unit that made it load), so a restart shows it again, mapped as before.
Loading is cached by (dataset key, loader settings); the upload key is its content hash, so the cache is
keyed by data hash + settings and never returns another file's rows.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import streamlit as st

from analysis import json_io
from analysis.atomic_io import write_json_atomic
from eval_runs.workspace import content_hash, list_uploads, store_upload, workspace_root

NONE_KEY = "none"


def _example_names() -> tuple[str, ...]:
    """The bundled examples the loader knows (the first one is the default dataset)."""
    from analysis.results_io import list_examples

    return tuple(name for name, _ in list_examples()) or ("simulated",)


EXAMPLE_NAMES = _example_names()
SIDECAR = ".capgap.json"
RESULTS_KIND, BENCHMARK_KIND = "results", "benchmarks"


@dataclass(frozen=True)
class LoaderSettings:
    """What the user told the loader about a file that does not follow the contract."""

    column_map: tuple[tuple[str, str], ...] = ()  # (contract column, file column) pairs
    size_unit: str = ""  # "", "K", "M", "B", "T": bare numbers in size columns are in this unit
    higher_is_better: tuple[tuple[str, bool], ...] = ()  # (metric, direction) for metrics it cannot infer

    def to_dict(self) -> dict:
        return {"column_map": dict(self.column_map), "size_unit": self.size_unit,
                "higher_is_better": dict(self.higher_is_better)}

    @classmethod
    def from_dict(cls, d: dict | None) -> "LoaderSettings":
        d = d or {}
        return cls(tuple(sorted((str(k), str(v)) for k, v in (d.get("column_map") or {}).items())),
                   str(d.get("size_unit") or ""),
                   tuple(sorted((str(k), bool(v)) for k, v in (d.get("higher_is_better") or {}).items())))


@dataclass(frozen=True)
class DatasetEntry:
    """One choice in the dataset picker."""

    key: str
    label: str
    kind: str  # "example" | "upload" | "sweep" | "none"
    upload_kind: str = ""  # for uploads: RESULTS_KIND or BENCHMARK_KIND
    path: Path | None = None
    n_bytes: int = 0
    sidecar: dict = field(default_factory=dict, compare=False)


# ------------------------------------------------------------------------------------------ upload store
def classify_upload(name: str, data: bytes) -> str:
    """RESULTS_KIND for distillation tables, BENCHMARK_KIND for lm-eval result JSON or a zip of an output folder."""
    low = name.lower()
    if low.endswith(".zip") or data[:4] == b"PK\x03\x04":
        return BENCHMARK_KIND
    if low.endswith(".json"):
        try:
            obj = json_io.loads(data.decode("utf-8", errors="replace"), source=name)
        except ValueError:
            return RESULTS_KIND  # the results loader gives the precise parse error
        if isinstance(obj, dict) and isinstance(obj.get("results"), dict):
            return BENCHMARK_KIND
    if low.endswith((".csv", ".tsv", ".txt")):  # a table already in the benchmark contract
        header = data[:4096].decode("utf-8", errors="replace").splitlines()[:1]
        names = {h.strip().strip('"').lower() for h in (header[0].replace("\t", ",").split(",") if header else [])}
        if {"model", "task", "metric", "value"} <= names and "student_params" not in names:
            return BENCHMARK_KIND
    return RESULTS_KIND


def read_sidecar(folder: Path) -> dict:
    try:
        return json_io.read_json(folder / SIDECAR)
    except (OSError, ValueError):
        return {}


def write_sidecar(folder: Path, **updates) -> None:
    data = read_sidecar(folder)
    data.update(updates)
    write_json_atomic(folder / SIDECAR, data)


def save_upload(name: str, data: bytes) -> DatasetEntry:
    """Store the bytes by content hash (a second upload of the same file is a no-op) and note its kind."""
    upload = store_upload(data, name)
    folder = upload.path.parent
    if not read_sidecar(folder).get("kind"):
        write_sidecar(folder, kind=classify_upload(upload.name, data))
    return _entry_for(upload)


def _entry_for(upload) -> DatasetEntry:
    sidecar = read_sidecar(upload.path.parent)
    kind = sidecar.get("kind") or classify_upload(upload.name, upload.path.read_bytes()[:1 << 20])
    return DatasetEntry(f"upload:{upload.upload_id}", upload.name, "upload", kind, upload.path, upload.n_bytes,
                        sidecar)


def stored_uploads(kind: str | None = None) -> list[DatasetEntry]:
    """The uploads in the workspace (oldest first), optionally only one kind."""
    entries = [_entry_for(u) for u in list_uploads()]
    return [e for e in entries if kind is None or e.upload_kind == kind]


def upload_folder(key: str) -> Path:
    upload_id = key.split(":", 1)[1]
    if not upload_id or not all(c in "0123456789abcdef" for c in upload_id):
        raise ValueError(f"not an upload key: {key!r}")
    return workspace_root() / "uploads" / upload_id


def results_datasets() -> list[DatasetEntry]:
    """Every dataset the picker offers: bundled examples, uploaded results tables, and 'none'."""
    examples = [DatasetEntry(f"example:{n}", f"Example: {n} (bundled)", "example") for n in EXAMPLE_NAMES]
    uploads = [DatasetEntry(e.key, f"Upload: {e.label}", "upload", e.upload_kind, e.path, e.n_bytes, e.sidecar)
               for e in stored_uploads(RESULTS_KIND)]
    from app.runs_data import SWEEP_PREFIX, finished_sweeps

    sweeps = [DatasetEntry(f"{SWEEP_PREFIX}{s.name}", f"Sweep: {s.name}", "sweep", path=s.path)
              for s in finished_sweeps()]
    return examples + uploads + sweeps + [DatasetEntry(NONE_KEY, "None: use the reported law only", "none")]


def saved_settings(key: str) -> LoaderSettings:
    """The loader settings that last loaded this upload (empty for examples and new files)."""
    if not key.startswith("upload:"):
        return LoaderSettings()
    return LoaderSettings.from_dict(read_sidecar(upload_folder(key)).get("loader"))


def save_settings(key: str, settings: LoaderSettings) -> None:
    if key.startswith("upload:"):
        write_sidecar(upload_folder(key), loader=settings.to_dict())


# ------------------------------------------------------------------------------------------ loading
def _upload_bytes(key: str) -> tuple[str, bytes]:
    folder = upload_folder(key)
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")) \
        if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"the upload {key.split(':', 1)[1]} is no longer in the workspace "
                                f"({folder}); pick another dataset or upload the file again")
    return files[0].name, files[0].read_bytes()


def load_results(key: str, settings: LoaderSettings):
    """(frame, LoadReport, data hash) of a dataset; raises the loader's DataError on bad input."""
    version = ""
    if key.startswith("sweep:"):  # a resumed sweep that finished again has new rows: its status file says when
        from app.runs_data import finished_sweeps

        version = next((s.fingerprint for s in finished_sweeps() if f"sweep:{s.name}" == key), "")
    return _load_results(key, settings, version)


@st.cache_data(show_spinner="Loading the results…", max_entries=64)
def _load_results(key: str, settings: LoaderSettings, version: str = ""):
    from analysis.results_io import load_distillation_results, load_example_results

    if key.startswith("example:"):
        frame, report = load_example_results(key.split(":", 1)[1])
        return frame, report, content_hash(frame.to_csv(index=False).encode())
    if key.startswith("upload:"):
        name, data = _upload_bytes(key)
        d = settings.to_dict()
        frame, report = load_distillation_results(
            data, name=name, column_map=d["column_map"] or None, size_unit=d["size_unit"] or None,
            higher_is_better=d["higher_is_better"] or None)
        return frame, report, content_hash(data)
    if key.startswith("sweep:"):
        from app.runs_data import load_sweep_results

        return load_sweep_results(key.split(":", 1)[1])
    raise ValueError(f"unknown dataset {key!r}: expected example:NAME, upload:HASH, sweep:NAME or none")


@st.cache_data(show_spinner=False, max_entries=64)
def preview_columns(key: str) -> tuple[list[str], pd.DataFrame]:
    """The raw column names and first rows of an uploaded table, for the column-mapping form.

    Tolerant on purpose (bad lines skipped, undecodable bytes replaced): the loader gives the precise errors;
    this only needs the header. Raises ValueError when the file is not a table at all.
    """
    name, data = _upload_bytes(key)
    low = name.lower()
    try:
        if low.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(io.BytesIO(data))
        elif low.endswith((".jsonl", ".ndjson")):
            records = []
            for line in data.decode("utf-8", errors="replace").splitlines()[:200]:
                try:
                    obj = json_io.loads(line, source=name)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    records.append(obj)
            frame = pd.DataFrame(records)
        elif low.endswith(".json"):
            obj = json_io.loads(data.decode("utf-8", errors="replace"), source=name)
            if isinstance(obj, dict):
                obj = next((obj[k] for k in ("rows", "records", "data") if k in obj), obj)
            frame = pd.DataFrame(obj if isinstance(obj, (list, dict)) else [])
        else:
            text = data.decode("utf-8", errors="replace")
            sep = "\t" if low.endswith((".tsv", ".tab")) or text[:4096].count("\t") > text[:4096].count(",") else ","
            frame = pd.read_csv(io.StringIO(text), sep=sep, nrows=50, dtype=str, on_bad_lines="skip")
    except Exception as error:  # noqa: BLE001 - any reader failure means "not a table we can preview"
        raise ValueError(f"{name} could not be read as a table ({error.__class__.__name__})") from None
    if frame.columns.empty:
        raise ValueError(f"{name} has no columns to map")
    return [str(c) for c in frame.columns], frame.head(8).astype(str)


@st.cache_data(show_spinner="Importing lm-eval results…", max_entries=64)
def load_benchmark_upload_cached(key: str):
    """The benchmark table of one uploaded lm-eval JSON or zipped output folder."""
    from analysis.benchmark_upload import load_benchmark_upload

    name, data = _upload_bytes(key)
    return load_benchmark_upload(data, name)


# ------------------------------------------------------------------------------------------ filters
def filter_results(frame: pd.DataFrame, *, metric: str | None, families: list[str] | None,
                   data_tokens: list[str] | None) -> pd.DataFrame:
    """Rows of one metric, the chosen families and data scales (data_tokens as shown: '—' for missing)."""
    out = frame
    if metric is not None:
        out = out[out["metric"] == metric]
    if families is not None:
        out = out[out["family"].astype(str).isin(families)]
    if data_tokens is not None:
        out = out[tokens_labels(out["data_tokens"]).isin(data_tokens)]
    return out


def tokens_labels(series: pd.Series) -> pd.Series:
    """data_tokens as labels for pickers: '2B tokens', or '—' where the file gave none."""
    from analysis.sizes import format_size

    return series.map(lambda v: "—" if pd.isna(v) else f"{format_size(int(v))} tokens")
