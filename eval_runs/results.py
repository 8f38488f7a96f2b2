"""Collecting the distillation-results rows of every finished run in a workspace into one table (CSV).

Each row says which sweep made it (`sweep`, from the row or from its folder <workspace>/sweeps/<name>/, "" for a
run outside any sweep) and the teachers' pretraining budget (`teacher_tokens`, where recorded). Two sweeps that
differ only in a setting the contract has no column for would otherwise export identical keys and be analysed
as seeds of one run: so when the table holds several sweeps their rows are kept apart as families
(`family/sweep`), unless the caller pools them (`pool_sweeps`, `--pool-sweeps`).
"""
from __future__ import annotations

from pathlib import Path

from analysis import json_io
from eval_runs.workspace import workspace_root

CONTRACT_COLUMNS = ["student_params", "teacher_params", "metric", "value", "higher_is_better", "family",
                    "data_tokens", "seed", "run_id", "source", "teacher_name", "student_name", "student_init",
                    "teacher_value", "sweep", "teacher_tokens"]


def _sweep_of(path: Path, root: Path) -> str:
    """The sweep a result.json belongs to, from its folder (<root>/sweeps/<name>/...), or ""."""
    parts = path.relative_to(root).parts
    return parts[1] if len(parts) > 2 and parts[0] == "sweeps" else ""


def arch_text(shape: dict) -> str:
    """A model's architecture in a few characters: 'L2 d48 h3 ff64' (layers, width, heads, FFN width)."""
    return f"L{shape['n_layers']} d{shape['d_model']} h{shape['n_heads']} ff{shape['d_ff']}"


def _architecture(result: dict, teacher_counts: dict) -> dict:
    """Columns that say what the two models are: the student's architecture and both models' non-embedding
    parameter counts (Kaplan et al.'s convention; the law may hold on one count and not the other), read from the
    run's result and its teacher's, so rows written before these columns existed get them too."""
    out = {}
    if isinstance(result.get("student_shape"), dict):
        try:
            out["student_arch"] = arch_text(result["student_shape"])
        except KeyError:
            pass
    if result.get("student_non_embedding_params") is not None:
        out["student_non_embedding_params"] = result["student_non_embedding_params"]
    teacher_dir = result.get("teacher_dir")
    if teacher_dir:
        if teacher_dir not in teacher_counts:
            try:
                teacher = json_io.read_json(Path(teacher_dir).parent / "result.json")
                teacher_counts[teacher_dir] = teacher.get("non_embedding_params")
            except (OSError, ValueError):
                teacher_counts[teacher_dir] = None
        if teacher_counts[teacher_dir] is not None:
            out["teacher_non_embedding_params"] = teacher_counts[teacher_dir]
    return out


def collect_rows(workspace=None) -> list[dict]:
    """Rows from every result.json under the workspace that carries them, in path order, each with its sweep and
    the models' architecture columns (`_architecture`)."""
    rows = []
    root = workspace_root(workspace)
    teacher_counts: dict = {}
    for path in sorted(root.rglob("result.json")):
        try:
            result = json_io.read_json(path)
        except (OSError, ValueError):
            continue  # a run being written (atomic writes make this rare), or a file that is not ours
        sweep = _sweep_of(path, root)
        arch = _architecture(result, teacher_counts)
        rows.extend({**arch, **row, "sweep": row.get("sweep") or sweep} for row in result.get("rows", [])
                    if isinstance(row, dict))
    return rows


def results_frame(workspace=None, *, sweep: str | None = None, pool_sweeps: bool = False):
    """The rows as a DataFrame with the contract columns first; only `sweep`'s rows when given. Rows of several
    sweeps get `family` = "family/sweep" (kept apart) unless `pool_sweeps`."""
    import pandas as pd

    rows = collect_rows(workspace)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=CONTRACT_COLUMNS)
    if sweep is not None:
        frame = frame[frame["sweep"] == sweep]
    if not pool_sweeps and frame["sweep"].nunique() > 1:
        frame = frame.assign(family=[f"{f}/{s}" if s else str(f) for f, s in zip(frame["family"], frame["sweep"])])
    extra = [c for c in frame.columns if c not in CONTRACT_COLUMNS]
    return frame[[c for c in CONTRACT_COLUMNS if c in frame.columns] + extra].reset_index(drop=True)


def write_results_csv(workspace, out: str | Path, *, sweep: str | None = None, pool_sweeps: bool = False) -> int:
    """Write the finished runs' rows to `out` (results_frame); returns the number of rows. Raises if none."""
    from analysis.atomic_io import write_text_atomic
    from analysis.csv_safe import to_safe_csv

    frame = results_frame(workspace, sweep=sweep, pool_sweeps=pool_sweeps)
    if frame.empty:
        what = f"of sweep {sweep!r} " if sweep else ""
        raise ValueError(f"no finished runs {what}with results under {workspace_root(workspace)}")
    write_text_atomic(out, to_safe_csv(frame))
    return len(frame)
