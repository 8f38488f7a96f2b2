"""A sweep: students x teachers x distillation budgets, run end to end, producing distillation-results rows.

For each teacher size (ascending): pretrain the teacher (or load a local HF folder), evaluate it; then for each
distillation budget (`data_tokens`) and seed, prune the teacher into every student size whose teacher/student
ratio lies in [min_teacher_ratio, max_teacher_ratio] and distil all of them in one data loop (the teacher's
forward pass is computed once per batch and shared). The random-init baseline (same shape, fresh weights) joins
the loop of each student's closest teacher. Finished runs are skipped and interrupted ones resume, so re-running
a sweep continues it.

Plans are flat TOML files whose keys are the fields of `SweepPlan` (unknown keys are refused), or presets.

    <workspace>/sweeps/<name>/plan.json, status.json, log.txt
    <workspace>/sweeps/<name>/teachers/<T>/            (a run folder)
    <workspace>/sweeps/<name>/students/<T>-<S>-<D>-<init>-s<seed>/   (run folders)
"""
from __future__ import annotations

import time
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from analysis.atomic_io import write_json_atomic
from analysis.sizes import format_size, parse_size
from eval_runs.workspace import check_name, workspace_root

SCHEMA_VERSION = 1


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
        if self.importance not in ("gradient", "magnitude"):
            raise ValueError(f"importance {self.importance!r}: expected 'gradient' or 'magnitude'")
        if not (self.teacher_params or self.teacher_paths) or not self.student_params or not self.data_tokens:
            raise ValueError("a plan needs teacher_params (or teacher_paths), student_params and data_tokens")


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
            if key in _SIZE_FIELDS:
                out[key] = tuple(parse_size(v) for v in value) if isinstance(default, tuple) \
                    else 0 if value in (0, "0") and default == 0 else parse_size(value)  # 0 = "all" / "off"
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
    # ~2 minutes on 2 CPU cores: a first try, tests and CI. Two teachers, one student, one budget.
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
    # The measured example (analysis/data/measured_cpu_law.csv; README there: budget, wall time, what it shows).
    # Built to be able to show the law: three student sizes, each with one architecture whichever teacher it is
    # pruned from (a nested ladder, head width 16, so the random-init baseline has it too); teachers 1.25x-20x
    # every student, pretrained on 4M tokens with a muP-style LR per width so that a bigger teacher is a better
    # one; 3 seeds; two distillation budgets. A near-byte vocabulary (272) keeps embeddings from eating the
    # small models. ~2 hours of one CPU thread; `--max-minutes` and `--resume` split it over sessions.
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
}


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


def sweep_folder(name: str, workspace=None) -> Path:
    return workspace_root(workspace) / "sweeps" / check_name(name, "sweep name")


def recorded_plan(name: str, workspace=None) -> SweepPlan:
    """The plan a sweep in the workspace was started with (its plan.json), to resume it without restating it."""
    from analysis import json_io

    path = sweep_folder(name, workspace) / "plan.json"
    if not path.exists():
        raise ValueError(f"no sweep named {name!r} in {workspace_root(workspace)} (expected {path})")
    return plan_from_dict(json_io.read_json(path).get("plan", {}), source=f"{name}/plan.json")


def _cost_units(plan: SweepPlan, teacher_actual: dict[int, int], pairs: list[Pair]) -> dict[tuple, float]:
    """A rough cost of each cell (parameter x tokens: pretraining 3 T B, a distillation loop (T + 3 sum S) D), to
    turn the pace so far into the time left."""
    cells: dict[tuple, float] = {}
    for t, actual in teacher_actual.items():
        if any(p.teacher_params == t for p in pairs):
            cells[("pretrain", t)] = 3.0 * actual * plan.teacher_tokens
    for p in pairs:
        key = ("distill", p.teacher_params, p.data_tokens, p.seed)
        cells[key] = cells.get(key, teacher_actual[p.teacher_params] * p.data_tokens) + 3.0 * p.student_params * \
            p.data_tokens
    return cells


def run_sweep(plan: SweepPlan, *, workspace=None, device: str = "cpu", progress: bool = True,
              max_minutes: float = 0) -> Path:
    """Run (or continue) the sweep; returns its folder. Rows are in each student's result.json.

    `max_minutes` > 0: start no new cell (a teacher's pretraining, or one teacher's distillation loop for one
    budget and seed) once that many minutes have passed; the sweep's status is then "stopped", and running it
    again (`sweep --resume NAME`) continues where it stopped. A cell already running finishes first."""
    import torch

    from eval_runs.corpus import CorpusConfig
    from eval_runs.devices import resolve_device
    from eval_runs.models import count_model_params, count_params, ladder_shape, nested_ladder
    from eval_runs.pipeline import (Data, StudentRun, StudentPlan, environment, evaluate_teacher,
                                    distill_students, load_local_model, make_student, prepare_data, pretrain_teacher)
    from eval_runs.prune import PruneConfig
    from eval_runs.run_folder import RunFolder
    from eval_runs.tokenizer import TokenizerConfig
    from eval_runs.train_loop import TrainConfig

    dev = resolve_device(device)
    if plan.threads:
        torch.set_num_threads(plan.threads)
    root = sweep_folder(plan.name, workspace)
    root.mkdir(parents=True, exist_ok=True)
    sweep = RunFolder(root)
    write_json_atomic(root / "plan.json", {"schema_version": SCHEMA_VERSION, "plan": asdict(plan),
                                           "device": str(dev), **environment()})
    started = time.time()
    # local HF teachers bring their own tokenizer (students are carved out of them, so they share it)
    tokenizer = TokenizerConfig(vocab_size=plan.vocab_size, path=plan.teacher_paths[0] if plan.teacher_paths else "")
    if plan.teacher_paths and plan.teacher_params:
        raise ValueError("a plan takes either teacher_params (pretrained here with a BPE trained on the corpus) or "
                         "teacher_paths (local HF folders with their own tokenizer), not both")
    data: Data = prepare_data(CorpusConfig(paths=plan.corpus_paths, max_bytes=plan.corpus_max_bytes), tokenizer,
                              workspace)
    sweep.log(f"corpus {data.corpus.name} ({data.corpus.n_bytes:,} bytes, hash {data.corpus.content_hash}); "
              f"{data.tokens.n_train_tokens:,} train / {data.tokens.n_val_tokens:,} val tokens")
    base = dict(batch_size=plan.batch_size, grad_accum=plan.grad_accum, seq_len=plan.seq_len,
                warmup_fraction=plan.warmup_fraction, eval_tokens=plan.eval_tokens,
                checkpoint_every=plan.checkpoint_every, ce_weight=plan.ce_weight, temperature=plan.temperature)
    teacher_cfg = TrainConfig(n_tokens=plan.teacher_tokens, lr=plan.teacher_lr, **base)
    prune_cfg = PruneConfig(importance=plan.importance, drop_layers=plan.drop_layers)

    ladder = {}  # matched students: one nested ladder of teachers and students
    if plan.matched_students:
        if plan.teacher_paths:
            raise ValueError("matched_students needs teacher_params (a ladder pretrained here), not teacher_paths")
        ladder = nested_ladder(plan.family, plan.teacher_params + plan.student_params,
                               vocab_size=data.tokens.vocab_size, max_seq_len=plan.seq_len,
                               aspect_ratio=plan.aspect_ratio, head_dim=plan.head_dim or 16)
    # teachers: sizes first (so the pair list and progress are known), training when first needed
    teachers = []  # (label, actual params, shape or path)
    for t in plan.teacher_params:
        shape = ladder.get(t) or ladder_shape(plan.family, t, vocab_size=data.tokens.vocab_size,
                                              max_seq_len=plan.seq_len, aspect_ratio=plan.aspect_ratio,
                                              head_dim=plan.head_dim)
        teachers.append((f"T{format_size(t)}", t, count_params(shape).total_params, shape))
    for p in plan.teacher_paths:
        model = load_local_model(p)
        n = count_model_params(model).total_params
        teachers.append((f"T{format_size(n)}-{Path(p).name}", n, n, Path(p)))
    pairs = plan_pairs(plan, [t[1] for t in teachers])
    if not pairs:
        raise ValueError(f"the plan yields no teacher/student pair with teacher/student ratio in "
                         f"[{plan.min_teacher_ratio}, {plan.max_teacher_ratio}]")
    n_done = lambda: sum(RunFolder(root / "students" / p.label).finished for p in pairs)  # noqa: E731
    costs = _cost_units(plan, {t[1]: t[2] for t in teachers}, pairs)
    done_here = [0.0]  # cost units finished by this process (its pace estimates the time left)

    def cell_done(key) -> bool:
        if key[0] == "pretrain":
            return RunFolder(root / "teachers" / f"T{format_size(key[1])}").finished
        return all(RunFolder(root / "students" / p.label).finished for p in pairs
                   if (p.teacher_params, p.data_tokens, p.seed) == key[1:])

    def status(state: str, stage: str, **extra) -> None:
        left = sum(c for k, c in costs.items() if not cell_done(k))
        elapsed = time.time() - started
        eta = round(left * elapsed / done_here[0]) if done_here[0] and left else None
        cells_left = sum(not cell_done(k) for k in costs)
        sweep.write_status(state, stage=stage, step=n_done(), n_steps=len(pairs), cells_left=cells_left,
                           n_cells=len(costs), eta_seconds=eta, **extra)
        line = f"{n_done()}/{len(pairs)} distillations done, {cells_left} of {len(costs)} cells left"
        if eta:
            line += f", about {eta / 60:.0f} min at this pace" if eta >= 90 else f", about {eta} s at this pace"
        sweep.log(line)

    def out_of_time() -> bool:
        if not max_minutes or time.time() - started < 60 * max_minutes:
            return False
        status("stopped", "out of time", message=f"stopped after {max_minutes:g} min at a cell boundary; "
                                                  f"`sweep --resume {plan.name}` continues it")
        return True

    status("running", "sweep")
    sweep.log(f"{len(pairs)} distillations over {len(teachers)} teachers on {dev}")

    for label, nominal, actual, source in sorted(teachers, key=lambda t: t[2]):
        mine = [p for p in pairs if p.teacher_params == nominal]
        if not mine:
            continue
        if all(RunFolder(root / "students" / p.label).finished for p in mine):
            continue
        run = RunFolder(root / "teachers" / label)
        if isinstance(source, Path):
            teacher = load_local_model(source)
            teacher_eval = evaluate_teacher(teacher, data, teacher_cfg, dev)
        else:
            trained_here = not run.finished
            if trained_here:
                if out_of_time():
                    return root
                status("running", f"pretrain {label}")
            cfg = replace(teacher_cfg, lr=plan.teacher_lr * plan.lr_ref_width / source.d_model) \
                if plan.lr_ref_width else teacher_cfg
            sweep.log(f"teacher {label}: pretraining {actual:,} parameters on {plan.teacher_tokens:,} tokens "
                      f"(peak LR {cfg.lr:.2g})")
            teacher, teacher_eval = pretrain_teacher(run, source, data, cfg, device=dev, progress=progress)
            done_here[0] += costs[("pretrain", nominal)] if trained_here else 0.0
        teacher_params = count_model_params(teacher).total_params
        importance = None
        for d in plan.data_tokens:
            for seed in plan.seeds:
                group = [p for p in mine if p.data_tokens == d and p.seed == seed]
                if not group or all(RunFolder(root / "students" / p.label).finished for p in group):
                    continue
                if out_of_time():
                    return root
                cfg = TrainConfig(n_tokens=d, lr=plan.student_lr, seed=seed, eval_every=plan.eval_every, **base)
                students = []
                for p in group:
                    model, shape, imp = make_student(teacher, StudentPlan(p.student_params, p.init, seed),
                                                     data.tokens, cfg, prune_cfg,
                                                     importance=importance if p.init == "pruned" else None,
                                                     shape=ladder.get(p.student_params))
                    importance = imp or importance
                    students.append(StudentRun(RunFolder(root / "students" / p.label), model,
                                               StudentPlan(p.student_params, p.init, seed),
                                               {"teacher_name": label, "teacher_dir": str(run.model_dir),
                                                "importance": plan.importance, "sweep": plan.name,
                                                "teacher_tokens": plan.teacher_tokens,
                                                "student_shape": shape.to_dict()}))
                sweep.log(f"distilling {len(students)} students from {label} on {d:,} tokens (seed {seed})")
                status("running", f"distill from {label}, D={format_size(d)}")
                distill_students(teacher, students, data, cfg, device=dev, teacher_eval=teacher_eval,
                                 teacher_params=teacher_params, family=plan.family, progress=progress)
                done_here[0] += costs[("distill", nominal, d, seed)]
                teacher.to("cpu")
    sweep.write_status("succeeded", stage="sweep", step=len(pairs), n_steps=len(pairs),
                       wall_seconds=round(time.time() - started, 1))
    sweep.log(f"sweep finished in {time.time() - started:.0f} s")
    return root
