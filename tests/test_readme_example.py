"""The README's "From Python" example runs as written, from a folder outside the repository (the installed
package, not the checkout's path, is what it imports)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    marker = text.index("<!-- from-python-example")
    return re.search(r"```python\n(.*?)```", text[marker:], re.S).group(1)


def test_the_from_python_example_runs_outside_the_repository(tmp_path):
    (tmp_path / "example.py").write_text(readme_example())
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no PYTHONPATH: the install must provide `analysis`
    proc = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "gpt2-like" in out and "CollapseFit(linear, one-stage" in out and "slope" in out
    assert "mean_ci_lower" in out and "obs_ci_upper" in out
