"""Reading lm-evaluation-harness per-sample logs (one record per document) of every layout 0.3 - 0.4.13.

What lm-eval writes with `--log_samples` (0.4) or `--write_out` (0.3), and what this module accepts:

  0.4.x    `<out>/<model>/samples_<task>_<YYYY-MM-DDTHH-MM-SS.ffffff>.jsonl` beside `results_<date>.json` (written by
           the EvaluationTracker), one JSON object a line: doc_id, doc, target, arguments, resps, filtered_resps,
           then one key per metric (`"acc": 1.0`); later versions add `filter` and `metrics` (the metric names) and
           `doc_hash`, `prompt_hash`, `target_hash` (sha256 of the document JSON, the first prompt, the target).
  early    `<out>/<model_args sanitized>_<task>.jsonl` holding ONE JSON array (indented), no filter/metrics/hash
  0.4.x    keys; a task with several filters repeats every doc_id once per filter, in filter order.
  any 0.4  the same content under a `.json` name, or a `.jsonl` holding one JSON array: both accepted.
  0.3      `<out>/<task>_write_out_info.json`: one JSON array, each entry doc_id, prompt_N, logit_N, truth and the
           per-doc metric as a string (`"acc": "True"`, `"acc": "0.0"`).
  any      a per-doc metric as bool, int, float or string; a list (`[gold, pred]` for f1/bleu, `[loglik, words]`
           for perplexities) marks a corpus-level metric: its score is not a mean over documents, so it is kept
           out of per-document comparisons (the reader records its name, the comparison says why).

Paths: a samples file, an lm-eval output folder (one model's folder, or an output_path holding one model), or a
zip of one (read in memory, members checked like analysis.lmeval_import does). Limits: MAX_SAMPLES_BYTES per file,
JSON nested at most json_io.MAX_DEPTH levels; every refusal is a SamplesError naming the file (and line) and
saying what was expected.

    read_samples_file(path) -> SampleLog            one file
    read_samples(path) -> SampleRun                  a file, a folder or a zip: every task's log of one model
    parse_samples_bytes(data, name) -> SampleLog     bytes already in memory (uploads, zip members)
"""
from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable

import numpy as np
import pandas as pd

from analysis import json_io
from analysis.safe_zip import open_archive

MAX_SAMPLES_BYTES = 1024 * 1024 * 1024  # 1 GiB per file: a 100k-document generation task logs a few hundred MB
MAX_ZIP_MEMBERS = 100_000
MAX_METRICS = 64  # distinct per-doc metric keys in one file; lm-eval tasks log a handful

# Keys of a record that are not per-document metrics (0.4: the tracker's; 0.3: prompt_N / logit_N / truth).
_RECORD_KEYS = {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics", "doc_hash",
                "prompt_hash", "target_hash", "truth", "task_name", "task", "model"}
_WRITE_OUT_KEY = re.compile(r"^(prompt|logit)_\d+$")
_SAMPLES_NAME = re.compile(r"^samples_(.+)_(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?)\.jsonl?$")
_WRITE_OUT_NAME = re.compile(r"^(.+)_write_out_info\.json$")
_TRUE, _FALSE = {"true", "yes"}, {"false", "no"}


class SamplesError(ValueError):
    """A per-sample log that cannot be read; the message names the file (and line) and says what was expected."""


@dataclass(frozen=True)
class SampleLog:
    """One task's per-document outcomes for one model (all filters).

    frame: one row per (filter, document): `filter` (str; "none" where the file names none), `doc_id` (int),
    `doc_key` (lm-eval's doc_hash, or that hash computed from the logged `doc`, or a hash of 0.3's `truth`; None
    when the record has none of them), `key_kind` ("doc", "truth" or None), `prompt_hash`, and one float column
    per metric (NaN where the record has none). docs: the `doc` objects in frame order (for --cluster fields); None entries where absent.
    """

    task: str
    source: str
    layout: str  # "0.4 jsonl", "0.4 json array", "0.3 write_out"
    frame: pd.DataFrame
    metrics: tuple[str, ...]  # per-document metrics (numbers per doc)
    corpus_metrics: tuple[str, ...] = ()  # metrics logged as lists: corpus-level, not comparable per document
    docs: tuple = ()
    notes: tuple[str, ...] = ()

    @property
    def filters(self) -> list[str]:
        return list(dict.fromkeys(self.frame["filter"]))

    def field_values(self, name: str) -> pd.Series:
        """The values of a record field (`subject`, `doc.subject`, `doc_hash`) per row, as text; SamplesError if
        no record has it."""
        if name in self.frame.columns:
            return self.frame[name].astype(str)
        path = name.split(".")
        if path[0] == "doc":
            path = path[1:]
        out = []
        for doc in self.docs:
            value = doc
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            out.append(None if value is None else json.dumps(value, sort_keys=True) if isinstance(value, (dict, list))
                       else str(value))
        if not self.docs or all(v is None for v in out):
            fields = sorted({k for d in self.docs[:50] if isinstance(d, dict) for k in d})
            raise SamplesError(f"{self.source}: no document has a field {name!r} to cluster by; the documents' fields "
                               f"are {fields or 'not logged'} (or use --cluster task to treat each task as a cluster)")
        return pd.Series(out, index=self.frame.index, dtype=object)


@dataclass(frozen=True)
class SampleRun:
    """Every task's SampleLog of one model (a folder, a zip or a single file)."""

    model: str
    source: str
    logs: dict  # task -> SampleLog
    groups: dict = field(default_factory=dict)  # group -> [subtask, ...] from a results file beside the samples
    higher_is_better: dict = field(default_factory=dict)  # (task, metric) -> bool, from the results file
    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------- one file
def parse_samples_bytes(data: bytes, name: str, *, task: str | None = None,
                        max_bytes: int = MAX_SAMPLES_BYTES) -> SampleLog:
    """Bytes of one samples file -> SampleLog. `task` overrides the name taken from the file name."""
    if len(data) > max_bytes:
        raise SamplesError(f"{name}: {len(data) / 2**20:.0f} MB is over the {max_bytes / 2**20:.0f} MB limit for a "
                           f"samples file")
    if not data.strip():
        raise SamplesError(f"{name}: the file is empty (expected lm-eval per-sample records, one JSON object a line)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SamplesError(f"{name}: not UTF-8 text (invalid byte at offset {exc.start}); lm-eval writes samples "
                           f"as UTF-8 JSON") from None
    records, layout = _records(text, name)
    base = PurePosixPath(name.replace("\\", "/")).name
    if layout == "0.4 json array" and _WRITE_OUT_NAME.match(base):
        layout = "0.3 write_out"
    return _build_log(records, name, task or task_from_name(base), layout)


def read_samples_file(path: str | os.PathLike, *, task: str | None = None,
                      max_bytes: int = MAX_SAMPLES_BYTES) -> SampleLog:
    """One samples file on disk -> SampleLog (SamplesError with the reason; FileNotFoundError if missing)."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise SamplesError(f"{path}: {size / 2**20:.0f} MB is over the {max_bytes / 2**20:.0f} MB limit for a "
                           f"samples file")
    return parse_samples_bytes(path.read_bytes(), str(path), task=task, max_bytes=max_bytes)


def task_from_name(file_name: str) -> str:
    """`samples_arc_easy_2024-05-01T10-00-00.123.jsonl` -> `arc_easy`; `hellaswag_write_out_info.json` ->
    `hellaswag`; anything else -> its stem (0.4.0-1 names; resolved against a results file when one is beside it)."""
    match = _SAMPLES_NAME.match(file_name) or _WRITE_OUT_NAME.match(file_name)
    if match:
        return match.group(1)
    return re.sub(r"\.jsonl?$", "", file_name)


def _records(text: str, name: str) -> tuple[Iterable, str]:
    """The records of a samples file (a list, or an iterator over JSON lines) and its layout."""
    head = text.lstrip()[:1]
    if head == "[":
        try:
            obj = json_io.loads(text, source=name)
        except json_io.JsonError as exc:
            raise SamplesError(str(exc)) from None
        except json.JSONDecodeError as exc:
            hint = "" if text.rstrip().endswith("]") else " (it does not end with ']': the file looks truncated)"
            raise SamplesError(f"{name}: not valid JSON ({exc.msg}; line {exc.lineno}, column {exc.colno}){hint}"
                               ) from None
        return obj, "0.4 json array"
    if head != "{":
        raise SamplesError(f"{name}: expected lm-eval per-sample records (JSON objects, one a line, or a JSON array), "
                           f"found text starting {text.lstrip()[:20]!r}")
    first = text.lstrip().split("\n", 1)[0].strip()
    several_lines = "\n" in text.strip()
    try:
        whole = json_io.loads(text, source=name)  # a JSON-lines file fails fast, at the end of its first line
    except json_io.JsonError as exc:
        raise SamplesError(str(exc)) from None
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        _refuse_results(whole, name)
        if several_lines and not _is_json_object(first):
            return [whole], "0.4 jsonl"  # one record pretty-printed over many lines
    return _json_lines(text, name), "0.4 jsonl"


def _json_lines(text: str, name: str):
    """The records of a JSON-lines text, one at a time (a 1 GB file's records are never all held at once)."""
    buffer = io.StringIO(text)
    for number, line in enumerate(buffer, start=1):
        if not line.strip():
            continue
        try:
            record = _loads_line(line, f"{name}, line {number}")
        except json_io.JsonError as exc:
            raise SamplesError(str(exc)) from None
        except json.JSONDecodeError as exc:
            last = not buffer.read().strip()
            hint = " (the last line stops mid-record: the file looks truncated)" if last else ""
            raise SamplesError(f"{name}, line {number}: not valid JSON ({exc.msg}, column {exc.colno}){hint}") from None
        if not isinstance(record, dict):
            raise SamplesError(f"{name}, line {number}: expected a JSON object (one record per document), found a "
                               f"JSON {type(record).__name__}")
        if number == 1:
            _refuse_results(record, name)
        yield record


def _loads_line(line: str, source: str):
    """One JSON line; the depth walk of json_io.loads only when the line has more brackets than the depth limit
    (a line with fewer cannot nest deeper), which halves the time to read a samples file."""
    if line.count("{") + line.count("[") <= json_io.MAX_DEPTH:
        return json.loads(line)
    return json_io.loads(line, source=source)


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (json.JSONDecodeError, RecursionError):
        return False


def _refuse_results(obj: dict, name: str) -> None:
    if isinstance(obj.get("results"), dict) and "doc_id" not in obj:
        raise SamplesError(f"{name}: this is an lm-eval results file (aggregate scores), not a per-sample log; give "
                           f"the samples_<task>_<date>.jsonl beside it (written when lm-eval runs with "
                           f"--log_samples), or the output folder that holds both")


def _metric_value(raw):
    """A per-doc metric -> float, NaN (missing), or the marker `list` (corpus-level); None if not a number."""
    if isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, (int, float)):
        return float(raw)
    if raw is None:
        return math.nan
    if isinstance(raw, str):
        low = raw.strip().lower()
        if low in _TRUE:
            return 1.0
        if low in _FALSE:
            return 0.0
        try:
            return float(low)
        except ValueError:
            return None
    if isinstance(raw, (list, tuple)):
        return list
    return None


def _doc_key(record: dict, doc) -> tuple[str | None, str | None]:
    """What identifies the document's content: lm-eval's doc_hash; else the same hash (sha256 of the document JSON
    with indent=2, as lm-eval's evaluator makes it) computed from the logged `doc`; else (0.3) a hash of `truth`.
    The kind says which, so only like is compared with like ("doc" and a stated doc_hash are the same kind)."""
    if isinstance(record.get("doc_hash"), str):
        return record["doc_hash"], "doc"
    if doc is not None:
        text = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest(), "doc"
    if "truth" in record:
        text = json.dumps(record["truth"], ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest(), "truth"
    return None, None


def _build_log(records: Iterable, name: str, task: str, layout: str) -> SampleLog:
    records = iter(records)
    first = next(records, None)
    if first is None:
        raise SamplesError(f"{name}: no records (an empty list); expected one record per document")
    notes: list[str] = []
    first_keys = sorted(first)[:12] if isinstance(first, dict) else []
    has_filter_key = isinstance(first, dict) and "filter" in first  # lm-eval writes it on every record or none
    rows, docs = [], []
    metric_names: dict[str, None] = {}
    corpus: dict[str, None] = {}
    seen_per_doc: dict[int, int] = {}
    for i, record in enumerate(itertools.chain([first], records)):
        where = f"{name}, record {i + 1}"
        if not isinstance(record, dict):
            raise SamplesError(f"{where}: expected a JSON object with doc_id and per-doc metrics, found a JSON "
                               f"{type(record).__name__}")
        doc_id = record.get("doc_id")
        if isinstance(doc_id, bool) or not isinstance(doc_id, (int, str)) or (
                isinstance(doc_id, str) and not doc_id.strip().isdigit()):
            raise SamplesError(f"{where}: expected an integer doc_id, found {doc_id!r} (is this an lm-eval samples "
                               f"file? its keys are {sorted(record)[:10]})")
        doc_id = int(doc_id)
        if has_filter_key or "filter" in record:
            filt = str(record.get("filter", "none"))
        else:  # early 0.4.x: every filter's pass repeats the doc_ids, in filter order
            k = seen_per_doc.get(doc_id, 0)
            seen_per_doc[doc_id] = k + 1
            filt = "none" if k == 0 else f"filter_{k + 1}"
        listed = record.get("metrics") if isinstance(record.get("metrics"), list) else None
        keys = [m for m in listed if isinstance(m, str) and m in record] if listed is not None else [
            k for k in record if k not in _RECORD_KEYS and not _WRITE_OUT_KEY.match(k)]
        row = {"filter": filt, "doc_id": doc_id}
        for key in keys:
            value = _metric_value(record[key])
            if value is list:
                corpus[key] = None
                continue
            if value is None:
                if listed is None:
                    continue  # an extra field of an unknown writer, not a metric
                raise SamplesError(f"{where}: metric {key!r} is {str(record[key])[:40]!r}, not a number")
            metric_names[key] = None
            row[key] = value
        if len(metric_names) > MAX_METRICS:
            raise SamplesError(f"{name}: more than {MAX_METRICS} distinct per-document metrics; not an lm-eval log")
        doc = record.get("doc")
        row["prompt_hash"] = record["prompt_hash"] if isinstance(record.get("prompt_hash"), str) else None
        row["doc_key"], row["key_kind"] = _doc_key(record, doc)
        rows.append(row)
        docs.append(doc)
    frame = pd.DataFrame(rows)
    for col in ("doc_key", "key_kind", "prompt_hash"):
        if col not in frame:
            frame[col] = None
    metrics = tuple(m for m in metric_names if m not in corpus)
    for m in metrics:
        frame[m] = pd.to_numeric(frame[m], errors="coerce").astype(float)
    dup = frame.duplicated(["filter", "doc_id"])
    if dup.any():
        first = frame[dup].iloc[0]
        raise SamplesError(f"{name}: doc_id {first['doc_id']} appears twice under filter {first['filter']!r}; a "
                           f"samples file holds each document once per filter (two runs appended to one file?)")
    if not metrics and not corpus:
        raise SamplesError(f"{name}: no per-document metric in the records (keys: {first_keys}); "
                           f"expected lm-eval samples with metrics such as acc")
    if not has_filter_key and len(set(frame["filter"])) > 1:
        notes.append(f"{name}: no filter names in the file; the repeated passes over the documents are called "
                     f"{', '.join(dict.fromkeys(frame['filter']))} in file order")
    return SampleLog(task=task, source=name, layout=layout, frame=frame, metrics=metrics,
                     corpus_metrics=tuple(corpus), docs=tuple(docs), notes=tuple(notes))


# ---------------------------------------------------------------------------------------------- folders and zips
def is_samples_name(file_name: str) -> bool:
    return bool(_SAMPLES_NAME.match(file_name) or _WRITE_OUT_NAME.match(file_name))


def read_samples(path: str | os.PathLike, *, max_bytes: int = MAX_SAMPLES_BYTES) -> SampleRun:
    """A samples file, an lm-eval output folder or a zip of one -> SampleRun (SamplesError with the reason)."""
    path = Path(path)
    if not path.exists():
        raise SamplesError(f"{path}: no such file or folder")
    if path.is_dir():
        files = {}
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for n in names:
                if not n.startswith("._") and (n.endswith((".json", ".jsonl"))):
                    files[(Path(root) / n).relative_to(path).as_posix()] = Path(root) / n
        return _run_from_members(files, str(path), lambda p: _read_limited(p, max_bytes), max_bytes)
    if path.suffix.lower() == ".zip":
        if path.stat().st_size > max_bytes:
            raise SamplesError(f"{path}: the archive is over the {max_bytes / 2**20:.0f} MB limit")
        return read_samples_zip(path.read_bytes(), str(path), max_bytes=max_bytes)
    log = read_samples_file(path, max_bytes=max_bytes)
    return SampleRun(model=_model_name(path.parent.name) or path.stem, source=str(path), logs={log.task: log},
                     notes=log.notes)


def _read_limited(path: Path, max_bytes: int) -> bytes:
    if path.stat().st_size > max_bytes:
        raise SamplesError(f"{path}: {path.stat().st_size / 2**20:.0f} MB is over the {max_bytes / 2**20:.0f} MB "
                           f"limit for a samples file")
    return path.read_bytes()


def read_samples_zip(data: bytes, name: str, *, max_bytes: int = MAX_SAMPLES_BYTES) -> SampleRun:
    """A zip of an lm-eval output folder, in memory -> SampleRun. Refused whole if a member has an absolute path
    or '..' (a crafted archive); members are read with a bound so a lying header cannot inflate past it."""
    try:
        archive, infos = open_archive(data, max_members=MAX_ZIP_MEMBERS)
    except ValueError as exc:
        raise SamplesError(f"{name}: {exc}") from None
    members = {}
    for info in infos:
        member = info.filename.replace("\\", "/")
        base = PurePosixPath(member).name
        if not info.is_dir() and base.endswith((".json", ".jsonl")) and not base.startswith("._"):
            members[member] = info
    budget = [max_bytes]

    def read(info: zipfile.ZipInfo) -> bytes:
        if info.file_size > budget[0]:
            raise SamplesError(f"{name}/{info.filename}: {info.file_size / 2**20:.0f} MB uncompressed is over what is "
                               f"left of the {max_bytes / 2**20:.0f} MB limit")
        try:
            with archive.open(info) as fh:
                blob = fh.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
            raise SamplesError(f"{name}/{info.filename}: cannot be read from the archive ({exc})") from None
        if len(blob) > info.file_size:
            raise SamplesError(f"{name}/{info.filename}: the member inflates beyond its declared size; refused")
        budget[0] -= len(blob)
        return blob

    return _run_from_members(members, name, read, max_bytes)


def _run_from_members(members: dict, name: str, read, max_bytes: int) -> SampleRun:
    """Shared by folders and zips: `members` maps a relative posix path to a handle `read` turns into bytes."""
    by_folder: dict[str, dict[str, object]] = {}
    for rel, handle in members.items():
        folder = str(PurePosixPath(rel).parent)
        by_folder.setdefault(folder, {})[PurePosixPath(rel).name] = handle
    found = {}
    for folder, files in by_folder.items():
        results = sorted(n for n in files if n.startswith("results") and n.endswith(".json"))
        samples = [n for n in files if is_samples_name(n)]
        if results:  # 0.4.0-1 logs are named <model_args>_<task>.jsonl: only trusted beside a results file
            samples += [n for n in files if n.endswith(".jsonl") and n not in samples]
        if samples:
            found[folder] = (files, results, samples)
    if not found:
        raise SamplesError(f"{name}: no lm-eval per-sample logs (samples_<task>_<date>.jsonl, written with "
                           f"--log_samples, or 0.3 <task>_write_out_info.json) in it")
    if len(found) > 1:
        models = ", ".join(sorted(f if f != "." else "(top)" for f in found)[:8])
        raise SamplesError(f"{name}: per-sample logs of {len(found)} runs in it ({models}); give one model's folder")
    folder, (files, results, samples) = next(iter(found.items()))
    groups, hib, tasks = {}, {}, set()
    notes: list[str] = []
    model = None
    if results:
        newest = max(results)
        try:
            obj = json_io.loads(read(files[newest]).decode("utf-8-sig"), source=newest)
        except (ValueError, UnicodeDecodeError):
            obj = None
        if isinstance(obj, dict):
            groups, hib, tasks, model = _results_facts(obj)
    chosen: dict[str, tuple[str, str]] = {}  # task -> (date, file): the newest log per task
    for n in samples:
        match = _SAMPLES_NAME.match(n)
        task = task_from_name(n)
        if not match and not _WRITE_OUT_NAME.match(n):
            ends = [t for t in tasks if task.endswith("_" + t) or task == t]
            if not ends:
                notes.append(f"{name}/{n}: skipped, not named like a samples file and no task of the results file "
                             f"ends its name")
                continue
            task = max(ends, key=len)
        date = match.group(2) if match else ""
        if task in chosen:
            notes.append(f"{name}: two logs of task {task!r}; the newer is used")
            if date <= chosen[task][0]:
                continue
        chosen[task] = (date, n)
    logs = {}
    for task, (_, n) in sorted(chosen.items()):
        log = parse_samples_bytes(read(files[n]), f"{name}/{n}" if folder == "." else f"{name}/{folder}/{n}",
                                  task=task, max_bytes=max_bytes)
        logs[task] = log
        notes.extend(log.notes)
    model = model or _model_name(PurePosixPath(folder).name if folder != "." else PurePosixPath(name).stem)
    return SampleRun(model=model or name, source=name, logs=logs, groups=groups, higher_is_better=hib,
                     notes=tuple(notes))


def _model_name(folder: str) -> str | None:
    return folder if folder not in ("", ".", "/") else None


def _results_facts(obj: dict) -> tuple[dict, dict, set, str | None]:
    """From a results file: groups -> subtasks, (task, metric) -> higher_is_better, task names, model name."""
    groups = {g: [t for t in subs if isinstance(t, str)] for g, subs in (obj.get("group_subtasks") or {}).items()
              if isinstance(subs, list) and subs} if isinstance(obj.get("group_subtasks"), dict) else {}
    hib = {}
    for task, metrics in (obj.get("higher_is_better") or {}).items() if isinstance(
            obj.get("higher_is_better"), dict) else ():
        if isinstance(metrics, dict):
            hib.update({(task, m): v for m, v in metrics.items() if isinstance(v, bool)})
    tasks = set()
    for key in ("results", "configs", "versions"):
        if isinstance(obj.get(key), dict):
            tasks |= {t for t in obj[key] if isinstance(t, str)}
    model = obj.get("model_name") if isinstance(obj.get("model_name"), str) and obj.get("model_name") else None
    return groups, hib, tasks, model


def metric_kind(values: np.ndarray) -> str:
    """'binary' when every value is 0 or 1, else 'continuous'."""
    finite = values[np.isfinite(values)]
    return "binary" if finite.size and np.isin(finite, (0.0, 1.0)).all() else "continuous"


__all__ = ["SampleLog", "SampleRun", "SamplesError", "read_samples", "read_samples_file", "read_samples_zip",
           "parse_samples_bytes", "task_from_name", "is_samples_name", "metric_kind", "MAX_SAMPLES_BYTES"]
