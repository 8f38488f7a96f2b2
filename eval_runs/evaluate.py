"""Held-out evaluation: validation loss in nats per token and bits per byte.

bits_per_byte = (sum of per-token losses in nats) / (ln 2 * UTF-8 bytes of the predicted tokens). Unlike the loss
per token it does not depend on the tokenizer, so runs with different vocabularies compare on it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from eval_runs.kd_loss import summed_nll
from eval_runs.token_data import TokenData, val_batches


@dataclass(frozen=True)
class EvalResult:
    """One model's held-out scores."""

    val_loss: float  # nats per token
    bits_per_byte: float
    n_tokens: int  # predicted tokens evaluated
    n_bytes: int  # their UTF-8 bytes

    def to_dict(self) -> dict:
        return {"val_loss": self.val_loss, "bits_per_byte": self.bits_per_byte, "eval_tokens": self.n_tokens,
                "eval_bytes": self.n_bytes}


def final_hidden(model, input_ids: torch.Tensor) -> torch.Tensor:
    """The model's hidden states after its final norm, (B, T, d)."""
    return model.base_model(input_ids=input_ids).last_hidden_state


@torch.no_grad()
def evaluate_model(model, data: TokenData, *, seq_len: int, max_tokens: int = 65536, batch_size: int = 16,
                   device: torch.device | str = "cpu") -> EvalResult:
    """Mean next-token loss over fixed validation windows (the same windows for every model)."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    nats, n_tokens, n_bytes = 0.0, 0, 0
    weight = model.get_output_embeddings().weight
    byte_lengths = data.byte_lengths.to(device)
    for inputs, targets in val_batches(data, batch_size=batch_size, seq_len=seq_len, max_tokens=max_tokens):
        inputs, targets = inputs.to(device), targets.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            hidden = final_hidden(model, inputs).flatten(0, 1)
        nll = summed_nll(hidden.float(), weight.float(), targets.flatten())
        nats += float(nll.double().sum())
        n_tokens += targets.numel()
        n_bytes += int(byte_lengths[targets.flatten()].sum())
    model.train(was_training)
    if n_tokens == 0:
        raise ValueError("no validation tokens to evaluate on")
    return EvalResult(val_loss=nats / n_tokens, bits_per_byte=nats / (math.log(2) * max(n_bytes, 1)),
                      n_tokens=n_tokens, n_bytes=n_bytes)
