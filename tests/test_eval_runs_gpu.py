"""The engine on CUDA (bf16 autocast): skipped without a GPU; bench/gpu_check.py runs these on a GPU machine."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_kd_loss_on_cuda_in_bfloat16_stays_close_to_a_float64_reference():
    from eval_runs.kd_loss import distillation_loss, reference_distillation_loss, teacher_targets
    g = torch.Generator().manual_seed(0)
    h, w = torch.randn(512, 64, generator=g), torch.randn(1000, 64, generator=g) * 0.1
    th, tw = torch.randn(512, 64, generator=g), torch.randn(1000, 64, generator=g) * 0.1
    y = torch.randint(0, 1000, (512,), generator=g)
    ref = reference_distillation_loss((h @ w.T).double(), (th @ tw.T).double(), y)
    shared = teacher_targets(th.cuda().bfloat16(), tw.cuda())
    parts = distillation_loss(h.cuda().bfloat16().requires_grad_(), w.cuda().requires_grad_(), y.cuda(), shared)
    parts.loss.backward()
    assert float(parts.loss) == pytest.approx(float(ref), rel=2e-2)


def test_a_tiny_distillation_runs_on_cuda_and_its_loss_falls(tmp_path):
    import numpy as np

    from eval_runs.models import ladder_shape, new_model
    from eval_runs.run_folder import RunFolder
    from eval_runs.token_data import TokenData
    from eval_runs.train_loop import Trainee, TrainConfig, train_models
    rng = np.random.default_rng(0)
    pattern = rng.integers(0, 256, 97)
    train = np.tile(pattern, 400).astype(np.uint16)  # a repeating sequence: learnable in a few steps
    data = TokenData(tmp_path, train, train[:5000], 256, 0, torch.ones(256, dtype=torch.int64), "x", "x")
    teacher = new_model(ladder_shape("llama", 300_000, vocab_size=256, max_seq_len=64), 0).cuda().eval()
    student = new_model(ladder_shape("llama", 100_000, vocab_size=256, max_seq_len=64), 1)
    run = RunFolder(tmp_path / "s")
    cfg = TrainConfig(n_tokens=60 * 16 * 64, batch_size=16, seq_len=64, lr=3e-3, log_every=10, checkpoint_every=30)
    train_models([Trainee(run, student)], data, cfg, device=torch.device("cuda"), teacher=teacher, progress=False)
    ce = [r["ce"] for r in run.read_metrics() if "ce" in r]
    assert ce[-1] < ce[0] and all(np.isfinite(ce))
