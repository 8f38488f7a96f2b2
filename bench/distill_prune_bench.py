"""How much pruning loses before any distillation: held-out loss of students pruned from trained teachers with
gradient importance (MiniMA) against magnitude importance, and the random-init baseline.

    .venv/bin/python bench/distill_prune_bench.py --sweep workspace-cpu-small/sweeps/cpu-small [--student 150K]

Uses the teachers a sweep has finished (teachers/*/model) and the sweep's corpus and tokenizer (from its plan).
Prints one line per teacher; writes bench/out/distill_prune_bench.json. Lower loss = less lost at pruning.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere: the repo's packages come first


def main() -> None:
    import torch

    from analysis.sizes import parse_size
    from eval_runs.corpus import CorpusConfig
    from eval_runs.evaluate import evaluate_model
    from eval_runs.models import count_model_params
    from eval_runs.pipeline import StudentPlan, load_local_model, make_student, prepare_data
    from eval_runs.prune import PruneConfig
    from eval_runs.tokenizer import TokenizerConfig
    from eval_runs.train_loop import TrainConfig

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sweep", required=True, help="a sweep folder (holds plan.json and teachers/)")
    ap.add_argument("--student", default="150K")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sweep = Path(args.sweep).resolve()
    plan = json.loads((sweep / "plan.json").read_text())["plan"]
    workspace = sweep.parents[1]
    data = prepare_data(CorpusConfig(paths=tuple(plan["corpus_paths"]), max_bytes=plan["corpus_max_bytes"]),
                        TokenizerConfig(vocab_size=plan["vocab_size"]), workspace)
    cfg = TrainConfig(seq_len=plan["seq_len"], batch_size=plan["batch_size"], eval_tokens=plan["eval_tokens"])
    target = parse_size(args.student)
    rows = []
    for folder in sorted((sweep / "teachers").glob("*/model"), key=lambda p: count_model_params(
            load_local_model(p)).total_params):
        teacher = load_local_model(folder)
        n_t = count_model_params(teacher).total_params
        if n_t <= target * 1.05:
            continue
        row = {"teacher": folder.parent.name, "teacher_params": n_t}
        row["teacher_val_loss"] = evaluate_model(teacher, data.tokens, seq_len=cfg.seq_len,
                                                 max_tokens=cfg.eval_tokens).val_loss
        for init, method in (("pruned", "gradient"), ("pruned", "magnitude"), ("random", "magnitude")):
            student, _, _ = make_student(teacher, StudentPlan(target, init), data.tokens, cfg,
                                         PruneConfig(importance=method))
            key = method if init == "pruned" else "random_init"
            row[key] = evaluate_model(student, data.tokens, seq_len=cfg.seq_len, max_tokens=cfg.eval_tokens).val_loss
        rows.append(row)
        print(f"{row['teacher']:8s} ({n_t:>9,d} params, val_loss {row['teacher_val_loss']:.3f}) -> {target:,}: "
              f"gradient {row['gradient']:.3f}   magnitude {row['magnitude']:.3f}   random init "
              f"{row['random_init']:.3f}   (nats/token, before distillation)")
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "distill_prune_bench.json").write_text(json.dumps({"sweep": str(sweep), "student_target": target,
                                                              "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
