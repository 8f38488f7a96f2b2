"""Model families (GPT-2, GPT-NeoX/Pythia, Llama) built from transformers configs, their parameter counts, and a
size ladder that picks a sensible depth and width for a target parameter count.

A `ModelShape` is the family-independent description (layers, width, heads, FFN width, vocabulary); `build_config`
turns it into the family's config, `shape_of` reads it back from a config. Parameter counts are computed in
closed form (checked against instantiated models in the tests) so the ladder and the pruning planner can search
many shapes quickly. Non-embedding parameters leave out token and position embeddings and an untied output
head (Kaplan et al. 2020's convention).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

FAMILIES = ("llama", "gpt2", "gpt_neox")


@dataclass(frozen=True)
class ModelShape:
    """Family-independent architecture description."""

    family: str  # one of FAMILIES
    vocab_size: int  # tokenizer size
    n_layers: int
    d_model: int  # hidden size (residual stream width)
    n_heads: int  # query heads
    head_dim: int  # per-head width; GPT-2/NeoX need d_model == n_heads * head_dim
    d_ff: int  # FFN inner width (SwiGLU width for llama)
    max_seq_len: int = 1024  # position budget (learned positions for GPT-2; rotary otherwise)
    n_kv_heads: int = 0  # key/value heads for llama (grouped-query attention); 0 = n_heads
    tie_embeddings: bool = True  # share the input embedding and output head (small models: halves embedding cost)

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


def check_family(family: str) -> str:
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r} (expected one of {', '.join(FAMILIES)})")
    return family


def build_config(shape: ModelShape):
    """The transformers config for `shape` (dropout off: runs are short and deterministic)."""
    from transformers import GPT2Config, GPTNeoXConfig, LlamaConfig

    check_family(shape.family)
    if shape.family == "llama":
        return LlamaConfig(vocab_size=shape.vocab_size, hidden_size=shape.d_model, intermediate_size=shape.d_ff,
                           num_hidden_layers=shape.n_layers, num_attention_heads=shape.n_heads,
                           num_key_value_heads=shape.kv_heads, head_dim=shape.head_dim,
                           max_position_embeddings=shape.max_seq_len, tie_word_embeddings=shape.tie_embeddings,
                           bos_token_id=0, eos_token_id=0, pad_token_id=0)
    if shape.d_model != shape.n_heads * shape.head_dim:
        raise ValueError(f"{shape.family} needs d_model == n_heads * head_dim, found {shape.d_model} != "
                         f"{shape.n_heads} * {shape.head_dim}")
    if shape.family == "gpt2":
        return GPT2Config(vocab_size=shape.vocab_size, n_embd=shape.d_model, n_layer=shape.n_layers,
                          n_head=shape.n_heads, n_inner=shape.d_ff, n_positions=shape.max_seq_len,
                          resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=shape.tie_embeddings,
                          bos_token_id=0, eos_token_id=0, pad_token_id=0)
    return GPTNeoXConfig(vocab_size=shape.vocab_size, hidden_size=shape.d_model, num_hidden_layers=shape.n_layers,
                         num_attention_heads=shape.n_heads, intermediate_size=shape.d_ff,
                         max_position_embeddings=shape.max_seq_len, tie_word_embeddings=shape.tie_embeddings,
                         hidden_dropout=0.0, attention_dropout=0.0, bos_token_id=0, eos_token_id=0, pad_token_id=0)


def shape_of(config) -> ModelShape:
    """Read a ModelShape back from a llama / gpt2 / gpt_neox config (e.g. of a user's local model folder)."""
    mt = config.model_type
    if mt in ("llama", "mistral", "qwen2"):
        if mt != "llama":
            raise ValueError(f"model type {mt!r} is not supported yet (expected llama, gpt2 or gpt_neox)")
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        return ModelShape("llama", config.vocab_size, config.num_hidden_layers, config.hidden_size,
                          config.num_attention_heads, head_dim, config.intermediate_size,
                          config.max_position_embeddings, config.num_key_value_heads, bool(config.tie_word_embeddings))
    if mt == "gpt2":
        return ModelShape("gpt2", config.vocab_size, config.n_layer, config.n_embd, config.n_head,
                          config.n_embd // config.n_head, config.n_inner or 4 * config.n_embd, config.n_positions,
                          0, bool(config.tie_word_embeddings))
    if mt == "gpt_neox":
        return ModelShape("gpt_neox", config.vocab_size, config.num_hidden_layers, config.hidden_size,
                          config.num_attention_heads, config.hidden_size // config.num_attention_heads,
                          config.intermediate_size, config.max_position_embeddings, 0, bool(config.tie_word_embeddings))
    raise ValueError(f"model type {mt!r} is not supported (expected llama, gpt2 or gpt_neox)")


@dataclass(frozen=True)
class ParamCount:
    """Parameter counts of one shape (raw integers)."""

    total_params: int
    non_embedding_params: int


def count_params(shape: ModelShape) -> ParamCount:
    """Closed-form parameter counts for `shape` (equal to sum(p.numel()) of the built model)."""
    V, d, L, ff = shape.vocab_size, shape.d_model, shape.n_layers, shape.d_ff
    attn = shape.n_heads * shape.head_dim
    embed = V * d
    head = 0 if shape.tie_embeddings else V * d
    if shape.family == "llama":
        kv = shape.kv_heads * shape.head_dim
        per_layer = d * attn + 2 * d * kv + attn * d + 3 * d * ff + 2 * d
        final, positions = d, 0
    elif shape.family == "gpt2":
        per_layer = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * ff + ff) + (ff * d + d)
        final, positions = 2 * d, shape.max_seq_len * d
    else:  # gpt_neox
        per_layer = 4 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * ff + ff) + (ff * d + d)
        final, positions = 2 * d, 0
    total = embed + head + positions + L * per_layer + final
    return ParamCount(total, total - embed - head - positions)


def count_model_params(model) -> ParamCount:
    """Counts of an instantiated HF causal LM (shared tensors counted once)."""
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    embedding = model.get_input_embeddings().weight
    excluded = embedding.numel()
    out = model.get_output_embeddings()
    if out is not None and out.weight is not embedding:
        excluded += out.weight.numel()
    for name, p in model.named_parameters():
        if name.endswith("wpe.weight"):
            excluded += p.numel()
    return ParamCount(total, total - excluded)


def _head_dim_for(d_model: int) -> int:
    return 16 if d_model < 128 else 32 if d_model < 512 else 64


def _ffn_width(family: str, d_model: int) -> int:
    if family == "llama":  # SwiGLU: 8/3 d keeps the FFN cost of a 4d GELU FFN (Touvron et al. 2023)
        return max(8, int(round(8 * d_model / 3 / 8)) * 8)
    return 4 * d_model


def _ladder_candidates(family: str, target: int, *, vocab_size: int, max_seq_len: int, tie_embeddings: bool,
                       aspect_ratio: float, head_dim: int, ff_range: tuple[float, float]):
    """(score, shape) for every (width, depth) whose FFN width can be tuned within `ff_range` x its usual size to
    land within 1% of `target`; lower scores sit nearer the aspect ratio and the usual FFN width."""
    for d in range(32, 8193, 16):
        hd = head_dim or _head_dim_for(d)
        if d % hd:
            continue
        ff0 = _ffn_width(family, d)
        per_ff = 3 * d if family == "llama" else 2 * d + 1  # parameters per FFN neuron and layer
        for L in range(1, 97):
            shape = ModelShape(family, vocab_size, L, d, d // hd, hd, ff0, max_seq_len, 0, tie_embeddings)
            n0 = count_params(shape).total_params
            ff = int(round(ff0 + (target - n0) / (L * per_ff)))
            ff = min(max(ff, int(ff_range[0] * ff0), 1), int(ff_range[1] * ff0))
            shape = replace(shape, d_ff=ff)
            err = abs(math.log(count_params(shape).total_params / target))
            if err <= 0.01:
                yield abs(math.log((d / L) / aspect_ratio)) + 0.5 * abs(math.log(ff / ff0)) + err, shape
            if n0 > target * 2:
                break


def ladder_shape(family: str, target_params: int, *, vocab_size: int, max_seq_len: int = 1024,
                 tie_embeddings: bool = True, aspect_ratio: float = 32.0, tolerance: float = 0.05,
                 head_dim: int = 0) -> ModelShape:
    """A shape of about `target_params` parameters with d_model / n_layers near `aspect_ratio`.

    Small models favour a low aspect ratio (nanoGPT-style tiny configs sit near 32-64). For each (width, depth)
    the FFN width is tuned within 0.6-1.5x its usual size to land on the target; among shapes within 1% of the
    target the one nearest the aspect ratio (and the usual FFN width) wins. `head_dim` fixes the head width (0:
    16/32/64 by width). Raises ValueError when no shape comes within `tolerance` (relative) of the target.
    """
    check_family(family)
    target = int(target_params)
    if target <= 0:
        raise ValueError(f"target size must be a positive number of parameters, found {target_params!r}")
    found = list(_ladder_candidates(family, target, vocab_size=vocab_size, max_seq_len=max_seq_len,
                                    tie_embeddings=tie_embeddings, aspect_ratio=aspect_ratio, head_dim=head_dim,
                                    ff_range=(0.6, 1.5)))
    if found:
        return min(found, key=lambda c: c[0])[1]
    smallest = count_params(ModelShape(family, vocab_size, 1, 32, 2, 16, int(0.6 * _ffn_width(family, 32)),
                                       max_seq_len, 0, tie_embeddings)).total_params
    raise ValueError(f"unreachable target size {target:,} parameters for {family} at vocabulary {vocab_size} (the "
                     f"smallest shape has {smallest:,}); expected a target within {tolerance:.0%} of a reachable "
                     f"size")


def fits_inside(small: ModelShape, big: ModelShape) -> bool:
    """Whether `small` can be pruned out of `big`: no dimension larger, the same head width."""
    return (small.head_dim == big.head_dim and small.n_layers <= big.n_layers and small.d_model <= big.d_model
            and small.n_heads <= big.n_heads and small.kv_heads <= big.kv_heads and small.d_ff <= big.d_ff)


def nested_ladder(family: str, sizes, *, vocab_size: int, max_seq_len: int = 1024, aspect_ratio: float = 32.0,
                  head_dim: int = 16) -> dict[int, ModelShape]:
    """One shape per size (within 1%), each no larger in any dimension (layers, width, heads, FFN) than every
    bigger one, all with one head width: any member can be pruned out of any larger one, so a student size keeps
    one architecture whichever teacher it comes from (its random-init baseline too), and the ladder grows the
    way real model families do.

    Among all such chains the one with the lowest total ladder score wins (aspect ratio and FFN width near the
    usual, as in `ladder_shape`, the FFN ranging over 0.5-2x its usual width): a shortest path over the
    candidates of consecutive sizes. Raises ValueError when no nested chain exists (sizes too close together for
    the vocabulary's embedding cost: space them further apart or shrink the vocabulary).
    """
    check_family(family)
    sizes = sorted({int(s) for s in sizes})
    best: list[tuple[float, tuple]] = []
    for i, size in enumerate(sizes):
        level = _ladder_candidates(family, size, vocab_size=vocab_size, max_seq_len=max_seq_len,
                                   tie_embeddings=True, aspect_ratio=aspect_ratio, head_dim=head_dim,
                                   ff_range=(0.5, 2.0))
        if i == 0:
            best = [(score, (shape,)) for score, shape in level]
        else:
            best = [min(((total + score, chain + (shape,)) for total, chain in best
                         if fits_inside(chain[-1], shape)), key=lambda c: c[0], default=(math.inf, ()))
                    for score, shape in level]
            best = [b for b in best if b[1]]
        if not best:
            below = f" from the sizes below it ({', '.join(f'{s:,}' for s in sizes[:i])})" if i else ""
            raise ValueError(f"no nested ladder of {family} shapes (head width {head_dim}, vocabulary {vocab_size}) "
                             f"reaches {size:,} parameters{below}; space the sizes further apart or use a smaller "
                             f"vocabulary")
    return dict(zip(sizes, min(best, key=lambda c: c[0])[1]))


def new_model(shape: ModelShape, seed: int):
    """A freshly initialised HF causal LM of `shape` (deterministic for a seed)."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(build_config(shape), attn_implementation="sdpa")


def with_layers(shape: ModelShape, n_layers: int) -> ModelShape:
    return replace(shape, n_layers=n_layers)
