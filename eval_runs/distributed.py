"""One distillation across several processes (data parallel), launched by torchrun or `accelerate launch`:

    torchrun --nproc_per_node 8 -m eval_runs distill --teacher DIR --student DIR --name run --device cuda ...

The launcher sets RANK, WORLD_SIZE, LOCAL_RANK (and MASTER_ADDR/PORT); without them everything here is a no-op
and a run is the ordinary single process. Under a launcher, every rank holds the teacher (a plain module, no
gradients) and the students (each wrapped in DistributedDataParallel), draws the same global batch, keeps its own
rows of it (batch_size / world_size each), and DDP averages the gradients, so every optimizer step sees the same
global batch as a single-process run. Rank 0 alone writes the run folder (spec, log, metrics, checkpoints, status,
model, result); the other ranks read rank 0's checkpoint when resuming and wait at a barrier at the end.
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import os

import torch
import torch.distributed as dist

from eval_runs.evaluate import final_hidden

# Rank 0 evaluates and saves the model while the others wait at a barrier: allow more than the default
# 10 minutes (NCCL) for a large model's evaluation and save.
TIMEOUT = datetime.timedelta(hours=2)


def launched_by_launcher() -> bool:
    """True when torchrun / accelerate launch started this process (WORLD_SIZE is in the environment)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def is_main_process() -> bool:
    """Rank 0, or the only process: the one that writes the run folder."""
    return rank() == 0


def init_distributed(device: torch.device) -> torch.device:
    """Join the launcher's process group (nccl on CUDA, gloo on CPU); returns this rank's device (cuda:LOCAL_RANK).

    A no-op returning `device` when no launcher started this process.
    """
    if not launched_by_launcher() or is_distributed():
        return device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        n = torch.cuda.device_count()
        if local_rank >= n:
            raise ValueError(f"LOCAL_RANK {local_rank} has no GPU: torch sees {n} CUDA GPU(s) on this node "
                             f"(expected --nproc_per_node <= {n})")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT,
                            device_id=device if device.type == "cuda" else None)
    return device


def close_distributed() -> None:
    if is_distributed():
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def check_divides_batch(batch_size: int, n_processes: int | None = None) -> None:
    """Each rank takes batch_size / world_size rows of every micro-batch: refuse a batch that does not split."""
    n = world_size() if n_processes is None else n_processes
    if batch_size % n:
        raise ValueError(f"batch_size {batch_size} does not split over {n} processes (expected a multiple of {n}: "
                         f"each process takes batch_size / {n} sequences of every micro-batch)")


def shard_rows(batch: torch.Tensor, of_rank: int | None = None, n_processes: int | None = None) -> torch.Tensor:
    """Rank `of_rank`'s contiguous rows of a (B, ...) batch (default: this process's); the whole batch alone."""
    n = world_size() if n_processes is None else n_processes
    r = rank() if of_rank is None else of_rank
    if n == 1:
        return batch
    rows = batch.shape[0] // n
    return batch[r * rows:(r + 1) * rows]


class _HiddenStates(torch.nn.Module):
    """A student seen through its final hidden states (what the chunked KD loss consumes), so DDP can wrap it.

    The output projection is applied by the loss, outside forward; DDP still averages its gradient (its hook
    fires when the backward pass reaches it).
    """

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return final_hidden(self.model, input_ids)


def hidden_states_fn(model: torch.nn.Module, device: torch.device):
    """input_ids (B, T) -> final hidden states (B, T, d): a DDP-wrapped module under a launcher, else the model."""
    if not is_distributed():
        return lambda input_ids: final_hidden(model, input_ids)
    return torch.nn.parallel.DistributedDataParallel(_HiddenStates(model),
                                                     device_ids=[device] if device.type == "cuda" else None)


def gradient_sync(fn, sync: bool):
    """Context for one micro-batch's backward: DDP's no_sync() except on the last micro-batch of a step."""
    if sync or not isinstance(fn, torch.nn.parallel.DistributedDataParallel):
        return contextlib.nullcontext()
    return fn.no_sync()


def mean_over_ranks(values: list[float]) -> list[float]:
    """The mean of each value over ranks (each rank's loss is the mean over its equal share of the batch)."""
    if not is_distributed():
        return values
    t = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return (t / world_size()).tolist()


def weights_checksum(model: torch.nn.Module) -> str:
    """16 hex digits over the model's parameters' bytes: equal on every rank when the ranks stayed in step."""
    digest = hashlib.sha256()
    for name, p in model.state_dict().items():
        digest.update(name.encode() + p.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def checksums_over_ranks(model: torch.nn.Module) -> list[str]:
    """Every rank's weights_checksum, in rank order (collective: every rank calls it)."""
    mine = weights_checksum(model)
    if not is_distributed():
        return [mine]
    out: list[str] = [""] * world_size()
    dist.all_gather_object(out, mine)
    return out
