"""Teachers given as checkpoints (eval_runs.checkpoints): hub ids checked before use, refused clearly offline, local
folders of each family loaded, and students pruned from them keeping the teacher's architecture. The models are
tiny ones built from transformers configs and saved as local folders (no network anywhere)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from eval_runs.checkpoints import check_teacher_source, load_teacher  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VOCAB = 300


def tiny_config(family: str):
    from transformers import GPT2Config, GPTNeoXConfig, LlamaConfig

    if family == "gpt_neox":  # Pythia's architecture
        return GPTNeoXConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=256, max_position_embeddings=128)
    if family == "llama":
        return LlamaConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=4, intermediate_size=172, max_position_embeddings=128)
    return GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=128)


def save_tiny_model(folder: Path, family: str, *, with_tokenizer: bool = False) -> Path:
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    from eval_runs.tokenizer import EOS_TOKEN, _byte_level_tokenizer

    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(tiny_config(family)).save_pretrained(str(folder))
    if with_tokenizer:
        tok = _byte_level_tokenizer([open(textwrap.__file__, encoding="utf-8").read()], VOCAB)
        PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS_TOKEN, bos_token=EOS_TOKEN, unk_token=EOS_TOKEN,
                                pad_token=EOS_TOKEN).save_pretrained(str(folder))
    return folder


@pytest.mark.parametrize("source", ["gpt2", "EleutherAI/pythia-160m", "Qwen/Qwen2.5-0.5B", "meta-llama/Llama-3.2-1B"])
def test_well_formed_hub_ids_are_accepted_as_they_are(source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no folder of that name here
    assert check_teacher_source(source) == source


@pytest.mark.parametrize("source", ["../../etc/passwd", "/no/such/folder", "~/nothing-here-x", "owner/../x",
                                    "a/b/c", "bad id", "owner/name;rm -rf", "-rf", "owner/.hidden", "", "x\x00y",
                                    "o" * 97 + "/x"])
def test_paths_that_do_not_exist_and_odd_ids_are_refused(source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="teacher"):
        check_teacher_source(source)


def test_a_hub_id_offline_and_not_cached_is_refused_with_a_clear_message(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "eval_runs", "sweep", "--name", "hub", "--teacher-paths",
                           "EleutherAI/pythia-160m", "--student-params", "50M", "--data-tokens", "1M", "--workspace",
                           str(tmp_path / "ws")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: teacher 'EleutherAI/pythia-160m' is a Hugging Face hub id, but "
                                  "HF_HUB_OFFLINE is set and it is not in the local cache")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("method", ["magnitude", "gradient"])
@pytest.mark.parametrize("family", ["gpt_neox", "llama", "gpt2"])
def test_a_local_folder_of_each_family_loads_and_its_pruned_student_keeps_the_architecture(family, method, tmp_path):
    from eval_runs.models import shape_of
    from eval_runs.prune import compute_importance, plan_student_shape, prune_model

    folder = save_tiny_model(tmp_path / family, family)
    teacher = load_teacher(str(folder))
    assert shape_of(teacher.config).family == family
    shape = plan_student_shape(shape_of(teacher.config), 60_000)
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randint(0, VOCAB, (2, 16), generator=g), torch.randint(0, VOCAB, (2, 16), generator=g))]
    student = prune_model(teacher, shape, compute_importance(teacher, method, batches if method == "gradient" else None))
    assert student.config.model_type == teacher.config.model_type == tiny_config(family).model_type
    assert type(student) is type(teacher)


@pytest.mark.slow
def test_a_sweep_from_a_pythia_style_folder_writes_gpt_neox_students(tmp_path):
    from eval_runs.results import results_frame
    from eval_runs.sweep import SweepPlan, run_sweep

    torch.set_num_threads(1)
    folder = save_tiny_model(tmp_path / "pythia-tiny", "gpt_neox", with_tokenizer=True)
    (tmp_path / "corpus.txt").write_text(open(textwrap.__file__, encoding="utf-8").read() * 4, encoding="utf-8")
    plan = SweepPlan(name="neox", teacher_paths=(str(folder),), student_params=(60_000,), data_tokens=(2048,),
                     corpus_paths=(str(tmp_path / "corpus.txt"),), seq_len=32, batch_size=8, eval_tokens=1024,
                     importance="magnitude", random_init_baseline=False, threads=1)
    root = run_sweep(plan, workspace=tmp_path / "ws", progress=False)
    frame = results_frame(tmp_path / "ws")
    assert set(frame["family"]) == {"gpt_neox"} and len(frame) == 2
    teacher_label = frame["teacher_name"].iloc[0]
    assert teacher_label.endswith("-pythia-tiny")
    assert (root / "teachers" / teacher_label / "result.json").exists()  # the teacher cell loaded and evaluated it
    student_config = next((root / "students").glob("*/model/config.json")).read_text()
    assert '"model_type": "gpt_neox"' in student_config
