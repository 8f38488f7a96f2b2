"""Start the app with its safe settings, from any folder:  python -m app [--port 8501] [--host NAME]...

Streamlit reads `.streamlit/config.toml` only from the folder it is started in; started elsewhere, a plain
`streamlit run app/main.py` listens on every interface, sends usage statistics and accepts any Host header. This
launcher passes the settings explicitly, so `make app` (which calls it) is safe wherever it runs:

  - bound to localhost only (`--address` changes it, e.g. 0.0.0.0 for a shared machine: then list the host names
    users type with --host, which Streamlit checks against every WebSocket's Host header: DNS rebinding);
  - no usage statistics, no browser opened, no traceback details on screen;
  - uploads up to UPLOAD_LIMIT_MB (the results loader's own limit, analysis.results_io.MAX_BYTES).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UPLOAD_LIMIT_MB = 512  # = analysis.results_io.MAX_BYTES (512 MiB); Streamlit counts this option in MB
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")  # the names a browser on this machine uses


def server_flags(*, port: int | None = None, address: str = "localhost", hosts=()) -> list[str]:
    """The `streamlit run` options every documented way of starting the app passes (make app, tests, benches)."""
    flags = ["--server.headless", "true", "--server.address", address, "--browser.gatherUsageStats", "false",
             "--browser.serverAddress", "localhost" if address == "localhost" else address,
             "--server.maxUploadSize", str(UPLOAD_LIMIT_MB), "--client.showErrorDetails", "none",
             "--server.fileWatcherType", "none", "--server.enableXsrfProtection", "true"]
    for host in (*LOCAL_HOSTS, *hosts):
        flags += ["--server.allowedHosts", host]
    if port:
        flags += ["--server.port", str(port)]
    return flags


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=None, help="port (default: Streamlit's 8501)")
    parser.add_argument("--address", default="localhost",
                        help="interface to listen on (default localhost; 0.0.0.0 serves the network: add --host)")
    parser.add_argument("--host", action="append", default=[],
                        help="a host name users reach the app by, besides localhost (repeatable)")
    args = parser.parse_args(argv)
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"),
           *server_flags(port=args.port, address=args.address, hosts=args.host)]
    os.chdir(ROOT)  # .streamlit/config.toml (theme) is read too; the flags above win over it
    os.execv(sys.executable, cmd)


if __name__ == "__main__":
    main()
