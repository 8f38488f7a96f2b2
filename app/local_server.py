"""Run the app in a background `streamlit run` process on a free localhost port (for the real-browser test,
the page-render benchmark and the README screenshot), and the browser settings they share.

    with running_app(workspace=tmp) as url:      # http://localhost:PORT, healthy
        ...
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"  # Debian's chromium (apt), driven by Playwright through executable_path
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
START_TIMEOUT_SECONDS = 90.0  # a cold start on a 2-core machine imports streamlit, pandas and plotly


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def running_app(*, workspace: str | os.PathLike | None = None, port: int | None = None,
                log_path: str | os.PathLike | None = None) -> Iterator[str]:
    """Start `streamlit run app/main.py` headless on localhost; yield its URL once healthy; stop it after."""
    port = port or free_port()
    env = dict(os.environ)
    if workspace is not None:
        env["CAPGAP_HOME"] = str(workspace)
    env.setdefault("BROWSER_PATH", CHROMIUM)  # kaleido (PNG/SVG export) finds Chromium through this
    from app.__main__ import server_flags

    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"), *server_flags(port=port)]
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _healthy(url):
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {process.returncode} before serving {url}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"streamlit did not answer on {url} within {START_TIMEOUT_SECONDS:.0f} s")
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if log is not subprocess.DEVNULL:
            log.close()


def wait_until_idle(page, timeout_ms: float = 30_000) -> None:
    """Wait until Streamlit finished the current script run (its 'Running…' status widget is gone)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && document.querySelector('[data-testid=\"stApp\"]')"
        " && document.querySelector('[data-testid=\"stApp\"]').getAttribute('data-test-script-state')"
        " !== 'running'", timeout=timeout_ms)
