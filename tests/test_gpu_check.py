"""bench/gpu_check.py gets one call on a GPU machine, whose image lacks the app's packages: its smoke mode (CPU,
tiny sizes, a tiny sweep and its law fit) must run through with those packages unimportable."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# packages of requirements.txt that the GPU machine's image does not hold (see bench/gpu_check.sh)
ABSENT_ON_GPU_MACHINE = ("streamlit", "plotly", "kaleido", "lm_eval", "submitit", "datasets", "playwright")
BLOCKER = f"""
import importlib.abc, sys
class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {ABSENT_ON_GPU_MACHINE!r}:
            raise ImportError(f"{{name}} is not installed on the GPU machine")
sys.meta_path.insert(0, _Absent())
"""


@pytest.mark.slow
def test_the_gpu_check_runs_through_in_smoke_mode_without_the_app_packages(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "gpu_check.py"), "--smoke", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "gpu_check.json").read_text())
    failed = {name: s.get("error") for name, s in report["sections"].items() if not s["ok"]}
    assert not failed, failed
    assert set(report["sections"]) == {"environment", "tests", "distillation step", "sweep", "results", "law"}
    (step,) = report["sections"]["distillation step"]["result"]
    assert step["ours_tokens_per_second"] > 0 and step["baseline_tokens_per_second"] > 0
    assert step["ceiling"] == pytest.approx(step["models_only_tokens_per_second"]
                                            / step["baseline_tokens_per_second"])
    law = json.loads((out / "gpu_small_law.json").read_text())
    # the smoke sweep has two student sizes: a linear law needs three bracketed ones, so the tool declines in words
    assert law["declined"] is True and "needs at least 3 students" in law["reason"] and law["optima"]
    assert "speedup" in done.stdout and "total" in done.stdout


def test_the_blocker_really_hides_the_app_packages(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    done = subprocess.run([sys.executable, "-c", "import plotly"], env={**os.environ, "PYTHONPATH": str(tmp_path)},
                          capture_output=True, text=True)
    assert done.returncode != 0 and "not installed on the GPU machine" in done.stderr
