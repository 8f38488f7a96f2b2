"""The benchmark table: its contract, the bundled MiniMA table, uploads for the app, and two-model comparisons.

One row per (model, task, metric, filter) result, columns BENCHMARK_COLUMNS:

    model            str    the model's name (lm-eval's `model_name`, else `pretrained=`/`model=` from model_args)
    task             str    task or group name as lm-eval keys it (`mmlu`, `mmlu_formal_logic`, `gsm8k`)
    metric           str    `acc`, `acc_norm`, `exact_match`, `word_perplexity`, ...
    filter           str    lm-eval 0.4 filter as written (`none`, `strict-match`, `flexible-extract`); "" for 0.3
                            files and for tables that name no filter
    value            float  the score as the source reports it (lm-eval: accuracies are fractions 0-1)
    stderr           float  standard error as reported; NaN where missing or "N/A"
    n_samples        Int64  documents evaluated (lm-eval `n-samples`.effective, else `sample_len`); <NA> if unknown
    n_shot           Int64  few-shot examples; <NA> if the source does not say (e.g. a group with mixed shots)
    params           float  parameter count, raw (not millions); NaN if unknown. float so NaN needs no sentinel
    source           str    where the row came from: a file path, an upload name, or a citation
    lm_eval_version  str    `0.4.13`; inferred `0.4` / `0.3` from the key layout (with the git hash if written)
    date             datetime64[ns]  when the evaluation ran (UTC from lm-eval's `date`, else the results file
                            name's timestamp, which is the writer's local time); NaT if unknown
    is_group         bool   an aggregate lm-eval itself computed over subtasks (a group); leaves are False
    higher_is_better boolean  from the file's `higher_is_better`, else lm-eval's defaults for known metrics
    alias            str    lm-eval's display alias with its " - " indentation stripped (task name if none)
    limit            float  lm-eval `config.limit` (a count, or a fraction < 1); NaN when the full set ran

The first fourteen are the columns the API plan names; `alias` and `limit` follow them so a reader can tell a
partial run (`limit`) from a full one. Nothing in this table is computed from other rows: an aggregate appears
only where its source reported it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import pandas as pd

from analysis.validate import check_alpha

BENCHMARK_COLUMNS = [
    "model", "task", "metric", "filter", "value", "stderr", "n_samples", "n_shot", "params", "source",
    "lm_eval_version", "date", "is_group", "higher_is_better", "alias", "limit",
]
REQUIRED_BENCHMARK_COLUMNS = ("model", "task", "metric", "value")  # a CSV upload must have these; others default

_DTYPES = {
    "value": "float64", "stderr": "float64", "n_samples": "Int64", "n_shot": "Int64", "params": "float64",
    "is_group": "bool", "higher_is_better": "boolean", "limit": "float64",
}
_STRINGS = ("model", "task", "metric", "filter", "source", "lm_eval_version", "alias")

DATA_DIR = Path(__file__).resolve().parent / "data"
MINIMA_SOURCE = "MiniMA README (github.com/GeneZC/MiniMA)"
MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # an lm-eval results JSON is at most a few MB; a zip of outputs stays far below


@dataclass(frozen=True)
class ImportFailure:
    """A file (or archive member) that could not be imported, and why (the reason does not repeat the path)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True, eq=False)
class ImportResult:
    """What an import produced: the benchmark table, the inputs that failed, and notes on what was skipped."""

    frame: pd.DataFrame
    failures: list[ImportFailure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # skipped entries / files that were not failures

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        n_sources = self.frame["source"].nunique() if len(self.frame) else 0
        lines = [f"imported {len(self.frame)} rows from {n_sources} source(s); {len(self.failures)} failed"]
        lines += [f"  failed: {f}" for f in self.failures]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def as_benchmark_frame(rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """Rows (dicts or a frame) -> a frame with exactly BENCHMARK_COLUMNS in order, with the contract's dtypes.

    Missing columns get their empty value (NaN / <NA> / NaT / "" for filter / False for is_group).
    """
    frame = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows.copy()
    n = len(frame)
    for col in BENCHMARK_COLUMNS:
        if col not in frame.columns:
            frame[col] = {"filter": "", "is_group": False}.get(col, None) if n else pd.Series(dtype=object)
    frame = frame[BENCHMARK_COLUMNS].reset_index(drop=True)
    for col in _STRINGS:
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    frame["filter"] = frame["filter"].where(frame["filter"].notna(), "")
    for col, dtype in _DTYPES.items():
        if dtype == "bool":
            frame[col] = frame[col].fillna(False).astype(bool) if n else frame[col].astype(bool)
        elif dtype == "boolean":
            frame[col] = frame[col].astype("boolean")
        else:
            frame[col] = pd.to_numeric(frame[col], errors="raise").astype(dtype)
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame


def empty_benchmark_frame() -> pd.DataFrame:
    return as_benchmark_frame([])


# ---------------------------------------------------------------------------------------------- MiniMA
# The MiniMA README gives one score per benchmark. We name each with the metric that benchmark conventionally
# reports, spelled as lm-eval spells it, so the bundled rows line up with a user's own lm-eval results.
_MINIMA_METRICS = {
    "mmlu": "acc", "ceval": "acc", "drop": "f1", "humaneval": "pass@1", "bbh": "exact_match", "gsm8k": "exact_match",
}
_SCORE_COLUMN = re.compile(r"^(?P<task>[a-z0-9]+)_(?P<shot>\d+)shot$")


def load_minima_table() -> pd.DataFrame:
    """The bundled MiniMA benchmark table, wide, as published (scores in percent), plus two derived columns.

    Columns: model, role, params_b, train_compute_1e21_flops, <task>_<k>shot score columns (percent, as in the
    README), then `params` (params_b * 1e9, raw count; NaN for the MoE MiniMix, whose README gives no single
    count) and `train_compute_flops` (train_compute_1e21_flops * 1e21; the README's "TFLOPs" column in units
    of 1e9 TFLOPs). Source: MiniMA README (github.com/GeneZC/MiniMA); see analysis/data/README.md.
    """
    table = pd.read_csv(DATA_DIR / "minima_benchmarks.csv")
    table["params"] = table["params_b"].astype("float64") * 1e9
    table["train_compute_flops"] = table["train_compute_1e21_flops"].astype("float64") * 1e21
    return table


def load_minima_benchmarks() -> pd.DataFrame:
    """The MiniMA table melted into the benchmark contract (one row per model x benchmark).

    value is the README's percent divided by 100 (a fraction 0-1, as lm-eval reports accuracies); metric is the
    benchmark's conventional metric (mmlu/ceval acc, drop f1, humaneval pass@1, bbh/gsm8k exact_match); n_shot
    comes from the column name (`mmlu_5shot` -> 5); filter ""; stderr, n_samples, date unknown; params from
    params_b; source "MiniMA README (github.com/GeneZC/MiniMA)"; is_group False (the README reports each
    benchmark as one number; how it averaged subtasks is not stated).
    """
    table = load_minima_table()
    rows = []
    for col in table.columns:
        match = _SCORE_COLUMN.match(col)
        if not match:
            continue
        task = match["task"]
        for _, rec in table.iterrows():
            if pd.isna(rec[col]):
                continue
            rows.append({
                "model": rec["model"], "task": task, "metric": _MINIMA_METRICS.get(task, "score"), "filter": "",
                "value": float(rec[col]) / 100.0, "stderr": math.nan, "n_samples": None,
                "n_shot": int(match["shot"]), "params": rec["params"], "source": MINIMA_SOURCE,
                "lm_eval_version": None, "date": pd.NaT, "is_group": False, "higher_is_better": True,
                "alias": task, "limit": math.nan,
            })
    return as_benchmark_frame(rows)


# ---------------------------------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class ModelComparison:
    """value_a - value_b on one (task, metric, filter), with a (1 - alpha) normal interval from the two stderrs."""

    model_a: str
    model_b: str
    task: str
    metric: str
    filter: str
    value_a: float
    value_b: float
    stderr_a: float
    stderr_b: float
    difference: float  # value_a - value_b, in the metric's units
    stderr: float  # sqrt(stderr_a^2 + stderr_b^2): the two results treated as independent
    ci_lower: float  # NaN when either stderr is missing (see note)
    ci_upper: float
    alpha: float
    higher_is_better: bool | None
    note: str  # why there is no interval, and other caveats; "" when none

    def to_dict(self) -> dict:
        def clean(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v
        return {k: clean(v) for k, v in self.__dict__.items()}


def compare_models(bench: pd.DataFrame, model_a: str, model_b: str, task: str, metric: str,
                   filter: str | None = None, *, n_shot: int | None = None, alpha: float = 0.05) -> ModelComparison:
    """Difference between two models' scores on one task and metric, with a (1 - alpha) interval.

    The interval is difference +/- z * sqrt(se_a^2 + se_b^2): a normal approximation treating the two results as
    independent. Two models scored on the same documents are positively correlated, so a paired analysis of the
    per-sample logs would give a narrower interval; this one errs wide. Where either stderr is missing (lm-eval
    writes "N/A" for perplexities and single-document runs) the interval is NaN and `note` says why.

    filter=None picks the one filter both models have (an error if there are several); n_shot likewise. If a model has
    several rows left (an import with keep="all"), the newest is used and the note says so.
    Raises ValueError naming what is available when a model, task or metric is not in the table.
    """
    alpha = check_alpha(alpha)
    rows = bench[(bench["task"] == task) & (bench["metric"] == metric)]
    if rows.empty:
        have = sorted(set(zip(bench["task"], bench["metric"])))[:20]
        raise ValueError(f"no rows for task '{task}' with metric '{metric}'; available (task, metric): {have}")
    if filter is None:  # the filter both models were scored with, if there is exactly one
        per_model = [set(rows.loc[rows["model"] == m, "filter"].fillna("")) for m in (model_a, model_b)]
        shared = sorted(per_model[0] & per_model[1]) or sorted(per_model[0] | per_model[1])
        if len(shared) > 1:
            raise ValueError(f"task '{task}' metric '{metric}' has several filters {shared}; pass filter=")
        filter = shared[0] if shared else ""
    rows = rows[rows["filter"].fillna("") == filter]
    if rows.empty:
        raise ValueError(f"no rows for task '{task}' metric '{metric}' with filter '{filter}'")
    if n_shot is not None:
        rows = rows[rows["n_shot"] == n_shot]
    notes: list[str] = []
    picked = [_pick(rows, m, task, metric, filter, n_shot, notes) for m in (model_a, model_b)]
    a, b = picked
    z = NormalDist().inv_cdf(1 - alpha / 2)
    diff = float(a["value"]) - float(b["value"])
    sa, sb = float(a["stderr"]), float(b["stderr"])
    missing = [m for m, s in ((model_a, sa), (model_b, sb)) if not math.isfinite(s)]
    if missing:
        notes.insert(0, "no interval: the stderr of " + " and ".join(f"'{m}'" for m in missing)
                     + " is missing in its source (lm-eval writes N/A where it cannot compute one, e.g. for"
                       " perplexities or a single document)")
        se = lo = hi = math.nan
    else:
        se = math.hypot(sa, sb)
        lo, hi = diff - z * se, diff + z * se
        if se == 0:
            notes.append("both stderrs are 0 (all-or-nothing scores on few documents): the interval is a point")
    if not (pd.isna(a["n_shot"]) or pd.isna(b["n_shot"])) and a["n_shot"] != b["n_shot"]:
        notes.append(f"different few-shot settings: {a['n_shot']}-shot vs {b['n_shot']}-shot")
    for m, r in ((model_a, a), (model_b, b)):
        if not pd.isna(r["limit"]):
            notes.append(f"'{m}' was evaluated on a subset (limit={r['limit']:g})")
    hib = a["higher_is_better"] if not pd.isna(a["higher_is_better"]) else b["higher_is_better"]
    return ModelComparison(
        model_a=model_a, model_b=model_b, task=task, metric=metric, filter=filter,
        value_a=float(a["value"]), value_b=float(b["value"]), stderr_a=sa, stderr_b=sb,
        difference=diff, stderr=se, ci_lower=lo, ci_upper=hi, alpha=alpha,
        higher_is_better=None if pd.isna(hib) else bool(hib), note="; ".join(notes),
    )


def _pick(rows: pd.DataFrame, model: str, task: str, metric: str, filter: str, n_shot, notes: list[str]) -> pd.Series:
    mine = rows[rows["model"] == model]
    if mine.empty:
        have = sorted(rows["model"].dropna().unique())[:20]
        raise ValueError(f"model '{model}' has no '{metric}' result on '{task}' (filter '{filter}'"
                         + (f", {n_shot}-shot" if n_shot is not None else "") + f"); models that do: {have}")
    shots = mine["n_shot"].dropna().unique()
    if n_shot is None and len(shots) > 1:
        raise ValueError(f"model '{model}' has '{task}' results at several few-shot settings "
                         f"{sorted(int(s) for s in shots)}; pass n_shot=")
    if len(mine) > 1:
        notes.append(f"'{model}' has {len(mine)} results for this task and metric; the newest is used")
        mine = mine.sort_values("date", na_position="first", kind="stable")
    return mine.iloc[-1]


__all__ = [
    "BENCHMARK_COLUMNS", "REQUIRED_BENCHMARK_COLUMNS", "ImportFailure", "ImportResult", "ModelComparison",
    "as_benchmark_frame", "empty_benchmark_frame", "load_minima_table", "load_minima_benchmarks",
    "compare_models", "MINIMA_SOURCE",
]
