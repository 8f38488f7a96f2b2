"""The server's promises, checked against a real app started the documented way from another folder: it listens
on localhost only, refuses a WebSocket whose Host is not an allowed host (DNS rebinding), and its upload limit is
the loader's."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app.__main__ import UPLOAD_LIMIT_MB, server_flags
from app.local_server import free_port

ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 90


def handshake(port: int, host: str) -> bytes:
    """The status line the server answers a WebSocket upgrade with, when the browser says `Host: host`."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall((f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   f"Sec-WebSocket-Version: 13\r\nOrigin: http://{host}:{port}\r\n\r\n").encode())
        return s.recv(200).split(b"\r\n")[0]


@pytest.fixture(scope="module")
def started_elsewhere(tmp_path_factory):
    """`python <repo>/app --port P`, started in an empty folder (no .streamlit/config.toml there)."""
    port, cwd = free_port(), tmp_path_factory.mktemp("elsewhere")
    env = {"PATH": "/usr/bin:/bin", "CAPGAP_HOME": str(cwd / "ws"), "HOME": str(cwd)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app"), "--port", str(port)], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the app did not start on port {port} within {START_SECONDS} s")
        time.sleep(0.25)
    yield port
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.slow
def test_a_websocket_with_a_foreign_host_header_is_refused(started_elsewhere):
    assert handshake(started_elsewhere, "evil.example").startswith(b"HTTP/1.1 403")
    assert handshake(started_elsewhere, "localhost").startswith(b"HTTP/1.1 101")
    assert handshake(started_elsewhere, "127.0.0.1").startswith(b"HTTP/1.1 101")


@pytest.mark.slow
def test_started_from_another_folder_it_listens_on_localhost_only(started_elsewhere):
    out = subprocess.run(["ss", "-ltnH", f"sport = :{started_elsewhere}"], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("ss (iproute2) is not available")
    addresses = {line.split()[3].rsplit(":", 1)[0] for line in out.stdout.splitlines() if line.strip()}
    assert addresses and addresses <= {"127.0.0.1", "[::1]"}, addresses


def test_the_upload_limit_is_the_loaders_and_every_start_passes_the_safe_flags():
    from analysis.results_io import MAX_BYTES

    assert UPLOAD_LIMIT_MB * 2**20 == MAX_BYTES
    flags = server_flags(port=1234)
    pairs = dict(zip(flags[::2], flags[1::2]))
    assert pairs["--server.address"] == "localhost" and pairs["--browser.gatherUsageStats"] == "false"
    assert pairs["--server.maxUploadSize"] == str(UPLOAD_LIMIT_MB)
    assert "localhost" in flags[flags.index("--server.allowedHosts") + 1:]
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert f"maxUploadSize = {UPLOAD_LIMIT_MB}" in config and "allowedHosts" in config
    assert "$(PY) -m app" in (ROOT / "Makefile").read_text()
