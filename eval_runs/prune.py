"""Structured pruning of a teacher into a smaller student (attention heads, FFN neurons, hidden dimensions and,
optionally, whole layers), as MiniMA does (Zhang et al. 2023, arXiv 2311.07052, section 3).

Importance of each unit (a head, a neuron, a hidden dimension, a layer):
- "gradient": first-order Taylor estimate of the loss change when the unit's output is masked, |m * dL/dm| at
  m = 1, averaged over a calibration sample (Michel et al. 2019, "Are sixteen heads really better than one?";
  MiniMA/CoFi-style masks). A mask on a unit's output equals scaling the weights that carry that output, so
  dL/dm = sum(w * dL/dw) over those weights: the output projection's input columns for a head, the down
  projection's input column for a neuron, every write into the residual stream for a hidden dimension.
- "magnitude": the L2 norm of every weight that touches the unit (no data needed; cheaper, usually worse).

The least important units are dropped; kept units stay in their original order, so a student of the teacher's
own shape is the teacher, bit for bit. The student is an ordinary HF model of the smaller config.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from eval_runs.models import ModelShape, build_config, count_params, shape_of

IMPORTANCE_METHODS = ("gradient", "magnitude")


@dataclass(frozen=True)
class PruneConfig:
    """How to prune a teacher into a student."""

    importance: str = "gradient"  # "gradient" (MiniMA; needs calibration data) or "magnitude" (cheaper)
    drop_layers: int = 0  # whole layers removed first (least important); MiniMA dropped 8 of LLaMA-2-7B's 32
    n_calibration_batches: int = 8  # calibration sample = this many train batches (a few thousand tokens suffice)
    tolerance: float = 0.05  # the student's parameter count must be within this relative distance of the target


# --------------------------------------------------------------------------------------------------------------
# Where each kind of unit lives in a family's parameters

NEOX_HEADS = ("embed_out.weight", "lm_head.weight")  # GPT-NeoX's output head, by transformers version


@dataclass(frozen=True)
class _Axis:
    """One indexed axis of one parameter: which units its positions belong to."""

    name: str  # state-dict key
    dim: int  # tensor dimension
    kind: str  # "hidden" | "head" | "neuron"
    layer: int  # -1 for "hidden"
    units: torch.Tensor  # (size of that dim,) unit index of each position
    writer: bool = False  # carries the unit's output (used by gradient importance)


def _axes(shape: ModelShape) -> list[_Axis]:
    """Every (parameter, dim) that pruning slices, with its unit map, for the family of `shape`."""
    d, hd, h, ff = shape.d_model, shape.head_dim, shape.n_heads, shape.d_ff
    hidden = torch.arange(d)
    neurons = torch.arange(ff)
    ax: list[_Axis] = []

    def add(name, dim, kind, layer, units, writer=False):
        ax.append(_Axis(name, dim, kind, layer, units, writer))

    if shape.family == "llama":
        kv = shape.kv_heads
        q_units = torch.arange(h * hd) // hd // (h // kv)  # a unit is a key/value group (one head when kv == h)
        kv_units = torch.arange(kv * hd) // hd
        add("model.embed_tokens.weight", 1, "hidden", -1, hidden, True)
        add("model.norm.weight", 0, "hidden", -1, hidden)
        if not shape.tie_embeddings:
            add("lm_head.weight", 1, "hidden", -1, hidden)
        for i in range(shape.n_layers):
            p = f"model.layers.{i}."
            add(p + "input_layernorm.weight", 0, "hidden", -1, hidden)
            add(p + "post_attention_layernorm.weight", 0, "hidden", -1, hidden)
            for m in ("q_proj", "k_proj", "v_proj"):
                add(p + f"self_attn.{m}.weight", 0, "head", i, q_units if m == "q_proj" else kv_units)
                add(p + f"self_attn.{m}.weight", 1, "hidden", -1, hidden)
            add(p + "self_attn.o_proj.weight", 0, "hidden", -1, hidden, True)
            add(p + "self_attn.o_proj.weight", 1, "head", i, q_units, True)
            for m in ("gate_proj", "up_proj"):
                add(p + f"mlp.{m}.weight", 0, "neuron", i, neurons)
                add(p + f"mlp.{m}.weight", 1, "hidden", -1, hidden)
            add(p + "mlp.down_proj.weight", 0, "hidden", -1, hidden, True)
            add(p + "mlp.down_proj.weight", 1, "neuron", i, neurons, True)
    elif shape.family == "gpt2":  # Conv1D weights are (in, out)
        qkv_units = (torch.arange(3 * d) % d) // hd  # [q | k | v] blocks, heads inside each
        head_units = torch.arange(d) // hd
        add("transformer.wte.weight", 1, "hidden", -1, hidden, True)
        add("transformer.wpe.weight", 1, "hidden", -1, hidden, True)
        for nm in ("transformer.ln_f.weight", "transformer.ln_f.bias"):
            add(nm, 0, "hidden", -1, hidden)
        for i in range(shape.n_layers):
            p = f"transformer.h.{i}."
            for nm in ("ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias"):
                add(p + nm, 0, "hidden", -1, hidden)
            add(p + "attn.c_attn.weight", 0, "hidden", -1, hidden)
            add(p + "attn.c_attn.weight", 1, "head", i, qkv_units)
            add(p + "attn.c_attn.bias", 0, "head", i, qkv_units)
            add(p + "attn.c_proj.weight", 0, "head", i, head_units, True)
            add(p + "attn.c_proj.weight", 1, "hidden", -1, hidden, True)
            add(p + "attn.c_proj.bias", 0, "hidden", -1, hidden, True)
            add(p + "mlp.c_fc.weight", 0, "hidden", -1, hidden)
            add(p + "mlp.c_fc.weight", 1, "neuron", i, neurons)
            add(p + "mlp.c_fc.bias", 0, "neuron", i, neurons)
            add(p + "mlp.c_proj.weight", 0, "neuron", i, neurons, True)
            add(p + "mlp.c_proj.weight", 1, "hidden", -1, hidden, True)
            add(p + "mlp.c_proj.bias", 0, "hidden", -1, hidden, True)
    else:  # gpt_neox: query_key_value rows are [q k v] per head
        qkv_units = torch.arange(3 * d) // (3 * hd)
        head_units = torch.arange(d) // hd
        add("gpt_neox.embed_in.weight", 1, "hidden", -1, hidden, True)
        for nm in ("gpt_neox.final_layer_norm.weight", "gpt_neox.final_layer_norm.bias"):
            add(nm, 0, "hidden", -1, hidden)
        if not shape.tie_embeddings:  # Pythia's untied head: embed_out before transformers 5, lm_head since
            for head in NEOX_HEADS:
                add(head, 1, "hidden", -1, hidden)
        for i in range(shape.n_layers):
            p = f"gpt_neox.layers.{i}."
            for nm in ("input_layernorm", "post_attention_layernorm"):
                add(p + nm + ".weight", 0, "hidden", -1, hidden)
                add(p + nm + ".bias", 0, "hidden", -1, hidden)
            add(p + "attention.query_key_value.weight", 0, "head", i, qkv_units)
            add(p + "attention.query_key_value.weight", 1, "hidden", -1, hidden)
            add(p + "attention.query_key_value.bias", 0, "head", i, qkv_units)
            add(p + "attention.dense.weight", 0, "hidden", -1, hidden, True)
            add(p + "attention.dense.weight", 1, "head", i, head_units, True)
            add(p + "attention.dense.bias", 0, "hidden", -1, hidden, True)
            add(p + "mlp.dense_h_to_4h.weight", 0, "neuron", i, neurons)
            add(p + "mlp.dense_h_to_4h.weight", 1, "hidden", -1, hidden)
            add(p + "mlp.dense_h_to_4h.bias", 0, "neuron", i, neurons)
            add(p + "mlp.dense_4h_to_h.weight", 0, "hidden", -1, hidden, True)
            add(p + "mlp.dense_4h_to_h.weight", 1, "neuron", i, neurons, True)
            add(p + "mlp.dense_4h_to_h.bias", 0, "hidden", -1, hidden, True)
    return ax


def _n_head_units(shape: ModelShape) -> int:
    return shape.kv_heads if shape.family == "llama" else shape.n_heads


# --------------------------------------------------------------------------------------------------------------
# Student shape

def plan_student_shape(teacher: ModelShape, target_params: int, *, drop_layers: int = 0,
                       tolerance: float = 0.05) -> ModelShape:
    """The student shape of about `target_params` carved out of `teacher`: the same fraction of heads and hidden
    dimensions (GPT-2/NeoX keep the head width, so d_model = heads x head_dim), FFN width solved to hit the target.
    """
    teacher_params = count_params(teacher).total_params
    target = int(target_params)
    if target >= teacher_params:
        raise ValueError(f"student not smaller than teacher: target {target:,} parameters, teacher has "
                         f"{teacher_params:,} (expected a student smaller than its teacher)")
    n_layers = teacher.n_layers - drop_layers
    if drop_layers < 0 or n_layers < 1:
        raise ValueError(f"drop_layers={drop_layers} leaves {n_layers} layers of {teacher.n_layers} (expected >= 1)")
    G = _n_head_units(teacher)
    per_group = teacher.n_heads // G
    best, best_score = None, math.inf
    for g in range(1, G + 1):
        heads = g * per_group
        d = heads * teacher.head_dim if teacher.family != "llama" else max(1, round(teacher.d_model * g / G))
        base = replace(teacher, n_layers=n_layers, d_model=d, n_heads=heads,
                       n_kv_heads=g if teacher.family == "llama" else 0)
        lo, hi = 1, teacher.d_ff  # parameter count grows with d_ff: bisect for the target
        while lo < hi:
            mid = (lo + hi) // 2
            if count_params(replace(base, d_ff=mid)).total_params < target:
                lo = mid + 1
            else:
                hi = mid
        for ff in {max(1, lo - 1), lo}:
            shape = replace(base, d_ff=ff)
            err = abs(math.log(count_params(shape).total_params / target))
            balance = abs(math.log(ff / teacher.d_ff) - math.log(g / G))
            score = balance + err if err <= 0.01 else 100 + err
            if score < best_score:
                best, best_score = shape, score
    n = count_params(best).total_params
    if abs(n / target - 1) > tolerance:
        llama = teacher.family == "llama"
        smallest = count_params(replace(teacher, n_layers=n_layers, d_model=1 if llama else teacher.head_dim,
                                        n_heads=per_group, n_kv_heads=1 if llama else 0, d_ff=1)).total_params
        raise ValueError(f"unreachable target size {target:,} parameters by pruning a {teacher_params:,}-parameter "
                         f"{teacher.family} teacher: the closest student has {n:,} (the smallest has {smallest:,}; "
                         f"expected a target within {tolerance:.0%} of a reachable size)")
    return best


# --------------------------------------------------------------------------------------------------------------
# Importance

@dataclass(frozen=True)
class Importance:
    """Importance of every prunable unit (higher = keep)."""

    hidden: torch.Tensor  # (d_model,)
    heads: torch.Tensor  # (n_layers, head units)
    neurons: torch.Tensor  # (n_layers, d_ff)
    layers: torch.Tensor  # (n_layers,)
    method: str


def _accumulate(shape: ModelShape, values: dict[str, torch.Tensor], *, writers_only: bool) -> tuple:
    """Sum per-position `values[name]` (same shape as the parameter) into unit scores."""
    hidden = torch.zeros(shape.d_model, dtype=torch.float64)
    heads = torch.zeros(shape.n_layers, _n_head_units(shape), dtype=torch.float64)
    neurons = torch.zeros(shape.n_layers, shape.d_ff, dtype=torch.float64)
    layers = torch.zeros(shape.n_layers, dtype=torch.float64)
    for a in _axes(shape):
        if writers_only and not a.writer:
            continue
        if a.name in NEOX_HEADS and a.name not in values:  # the other spelling of GPT-NeoX's head
            continue
        v = values[a.name].double()
        other = [i for i in range(v.dim()) if i != a.dim]
        per_pos = v.sum(dim=other) if other else v  # (size of dim,)
        target = hidden if a.kind == "hidden" else heads[a.layer] if a.kind == "head" else neurons[a.layer]
        target.index_add_(0, a.units, per_pos)
        if writers_only and a.kind != "hidden":  # a layer's output = its heads' and neurons' writes
            layers[a.layer] += per_pos.sum()
    return hidden, heads, neurons, layers


def magnitude_importance(model, shape: ModelShape) -> Importance:
    """Squared-norm of every weight touching each unit (sqrt taken); no data needed."""
    state = {k: v.detach().float() ** 2 for k, v in model.state_dict().items()}
    hidden, heads, neurons, _ = _accumulate(shape, state, writers_only=False)
    wstate = {k: v.detach().float() ** 2 for k, v in model.state_dict().items()}
    _, _, _, layers = _accumulate(shape, wstate, writers_only=True)
    return Importance(hidden.sqrt(), heads.sqrt(), neurons.sqrt(), layers.sqrt(), "magnitude")


def gradient_importance(model, shape: ModelShape, batches) -> Importance:
    """Mean over calibration batches of |sum(w * dL/dw)| over the weights carrying each unit's output.

    `batches` yields (inputs, targets) int64 tensors of shape (B, T).
    """
    params = dict(model.named_parameters(remove_duplicate=False))
    totals = None
    n = 0
    model.eval()
    device = next(model.parameters()).device
    for inputs, targets in batches:
        inputs, targets = inputs.to(device), targets.to(device)
        model.zero_grad(set_to_none=True)
        logits = model(input_ids=inputs).logits  # (B, T, V)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        loss.backward()
        wg = {k: (p.detach() * p.grad).float().cpu() if p.grad is not None else torch.zeros_like(p, dtype=torch.float32)
              for k, p in params.items()}
        scores = [s.abs() for s in _accumulate(shape, wg, writers_only=True)]
        totals = scores if totals is None else [t + s for t, s in zip(totals, scores)]
        n += 1
    model.zero_grad(set_to_none=True)
    if n == 0:
        raise ValueError("gradient importance needs at least one calibration batch")
    hidden, heads, neurons, layers = (t / n for t in totals)
    return Importance(hidden, heads, neurons, layers, "gradient")


# --------------------------------------------------------------------------------------------------------------
# Pruning

def _top(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k largest scores, in ascending index order (ties: lower index first)."""
    order = torch.argsort(scores, descending=True, stable=True)[:k]
    return torch.sort(order).values


def prune_model(teacher, student_shape: ModelShape, importance: Importance):
    """A new HF model of `student_shape` holding the teacher's most important units."""
    from transformers import AutoModelForCausalLM

    tshape = shape_of(teacher.config)
    if student_shape.family != tshape.family or student_shape.head_dim != tshape.head_dim:
        raise ValueError(f"cannot prune a {tshape.family} teacher (head_dim {tshape.head_dim}) into "
                         f"{student_shape.family} (head_dim {student_shape.head_dim})")
    keep_layers = _top(importance.layers, student_shape.n_layers) if student_shape.n_layers < tshape.n_layers \
        else torch.arange(tshape.n_layers)
    keep = {"hidden": _top(importance.hidden, student_shape.d_model)}
    n_units = _n_head_units(student_shape)
    state = teacher.state_dict()
    for old_i in keep_layers.tolist():
        keep[("head", old_i)] = _top(importance.heads[old_i], n_units)
        keep[("neuron", old_i)] = _top(importance.neurons[old_i], student_shape.d_ff)
    new_state = {}
    axes_by_name: dict[str, list[_Axis]] = {}
    for a in _axes(tshape):
        axes_by_name.setdefault(a.name, []).append(a)
    layer_map = {old: new for new, old in enumerate(keep_layers.tolist())}
    for name, tensor in state.items():
        layer = _layer_of(name)
        if layer is not None and layer not in layer_map:
            continue
        if tshape.tie_embeddings and name in ("lm_head.weight", "embed_out.weight"):
            continue  # tied to the input embedding, which is sliced
        t = tensor
        for a in axes_by_name.get(name, []):
            units_kept = keep["hidden"] if a.kind == "hidden" else keep[(a.kind, a.layer)]
            positions = torch.nonzero(torch.isin(a.units, units_kept)).flatten()
            t = t.index_select(a.dim, positions)
        new_state[_rename_layer(name, layer_map) if layer is not None else name] = t.clone()
    student = AutoModelForCausalLM.from_config(build_config(student_shape), attn_implementation="sdpa")
    missing, unexpected = student.load_state_dict(new_state, strict=False)
    missing = [m for m in missing if not m.endswith("lm_head.weight") and not m.endswith("embed_out.weight")]
    if missing or unexpected:
        raise RuntimeError(f"pruned state does not fit the student: missing {missing[:5]}, unexpected {unexpected[:5]}")
    if student_shape.tie_embeddings:
        student.tie_weights()
    return student


def _layer_of(name: str) -> int | None:
    parts = name.split(".")
    for i, p in enumerate(parts[:-1]):
        if p in ("layers", "h") and parts[i + 1].isdigit():
            return int(parts[i + 1])
    return None


def _rename_layer(name: str, layer_map: dict[int, int]) -> str:
    parts = name.split(".")
    for i, p in enumerate(parts[:-1]):
        if p in ("layers", "h") and parts[i + 1].isdigit():
            parts[i + 1] = str(layer_map[int(parts[i + 1])])
            break
    return ".".join(parts)


def compute_importance(model, method: str, batches=None) -> Importance:
    """Importance of the model's units by `method` ("gradient" needs `batches`)."""
    shape = shape_of(model.config)
    if method == "magnitude":
        return magnitude_importance(model, shape)
    if method == "gradient":
        if batches is None:
            raise ValueError("gradient importance needs calibration batches")
        return gradient_importance(model, shape, batches)
    raise ValueError(f"unknown importance method {method!r} (expected one of {', '.join(IMPORTANCE_METHODS)})")
