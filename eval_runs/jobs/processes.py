"""Processes of the job runner: is a pid alive (and the same process), reaping the workers this process started,
signalling a worker's group, and the environment and folder a job's command runs in.

Every other module of eval_runs.jobs imports these; this one imports none of them, so nothing imports upward.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path


def process_start_time(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (Linux /proc), to tell a reused pid apart; None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def pid_alive(pid: int | None, start_time: int | None = None) -> bool:
    """True if process `pid` runs (not a zombie) and, when `start_time` is known, is the same process."""
    if not pid:
        return False
    proc = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            after = proc.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, OSError):
            return False
        if after[0] in ("Z", "X"):  # zombie / dead: exited, not yet reaped by its parent
            return False
        return start_time is None or int(after[19]) == int(start_time)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True



# Workers this process started, kept so they are reaped (no zombies in a long-running app) and polled.
_CHILDREN: dict[int, subprocess.Popen] = {}


def reap_children() -> None:
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            del _CHILDREN[pid]



def signal_worker_group(status: dict, sig: int = signal.SIGTERM) -> bool:
    """Send `sig` to the worker's process group if the worker still runs on this host; True if sent."""
    pid, host = status.get("pid"), status.get("host")
    if not pid or (host and host != socket.gethostname()) or not pid_alive(pid, status.get("pid_start_time")):
        return False
    try:
        if os.getpgid(pid) == pid:  # the worker leads its group: the command is in it too
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)  # the worker forwards it to the command
    except ProcessLookupError:
        return False
    return True


def repo_root() -> Path:
    """The folder holding the eval_runs package (on PYTHONPATH for the command, whatever the cwd)."""
    return Path(__file__).resolve().parents[2]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(repo_root())] + [p for p in [env.get("PYTHONPATH")] if p])
    env["PYTHONUNBUFFERED"] = "1"  # lines reach the log as they are printed
    env.setdefault("TQDM_MININTERVAL", "2")  # tqdm reads its defaults from TQDM_*: fewer bar redraws in the log
    env.update(extra or {})
    return env
