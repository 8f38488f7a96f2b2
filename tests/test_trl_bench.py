"""bench/trl_bench.py compares our distillation step with TRL's GKDTrainer: trl is a bench-only dependency (a clear
message when it is missing), and the two sides compute the same loss (forward KL at temperature 1)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from eval_runs.kd_loss import IGNORE_INDEX, distillation_loss, teacher_targets

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench" / "trl_bench.py"
BLOCK_TRL = """
import importlib.abc, sys
class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "trl":
            raise ImportError("No module named 'trl'")
sys.meta_path.insert(0, _Absent())
"""


def test_without_trl_the_bench_exits_saying_how_to_install_it(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BLOCK_TRL)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}
    out = subprocess.run([sys.executable, str(BENCH), "--steps", "2"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode != 0
    assert "trl==1.16.0" in out.stderr and "pip install -r requirements-bench.txt" in out.stderr
    assert "Traceback" not in out.stderr


def test_trl_is_a_bench_extra_and_not_a_runtime_dependency():
    runtime = (REPO / "requirements.txt").read_text()
    assert "trl" not in {line.split("==")[0].strip() for line in runtime.splitlines()}
    assert "trl==1.16.0" in (REPO / "requirements-bench.txt").read_text().splitlines()
    assert 'bench = ["trl==1.16.0"]' in (REPO / "pyproject.toml").read_text()


def test_our_pure_kl_loss_and_its_gradients_equal_trls_forward_kl_with_masked_tokens():
    pytest.importorskip("trl")
    from trl.experimental.gkd import GKDTrainer

    g = torch.Generator().manual_seed(3)
    n, d, vocab = 40, 8, 50
    hidden = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(vocab, d, generator=g, dtype=torch.float64, requires_grad=True)
    t_hidden = torch.randn(n, 2 * d, generator=g, dtype=torch.float64)
    t_weight = torch.randn(vocab, 2 * d, generator=g, dtype=torch.float64)
    labels = torch.randint(0, vocab, (n,), generator=g)
    labels[::7] = IGNORE_INDEX  # prompt / padding positions: counted by neither

    ours = distillation_loss(hidden, weight, labels, teacher_targets(t_hidden, t_weight, dtype=torch.float64),
                             ce_weight=0.0, chunk_tokens=16)
    ours.loss.backward()
    ours_grads = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None
    theirs = GKDTrainer.generalized_jsd_loss((hidden @ weight.T).unsqueeze(0), (t_hidden @ t_weight.T).unsqueeze(0),
                                             labels.unsqueeze(0), beta=0.0, temperature=1.0)
    theirs.backward()
    assert float(ours.loss.detach()) == pytest.approx(float(theirs.detach()), rel=1e-10)
    assert ours.kl == pytest.approx(float(theirs.detach()), rel=1e-10)
    torch.testing.assert_close(ours_grads[0], hidden.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(ours_grads[1], weight.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_the_bench_runs_both_sides_and_prints_agreeing_losses(tmp_path):
    pytest.importorskip("trl")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRL_EXPERIMENTAL_SILENCE": "1"}
    out = subprocess.run([sys.executable, str(BENCH), "--steps", "2", "--settings", "cpu-small", "--out",
                          str(tmp_path / "trl.json")], capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads((tmp_path / "trl.json").read_text())["results"]["cpu-small"]
    losses = result["losses"]
    assert losses["ours_float32_teacher"] == pytest.approx(losses["trl"], rel=1e-4)
    assert losses["ours"] == pytest.approx(losses["trl"], rel=1e-2)  # bf16 teacher probabilities
    for side in ("ours", "trl"):
        assert result[side]["tokens_per_second"] > 0 and result[side]["peak_rss_mb"] > 0
