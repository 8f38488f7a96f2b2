"""Reading lm-evaluation-harness results JSON, of every layout from 0.3 to 0.4.13, into the benchmark table.

lm-eval's results files changed shape across versions; this module absorbs that once, at the boundary:

  0.3.x    `results: {task: {"acc": .., "acc_stderr": ..}}`, `versions` as ints, `config.num_fewshot` for all
           tasks, `config.model_args` a string ("pretrained=..."). Filter: "" (0.3 had none).
  0.4.0-1  keys `"acc,none"` / `"acc_stderr,none"` (metric,filter), stderr "N/A" where it has none; groups in
           both `results` and `groups` (we count them once); display aliases indented with " - "; `versions` as
           floats or "N/A"; `n-shot`; `git_hash`.
  0.4.2+   `n-samples` {task: {original, effective}}, `higher_is_better` {task: {metric: bool}}, `date` (a UNIX
           time), `group_subtasks`, `model_name`; groups without an aggregate as `{" ": " ", "alias": ..}`.
  0.4.3+   `lm_eval_version`, `config.model_num_parameters` (HF models), `sample_len` in each entry; 0.4.13
           adds `name` and, for groups, `sample_count` {"acc,none": n}.
  any      `config.model_args` as a string or a dict; API models as `model=gpt-4`; `config.limit`.

Files: lm-eval writes `<output_path>/<model_name_sanitized>/results_<YYYY-MM-DDTHH-MM-SS.ffffff>.json` with
`samples_<task>_<date>.jsonl` beside it (or `<stem>_<date>.json` when --output_path names a .json file).

Rules: one row per (task, metric, filter) in a file; nothing is computed that the file does not contain (no
averages of subtasks); entries that are not results (alias, name, sample_len, placeholders, non-numeric values)
are skipped, and skipped values are listed in the import's notes.

    parse_lmeval_results(obj, source) -> DataFrame        one parsed JSON object
    read_lmeval_file(path) -> DataFrame                    one file (raises LmevalImportError with the reason)
    import_lmeval(paths, keep="newest"|"all") -> ImportResult   files and folders (recursive), failures collected
    import_lmeval_zip(data, name) -> ImportResult          a zip of an output folder, read in memory (the app)
"""
from __future__ import annotations

import json
import math
import os
import re
import zipfile
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Iterable

import pandas as pd

from analysis import json_io
from analysis.safe_zip import open_archive
from analysis.benchmarks import (
    BENCHMARK_COLUMNS,
    ImportFailure,
    ImportResult,
    as_benchmark_frame,
    empty_benchmark_frame,
)

MAX_RESULTS_BYTES = 100 * 1024 * 1024  # a results JSON is a few MB even for hundreds of tasks; refuse beyond this
_PEEK_BYTES = 20 * 1024 * 1024  # a .json in a folder not named like a results file is read only below this size

# Keys inside a results entry that are bookkeeping, not metrics.
_NON_METRIC_KEYS = {"alias", "name", "sample_len", "sample_count", "samples", " "}

# Result file names: results_<date>.json from the tracker; <stem>_<date>.json when output_path was a .json file.
_DATE_IN_NAME = re.compile(r"_(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?)\.json$")
_NP_SCALAR = re.compile(r"^np\.\w+\((.*)\)$")  # "np.float64(0.12)", as some writers stringify numpy scalars

# lm-eval's registered defaults (lm_eval/api/metrics.py), used when a file has no `higher_is_better` (0.3, 0.4.0-1),
# plus the 0.3 names (ppl, em). Unknown metrics stay <NA>.
_HIGHER_IS_BETTER = {
    "acc": True, "acc_norm": True, "acc_mutual_info": True, "acc_bytes": True, "acc_all": True,
    "exact_match": True, "em": True, "f1": True, "mcc": True, "bleu": True, "chrf": True, "chrf++": True,
    "mc1": True, "mc2": True, "likelihood": True, "pass@1": True, "brier_score": False, "ter": False,
    "perplexity": False, "ppl": False, "word_perplexity": False, "byte_perplexity": False, "bits_per_byte": False,
}


class LmevalImportError(ValueError):
    """A file that is not a readable lm-eval results file; the message says why (without repeating the path)."""


# ---------------------------------------------------------------------------------------------- one object
def parse_lmeval_results(obj: dict, source: str, *, model: str | None = None,
                         file_name: str | None = None, notes: list[str] | None = None) -> pd.DataFrame:
    """One lm-eval results object (the parsed JSON) -> the benchmark table (BENCHMARK_COLUMNS).

    source: written to the `source` column (a file path or upload name). model: used only when the object names
    no model (an evaluate() dump without `config`). file_name: where a date can come from when the object has
    none (defaults to `source`'s name). notes: if given, skipped entries are appended as sentences.
    Raises LmevalImportError when `obj` has no `results` object.
    """
    notes = notes if notes is not None else []
    if not isinstance(obj, dict):
        raise LmevalImportError(f"expected a JSON object with a 'results' key, found a JSON {type(obj).__name__}")
    results = obj.get("results")
    if not isinstance(results, dict):
        keys = list(obj)[:8]
        raise LmevalImportError("no 'results' object: not an lm-eval results file "
                                f"(top-level keys: {keys}{' ...' if len(obj) > 8 else ''})")
    config = obj.get("config") if isinstance(obj.get("config"), dict) else {}
    groups = obj.get("groups") if isinstance(obj.get("groups"), dict) else {}
    group_subtasks = obj.get("group_subtasks") if isinstance(obj.get("group_subtasks"), dict) else {}
    n_shot_map = obj.get("n-shot") if isinstance(obj.get("n-shot"), dict) else {}
    hib_map = obj.get("higher_is_better") if isinstance(obj.get("higher_is_better"), dict) else {}
    n_samples_map = obj.get("n-samples") if isinstance(obj.get("n-samples"), dict) else {}
    task_configs = obj.get("configs") if isinstance(obj.get("configs"), dict) else {}

    model_name = _model_name(obj, config) or model or "unknown"
    params = _int_or_none(config.get("model_num_parameters"))
    params = float(params) if params is not None and params > 0 else math.nan  # lm-eval writes -1 when unknown
    limit = _number(config.get("limit"))
    date = _date(obj.get("date"), file_name if file_name is not None else source)
    global_shot = _int_or_none(config.get("num_fewshot"))  # 0.3: one setting for every task

    # Groups appear twice in 0.4 files (in `results` and in `groups`): one entry per task name, the union of its
    # keys, `results` winning where both have a key.
    entries: dict[str, dict] = {}
    for table in (groups, results):
        for task, entry in table.items():
            if isinstance(entry, dict):
                entries[task] = {**entries.get(task, {}), **entry}
            else:
                notes.append(f"{source}: skipped '{task}': its entry is {type(entry).__name__}, not an object")
    order = list(results) + [t for t in groups if t not in results]  # the file's order, `results` first
    entries = {t: entries[t] for t in order if t in entries}
    is_comma_layout = any("," in k for e in entries.values() for k in e)
    version = _lm_eval_version(obj, is_comma_layout)

    rows = []
    for task, entry in entries.items():
        alias = entry.get("alias")
        alias = _strip_alias(alias) if isinstance(alias, str) and alias.strip() else task
        is_group = task in groups or bool(group_subtasks.get(task))
        n_shot = _int_or_none(n_shot_map.get(task))
        if n_shot is None and isinstance(task_configs.get(task), dict):
            n_shot = _int_or_none(task_configs[task].get("num_fewshot"))
        if n_shot is None and not n_shot_map:
            n_shot = global_shot
        counts = n_samples_map.get(task) if isinstance(n_samples_map.get(task), dict) else {}
        sample_count = entry.get("sample_count") if isinstance(entry.get("sample_count"), dict) else {}
        hib_task = hib_map.get(task) if isinstance(hib_map.get(task), dict) else {}

        for key, raw in entry.items():
            if key in _NON_METRIC_KEYS or not isinstance(key, str) or not key.strip():
                continue
            metric, sep, filt = key.partition(",")
            if metric.endswith("_stderr"):
                base = metric[: -len("_stderr")] + (f",{filt}" if sep else "")
                if base not in entry:
                    notes.append(f"{source}: skipped '{task}' '{key}': a stderr without its metric")
                continue
            if metric == "bypass":  # predict_only runs log a placeholder metric, not a score
                notes.append(f"{source}: skipped '{task}' '{key}': a predict-only placeholder, not a score")
                continue
            value = _number(raw)
            if value is None:
                notes.append(f"{source}: skipped '{task}' '{key}': value {raw!r} is not a number")
                continue
            stderr = _number(entry.get(f"{metric}_stderr" + (f",{filt}" if sep else "")))
            n_samples = _int_or_none(counts.get("effective"))
            if n_samples is None:
                n_samples = _int_or_none(sample_count.get(key))
            if n_samples is None:
                n_samples = _int_or_none(entry.get("sample_len"))
            hib = hib_task.get(metric, _HIGHER_IS_BETTER.get(metric))  # the file first; None there stays None
            rows.append({
                "model": model_name, "task": task, "metric": metric, "filter": filt if sep else "",
                "value": value, "stderr": math.nan if stderr is None else stderr, "n_samples": n_samples,
                "n_shot": n_shot, "params": params, "source": source, "lm_eval_version": version,
                "date": date, "is_group": is_group, "higher_is_better": hib if isinstance(hib, bool) else None,
                "alias": alias, "limit": math.nan if limit is None else limit,
            })
    return as_benchmark_frame(rows) if rows else empty_benchmark_frame()


def _model_name(obj: dict, config: dict) -> str | None:
    """lm-eval's own choice (`model_name`, 0.4.2+), else the same rule applied to model_args, else config.model.

    A revision other than main is appended as `name@revision`, so checkpoints of one model stay apart.
    """
    args = _model_args(config.get("model_args"))
    name = obj.get("model_name") if isinstance(obj.get("model_name"), str) and obj.get("model_name") else None
    if name is None:
        # lm-eval's GeneralConfigTracker order: adapters first (they name the evaluated model), then the base
        for key in ("peft", "delta", "pretrained", "model", "path", "engine"):
            if args.get(key):
                name = str(args[key])
                break
    if name is None and isinstance(config.get("model"), str) and config["model"]:
        name = config["model"]  # 0.3 `--model gpt2` with empty model_args
    if name is None:
        general = obj.get("config_general")
        if isinstance(general, dict) and isinstance(general.get("model_name"), str):
            name = general["model_name"]
    revision = args.get("revision") or config.get("model_revision")
    if name is not None and isinstance(revision, str) and revision not in ("", "main"):
        name = f"{name}@{revision}"
    return name


def _model_args(raw) -> dict:
    """`model_args` as lm-eval writes it: "k=v,k=v" (its simple_parse_args_string) or a dict."""
    if isinstance(raw, dict):
        return {str(k): v for k, v in raw.items()}
    if not isinstance(raw, str):
        return {}
    out = {}
    for part in raw.split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


def _lm_eval_version(obj: dict, is_comma_layout: bool) -> str:
    written = obj.get("lm_eval_version")
    if isinstance(written, str) and written.strip():
        return written.strip()
    layout = "0.4" if is_comma_layout else "0.3"
    git = obj.get("git_hash")
    return f"{layout} (git {git})" if isinstance(git, str) and git.strip() else layout


def _strip_alias(alias: str) -> str:
    """'  - formal_logic' -> 'formal_logic' (lm-eval indents subtask aliases for its printed table)."""
    return re.sub(r"^\s*-\s+", "", alias).strip() or alias.strip()


def _number(raw) -> float | None:
    """A JSON number, a numeric string or 'np.float64(x)' -> float; 'N/A', '', None, bools, objects -> None."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip()
        match = _NP_SCALAR.match(text)
        if match:
            text = match.group(1)
        if text.upper() in ("", "N/A", "NA", "NONE", "NULL"):
            return None
        try:
            return float(text)
        except ValueError:
            return None
    return None


def _int_or_none(raw) -> int | None:
    value = _number(raw)
    if value is None or not math.isfinite(value) or value != round(value):
        return None
    return int(value)


def _date(raw, file_name: str | None) -> pd.Timestamp:
    """`date` (a UNIX time: UTC) if the object has one, else the timestamp in the file name, else NaT."""
    value = _number(raw)
    if value is not None and math.isfinite(value) and value > 0:
        return pd.Timestamp(value, unit="s")  # UTC, naive; nanosecond precision (as lm-eval's float holds)
    if isinstance(raw, str) and raw.strip():
        parsed = pd.to_datetime(raw, errors="coerce", utc=True)
        if not pd.isna(parsed):
            return parsed.tz_convert(None)
    if file_name:
        match = _DATE_IN_NAME.search(PurePosixPath(str(file_name).replace("\\", "/")).name)
        if match:
            stamp = match.group(1)
            fmt = "%Y-%m-%dT%H-%M-%S.%f" if "." in stamp else "%Y-%m-%dT%H-%M-%S"
            try:
                return pd.Timestamp(datetime.strptime(stamp, fmt))
            except ValueError:
                pass
    return pd.NaT


# ---------------------------------------------------------------------------------------------- files
def parse_lmeval_bytes(data: bytes, name: str, *, model: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Bytes of one results file -> (frame, notes). Raises LmevalImportError with the reason."""
    if len(data) > MAX_RESULTS_BYTES:
        raise LmevalImportError(f"{len(data) / 2**20:.0f} MB is too large for an lm-eval results file "
                                f"(limit {MAX_RESULTS_BYTES / 2**20:.0f} MB)")
    if not data.strip():
        raise LmevalImportError("the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LmevalImportError(f"not UTF-8 text (invalid byte at offset {exc.start}); "
                                "lm-eval writes results as UTF-8 JSON") from None
    try:
        obj = json_io.loads(text, source=name)
    except json.JSONDecodeError as exc:
        raise LmevalImportError(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except json_io.JsonError as exc:
        raise LmevalImportError(str(exc).split(": ", 1)[-1]) from None
    notes: list[str] = []
    frame = parse_lmeval_results(obj, name, model=model, notes=notes)
    if frame.empty:
        notes.append(f"{name}: no numeric results in the file")
    return frame, notes


def read_lmeval_file(path: str | os.PathLike) -> pd.DataFrame:
    """One lm-eval results JSON file -> the benchmark table; `source` is the path as given.

    Raises LmevalImportError (a ValueError) saying why a file cannot be read; OSError for a missing file.
    """
    frame, _ = _read_file(Path(path))
    return frame


def _read_file(path: Path) -> tuple[pd.DataFrame, list[str]]:
    if path.name.endswith(".jsonl"):
        raise LmevalImportError("a .jsonl file is lm-eval's per-sample log, not results; "
                                "import the results_<date>.json beside it")
    size = path.stat().st_size
    if size > MAX_RESULTS_BYTES:
        raise LmevalImportError(f"{size / 2**20:.0f} MB is too large for an lm-eval results file "
                                f"(limit {MAX_RESULTS_BYTES / 2**20:.0f} MB)")
    data = path.read_bytes()
    return parse_lmeval_bytes(data, str(path), model=_model_from_layout(path.as_posix()))


def _model_from_layout(path: str) -> str | None:
    """In lm-eval's layout the parent folder is the sanitized model name: the fallback when a file names none."""
    pure = PurePosixPath(path)
    if _looks_like_results(pure.name) and pure.parent.name not in ("", ".", "/"):
        return pure.parent.name
    return None


def _looks_like_results(name: str) -> bool:
    return name.endswith(".json") and (name.startswith("results") or bool(_DATE_IN_NAME.search(name)))


def import_lmeval(paths: str | os.PathLike | Iterable[str | os.PathLike], *, keep: str = "newest") -> ImportResult:
    """Files and folders (searched recursively) of lm-eval results -> ImportResult(frame, failures, notes).

    A .zip path is read like an upload (import_lmeval_zip). In a folder, files named like lm-eval results
    (`results_<date>.json`, `<stem>_<date>.json`) are read, and any other .json is read only if it holds a
    `results` object (a model's config.json or tokenizer.json is skipped, with a note); samples_*.jsonl are
    never read. A file that cannot be read becomes a failure with its reason
    and the rest still import. keep="newest" keeps, per (model, task, metric, filter, n_shot), the row from the
    newest evaluation (by `date`, then the file name's timestamp; undated files count as oldest, ties go to the
    later path); keep="all" keeps every row.
    """
    if keep not in ("newest", "all"):
        raise ValueError(f"keep must be 'newest' or 'all', found {keep!r}")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    frames: list[pd.DataFrame] = []
    failures: list[ImportFailure] = []
    notes: list[str] = []
    seen: set[Path] = set()

    def read_one(path: Path, *, named: bool) -> bool:
        """Read one file into frames/failures/notes; True if it was an lm-eval results file (read or failed)."""
        key = path.resolve()
        if key in seen:
            return True
        seen.add(key)
        try:
            if not named and not _looks_like_results(path.name) and not _holds_results(path):
                notes.append(f"{path}: skipped, not an lm-eval results file")
                return False
            frame, file_notes = _read_file(path)
        except (LmevalImportError, OSError) as exc:
            failures.append(ImportFailure(str(path), _reason(exc)))
            return True
        frames.append(frame)
        notes.extend(file_notes)
        return True

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [read_one(f, named=False) for f in _json_files(path)]
            if not any(found):
                failures.append(ImportFailure(str(path), "no lm-eval results files (results_<date>.json) in this "
                                                         "folder or below"))
        elif path.is_file() and path.suffix.lower() == ".zip":
            try:
                zipped = import_lmeval_zip(path.read_bytes(), str(path), keep="all")
            except OSError as exc:
                failures.append(ImportFailure(str(path), _reason(exc)))
                continue
            frames.append(zipped.frame)
            failures.extend(zipped.failures)
            notes.extend(zipped.notes)
        elif path.exists():
            read_one(path, named=True)
        else:
            failures.append(ImportFailure(str(path), "no such file or folder"))
    return ImportResult(_combine(frames, keep), failures, notes)


def _json_files(folder: Path) -> list[Path]:
    """Every *.json under `folder`, sorted; symlinked folders not followed (no loops); macOS '._' files skipped."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found += [Path(root) / f for f in files if f.endswith(".json") and not f.startswith("._")]
    return sorted(found)


def _holds_results(path: Path) -> bool:
    """A .json not named like a results file: is it one anyway? (Bounded: big files are not peeked into.)"""
    try:
        if path.stat().st_size > _PEEK_BYTES:
            return False
        obj = json_io.loads(path.read_bytes().decode("utf-8-sig"), source=str(path))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(obj, dict) and isinstance(obj.get("results"), dict)


def _reason(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a folder"
    return str(exc) if isinstance(exc, LmevalImportError) else f"cannot be read: {exc.strerror or exc}"


def _combine(frames: list[pd.DataFrame], keep: str) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return empty_benchmark_frame()
    frame = pd.concat(frames, ignore_index=True)
    if keep == "newest":
        frame = frame.sort_values("date", na_position="first", kind="stable")
        key = ["model", "task", "metric", "filter", "n_shot"]
        frame = frame.drop_duplicates(subset=key, keep="last").sort_index()
    return as_benchmark_frame(frame.reset_index(drop=True))[BENCHMARK_COLUMNS]


# ---------------------------------------------------------------------------------------------- zip (the app)
def import_lmeval_zip(data: bytes, name: str, *, keep: str = "newest", max_bytes: int = MAX_RESULTS_BYTES,
                      max_members: int = 100_000) -> ImportResult:
    """A zip of an lm-eval output folder, read in memory -> ImportResult; `source` is "<name>/<member>".

    Nothing is extracted to disk. The archive is refused whole if any member has an absolute path or a '..'
    part (a crafted archive), or if it lists more than `max_members` entries. Only .json members are read
    (samples .jsonl never), at most `max_bytes` in all, each read with a bound so a lying header cannot make
    it inflate further.
    """
    try:
        archive, infos = open_archive(data, max_members=max_members)
    except ValueError as exc:
        return ImportResult(empty_benchmark_frame(), [ImportFailure(name, str(exc))])
    candidates = [i for i in infos if not i.is_dir() and i.filename.endswith(".json")
                  and not PurePosixPath(i.filename).name.startswith(("._", "."))]  # macOS resource forks
    frames, failures, notes = [], [], []
    budget = max_bytes
    for info in sorted(candidates, key=lambda i: i.filename):
        source = f"{name}/{info.filename}"
        named = _looks_like_results(PurePosixPath(info.filename).name)
        if info.file_size > budget:
            failures.append(ImportFailure(source, f"{info.file_size / 2**20:.0f} MB uncompressed is over what is "
                                                  f"left of the {max_bytes / 2**20:.0f} MB limit; not read"))
            continue
        try:
            with archive.open(info) as fh:
                blob = fh.read(min(budget, info.file_size) + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:  # RuntimeError: encrypted member
            failures.append(ImportFailure(source, f"cannot be read from the archive: {exc}"))
            continue
        if len(blob) > info.file_size:
            failures.append(ImportFailure(source, "the member inflates beyond its declared size; refused"))
            continue
        budget -= len(blob)
        try:
            frame, member_notes = parse_lmeval_bytes(blob, source, model=_model_from_layout(info.filename))
        except LmevalImportError as exc:
            if named:
                failures.append(ImportFailure(source, str(exc)))
            else:
                notes.append(f"{source}: skipped, not an lm-eval results file")
            continue
        frames.append(frame)
        notes.extend(member_notes)
    if not frames and not failures:
        failures.append(ImportFailure(name, "no lm-eval results files (results_<date>.json) in the archive"))
    return ImportResult(_combine(frames, keep), failures, notes)


__all__ = [
    "parse_lmeval_results", "parse_lmeval_bytes", "read_lmeval_file", "import_lmeval", "import_lmeval_zip",
    "LmevalImportError", "ImportResult", "ImportFailure", "BENCHMARK_COLUMNS",
]
