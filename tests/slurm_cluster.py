"""A real single-node Slurm for the tests: munged, slurmctld and slurmd on this machine, started and stopped here.

    with local_slurm(tmp_path) as cluster:    # raises SlurmUnavailable (the reason) when it cannot start
        env = cluster.env                     # SLURM_CONF for sbatch/squeue/scancel

Debian's `slurm-wlm` and `munge` (`make slurm` installs them, as root). No systemd: the daemons run in the
foreground-less mode they use under init scripts, with their state, spool, logs and pid files in a folder of the
test's own, and ports picked free for this run, so two runs on one machine do not meet. The configuration is the
smallest that works without cgroups (proctrack/linuxproc, task/none) and without accounting (no slurmdbd:
nothing here calls sacct); `SlurmdParameters=config_overrides` lets the node advertise more CPUs than it has, so
several cells run at once on a 2-core machine.
"""
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")
START_TIMEOUT_SECONDS = 30.0
NODE_CPUS = 8  # advertised (config_overrides): cells ask for 1 CPU each, so up to 8 run at once


class SlurmUnavailable(RuntimeError):
    """Slurm cannot start here; the message says why (the test is skipped with it)."""


@dataclass
class SlurmCluster:
    folder: Path
    conf: Path
    env: dict[str, str]
    pids: list[int]

    def run(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_conf(folder: Path, node: str) -> Path:
    ctl_port, d_port = _free_port(), _free_port()
    conf = folder / "slurm.conf"
    conf.write_text(f"""ClusterName=capgap-test
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctl_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=600
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName={node} NodeAddr=127.0.0.1 CPUs={NODE_CPUS} RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
""")
    return conf


def _start_munged(folder: Path) -> list[int]:
    """munged as user munge (it refuses root), its run folder recreated first; reuse one that answers."""
    if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
        return []  # a munged already runs on this machine (another test run or the system's)
    try:
        munge = pwd.getpwnam("munge")
    except KeyError:
        raise SlurmUnavailable("no user 'munge' (install Debian's munge: make slurm)") from None
    run_dir = Path("/run/munge")
    run_dir.mkdir(parents=True, exist_ok=True)
    os.chown(run_dir, munge.pw_uid, munge.pw_gid)
    os.chmod(run_dir, 0o755)
    subprocess.run(["runuser", "-u", "munge", "--", "munged", "--force"], capture_output=True, timeout=20)
    _wait(lambda: subprocess.run(["munge", "-n"], capture_output=True).returncode == 0, "munged to answer", folder)
    pid_file = Path("/run/munge/munged.pid")
    return [int(pid_file.read_text())] if pid_file.exists() else []


def _wait(predicate, what: str, folder: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    logs = "".join(f"\n--- {p.name}\n" + p.read_text(errors="replace")[-2000:] for p in folder.glob("*.log"))
    raise SlurmUnavailable(f"timed out waiting for {what}{logs}")


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _other_slurmctld() -> bool:
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() == "slurmctld":
                return True
    return False


@contextlib.contextmanager
def local_slurm(folder: Path):
    """Start a one-node Slurm in `folder`; stop it (and every job it still holds) on the way out."""
    missing = [d for d in DAEMONS if shutil.which(d) is None]
    if missing:
        raise SlurmUnavailable(f"not installed: {', '.join(missing)} (make slurm installs Debian's slurm-wlm and "
                               f"munge)")
    if os.geteuid() != 0:
        raise SlurmUnavailable("starting slurmd and munged needs root")
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("state", "spool"):
        (folder / sub).mkdir(exist_ok=True)
    node = socket.gethostname().split(".")[0]
    conf = _write_conf(folder, node)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    cluster = SlurmCluster(folder, conf, env, [])
    try:
        cluster.pids += _start_munged(folder)
        for daemon in ("slurmctld", "slurmd"):
            done = subprocess.run([daemon, "-f", str(conf)] + (["-c"] if daemon == "slurmctld" else []), env=env,
                                  capture_output=True, text=True, timeout=30)
            if done.returncode != 0:
                raise SlurmUnavailable(f"{daemon} did not start: {done.stderr.strip()[-1000:]}")
        _wait(lambda: "idle" in cluster.run("sinfo", "-h", "-o", "%t").stdout, "the node to be idle", folder)
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.run("scancel", "--full", "-u", "root", timeout=10)
        for pid_file in (folder / "slurmd.pid", folder / "slurmctld.pid"):
            pid = _read_pid(pid_file)
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                    time.sleep(0.1)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if not _other_slurmctld():  # munged, only when this run started it and no other Slurm here uses it
            for pid in cluster.pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
