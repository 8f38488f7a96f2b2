"""The chunked distillation loss against a straightforward float64 reference."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from eval_runs.kd_loss import (IGNORE_INDEX, distillation_loss, reference_distillation_loss,  # noqa: E402
                               summed_nll, teacher_targets)


def _problem(n=37, d=12, v=50, dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    h = torch.randn(n, d, generator=g, dtype=dtype, requires_grad=True)
    w = torch.randn(v, d, generator=g, dtype=dtype, requires_grad=True)
    th, tw = torch.randn(n, d, generator=g, dtype=dtype), torch.randn(v, d, generator=g, dtype=dtype)
    y = torch.randint(0, v, (n,), generator=g)
    return h, w, th, tw, y


@pytest.mark.parametrize("alpha, tau", [(0.5, 1.0), (0.3, 2.0), (1.0, 1.0)])
def test_kd_loss_and_gradients_match_a_float64_reference(alpha, tau):
    h, w, th, tw, y = _problem()
    ref = reference_distillation_loss(h @ w.T, th @ tw.T, y, ce_weight=alpha, temperature=tau)
    ref_gh, ref_gw = torch.autograd.grad(ref, (h, w))
    shared = teacher_targets(th, tw, temperature=tau, chunk_tokens=8, dtype=torch.float64)
    parts = distillation_loss(h, w, y, shared, ce_weight=alpha, temperature=tau, chunk_tokens=8)
    gh, gw = torch.autograd.grad(parts.loss, (h, w))
    torch.testing.assert_close(parts.loss, ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gh, ref_gh, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(gw, ref_gw, rtol=1e-8, atol=1e-10)


def test_bfloat16_teacher_probabilities_stay_close_to_the_reference():
    h, w, th, tw, y = _problem(dtype=torch.float32)
    ref = reference_distillation_loss((h @ w.T).double(), (th @ tw.T).double(), y)
    parts = distillation_loss(h, w, y, teacher_targets(th, tw, chunk_tokens=16), chunk_tokens=16)
    assert float(parts.loss) == pytest.approx(float(ref), rel=1e-2)


def test_ignored_targets_do_not_count():
    h, w, th, tw, y = _problem()
    y2 = y.clone()
    y2[::3] = IGNORE_INDEX
    keep = y2 != IGNORE_INDEX
    ref = reference_distillation_loss((h @ w.T)[keep], (th @ tw.T)[keep], y[keep])
    shared = teacher_targets(th, tw, dtype=torch.float64)
    torch.testing.assert_close(distillation_loss(h, w, y2, shared, chunk_tokens=5).loss, ref)


def test_without_a_teacher_the_loss_is_cross_entropy():
    h, w, _, _, y = _problem()
    ce = torch.nn.functional.cross_entropy(h @ w.T, y)
    torch.testing.assert_close(distillation_loss(h, w, y, chunk_tokens=7).loss, ce)
    torch.testing.assert_close(summed_nll(h.detach(), w.detach(), y, chunk_tokens=7).double().mean(), ce.detach(),
                               rtol=1e-6, atol=1e-6)


def test_a_teacher_with_another_vocabulary_is_refused():
    h, w, th, tw, y = _problem()
    with pytest.raises(ValueError, match="share a tokenizer"):
        bad = teacher_targets(torch.zeros(h.shape[0], 3), torch.zeros(w.shape[0] + 1, 3))
        distillation_loss(h, w, y, bad)


@pytest.mark.parametrize("tau", [1.0, 2.0])
def test_the_reported_terms_are_the_cross_entropy_and_the_kl_divergence(tau):
    h, w, th, tw, y = _problem()
    zs, zt = (h @ w.T).detach(), th @ tw.T
    ce = torch.nn.functional.cross_entropy(zs, y)
    kl = torch.nn.functional.kl_div(torch.log_softmax(zs / tau, -1), torch.softmax(zt / tau, -1),
                                    reduction="batchmean")
    shared = teacher_targets(th, tw, temperature=tau, chunk_tokens=8, dtype=torch.float64)
    parts = distillation_loss(h, w, y, shared, ce_weight=0.4, temperature=tau, chunk_tokens=8)
    assert parts.ce == pytest.approx(float(ce), rel=1e-10) and parts.kl == pytest.approx(float(kl), rel=1e-10)
    torch.testing.assert_close(shared.mass, torch.ones(len(y), dtype=torch.float64))


@pytest.mark.parametrize("scale", [0.1, 1.0, 3.0])
def test_with_bfloat16_teacher_probabilities_the_kl_term_stays_within_its_rounding(scale):
    g = torch.Generator().manual_seed(1)
    h, w = torch.randn(512, 64, generator=g), torch.randn(1000, 64, generator=g) * scale / 8
    th, tw = torch.randn(512, 64, generator=g), torch.randn(1000, 64, generator=g) * scale / 8
    y = torch.randint(0, 1000, (512,), generator=g)
    kl = torch.nn.functional.kl_div(torch.log_softmax((h @ w.T).double(), -1),
                                    torch.softmax((th @ tw.T).double(), -1), reduction="batchmean")
    parts = distillation_loss(h, w, y, teacher_targets(th, tw))  # bfloat16 probabilities, default chunks
    assert parts.kl == pytest.approx(float(kl), rel=1e-3, abs=2e-4)  # measured error: 5e-5 to 5e-4


def test_the_cross_entropy_weight_is_ce_weight_and_old_alpha_spellings_still_load(tmp_path):
    from eval_runs.__main__ import build_parser
    from eval_runs.sweep import PRESETS, plan_from_dict, read_plan

    args = build_parser().parse_args(["distill", "--teacher", "t", "--student", "s", "--name", "r", "--alpha", "0.3"])
    assert args.ce_weight == 0.3  # the paper's name on the command line still works
    args = build_parser().parse_args(["distill", "--teacher", "t", "--student", "s", "--name", "r",
                                      "--ce-weight", "0.7"])
    assert args.ce_weight == 0.7
    grid = {"name": "old", "teacher_params": ["300K"], "student_params": ["100K"], "data_tokens": ["40K"]}
    assert plan_from_dict({**grid, "alpha": 0.25}).ce_weight == 0.25  # a plan written before the rename
    (tmp_path / "plan.toml").write_text('name = "old"\nteacher_params = ["300K"]\nstudent_params = ["100K"]\n'
                                        'data_tokens = ["40K"]\nalpha = 0.4\n')
    assert read_plan(tmp_path / "plan.toml").ce_weight == 0.4
    assert not hasattr(PRESETS["cpu-tiny"], "alpha")
