"""Do bigger teachers come out better? The pilot behind the cpu-law preset's LR per width.

Pretrains three teachers of the cpu-law ladder (125K, 500K, 2M parameters; vocabulary 272, sequences of 128) on
the same tokens with one peak LR for all (`--rule const`, 3e-3) or the muP-style LR per width the preset uses
(`--rule width`, 3e-3 x 64 / d_model), and prints each one's held-out loss. Not a speed benchmark; nothing is
asserted. Results are in bench/RESULTS.md.

    .venv/bin/python bench/teacher_lr_pilot.py --rule const [--tokens 1M] [--workspace /tmp/pilot]
    .venv/bin/python bench/teacher_lr_pilot.py --rule width
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rule", choices=["const", "width"], required=True)
    p.add_argument("--tokens", default="1M", help="pretraining tokens per teacher (default 1M)")
    p.add_argument("--workspace", default="/tmp/teacher_lr_pilot")
    args = p.parse_args()

    import torch

    from analysis.sizes import parse_size
    from eval_runs.pipeline import pretrain_teacher
    from eval_runs.run_folder import RunFolder
    from eval_runs.sweep_cells import model_shape, sweep_data
    from eval_runs.sweep_plan import preset
    from eval_runs.train_loop import TrainConfig

    torch.set_num_threads(1)
    plan = preset("cpu-law")
    data = sweep_data(plan, args.workspace)
    for size in (125_000, 500_000, 2_000_000):
        shape = model_shape(plan, size, data.tokens.vocab_size)
        lr = plan.teacher_lr * (plan.lr_ref_width / shape.d_model if args.rule == "width" else 1.0)
        cfg = TrainConfig(n_tokens=parse_size(args.tokens), lr=lr, batch_size=plan.batch_size, seq_len=plan.seq_len,
                          warmup_fraction=plan.warmup_fraction, eval_tokens=plan.eval_tokens, checkpoint_every=0)
        run = RunFolder(Path(args.workspace) / f"{args.rule}-{args.tokens}" / str(size))
        _, ev = pretrain_teacher(run, shape, data, cfg, device=torch.device("cpu"), progress=False)
        print(f"{args.rule:5s} {size:>9,} params  d_model {shape.d_model:>3}  peak LR {lr:.2e}  "
              f"val_loss {ev.val_loss:.4f} nats/token", flush=True)


if __name__ == "__main__":
    main()
