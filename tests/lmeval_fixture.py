"""A real lm-eval run on a toy model, for the importer's tests: no network, no hub, a few seconds on CPU.

It builds, under one work folder:
  model/    a 2-layer, 32-dim GPT-2 from a transformers config, random weights, with a byte-level BPE
            tokenizer trained here by `tokenizers` (eos declared) and saved as a Hugging Face tokenizer folder
  tasks/    local lm-eval task YAMLs reading jsonl through `dataset_path: json`: two multiple-choice tasks in a
            group that aggregates `acc` (so `groups` and " - " aliases appear), one loglikelihood_rolling task
            (stderr "N/A" for its perplexities) and one generate_until task with two named filters
            (`strict-match`, `flexible-extract`, as gsm8k has)
  out/      lm-eval's own output, written by its EvaluationTracker: out/<model_name_sanitized>/results_<date>.json
            with samples_<task>_<date>.jsonl beside it
  results.pkl  the in-memory dict simple_evaluate returned (samples removed), to check the file against

Run it in a fresh process (`python tests/lmeval_fixture.py WORKDIR`): offline settings must be in the environment
before `datasets` and `huggingface_hub` are imported, and torch stays out of the test process.
Offline needs (the engine's `python -m eval_runs lmeval` needs the same): HF_HUB_OFFLINE=1 and
HF_DATASETS_OFFLINE=1, HF_HOME / HF_DATASETS_CACHE pointed at a writable folder (the json builder caches the
parsed dataset there), and TaskManager(include_path=..., include_defaults=False), which also skips indexing the
thousands of bundled task YAMLs.
"""
from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path

TASK_NAMES = ("capgap_mc", "capgap_rolling", "capgap_gen")  # what simple_evaluate is asked for
LIMIT = 6  # documents per task; the jsonl files hold 8, so n-samples has original 8, effective 6
N_DOCS = 8


def offline_env(work: Path) -> dict[str, str]:
    """Environment for the lm-eval subprocess: no hub, caches inside the work folder."""
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME=str(work / "hf_home"),
        HF_DATASETS_CACHE=str(work / "hf_home" / "datasets"),
        TOKENIZERS_PARALLELISM="false",
        TQDM_DISABLE="1",
        # HF's datasets build a progress bar per split; keep the log short
        HF_DATASETS_DISABLE_PROGRESS_BARS="1",
    )
    return env


# ---------------------------------------------------------------- data
def _documents() -> list[dict]:
    """Eight tiny multiple-choice / arithmetic documents (deterministic)."""
    docs = []
    for i in range(N_DOCS):
        a, b = i + 1, 2 * i + 3
        docs.append(
            {
                "question": f"What is {a} plus {b}?",
                "choices": [str(a + b), str(a + b + 1), str(a * b), str(b - a)],
                "answer": i % 4,
                "text": f"The sum of {a} and {b} is {a + b}. Numbers are words too, and words are numbers.",
                "target": f"#### {a + b}",
            }
        )
    return docs


def write_data(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "docs.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in _documents()), encoding="utf-8")
    return path


# ---------------------------------------------------------------- tasks
def write_tasks(folder: Path, data: Path) -> Path:
    """Local task YAMLs (lm-eval's declarative format) reading `data` through the json builder."""
    folder.mkdir(parents=True, exist_ok=True)
    data_files = f"  data_files:\n    train: {data}\n    test: {data}\n"
    common = f"dataset_path: json\ndataset_kwargs:\n{data_files}training_split: train\ntest_split: test\n"
    mc = (
        common
        + "output_type: multiple_choice\n"
        + 'doc_to_text: "Question: {{question}}\\nAnswer:"\n'
        + 'doc_to_choice: "{{choices}}"\n'
        + "doc_to_target: answer\n"
        + "metric_list:\n  - metric: acc\n  - metric: acc_norm\n"
    )
    (folder / "capgap_mc_a.yaml").write_text(
        "task: capgap_mc_a\n" + mc + "metadata:\n  version: 1.0\n", encoding="utf-8"
    )
    (folder / "capgap_mc_b.yaml").write_text(
        "task: capgap_mc_b\n" + mc + "fewshot_split: train\nnum_fewshot: 1\nmetadata:\n  version: 2\n",
        encoding="utf-8",
    )
    (folder / "capgap_mc.yaml").write_text(
        "group: capgap_mc\ntask:\n  - capgap_mc_a\n  - capgap_mc_b\n"
        "aggregate_metric_list:\n  - metric: acc\n    weight_by_size: true\nmetadata:\n  version: 3\n",
        encoding="utf-8",
    )
    (folder / "capgap_rolling.yaml").write_text(
        "task: capgap_rolling\n"
        + common
        + "output_type: loglikelihood_rolling\n"
        + 'doc_to_text: ""\n'
        + 'doc_to_target: "{{text}}"\n'
        + "metric_list:\n  - metric: word_perplexity\n  - metric: byte_perplexity\n  - metric: bits_per_byte\n"
        + "metadata:\n  version: 1.0\n",
        encoding="utf-8",
    )
    (folder / "capgap_gen.yaml").write_text(
        "task: capgap_gen\n"
        + common
        + "output_type: generate_until\n"
        + 'doc_to_text: "Question: {{question}}\\nAnswer:"\n'
        + 'doc_to_target: "{{target}}"\n'
        + "metric_list:\n  - metric: exact_match\n    aggregation: mean\n    higher_is_better: true\n"
        + "generation_kwargs:\n  until:\n    - \"Question:\"\n  do_sample: false\n  max_gen_toks: 4\n"
        + "filter_list:\n"
        + '  - name: "strict-match"\n    filter:\n      - function: "regex"\n'
        + '        regex_pattern: "#### (\\\\-?[0-9\\\\.\\\\,]+)"\n      - function: "take_first"\n'
        + '  - name: "flexible-extract"\n    filter:\n      - function: "regex"\n        group_select: -1\n'
        + '        regex_pattern: "(-?[$0-9.,]{2,})|(-?[0-9]+)"\n      - function: "take_first"\n'
        + "metadata:\n  version: 1.0\n",
        encoding="utf-8",
    )
    return folder


# ---------------------------------------------------------------- model
def build_model(folder: Path, corpus: list[str]) -> Path:
    """A 2-layer, 32-dim GPT-2 with a locally trained byte-level BPE tokenizer, saved as a HF folder."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    eos = "<|endoftext|>"
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=300, min_frequency=1, special_tokens=[eos], show_progress=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=eos, bos_token=eos, unk_token=eos)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=128,  # context in tokens: the rolling task's windows and the prompts fit
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


# ---------------------------------------------------------------- run
def run(work: Path) -> dict:
    """Build everything under `work`, run lm-eval, write its output; returns paths as a dict (also in run.json)."""
    import lm_eval
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    data = write_data(work / "data")
    tasks = write_tasks(work / "tasks", data)
    corpus = [json.dumps(d) for d in _documents()] * 4
    model_dir = build_model(work / "model", corpus)
    out = work / "out"

    tracker = EvaluationTracker(output_path=str(out))
    results = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={model_dir},dtype=float32",
        tasks=list(TASK_NAMES),
        task_manager=TaskManager(include_path=str(tasks), include_defaults=False),
        limit=LIMIT,
        device="cpu",
        batch_size=4,
        bootstrap_iters=200,  # stderr of acc is analytic; bootstrap only for what needs it, kept cheap
        log_samples=True,
        evaluation_tracker=tracker,
    )
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task_name in results["configs"]:
        tracker.save_results_samples(task_name=task_name, samples=samples[task_name])

    with open(work / "results.pkl", "wb") as fh:
        pickle.dump(results, fh)
    info = {"out": str(out), "model": str(model_dir), "tasks": str(tasks), "pickle": str(work / "results.pkl")}
    (work / "run.json").write_text(json.dumps(info), encoding="utf-8")
    return info


if __name__ == "__main__":
    run(Path(sys.argv[1]).resolve())
