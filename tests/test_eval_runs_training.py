"""Training loop, resume after a kill, run folders and the engine's clear errors (tiny, CPU)."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from eval_runs.corpus import CorpusConfig  # noqa: E402
from eval_runs.devices import resolve_device  # noqa: E402
from eval_runs.models import ladder_shape, new_model  # noqa: E402
from eval_runs.pipeline import load_local_model, prepare_data  # noqa: E402
from eval_runs.run_folder import RunFolder  # noqa: E402
from eval_runs.sweep import SweepPlan, plan_from_dict, read_plan  # noqa: E402
from eval_runs.tokenizer import TokenizerConfig  # noqa: E402
from eval_runs.train_loop import Trainee, TrainConfig, learning_rate, train_models  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    import textwrap
    ws = tmp_path_factory.mktemp("ws")
    text = open(textwrap.__file__, encoding="utf-8").read() * 3
    (ws / "corpus.txt").write_text(text, encoding="utf-8")
    return prepare_data(CorpusConfig(paths=(str(ws / "corpus.txt"),), piece_bytes=2000),
                        TokenizerConfig(vocab_size=300), ws)


def _config(**kw):
    base = dict(n_tokens=10 * 4 * 16, batch_size=4, seq_len=16, lr=3e-3, log_every=2, checkpoint_every=4,
                eval_tokens=256)
    return TrainConfig(**{**base, **kw})


def test_learning_rate_warms_up_then_decays_to_its_floor():
    cfg = TrainConfig(n_tokens=100 * 16 * 128, warmup_fraction=0.1, lr=1e-3, min_lr_ratio=0.1)
    lrs = [learning_rate(cfg, s) for s in range(cfg.n_steps)]
    assert lrs[0] == pytest.approx(1e-4) and max(lrs) == pytest.approx(1e-3)
    assert lrs[-1] == pytest.approx(1e-4, rel=0.05) and lrs[-1] < lrs[50]


def test_a_run_resumed_after_a_kill_ends_where_an_uninterrupted_run_ends(data, tmp_path):
    shape = ladder_shape("llama", 40_000, vocab_size=data.tokens.vocab_size, max_seq_len=16)
    teacher = new_model(shape, 7).eval()
    student_shape = ladder_shape("llama", 25_000, vocab_size=data.tokens.vocab_size, max_seq_len=16)
    cfg = _config()
    whole = new_model(student_shape, 1)
    train_models([Trainee(RunFolder(tmp_path / "whole"), whole)], data.tokens, cfg, device=torch.device("cpu"),
                 teacher=teacher, progress=False)
    killed = RunFolder(tmp_path / "killed")
    train_models([Trainee(killed, new_model(student_shape, 1))], data.tokens, cfg, device=torch.device("cpu"),
                 teacher=teacher, progress=False, stop_after_step=6)  # dies after step 6; checkpoint at step 4
    assert (killed.path / "checkpoint-4").is_dir()
    resumed = new_model(student_shape, 1)  # a fresh process: the model is rebuilt, then the checkpoint restores it
    train_models([Trainee(killed, resumed)], data.tokens, cfg, device=torch.device("cpu"), teacher=teacher,
                 progress=False)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    steps = [r["step"] for r in killed.read_metrics()]
    assert steps == sorted(steps) and steps == [r["step"] for r in RunFolder(tmp_path / "whole").read_metrics()]
    status = json.loads((killed.path / "status.json").read_text())
    assert status["state"] == "running" and status["step"] == cfg.n_steps and status["progress"] == 1.0


def test_a_folder_that_is_not_an_hf_model_is_refused(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"\0")
    with pytest.raises(ValueError, match="is not a Hugging Face model folder: no config.json"):
        load_local_model(tmp_path)
    with pytest.raises(ValueError, match="is not a folder"):
        load_local_model(tmp_path / "missing")


@pytest.mark.parametrize("name, message", [("cuda:7", "does not exist here"), ("meta", "not supported"),
                                           ("tpu", "unknown device"),
                                           ("banana", "unknown device")])
def test_a_device_that_does_not_exist_is_refused(name, message):
    if name.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has 8 GPUs")
    with pytest.raises(ValueError, match=message):
        resolve_device(name)


def test_a_plan_file_with_unknown_keys_is_refused(tmp_path):
    (tmp_path / "plan.toml").write_text('name = "x"\nteacher_params = ["1M"]\nstudent_params = ["250K"]\n'
                                        'data_tokens = [100000]\nlearning_rate = 0.1\n')
    with pytest.raises(ValueError, match=r"plan.toml: unknown key\(s\) 'learning_rate'"):
        read_plan(tmp_path / "plan.toml")


def test_a_plan_file_accepts_sizes_as_text(tmp_path):
    (tmp_path / "plan.toml").write_text('teacher_params = ["1.1M", 2e6]\nstudent_params = ["220K"]\n'
                                        'data_tokens = ["500K"]\nseeds = [0, 1]\n')
    plan = read_plan(tmp_path / "plan.toml")
    assert plan.teacher_params == (1_100_000, 2_000_000) and plan.student_params == (220_000,)
    assert plan.seeds == (0, 1) and plan.family == SweepPlan.__dataclass_fields__["family"].default


def test_a_plan_value_of_the_wrong_type_names_its_key():
    with pytest.raises(ValueError, match="key 'batch_size': expected a number"):
        plan_from_dict({"batch_size": "many"})


def test_a_plan_without_teachers_is_refused():
    with pytest.raises(ValueError, match="needs teacher_params"):
        plan_from_dict({"student_params": ["100K"], "data_tokens": [1000]})


def test_sweep_options_override_a_preset_field_by_field():
    from eval_runs.__main__ import build_parser, sweep_plan_from_args
    from eval_runs.sweep import preset
    args = build_parser().parse_args(["sweep", "--preset", "cpu-tiny", "--teacher-params", "200K", "1.2M",
                                      "--random-init-baseline", "false", "--name", "mine"])
    plan = sweep_plan_from_args(args)
    assert plan.teacher_params == (200_000, 1_200_000) and plan.random_init_baseline is False
    assert plan.name == "mine" and plan.student_params == preset("cpu-tiny").student_params



_ONE_STEP_AND_THE_NEXT = """
import os, resource, sys
import torch
from eval_runs.devices import keep_freed_memory
tuned = keep_freed_memory() if sys.argv[1] == "tuned" else None
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
def step():  # ten 4 MiB temporaries, written and freed, as a training step's activations are
    blocks = [torch.empty(1024 * 1024).fill_(1.0) for _ in range(10)]
    peak = rss_mb()
    del blocks
    return peak - rss_mb()
given_back = step()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
step()
print(tuned, given_back, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)
"""


def test_memory_a_step_frees_is_kept_for_the_next_step():
    import subprocess
    import sys
    from pathlib import Path

    def run(mode):
        out = subprocess.run([sys.executable, "-c", _ONE_STEP_AND_THE_NEXT, mode], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parents[1]).stdout.split()
        return out[0], float(out[1]), int(out[2])

    tuned_ok, kept_back, kept_faults = run("tuned")
    if tuned_ok != "True":
        pytest.skip("not glibc: keep_freed_memory does nothing here")
    _, default_back, default_faults = run("default")
    # glibc's default hands the 40 MiB back to the OS when the step frees it, and the next step faults all its
    # pages in again (10,240 of 4 KiB); with keep_freed_memory the process keeps them (measured: 0.0 MiB given back,
    # the next step faulting about half as many pages)
    assert default_back > 30, default_back
    assert kept_back < 5, kept_back
    assert kept_faults < default_faults, (kept_faults, default_faults)
