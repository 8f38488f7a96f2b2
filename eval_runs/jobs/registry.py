"""The job registry: every job of a workspace, in SQLite plus one folder per job.

    <workspace>/jobs/registry.sqlite    index of jobs (id, created_at, executor, argv, state, external id);
                                        WAL mode, a busy timeout and retries, so several processes (the app, workers,
                                        the CLI) write at once and nothing is lost
    <workspace>/jobs/<job_id>/spec.json     the JobSpec, written before the job starts
    <workspace>/jobs/<job_id>/status.json   state, pid, host, heartbeat, progress (0-1), exit code, result paths
    <workspace>/jobs/<job_id>/log.txt       the command's stdout and stderr, line by line
    <workspace>/jobs/<job_id>/cancel        present once a cancel was asked for
    <workspace>/jobs/<job_id>/submitit/     submitit's own files (Slurm jobs)

status.json is the truth about a job's state (the worker writes it atomically); the `state` column mirrors it for
listing. A job whose worker is gone (pid check on this host, a stale heartbeat elsewhere) while its status still
says queued/running is marked failed here, with a message; its log keeps the last lines. Nothing here starts
processes: see job_executors.py and job_worker.py.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from analysis import json_io
from analysis.atomic_io import write_json_atomic
from eval_runs.jobs.processes import pid_alive, process_start_time, reap_children  # noqa: F401 - pid_alive,
#                                                   process_start_time: re-exported for callers of the registry
from eval_runs.jobs.spec import SCHEMA_VERSION, JobSpec

JOBS_DIR = "jobs"
DB_NAME = "registry.sqlite"
STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINAL_STATES = ("succeeded", "failed", "cancelled")
HEARTBEAT_SECONDS = 2.0  # how often a worker rewrites status.json (heartbeat_at, progress)
STALE_HEARTBEAT_SECONDS = 120.0  # a running job silent this long on another host (Slurm) is taken as dead
LOG_TAIL_LINES = 20
_JOB_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
_SQLITE_RETRIES = 20  # on "database is locked" beyond the busy timeout; backoff 0.05 s .. 1 s


class JobNotFoundError(KeyError):
    """No job with this id in the workspace."""

    def __str__(self) -> str:  # KeyError quotes its message; this one is a sentence
        return str(self.args[0])


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _parse_iso(text: str | None) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class JobInfo:
    """What the app and the CLI show about one job."""

    job_id: str
    status: str  # queued | running | succeeded | failed | cancelled
    progress: float | None  # 0-1 when the command reports it, else None
    pid: int | None  # the worker's process id (local jobs; the process group that cancel signals)
    executor: str  # local | slurm
    argv: tuple[str, ...]  # arguments after `python -m MODULE`
    module: str  # eval_runs (or the runner's test probe)
    created_at: str  # ISO 8601, UTC
    started_at: str | None
    finished_at: str | None
    exit_code: int | None  # the command's exit code (negative: killed by that signal)
    message: str  # why it failed / was cancelled, in words; "" otherwise
    log_tail: str  # last lines of the log
    result_paths: tuple[str, ...]  # files/folders the job produced (those that exist)
    job_dir: str  # <workspace>/jobs/<job_id>
    external_id: str | None  # the Slurm job id (submitit), when executor="slurm"
    kind: str = ""  # sweep, distill, lmeval, ... or probe (JobSpec.kind)
    name: str = ""  # the sweep / run folder it writes, "" when none (JobSpec.name)
    label: str = ""  # what it runs, in a few words (JobSpec.describe)

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATES

    def to_dict(self) -> dict:
        d = asdict(self)
        d["argv"] = list(self.argv)
        d["result_paths"] = list(self.result_paths)
        return {"schema_version": SCHEMA_VERSION, **d}


# ------------------------------------------------------------------------------------------ job folder files

def read_status(job_dir: Path) -> dict:
    p = Path(job_dir) / "status.json"
    for _ in range(3):  # atomic writes: a read sees the old or new file; retry covers a vanished temp race
        try:
            return json_io.read_json(p)
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError:
            time.sleep(0.05)
    return {}


LOW_DISK_BYTES = 64 * 2**20  # below this much free space a job's failure is most likely the full disk


def _disk_note(folder: Path) -> str:
    """'; the disk holding the job has only 1.2 MB free (a full disk stops any job)' when it is nearly full."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""
    return (f"; the disk holding the job has only {free / 2**20:.1f} MB free (a full disk stops any job: free "
            f"space and resume it)") if free < LOW_DISK_BYTES else ""


def update_status(job_dir: Path, **fields) -> dict:
    """Merge `fields` into status.json (atomic write) and return the new status."""
    status = {"schema_version": SCHEMA_VERSION, **read_status(job_dir), **fields, "updated_at": now_iso()}
    write_json_atomic(Path(job_dir) / "status.json", status)
    return status


def read_log_tail(job_dir: Path, n_lines: int = LOG_TAIL_LINES, max_bytes: int = 65536) -> str:
    p = Path(job_dir) / "log.txt"
    if not p.exists():
        return ""
    with open(p, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - max_bytes))
        data = fh.read().decode("utf-8", errors="replace")
    return "\n".join(data.splitlines()[-n_lines:])


# ------------------------------------------------------------------------------------------ the registry

class JobRegistry:
    """The jobs of one workspace. Cheap to create: a restarted app makes a new one and finds every job."""

    def __init__(self, workspace: str | os.PathLike):
        self.workspace = Path(workspace).expanduser().resolve()
        self.root = self.workspace / JOBS_DIR
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / DB_NAME
        try:
            self._execute("""CREATE TABLE IF NOT EXISTS jobs (
                job_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, executor TEXT NOT NULL, module TEXT NOT NULL,
                argv TEXT NOT NULL, state TEXT NOT NULL, external_id TEXT, updated_at TEXT NOT NULL)""")
        except (sqlite3.OperationalError, sqlite3.DatabaseError):  # a full disk: the jobs stay readable from
            pass  # their folders; creating a job then fails with SQLite's own message

    # ---- SQLite with retries
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)  # autocommit; busy timeout 30 s
        con.execute("PRAGMA busy_timeout=30000")
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes, fast commits
        return con

    def _execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        delay = 0.05
        for attempt in range(_SQLITE_RETRIES):
            try:
                con = self._connect()
                try:
                    return con.execute(sql, params).fetchall()
                finally:
                    con.close()
            except sqlite3.OperationalError as exc:
                msg = str(exc).lower()
                if ("locked" not in msg and "busy" not in msg) or attempt == _SQLITE_RETRIES - 1:
                    raise
                time.sleep(delay + secrets.randbelow(50) / 1000)
                delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")

    # ---- ids and folders
    def job_dir(self, job_id: str) -> Path:
        if not isinstance(job_id, str) or not _JOB_ID.match(job_id):
            raise JobNotFoundError(f"not a job id: {job_id!r} (expected e.g. 20260509-123456-a1b2c3)")
        return self.root / job_id

    def create(self, spec: JobSpec) -> str:
        """A new queued job: its folder (spec.json, status.json) and its registry row. Returns the job id."""
        for _ in range(10):
            job_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)
            folder = self.root / job_id
            try:
                folder.mkdir()
                break
            except FileExistsError:
                continue
        else:
            raise RuntimeError("could not pick a fresh job id")
        write_json_atomic(folder / "spec.json", spec.to_dict())
        created = now_iso()
        update_status(folder, state="queued", created_at=created, started_at=None, finished_at=None, pid=None,
                      pid_start_time=None, host=None, heartbeat_at=None, progress=None, exit_code=None, message="",
                      result_paths=[])
        self._execute("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      (job_id, created, spec.executor, spec.module, json.dumps(list(spec.argv)), "queued", None,
                       created))
        return job_id

    def set_external_id(self, job_id: str, external_id: str) -> None:
        self._execute("UPDATE jobs SET external_id=?, updated_at=? WHERE job_id=?", (external_id, now_iso(), job_id))
        update_status(self.job_dir(job_id), external_id=external_id)

    def sync_state(self, job_id: str, state: str) -> None:
        """Mirror a job's state into SQLite; best effort: status.json is the truth, and a full or failing disk
        must not make `jobs list` unreadable (the next listing mirrors it once the disk takes writes again)."""
        try:
            self._execute("UPDATE jobs SET state=?, updated_at=? WHERE job_id=? AND state<>?",
                          (state, now_iso(), job_id, state))
        except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError):
            pass

    def spec(self, job_id: str) -> JobSpec:
        return JobSpec.from_dict(json_io.read_json(self.job_dir(job_id) / "spec.json"))

    def job_ids(self) -> list[str]:
        """Every job id, oldest first (rows of the registry, plus job folders it misses, e.g. a lost insert)."""
        try:
            rows = [r[0] for r in self._execute("SELECT job_id FROM jobs ORDER BY created_at, job_id")]
        except (sqlite3.OperationalError, sqlite3.DatabaseError):  # disk I/O error, a damaged file: the folders
            rows = []
        known = set(rows)
        extra = sorted(p.name for p in self.root.iterdir()
                       if p.is_dir() and _JOB_ID.match(p.name) and p.name not in known and (p / "spec.json").exists())
        return rows + extra

    # ---- reading, with the liveness check
    def get(self, job_id: str) -> JobInfo:
        folder = self.job_dir(job_id)
        if not (folder / "spec.json").exists():
            raise JobNotFoundError(f"no job {job_id} in {self.root}")
        spec = self.spec(job_id)
        status = self._reconcile(job_id, folder, read_status(folder))
        return JobInfo(
            job_id=job_id, status=status.get("state", "queued"), progress=status.get("progress"),
            pid=status.get("pid"), executor=spec.executor, argv=spec.argv, module=spec.module,
            created_at=status.get("created_at") or "", started_at=status.get("started_at"),
            finished_at=status.get("finished_at"), exit_code=status.get("exit_code"),
            message=status.get("message") or "", log_tail=read_log_tail(folder),
            result_paths=tuple(status.get("result_paths") or ()), job_dir=str(folder),
            external_id=status.get("external_id"), kind=spec.kind, name=spec.name, label=spec.describe())

    def list(self) -> list[JobInfo]:
        return [self.get(job_id) for job_id in self.job_ids()]

    def _reconcile(self, job_id: str, folder: Path, status: dict) -> dict:
        """Mark a job failed whose worker is gone without a final status; mirror the state into SQLite."""
        state = status.get("state", "queued")
        if state not in FINAL_STATES:
            reason = self._worker_gone(status)
            if reason:
                status = read_status(folder)  # the worker may have written its final status just now
                if status.get("state") not in FINAL_STATES:
                    cancelled = (folder / "cancel").exists()
                    fields = dict(state="cancelled" if cancelled else "failed", finished_at=now_iso(),
                                  message=("cancelled; " if cancelled else "") + reason + _disk_note(folder)
                                  + "; see the last log lines")
                    try:
                        status = update_status(folder, **fields)
                    except OSError:  # the disk is full: say so now, write it when space allows (next listing)
                        status = {**status, **fields}
        self.sync_state(job_id, status.get("state", "queued"))
        return status

    def _worker_gone(self, status: dict) -> str:
        """Why the worker is taken as dead ("" if it is alive or not started yet)."""
        reap_children()
        pid, host = status.get("pid"), status.get("host")
        if pid and (host is None or host == socket.gethostname()):
            if not pid_alive(pid, status.get("pid_start_time")):
                return f"the worker process {pid} ended without writing a final status (killed or crashed)"
            return ""
        beat = _parse_iso(status.get("heartbeat_at"))
        if status.get("state") == "running" and beat and time.time() - beat > STALE_HEARTBEAT_SECONDS:
            return (f"no heartbeat from the worker on {host} for {time.time() - beat:.0f} s (killed, or its node "
                    f"was lost)")
        return ""
