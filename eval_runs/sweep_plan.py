"""What a sweep is: the plan (a frozen dataclass; TOML files and presets), and the distillations it implies.

Plans are flat TOML files whose keys are the fields of `SweepPlan` (unknown keys are refused), or presets.
eval_runs.sweep runs a plan; eval_runs.sweep_cells cuts it into the cells that run as jobs.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from analysis.sizes import format_size, parse_size
from eval_runs.workspace import check_name

SCHEMA_VERSION = 1


IMPORTANCE_METHODS = ("gradient", "magnitude")  # eval_runs.prune's (kept here too: the plan must not import torch)


@dataclass(frozen=True)
class SweepPlan:
    """Everything a sweep does. Sizes are parameter counts; TOML accepts "1.1M", "220K", 3.7e6."""

    name: str = "sweep"  # folder under <workspace>/sweeps/
    family: str = "llama"  # llama | gpt2 | gpt_neox (llama prunes hidden dims most freely)
    teacher_params: tuple[int, ...] = ()  # teacher sizes to pretrain (or give teacher_paths)
    teacher_paths: tuple[str, ...] = ()  # local HF model folders used as teachers instead (sizes read from them)
    student_params: tuple[int, ...] = (250_000,)  # student sizes
    data_tokens: tuple[int, ...] = (500_000,)  # distillation budgets in tokens (a sweep axis: the optimum moves)
    teacher_tokens: int = 2_000_000  # pretraining budget per teacher, tokens
    seeds: tuple[int, ...] = (0,)  # repeats of every distillation (data order and random init)
    min_teacher_ratio: float = 1.2  # skip pairs with teacher/student below this (too close to prune)
    max_teacher_ratio: float = 17.0  # and above this (the probe's range: 1.25x-16x)
    random_init_baseline: bool = True  # add a random-init student per size, distilled by its closest teacher
    importance: str = "gradient"  # pruning importance: gradient (MiniMA) | magnitude
    drop_layers: int = 0  # whole layers pruned away first
    vocab_size: int = 2048  # BPE vocabulary trained on the corpus
    corpus_paths: tuple[str, ...] = ()  # user text/jsonl/parquet files or folders; empty = Python stdlib corpus
    corpus_max_bytes: int = 0  # cap on corpus bytes; 0 = all (~13 MB for the stdlib)
    seq_len: int = 128  # tokens per sequence
    batch_size: int = 16  # sequences per micro-batch
    grad_accum: int = 1  # micro-batches per step
    teacher_lr: float = 3e-3  # pretraining peak LR (tiny models train fast at high LR)
    student_lr: float = 2e-3  # distillation peak LR
    warmup_fraction: float = 0.03  # share of steps warming up (MiniMA 1%; short runs need a little more)
    ce_weight: float = 0.5  # CE weight against the KD term (MiniMA 0.5; plans may still call it alpha)
    temperature: float = 1.0  # KD temperature (MiniMA 1)
    eval_tokens: int = 65536  # validation tokens per evaluation
    eval_every: int = 0  # steps between evaluations during distillation; 0 = at the end only
    checkpoint_every: int = 200  # steps between checkpoints
    aspect_ratio: float = 32.0  # d_model / n_layers the teacher ladder aims for
    matched_students: bool = False  # one architecture per student size, whichever teacher (models.nested_ladder)
    head_dim: int = 0  # head width of every model; 0 = by width (16/32/64), or 16 with matched_students
    lr_ref_width: int = 0  # > 0: each teacher's LR is teacher_lr * lr_ref_width / d_model (muP-style for Adam)
    threads: int = 0  # CPU threads for torch; 0 = torch's default (use 1 on a busy shared machine)

    def __post_init__(self):
        from eval_runs.models import check_family
        check_family(self.family)
        if self.importance not in IMPORTANCE_METHODS:
            raise ValueError(f"importance {self.importance!r}: expected 'gradient' or 'magnitude'")
        if not (self.teacher_params or self.teacher_paths) or not self.student_params or not self.data_tokens:
            raise ValueError("a plan needs teacher_params (or teacher_paths), student_params and data_tokens")


_ZERO_MEANS_ALL = {"corpus_max_bytes"}  # sizes where 0 is a setting (no cap), not a missing size
_SIZE_FIELDS = {"teacher_params", "student_params", "data_tokens", "teacher_tokens", "corpus_max_bytes", "eval_tokens"}


PLAN_KEY_ALIASES = {"alpha": "ce_weight"}  # old key -> its name now (`alpha` is a significance level in analysis)


def plan_from_dict(values: dict, *, source: str = "plan") -> SweepPlan:
    """A SweepPlan from a flat dict (TOML, JSON or CLI); unknown keys and wrong types are refused by name."""
    known = {f.name: f for f in fields(SweepPlan)}
    values = {PLAN_KEY_ALIASES.get(k, k): v for k, v in values.items()}  # plans written before a key's rename
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {', '.join(map(repr, unknown))} (expected some of: "
                         f"{', '.join(known)})")
    out = {}
    for key, value in values.items():
        default = known[key].default
        try:
            if key in _ZERO_MEANS_ALL and value in (0, "0"):
                out[key] = 0
            elif key in _SIZE_FIELDS:
                out[key] = tuple(parse_size(v) for v in value) if isinstance(default, tuple) else parse_size(value)
            elif isinstance(default, tuple):
                if not isinstance(value, (list, tuple)):
                    raise TypeError(f"expected a list, found {value!r}")
                out[key] = tuple(type(default[0])(v) for v in value) if default else tuple(str(v) for v in value)
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise TypeError(f"expected true or false, found {value!r}")
                out[key] = value
            elif isinstance(default, (int, float)):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise TypeError(f"expected a number, found {value!r}")
                out[key] = type(default)(value)
            else:
                out[key] = str(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}, key {key!r}: {exc}") from None
    plan = SweepPlan(**out)
    check_name(plan.name, f"{source}, key 'name'")
    return plan


def read_plan(path: str | Path) -> SweepPlan:
    path = Path(path).expanduser().resolve()
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"plan file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path.name}: not valid TOML ({exc})") from None
    nested = [k for k, v in values.items() if isinstance(v, dict)]
    if nested:
        raise ValueError(f"{path.name}: tables {nested} are not allowed (expected flat keys: name, family, ...)")
    return plan_from_dict(values, source=path.name)


# Presets (timings on this project's 2-core CPU machine / one H100; see bench/RESULTS.md)
PRESETS: dict[str, SweepPlan] = {
    # ~20 s on 2 CPU cores (15-18 s measured 2026-12-01): a first try, tests and CI. Two teachers, one student, one budget.
    "cpu-tiny": SweepPlan(name="cpu-tiny", teacher_params=(150_000, 300_000), student_params=(100_000,),
                          data_tokens=(40_960,), teacher_tokens=81_920, vocab_size=512, corpus_max_bytes=1_000_000,
                          seq_len=64, batch_size=16, eval_tokens=8192, checkpoint_every=50, max_teacher_ratio=4.0,
                          threads=1),
    # ~1 hour on this shared 2-core machine (1 thread): the bundled measured dataset. Students of 100K and 200K,
    # teachers 1.25x-16x (100K) and 2x-8x (200K), each pretrained on more tokens (2M) than any student is distilled
    # on (a first design with 0.6M-token teachers gave students better than their teachers), distillation budgets
    # of 200 and 800 steps (the quick probe needed ~1,500 steps for the curse to show), random-init baselines,
    # gradient-importance pruning.
    "cpu-small": SweepPlan(name="cpu-small", teacher_params=(125_000, 200_000, 400_000, 800_000, 1_600_000),
                           student_params=(100_000, 200_000), data_tokens=(204_800, 819_200),
                           teacher_tokens=2_048_000, vocab_size=1024, seq_len=64, batch_size=16, eval_tokens=32768,
                           checkpoint_every=200, min_teacher_ratio=1.2, max_teacher_ratio=17.0, threads=1),
    # The measured example (analysis/data/README.md: budget, wall time, what it shows). Built to be able to show
    # the law: three student sizes, each with one architecture whichever teacher it is pruned from (a nested
    # ladder, head width 16, so the random-init baseline has it too); teachers 1.25x-20x every student, pretrained
    # on 4M tokens with a muP-style LR per width so that a bigger teacher is a better one; 3 seeds; two
    # distillation budgets. A near-byte vocabulary (272) keeps embeddings from eating the small models. ~2 hours
    # of one CPU thread planned; `--max-minutes` and `--resume` split it over sessions.
    "cpu-law": SweepPlan(name="cpu-law", teacher_params=(62_500, 125_000, 250_000, 500_000, 1_000_000, 2_000_000,
                                                           4_000_000),
                         student_params=(50_000, 100_000, 200_000), data_tokens=(409_600, 1_638_400),
                         teacher_tokens=4_096_000, seeds=(0, 1, 2), vocab_size=272, seq_len=128, batch_size=16,
                         teacher_lr=3e-3, lr_ref_width=64, student_lr=2e-3, eval_tokens=65_536,
                         checkpoint_every=200, min_teacher_ratio=1.2, max_teacher_ratio=21.0, matched_students=True,
                         threads=1),
    # Aimed at ~8 minutes on one H100 (bench/gpu_check.py); UNTESTED: no GPU in the authoring session. Timings
    # are estimates from FLOP counts at ~10% MFU; adjust teacher_tokens/data_tokens if it runs long.
    "gpu-small": SweepPlan(name="gpu-small", teacher_params=(6_000_000, 12_000_000, 25_000_000, 50_000_000),
                           student_params=(3_000_000, 6_000_000), data_tokens=(8_000_000, 24_000_000),
                           teacher_tokens=40_000_000, vocab_size=8192, seq_len=256, batch_size=128,
                           teacher_lr=2e-3, student_lr=1e-3, eval_tokens=262_144, checkpoint_every=500,
                           max_teacher_ratio=17.0, aspect_ratio=48.0),
    # The paper's pilot on one GPU: students pruned from the Pythia ladder (hub checkpoints, GPT-NeoX; the students
    # keep the family and the teachers' tokenizer). 70M students from all five teachers (2.3x-40x), 140M ones from
    # 410m-2.8b (2.9x-20x); budgets of 25M and 100M tokens. UNTESTED on a GPU: `sweep --preset gpu-pythia --dry-run`
    # prints its cells and the time/memory estimated from FLOP counts (eval_runs.estimate: ~1.6 H100- or ~5
    # A100-hours at an assumed 35% MFU). Give it a corpus of >= 100M tokens (--corpus-paths): the default stdlib
    # corpus is ~3M tokens.
    "gpu-pythia": SweepPlan(name="gpu-pythia", family="gpt_neox",
                            teacher_paths=("EleutherAI/pythia-160m", "EleutherAI/pythia-410m", "EleutherAI/pythia-1b",
                                           "EleutherAI/pythia-1.4b", "EleutherAI/pythia-2.8b"),
                            student_params=(70_000_000, 140_000_000), data_tokens=(25_000_000, 100_000_000),
                            seq_len=1024, batch_size=8, grad_accum=4, student_lr=6e-4, warmup_fraction=0.01,
                            eval_tokens=1_048_576, checkpoint_every=500, min_teacher_ratio=1.2,
                            max_teacher_ratio=40.0),
}


PRESET_NOTES = {"cpu-tiny": "2 teachers × 1 student, ~20 seconds on 2 CPU cores: a first try",
                "cpu-small": "5 teachers × 2 students × 2 budgets, ~1 hour on 2 CPU cores",
                "cpu-law": "7 teachers × 3 matched students × 2 budgets × 3 seeds, ~2 hours of one CPU thread (run "
                           "it over sessions with --max-minutes and --resume)",
                "gpu-small": "4 teachers × 2 students × 2 budgets, aimed at ~8 minutes on one GPU (device cuda)",
                "gpu-pythia": "Pythia 160m-2.8b (hub ids) × students of 70M and 140M × 2 budgets: the paper's pilot, "
                              "hours on one GPU (estimated, see --dry-run); needs --corpus-paths with >= 100M tokens "
                              "and a machine online once to download the teachers"}


def preset(name: str) -> SweepPlan:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r} (expected one of {', '.join(PRESETS)})")
    return PRESETS[name]


# ------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pair:
    """One distillation of the sweep."""

    teacher_params: int
    student_params: int
    data_tokens: int
    init: str
    seed: int

    @property
    def label(self) -> str:
        return (f"T{format_size(self.teacher_params)}-S{format_size(self.student_params)}-"
                f"D{format_size(self.data_tokens)}-{self.init}-s{self.seed}")


def plan_pairs(plan: SweepPlan, teacher_sizes: list[int]) -> list[Pair]:
    """Every distillation the plan implies, given the teachers' actual sizes."""
    pairs = []
    for s in plan.student_params:
        usable = [t for t in teacher_sizes if plan.min_teacher_ratio <= t / s <= plan.max_teacher_ratio]
        for d in plan.data_tokens:
            for seed in plan.seeds:
                pairs += [Pair(t, s, d, "pruned", seed) for t in usable]
                if plan.random_init_baseline and usable:
                    pairs.append(Pair(min(usable), s, d, "random", seed))
    return pairs
