"""Collecting the distillation-results rows of every finished run in a workspace into one table (CSV)."""
from __future__ import annotations

import json
from pathlib import Path

from analysis import json_io
from eval_runs.workspace import workspace_root

CONTRACT_COLUMNS = ["student_params", "teacher_params", "metric", "value", "higher_is_better", "family",
                    "data_tokens", "seed", "run_id", "source", "teacher_name", "student_name", "student_init",
                    "teacher_value"]


def collect_rows(workspace=None) -> list[dict]:
    """Rows from every result.json under the workspace that carries them, in path order."""
    rows = []
    for path in sorted(workspace_root(workspace).rglob("result.json")):
        try:
            result = json_io.read_json(path)
        except (OSError, json.JSONDecodeError):
            continue  # a run being written; atomic writes make this rare
        rows.extend(result.get("rows", []))
    return rows


def results_frame(workspace=None):
    """The rows as a DataFrame with the contract columns first."""
    import pandas as pd

    rows = collect_rows(workspace)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=CONTRACT_COLUMNS)
    extra = [c for c in frame.columns if c not in CONTRACT_COLUMNS]
    return frame[[c for c in CONTRACT_COLUMNS if c in frame.columns] + extra]


def write_results_csv(workspace, out: str | Path) -> int:
    """Write every finished run's rows to `out`; returns the number of rows. Raises if there are none."""
    from analysis.atomic_io import write_text_atomic
    from analysis.csv_safe import to_safe_csv

    frame = results_frame(workspace)
    if frame.empty:
        raise ValueError(f"no finished runs with results under {workspace_root(workspace)}")
    write_text_atomic(out, to_safe_csv(frame))
    return len(frame)
