"""One run's folder in the workspace, and the files in it.

    <run>/spec.json       the resolved configuration, written before any work starts
    <run>/status.json     machine-readable progress: state, stage, step, n_steps, progress (0-1), pid, updated_at
    <run>/log.txt         human-readable log lines
    <run>/metrics.jsonl   one JSON object per logged step / evaluation
    <run>/result.json     the outcome (metrics, parameter counts, provenance, results-contract rows)
    <run>/model/          the trained model (an ordinary HF folder with its tokenizer)
    <run>/checkpoint-<step>/  the last complete checkpoint (model, optimizer, step), for resuming

Every JSON file is written atomically; metrics.jsonl is appended line by line and trimmed on resume.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from analysis import json_io
from analysis.atomic_io import write_json_atomic, write_text_atomic

SCHEMA_VERSION = 1
STATES = ("queued", "running", "succeeded", "failed", "stopped", "cancelled")  # stopped: out of its time budget;
# cancelled: a fanned-out sweep whose runner was stopped


@dataclass(frozen=True)
class RunFolder:
    """Paths and writers of one run."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    def write_spec(self, spec: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path / "spec.json", {"schema_version": SCHEMA_VERSION, **spec})

    def read_spec(self) -> dict:
        return json_io.read_json(self.path / "spec.json")

    def write_status(self, state: str, *, stage: str = "", step: int = 0, n_steps: int = 0, message: str = "",
                     **extra) -> None:
        assert state in STATES, state
        progress = 1.0 if state == "succeeded" else (step / n_steps if n_steps else 0.0)
        write_json_atomic(self.path / "status.json", {
            "schema_version": SCHEMA_VERSION, "state": state, "stage": stage, "step": step, "n_steps": n_steps,
            "progress": round(min(progress, 1.0), 4), "message": message, "pid": os.getpid(),
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra})

    def read_status(self) -> dict | None:
        p = self.path / "status.json"
        return json_io.read_json(p) if p.exists() else None

    def log(self, line: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / "log.txt", "a", encoding="utf-8") as fh:
            fh.write(time.strftime("%H:%M:%S ") + line.rstrip() + "\n")

    def append_metrics(self, record: dict) -> None:
        with open(self.path / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, allow_nan=False) + "\n")

    def read_metrics(self) -> list[dict]:
        p = self.path / "metrics.jsonl"
        if not p.exists():
            return []
        return [json_io.loads(line, source=str(p)) for line in p.read_text().splitlines() if line.strip()]

    def trim_metrics(self, last_step: int) -> None:
        """Drop metric lines after `last_step` (a resumed run re-does those steps)."""
        kept = [r for r in self.read_metrics() if r.get("step", 0) <= last_step]
        write_text_atomic(self.path / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in kept))

    def write_result(self, result: dict) -> None:
        write_json_atomic(self.path / "result.json", {"schema_version": SCHEMA_VERSION, **result})

    def read_result(self) -> dict | None:
        p = self.path / "result.json"
        return json_io.read_json(p) if p.exists() else None

    @property
    def finished(self) -> bool:
        return (self.path / "result.json").exists()
