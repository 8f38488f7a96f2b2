"""One distillation across two CPU processes (torchrun, gloo) matches one process with the same global batch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[1]
TRAIN = ["--batch-size", "8", "--seq-len", "16", "--n-tokens", "768", "--lr", "3e-3", "--log-every", "2",
         "--checkpoint-every", "4", "--eval-tokens", "512", "--threads", "1"]  # 6 steps of 8 x 16 tokens


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A workspace with a corpus, and a tiny teacher and a smaller random student saved as HF folders."""
    from eval_runs.corpus import CorpusConfig
    from eval_runs.models import ladder_shape, new_model
    from eval_runs.pipeline import prepare_data, save_model
    from eval_runs.tokenizer import TokenizerConfig

    root = tmp_path_factory.mktemp("ddp")
    (root / "corpus.txt").write_text(open(textwrap.__file__, encoding="utf-8").read() * 3, encoding="utf-8")
    data = prepare_data(CorpusConfig(paths=(str(root / "corpus.txt"),), piece_bytes=2000),
                        TokenizerConfig(vocab_size=300), root / "ws")
    vocab = data.tokens.vocab_size
    save_model(new_model(ladder_shape("llama", 40_000, vocab_size=vocab, max_seq_len=16), 7), data.tokenizer,
               root / "teacher")
    save_model(new_model(ladder_shape("llama", 25_000, vocab_size=vocab, max_seq_len=16), 1), data.tokenizer,
               root / "student")
    single = _distill(root, "single", n_processes=1)  # the reference every multi-process run is held to
    assert single.returncode == 0, single.stderr[-3000:]
    return root


def test_the_processes_take_disjoint_rows_that_make_up_the_whole_batch():
    from eval_runs.distributed import shard_rows
    batch = torch.arange(8 * 3).reshape(8, 3)  # (B, T)
    shards = [shard_rows(batch, of_rank=r, n_processes=2) for r in range(2)]
    assert [s.shape[0] for s in shards] == [4, 4]
    torch.testing.assert_close(torch.cat(shards), batch)
    assert shard_rows(batch) is batch  # one process: the whole batch, untouched


def test_a_batch_that_does_not_split_over_the_processes_is_refused():
    from eval_runs.distributed import check_divides_batch
    check_divides_batch(8, n_processes=4)
    with pytest.raises(ValueError, match="batch_size 6 does not split over 4 processes"):
        check_divides_batch(6, n_processes=4)


def test_commands_other_than_distill_refuse_to_run_under_a_multi_process_launcher(tmp_path, monkeypatch, capsys):
    from eval_runs.__main__ import main
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["results", "--workspace", str(tmp_path), "--out", str(tmp_path / "r.csv")]) == 2
    assert "only `distill` runs across the processes" in capsys.readouterr().err


def _distill(root: Path, name: str, *, n_processes: int) -> subprocess.CompletedProcess:
    launcher = [] if n_processes == 1 else ["-m", "torch.distributed.run", "--standalone",
                                           "--nproc_per_node", str(n_processes)]
    argv = [sys.executable, *launcher, "-m", "eval_runs", "distill", "--teacher", str(root / "teacher"),
            "--student", str(root / "student"), "--name", name, "--workspace", str(root / "ws"),
            "--corpus-paths", str(root / "corpus.txt"), "--corpus-piece-bytes", "2000", *TRAIN]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)


def _assert_same_weights(run: Path, reference: Path) -> None:
    """Equal up to float rounding (the two halves' gradients are summed in another order than the whole's):
    after 6 AdamW steps the largest difference seen is ~1e-6, the tolerance 1e-5."""
    from safetensors.torch import load_file
    ours, theirs = load_file(str(run / "model" / "model.safetensors")), load_file(str(reference / "model" /
                                                                                       "model.safetensors"))
    assert ours.keys() == theirs.keys()
    for name, tensor in theirs.items():
        torch.testing.assert_close(ours[name], tensor, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.slow
def test_a_distillation_on_two_processes_matches_one_process_with_the_same_global_batch(folders):
    ddp = _distill(folders, "ddp", n_processes=2)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    runs = folders / "ws" / "runs"

    # rank 0 alone wrote the run folder: one result, one line of stdout, no leftover checkpoints
    assert sorted(p.parent.name for p in runs.rglob("result.json")) == ["ddp", "single"]
    assert len(ddp.stdout.strip().splitlines()) == 1
    assert not list((runs / "ddp").glob("checkpoint-*"))
    result = json.loads((runs / "ddp" / "result.json").read_text())
    expected = json.loads((runs / "single" / "result.json").read_text())
    assert result["n_processes"] == 2 and result["data_tokens"] == expected["data_tokens"]

    # the ranks stayed in step: rank 0 compared every rank's weight checksum before saving
    assert "student weights identical on all 2 processes" in (runs / "ddp" / "log.txt").read_text()

    # two halves of each batch with averaged gradients = the whole batch in one process, up to float rounding
    assert result["val_loss"] == pytest.approx(expected["val_loss"], rel=1e-5)
    metrics = [json.loads(line) for line in (runs / "ddp" / "metrics.jsonl").read_text().splitlines()]
    reference = [json.loads(line) for line in (runs / "single" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [m["step"] for m in reference]
    for m, r in zip(metrics, reference):
        if "loss" in m:
            assert m["loss"] == pytest.approx(r["loss"], rel=1e-5) and m["kl"] == pytest.approx(r["kl"], rel=1e-4)
    _assert_same_weights(runs / "ddp", runs / "single")


@pytest.mark.slow
def test_a_two_process_run_resumes_from_a_checkpoint_and_ends_where_an_uninterrupted_run_ends(folders):
    from eval_runs.corpus import CorpusConfig
    from eval_runs.pipeline import load_local_model, prepare_data
    from eval_runs.run_folder import RunFolder
    from eval_runs.tokenizer import TokenizerConfig
    from eval_runs.train_loop import Trainee, TrainConfig, train_models

    # a run killed after step 5, its last checkpoint at step 4 (what the CLI's options above resolve to)
    data = prepare_data(CorpusConfig(paths=(str(folders / "corpus.txt"),), piece_bytes=2000),
                        TokenizerConfig(path=str(folders / "teacher")), folders / "ws")
    cfg = TrainConfig(n_tokens=768, batch_size=8, seq_len=16, lr=3e-3, log_every=2, checkpoint_every=4,
                      eval_tokens=512)
    killed = RunFolder(folders / "ws" / "runs" / "resumed")
    train_models([Trainee(killed, load_local_model(folders / "student"))], data.tokens, cfg,
                 device=torch.device("cpu"), teacher=load_local_model(folders / "teacher").eval(), progress=False,
                 stop_after_step=5)
    assert (killed.path / "checkpoint-4").is_dir()

    # both ranks restore the checkpoint (model and AdamW state); a rank that did not would leave the others
    # out of step and rank 0 would refuse to save
    resumed = _distill(folders, "resumed", n_processes=2)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = (killed.path / "log.txt").read_text()
    assert "resumed from checkpoint at step 4" in log and "identical on all 2 processes" in log
    assert [r["step"] for r in killed.read_metrics() if "loss" in r] == [2, 4, 6]
    _assert_same_weights(killed.path, folders / "ws" / "runs" / "single")
