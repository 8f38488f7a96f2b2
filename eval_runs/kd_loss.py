"""The distillation loss, computed in chunks of tokens straight from hidden states (no full-vocabulary tensor).

    loss = w * CE(labels) + (1 - w) * tau^2 * KL(teacher_tau || student_tau)      (nats per token; w = ce_weight,
                                                                                    the paper's alpha)

with teacher_tau = softmax(teacher_logits / tau), student_tau likewise (Hinton et al. 2015; MiniMA's defaults
alpha = 0.5, tau = 1). The student's output projection, log-softmax, both loss terms and their gradients are
computed chunk by chunk in one pass (the gradient of the loss with respect to the logits is known in closed
form: alpha * (softmax(z) - onehot) + (1 - alpha) * tau * (softmax(z / tau) - teacher_tau), per token), so the
(tokens x vocabulary) logits never exist whole, neither for the forward pass nor for the backward pass. The
teacher's side is computed once per batch and shared by every student trained on that batch: its probabilities,
stored in low precision (bfloat16 by default), their per-token sum and sum(p log p) in float32, so that
KL = sum(p log p) - sum(p log q) costs each student one dot product and no exponential of the teacher's.
No log-softmax is taken: softmax gives q, the log-sum-exp comes from it (max q = exp(max z - lse)), and
log q = z - lse turns CE into lse - z[label] and sum(p log q) into p.z - lse * sum(p) -- one pass over the
logits fewer than log_softmax + exp, and faster on CPU (bench/RESULTS.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100
# default chunk, in logits per temporary: ~4M (16 MB in float32) on a GPU; ~512K (2 MB) but at least 128 tokens on
# a CPU, where the smaller chunks made cpu-small steps 2-20% faster (1-4% once the engine keeps freed memory,
# devices.keep_freed_memory) and 128 tokens keep the products from getting too thin at a 32k vocabulary
# (bench/RESULTS.md)
CHUNK_ELEMENTS = {"cuda": 4 * 1024 * 1024, "cpu": 512 * 1024}
MIN_CHUNK_TOKENS = {"cuda": 16, "cpu": 128}


def chunk_size(chunk_tokens: int, vocab_size: int, device: torch.device | str = "cpu") -> int:
    """Tokens per chunk: `chunk_tokens` if set (> 0), else as many as fit the device's CHUNK_ELEMENTS logits."""
    if chunk_tokens > 0:
        return chunk_tokens
    kind = "cpu" if torch.device(device).type == "cpu" else "cuda"
    return max(MIN_CHUNK_TOKENS[kind], CHUNK_ELEMENTS[kind] // max(vocab_size, 1))


def _upcast(z: torch.Tensor) -> torch.Tensor:
    """Softmax precision: float32, or float64 when the inputs already are (reference tests)."""
    return z if z.dtype == torch.float64 else z.float()


@dataclass(frozen=True)
class LossParts:
    """The loss and its two terms, each a mean over counted tokens (nats/token)."""

    loss: torch.Tensor  # differentiable scalar
    ce: float  # cross-entropy against the labels
    kl: float  # KL(teacher_tau || student_tau); 0.0 without a teacher


@dataclass(frozen=True)
class TeacherTargets:
    """The teacher's side of the KD loss for one batch, shared by every student."""

    probs: torch.Tensor  # (N, V) softmax(teacher_logits / tau), low precision
    neg_entropy: torch.Tensor  # (N,) sum_v p log p, float32 (float64 for float64 inputs)
    mass: torch.Tensor  # (N,) sum_v of the stored (rounded) probs, float32: 1 up to their rounding


def _softmax_lse(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(z) and logsumexp(z) per row, in one pass over z (plus two max reductions)."""
    q = torch.softmax(z, dim=-1)
    return q, z.amax(1) - q.amax(1).log()  # max q = exp(max z - lse); max q >= 1/V, so the log is safe


@torch.no_grad()
def teacher_targets(hidden: torch.Tensor, weight: torch.Tensor, *, temperature: float = 1.0,
                    chunk_tokens: int = 0, dtype: torch.dtype = torch.bfloat16) -> TeacherTargets:
    """Teacher probabilities at temperature tau and their negative entropy, chunk by chunk. hidden: (N, d)."""
    chunk_tokens = chunk_size(chunk_tokens, weight.shape[0], hidden.device)
    probs = torch.empty(hidden.shape[0], weight.shape[0], dtype=dtype, device=hidden.device)
    neg_entropy = torch.empty(hidden.shape[0], dtype=torch.promote_types(dtype, torch.float32), device=hidden.device)
    mass = torch.empty_like(neg_entropy)
    for s in range(0, hidden.shape[0], chunk_tokens):
        z = _upcast(hidden[s:s + chunk_tokens] @ weight.to(hidden.dtype).T)
        if temperature != 1.0:
            z = z / temperature
        p, lse = _softmax_lse(z)
        neg_entropy[s:s + chunk_tokens] = torch.linalg.vecdot(p, z) - lse  # sum p log p = p.z - lse (sum p = 1)
        probs[s:s + chunk_tokens] = p  # rounded to dtype
        mass[s:s + chunk_tokens] = probs[s:s + chunk_tokens].sum(1, dtype=mass.dtype)
    return TeacherTargets(probs, neg_entropy, mass)


class _ChunkedDistillation(torch.autograd.Function):
    """Forward computes the loss and, in the same chunked pass, the gradients for hidden and weight."""

    @staticmethod
    def forward(ctx, hidden, weight, teacher_probs, teacher_neg_entropy, teacher_mass, targets, alpha, temperature,
                chunk_tokens, stats):
        z_dtype = torch.float64 if hidden.dtype == torch.float64 else torch.float32
        counted = targets != IGNORE_INDEX
        all_counted = bool(counted.all())
        n = int(counted.sum()) or 1
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros(weight.shape, dtype=torch.promote_types(weight.dtype, torch.float32),
                                  device=weight.device)
        w = weight.to(hidden.dtype)
        ce_sum = torch.zeros((), dtype=torch.float64, device=hidden.device)
        kl_sum = torch.zeros((), dtype=torch.float64, device=hidden.device)
        kd_scale = (1.0 - alpha) * temperature  # d(tau^2 KL)/dz = tau (q - p_teacher)
        for s in range(0, hidden.shape[0], chunk_tokens):
            h = hidden[s:s + chunk_tokens]  # (n, d)
            t = targets[s:s + chunk_tokens].clamp(min=0).unsqueeze(1)  # (n, 1)
            z = _upcast(h @ w.T)  # (n, V) logits
            mask = None if all_counted else counted[s:s + chunk_tokens].to(z_dtype)  # (n,)
            grad, lse = _softmax_lse(z)  # softmax(z) becomes dLoss/dz in place, a few passes over (n, V) in all
            nll = lse - z.gather(1, t).squeeze(1)  # -log q[label]
            ce_sum += (nll if mask is None else nll * mask).sum().double()
            if teacher_probs is not None:
                pt = teacher_probs[s:s + chunk_tokens].to(z_dtype)  # (n, V)
                if temperature == 1.0:
                    z_tau, q, lse_tau = z, grad, lse
                else:
                    z_tau = z / temperature
                    q, lse_tau = _softmax_lse(z_tau)
                # KL = sum p log p - sum p log q, the first term precomputed with the teacher;
                # sum p log q = p.z_tau - lse_tau * sum p
                cross = (torch.linalg.vecdot(pt, z_tau)
                         - lse_tau * teacher_mass[s:s + chunk_tokens].to(z_dtype))
                kl_rows = teacher_neg_entropy[s:s + chunk_tokens].to(z_dtype) - cross
                kl_sum += (kl_rows if mask is None else kl_rows * mask).sum().double()
                if temperature == 1.0:  # alpha (p - y) + (1 - alpha)(p - pt) = p - alpha y - (1 - alpha) pt
                    grad.sub_(pt, alpha=1.0 - alpha)
                else:
                    grad.mul_(alpha).add_(q, alpha=kd_scale).sub_(pt, alpha=kd_scale)
            del z
            grad.scatter_add_(1, t, torch.full_like(t, -alpha, dtype=grad.dtype))
            if mask is not None:
                grad.mul_(mask.unsqueeze(1))
            grad = grad.to(h.dtype)
            grad_hidden[s:s + chunk_tokens] = (grad @ w).div_(n)
            grad_weight += (grad.T @ h).to(grad_weight.dtype)
        grad_weight.div_(n)
        ce = ce_sum / n
        kl = kl_sum / n
        loss = alpha * ce + (1.0 - alpha) * temperature ** 2 * kl if teacher_probs is not None else alpha * ce
        stats["ce"], stats["kl"] = float(ce), float(kl)
        ctx.save_for_backward(grad_hidden, grad_weight.to(weight.dtype))
        return loss.to(torch.float64 if hidden.dtype == torch.float64 else torch.float32)

    @staticmethod
    def backward(ctx, grad_loss):
        grad_hidden, grad_weight = ctx.saved_tensors
        return grad_hidden * grad_loss.to(grad_hidden.dtype), grad_weight * grad_loss.to(grad_weight.dtype), \
            None, None, None, None, None, None, None, None


def distillation_loss(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                      teacher: TeacherTargets | None = None, *, ce_weight: float = 0.5, temperature: float = 1.0,
                      chunk_tokens: int = 0) -> LossParts:
    """The KD loss from the student's final hidden states.

    hidden: (N, d) student hidden states after the final norm; weight: (V, d) the student's output projection;
    targets: (N,) next-token ids (IGNORE_INDEX = not counted); teacher: the teacher's targets at temperature tau
    (from `teacher_targets`, same N and V), or None for plain cross-entropy (then the loss is CE, ce_weight
    ignored).
    """
    if teacher is None:
        ce_weight, probs, neg_entropy, mass = 1.0, None, None, None
    else:
        probs, neg_entropy, mass = teacher.probs, teacher.neg_entropy, teacher.mass
        if probs.shape != (hidden.shape[0], weight.shape[0]):
            raise ValueError(f"teacher probabilities have shape {tuple(probs.shape)}, expected "
                             f"{(hidden.shape[0], weight.shape[0])} (the teacher and student must share a tokenizer)")
    stats: dict = {}
    chunk_tokens = chunk_size(chunk_tokens, weight.shape[0], hidden.device)
    loss = _ChunkedDistillation.apply(hidden, weight, probs, neg_entropy, mass, targets, float(ce_weight),
                                      float(temperature), int(chunk_tokens), stats)
    return LossParts(loss, stats["ce"], stats["kl"])


@torch.no_grad()
def summed_nll(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, *,
               chunk_tokens: int = 0) -> torch.Tensor:
    """Per-token negative log-likelihood (N,) float32, chunked; for evaluation."""
    chunk_tokens = chunk_size(chunk_tokens, weight.shape[0], hidden.device)
    out = torch.empty(hidden.shape[0], dtype=torch.float32, device=hidden.device)
    for s in range(0, hidden.shape[0], chunk_tokens):
        z = _upcast(hidden[s:s + chunk_tokens] @ weight.to(hidden.dtype).T)
        out[s:s + chunk_tokens] = F.cross_entropy(z, targets[s:s + chunk_tokens], reduction="none")
    return out


def reference_distillation_loss(student_logits, teacher_logits, targets, *, ce_weight=0.5, temperature=1.0):
    """Straightforward full-logit formula (float64 in tests; the bench baseline in float32)."""
    ce = F.cross_entropy(student_logits, targets)
    kl = F.kl_div(F.log_softmax(student_logits / temperature, -1), F.softmax(teacher_logits / temperature, -1),
                  reduction="batchmean")
    return ce_weight * ce + (1 - ce_weight) * temperature ** 2 * kl
