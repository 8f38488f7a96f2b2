"""Choosing the device a run uses, with a clear error for one that does not exist here."""
from __future__ import annotations

import torch


def resolve_device(name: str = "cpu") -> torch.device:
    """'cpu', 'cuda', 'cuda:N' or 'auto' (cuda when present) -> torch.device; ValueError if absent here."""
    name = (name or "cpu").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r} (expected cpu, cuda, cuda:N or auto)") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ValueError(f"device {name!r} is not supported (expected cpu, cuda, cuda:N or auto)")
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if n == 0:
        raise ValueError(f"device {name!r} does not exist here: torch sees no CUDA GPU (use --device cpu)")
    if device.index is not None and device.index >= n:
        raise ValueError(f"device {name!r} does not exist here: torch sees {n} CUDA GPU(s), cuda:0..cuda:{n - 1}")
    return device


def configure_device(device: torch.device) -> None:
    """Fast math where it is safe: TF32 matmuls on CUDA (bf16 autocast is applied by the training loop)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
