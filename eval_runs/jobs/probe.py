"""A tiny command for testing the job runner (no torch, starts in milliseconds).

    python -m eval_runs.jobs.probe [--steps N] [--seconds S] [--exit-code C] [--status-file PATH] [--write PATH]

Prints N tqdm-like progress lines ("probe:  40%|####      | 2/5 [...]") S/N seconds apart, optionally keeps a
status.json with a `progress` field (as the engine's run folders do), optionally writes PATH and announces it with a
"result_path: PATH" line, then exits with code C. Only the runner's tests and its documentation use it.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from analysis.atomic_io import write_json_atomic, write_text_atomic


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval_runs.jobs.probe")
    p.add_argument("--steps", type=int, default=3, help="progress lines to print")
    p.add_argument("--seconds", type=float, default=0.3, help="total time, spread over the steps")
    p.add_argument("--exit-code", type=int, default=0, help="exit code at the end")
    p.add_argument("--status-file", default="", help="keep a status.json with progress 0-1 here")
    p.add_argument("--write", default="", help="write this file at the end and print 'result_path: PATH'")
    args = p.parse_args(argv)

    def on_term(signum, frame):
        print("probe: got SIGTERM, stopping", flush=True)
        sys.exit(143)

    signal.signal(signal.SIGTERM, on_term)
    print(f"probe: pid {os.getpid()}, {args.steps} steps", flush=True)
    for i in range(1, args.steps + 1):
        time.sleep(args.seconds / max(args.steps, 1))
        bar = "#" * (10 * i // args.steps)
        print(f"probe: {100 * i // args.steps:3d}%|{bar:10}| {i}/{args.steps} [00:00<00:00]", flush=True)
        if args.status_file:
            write_json_atomic(args.status_file, {"state": "running", "progress": i / args.steps})
    if args.write:
        write_text_atomic(args.write, f"written by probe {os.getpid()}\n")
        print(f"result_path: {os.path.abspath(args.write)}", flush=True)
    print(f"probe: done, exit code {args.exit_code}", flush=True)
    return args.exit_code


if __name__ == "__main__":
    sys.exit(main())
