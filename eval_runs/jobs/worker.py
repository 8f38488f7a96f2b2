"""The job worker: runs one job's command, tees its output to the job's log, keeps its status.json current.

    python -m eval_runs.jobs.worker JOB_DIR

Started by either executor (a detached subprocess locally; a submitit job on Slurm), so both run the same code.
It makes itself a process-group leader (the child joins its group, so `cancel` signals both), writes
state=running with its pid, host and start time, starts the command as an argument list, writes every output line
to log.txt, and every HEARTBEAT_SECONDS rewrites status.json with a heartbeat and the progress: the `progress`
field of the engine's status.json when the command writes one, else the last tqdm-like "k/n" or "p%|" on the log.
At the end it writes succeeded / failed / cancelled with the exit code and the result paths. SIGTERM (cancel, or the
scheduler's scancel / preemption / time limit; SIGUSR2, Slurm's warning before those) is forwarded to the
command, which gets CANCEL_GRACE_SECONDS before a SIGKILL; the final state is "cancelled", with a message that
says whether the user asked for it (the `cancel` file) or a signal came. If the worker itself is killed, the
command gets SIGTERM from the kernel (PR_SET_PDEATHSIG) and the registry notices the dead pid.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from analysis import json_io
from eval_runs.jobs.processes import child_env, process_start_time, repo_root
from eval_runs.jobs.registry import HEARTBEAT_SECONDS, JobRegistry, now_iso, update_status
from eval_runs.jobs.spec import JobSpec, check_argv

STOPPED_BY_SIGNAL = "stopped by a signal (the scheduler: preemption, time limit or scancel)"
CANCEL_GRACE_SECONDS = 10.0  # after SIGTERM, how long the command may take to stop before SIGKILL
_TQDM_COUNT = re.compile(r"(\d+)/(\d+) \[")  # "  3/10 [00:01<00:02, ..." (tqdm's bar suffix)
_TQDM_PERCENT = re.compile(r"(\d{1,3})%\|")  # " 30%|###       |"
_RESULT_LINE = re.compile(r"^result_path: (.+)$")  # a command may announce a file it wrote


def progress_from_line(line: str) -> float | None:
    counts = list(_TQDM_COUNT.finditer(line))  # the last match is the newest bar state
    if counts and int(counts[-1].group(2)) > 0:
        return min(int(counts[-1].group(1)) / int(counts[-1].group(2)), 1.0)
    percents = list(_TQDM_PERCENT.finditer(line))
    return min(int(percents[-1].group(1)) / 100, 1.0) if percents else None


def _set_pdeathsig() -> None:  # runs in the child between fork and exec (Linux): die with the worker
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _Worker:
    def __init__(self, job_dir: Path):
        self.job_dir = job_dir
        self.spec = JobSpec.from_dict(json_io.read_json(job_dir / "spec.json"))
        self.lock = threading.Lock()  # status.json writes from the heartbeat thread and the main thread
        self.stop = threading.Event()
        self.cancelled = False
        self.child: subprocess.Popen | None = None
        self.log_progress: float | None = None
        self.result_lines: list[str] = []
        self.started = time.time()

    def status(self, **fields) -> None:
        with self.lock:
            update_status(self.job_dir, **fields)

    def progress(self) -> float | None:
        if self.spec.progress_file:
            p = Path(self.spec.progress_file)
            try:  # only a status file written by this run counts, not one left by an earlier run of the same name
                if p.stat().st_mtime >= self.started - 1:
                    value = json_io.read_json(p).get("progress")
                    if isinstance(value, (int, float)):
                        return float(min(max(value, 0.0), 1.0))
            except (OSError, ValueError):
                pass
        return self.log_progress

    def heartbeat(self) -> None:
        while not self.stop.wait(HEARTBEAT_SECONDS):
            self.status(heartbeat_at=now_iso(), progress=self.progress())

    def on_sigterm(self, signum, frame) -> None:
        self.cancelled = True
        if self.child and self.child.poll() is None:
            try:
                self.child.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            threading.Thread(target=self._kill_after_grace, daemon=True).start()

    def _kill_after_grace(self) -> None:
        time.sleep(CANCEL_GRACE_SECONDS)
        if self.child and self.child.poll() is None:
            self.child.kill()

    def result_paths(self) -> list[str]:
        paths = [p for p in self.spec.expected_outputs if Path(p).exists()]
        paths += [p for p in self.result_lines if Path(p).exists() and p not in paths]
        return paths

    def run(self) -> int:
        cancel_marker = self.job_dir / "cancel"
        try:
            if os.getpgrp() != os.getpid():
                os.setpgid(0, 0)  # under submitit: lead a group of our own, so cancel signals only this job
        except OSError:
            pass
        signal.signal(signal.SIGTERM, self.on_sigterm)
        signal.signal(signal.SIGINT, self.on_sigterm)
        signal.signal(signal.SIGUSR2, self.on_sigterm)  # Slurm's warning before a time limit or a preemption
        if cancel_marker.exists():
            self.status(state="cancelled", finished_at=now_iso(), message="cancelled before it started")
            return 0
        cmd = self.spec.command(sys.executable)
        check_argv(list(self.spec.argv), self.spec.module)  # the spec on disk is checked again before it runs
        self.status(state="running", pid=os.getpid(), pid_start_time=process_start_time(os.getpid()),
                    host=socket.gethostname(), started_at=now_iso(), heartbeat_at=now_iso(), progress=None)
        log = open(self.job_dir / "log.txt", "a", encoding="utf-8")
        log.write(f"$ python {' '.join(cmd[1:])}\n")
        log.flush()
        try:
            self.child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, cwd=str(repo_root()), env=child_env(),
                                          preexec_fn=_set_pdeathsig)
        except OSError as exc:
            log.write(f"could not start the command: {exc}\n")
            log.close()
            self.status(state="failed", finished_at=now_iso(), exit_code=None, message=f"could not start: {exc}")
            return 1
        if cancel_marker.exists():  # a cancel that raced with the start
            self.on_sigterm(signal.SIGTERM, None)
        beat = threading.Thread(target=self.heartbeat, daemon=True)
        beat.start()
        # tee: tqdm redraws with \r; each redraw becomes a line of the log
        buffer = b""
        for chunk in iter(lambda: self.child.stdout.read1(65536), b""):
            buffer += chunk
            *lines, buffer = re.split(rb"\r\n|\r|\n", buffer)
            self._write_lines(log, lines)
        if buffer:
            self._write_lines(log, [buffer])
        code = self.child.wait()
        self.stop.set()
        beat.join()
        state = "cancelled" if (self.cancelled or cancel_marker.exists()) else ("succeeded" if code == 0 else "failed")
        by_user = cancel_marker.exists()
        message = {"cancelled": "cancelled by the user" if by_user else STOPPED_BY_SIGNAL, "succeeded": "",
                   "failed": f"the command exited with code {code}; see the last log lines"}[state]
        log.write(f"[job {state}, exit code {code}]\n")
        log.close()
        self.status(state=state, finished_at=now_iso(), exit_code=code, message=message,
                    progress=1.0 if state == "succeeded" else self.progress(), result_paths=self.result_paths(),
                    heartbeat_at=now_iso())
        try:  # the registry's state column mirrors status.json; a list() would fix it anyway
            JobRegistry(self.spec.workspace).sync_state(self.job_dir.name, state)
        except Exception as exc:  # noqa: BLE001 - never lose the final status over the index
            print(f"warning: registry not updated: {exc}", file=sys.stderr)
        return code if code >= 0 else 128 - code

    def _write_lines(self, log, lines: list[bytes]) -> None:
        for raw in lines:
            line = raw.decode("utf-8", errors="replace").rstrip()
            if not line:
                continue
            log.write(line + "\n")
            p = progress_from_line(line)
            if p is not None:
                self.log_progress = p
            m = _RESULT_LINE.match(line.strip())
            if m:
                self.result_lines.append(m.group(1).strip())
        log.flush()


def run_job(job_dir: str | os.PathLike) -> int:
    """Run the job in `job_dir` to its end; returns the command's exit code."""
    return _Worker(Path(job_dir).resolve()).run()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m eval_runs.jobs.worker JOB_DIR", file=sys.stderr)
        return 2
    job_dir = Path(argv[0]).resolve()
    if not (job_dir / "spec.json").exists():
        print(f"error: {job_dir} is not a job folder (no spec.json)", file=sys.stderr)
        return 2
    return run_job(job_dir)


if __name__ == "__main__":
    sys.exit(main())
