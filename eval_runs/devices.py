"""Choosing the device a run uses, with a clear error for one that does not exist here, and setting it up."""
from __future__ import annotations

import ctypes
import functools
import sys

import torch

# glibc's mallopt parameters (malloc.h) and the values we set on CPU: serve every block up to 32 MiB (the largest
# threshold glibc accepts on 64-bit) from the heap, and never give freed heap memory back to the OS
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 2**31 - 1  # mallopt takes a C int: about 2 GiB, in effect never


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
    """Fast math where it is safe: TF32 matmuls on CUDA (bf16 autocast is applied by the training loop); on CPU,
    an allocator that keeps the memory a training step frees for the next step (`keep_freed_memory`)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        keep_freed_memory()


@functools.cache  # process-wide: once is enough, however many stages configure the device
def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed blocks of up to 32 MiB for reuse instead of returning them to the OS.

    By default glibc serves large blocks (from 128 KiB, a threshold it raises as such blocks are freed: a batch's
    activations, a chunk of logits) with fresh pages from the OS and trims freed heap memory back to it, so every
    training step pays the page faults again: 1.0-1.3x slower distillation steps at cpu-small sizes
    (bench/RESULTS.md). The cost: the process keeps its peak heap resident until it exits (a training process
    reaches that peak every step anyway). Process-wide and not undone; a no-op returning False where the C
    library is not glibc (macOS, musl).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mmap_set = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    trim_set = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    return mmap_set == 1 and trim_set == 1  # mallopt returns 1 on success
