"""What a sweep's cells cost on a GPU, from FLOP and byte counts (estimates, not measurements).

    compute = 6·N·D for every model trained on D tokens (forward + backward), 2·N·D for a forward pass only (the
              teacher's, shared by the students of a cell, and evaluations); N is the model's compute parameters
              (every weight a matmul multiplies: the input embedding is a lookup and is left out unless tied to the
              output head). Attention's sequence-length term and pruning's calibration passes are left out: both
              are small next to the rest at these sizes and are part of what the MFU assumption absorbs.
    time    = FLOPs / (peak bf16 dense FLOP/s of the GPU type × MFU), MFU (model FLOPs utilisation) ASSUMED 35%
              for every GPU type (well-tuned training reaches 30-50%; small models at short sequences do worse).
    memory  = students: 16 bytes/parameter (fp32 weights 4 + gradients 4 + AdamW's two moments 8), all the
              students of a cell at once (they train together in one data loop); the teacher: 4 bytes/parameter
              (the engine keeps it in fp32 and computes in bf16 under autocast); the teacher's shared log-probs:
              2 bytes (bf16) × batch × sequence × vocabulary; activations of the largest student: 34 bytes ×
              batch × sequence × d_model × layers (Korthikanti et al. 2022, 16-bit activations, no recomputation,
              fused attention so no sequence² term); plus 1 GiB of CUDA context and allocator slack.

This module is pure arithmetic (no torch): eval_runs.sweep_dry_run feeds it the cells of a plan.
"""
from __future__ import annotations

from dataclasses import dataclass

MFU = 0.35  # assumed model FLOPs utilisation (not measured: no GPU in the authoring session)
ACTIVATION_BYTES = 34  # per token, per layer, per unit of d_model (Korthikanti et al. 2022, eq. 1 without 5as/h)
OVERHEAD_BYTES = 2**30  # CUDA context and allocator slack
GiB = 2**30


@dataclass(frozen=True)
class GPUType:
    name: str
    peak_flops: float  # dense bf16 tensor-core FLOP/s, from the vendor's datasheet
    memory_bytes: int


# vendor datasheets: A100 SXM 312 TFLOP/s bf16 dense; H100 SXM 989; H200 SXM 989 (H100's chip, more memory);
# L40S 362 (733 is with sparsity)
GPU_TYPES: dict[str, GPUType] = {g.name: g for g in (
    GPUType("A100-80GB", 312e12, 80 * 10**9),
    GPUType("H100-80GB", 989e12, 80 * 10**9),
    GPUType("H200-141GB", 989e12, 141 * 10**9),
    GPUType("L40S-48GB", 362e12, 48 * 10**9),
)}


@dataclass(frozen=True)
class ModelSize:
    """What the estimate needs of one model."""

    params: int  # every parameter (what the plan and the results call its size)
    compute_params: int  # parameters a token's forward pass multiplies (params less an untied input embedding)
    d_model: int
    n_layers: int


def training_flops(model: ModelSize, tokens: int) -> float:
    return 6.0 * model.compute_params * tokens


def forward_flops(model: ModelSize, tokens: int) -> float:
    return 2.0 * model.compute_params * tokens


def students_cell_flops(teacher: ModelSize, students: list[ModelSize], tokens: int, eval_tokens: int,
                        n_evals: int = 1) -> float:
    """A students cell: the teacher's forward pass once per token (shared), every student trained on `tokens`,
    each student evaluated `n_evals` times on `eval_tokens`."""
    return (forward_flops(teacher, tokens) + sum(training_flops(s, tokens) for s in students)
            + sum(forward_flops(s, eval_tokens) * n_evals for s in students))


def teacher_cell_flops(teacher: ModelSize, pretrain_tokens: int, eval_tokens: int) -> float:
    """A teacher cell: pretraining on `pretrain_tokens` (0 for a given checkpoint) and one evaluation."""
    return training_flops(teacher, pretrain_tokens) + forward_flops(teacher, eval_tokens)


def seconds(flops: float, gpu: GPUType, mfu: float = MFU) -> float:
    if not 0 < mfu <= 1:
        raise ValueError(f"mfu {mfu!r}: expected a fraction in (0, 1]")
    return flops / (gpu.peak_flops * mfu)


def training_memory(trained: list[ModelSize], frozen: ModelSize | None, *, batch_size: int, seq_len: int,
                    vocab_size: int) -> int:
    """Peak bytes on one GPU: `trained` models with AdamW (all resident), `frozen` teacher (fp32 weights and its
    bf16 log-probs of one micro-batch), the activations of the largest trained model, and the fixed overhead."""
    tokens = batch_size * seq_len
    states = 16 * sum(m.params for m in trained)
    teacher = 4 * frozen.params + 2 * tokens * vocab_size if frozen is not None else 0
    activations = max((ACTIVATION_BYTES * tokens * m.d_model * m.n_layers for m in trained), default=0)
    return states + teacher + activations + OVERHEAD_BYTES


def evaluation_memory(model: ModelSize, *, batch_size: int, seq_len: int, vocab_size: int) -> int:
    """Peak bytes evaluating a model (a loaded teacher's cell): fp32 weights and fp32 logits of one batch."""
    return 4 * model.params + 4 * batch_size * seq_len * vocab_size + OVERHEAD_BYTES
