"""Paired comparison of two real lm-eval runs: two tiny GPT-2s (tests/lmeval_fixture.py, different random weights)
evaluated by `python -m eval_runs lmeval` on the bundled tasks, compared by `python -m analysis compare`, and every
number checked against lm-eval's own results file and against McNemar's test computed from the raw samples files
by statsmodels. lm-eval and torch run in subprocesses (offline variables must be set before `datasets` loads)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from statsmodels.stats.contingency_tables import mcnemar

from eval_runs.lmeval.run import BUNDLED_TASKS

ROOT = Path(__file__).resolve().parents[1]
BUILD = ("import json, sys, torch; sys.path.insert(0, 'tests'); from pathlib import Path\n"
         "from lmeval_fixture import build_model\n"
         "from transformers import GPT2LMHeadModel\n"
         "text = [json.loads(l)['text'] for l in open('eval_runs/lmeval/tasks/data/capgap_pydoc_heldout.jsonl')]\n"
         "folder = build_model(Path(sys.argv[1]), text * 2)\n"
         "torch.manual_seed(int(sys.argv[2]))\n"
         "model = GPT2LMHeadModel.from_pretrained(folder)\n"
         "for p in model.parameters():\n"
         "    torch.nn.init.normal_(p, std=0.5)  # different weights per seed; large, so the choices differ\n"
         "model.save_pretrained(folder)\n")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    """<ws>/lmeval/<model a>/ and <model b>/, each with results_<date>.json and samples_<task>_<date>.jsonl."""
    base = tmp_path_factory.mktemp("paired_lmeval")
    ws = base / "ws"
    folders = []
    for seed, name in ((1, "student_a"), (2, "student_b")):
        model = base / name
        subprocess.run([sys.executable, "-c", BUILD, str(model), str(seed)], cwd=ROOT, check=True,
                       capture_output=True, timeout=300)
        run = subprocess.run([sys.executable, "-m", "eval_runs.lmeval.run", "--model", str(model), "--tasks",
                              ",".join(BUNDLED_TASKS), "--workspace", str(ws), "--batch-size", "16"], cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        results = next(line.split(": ", 1)[1] for line in run.stdout.splitlines() if line.startswith("result_path"))
        folders.append(Path(results).parent)
    return folders[0], folders[1]


def _samples(folder: Path, task: str) -> dict[int, float]:
    path = next(folder.glob(f"samples_{task}_*.jsonl"))
    return {r["doc_id"]: r["acc"] for r in map(json.loads, path.read_text().splitlines())}


@pytest.mark.slow
def test_two_real_lmeval_runs_compare_to_the_numbers_lmeval_and_statsmodels_give(two_runs):
    a, b = two_runs
    out = subprocess.run([sys.executable, "-m", "analysis", "compare", str(a), str(b), "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {(x["task"], x["metric"]) for x in data["comparisons"]} == {("capgap_pydoc_cloze", "acc"),
                                                                      ("capgap_pydoc_cloze", "acc_norm")}
    c = next(x for x in data["comparisons"] if x["metric"] == "acc")
    assert c["test"] == "mcnemar_exact"
    assert "word_perplexity on 'capgap_pydoc_heldout' is a corpus-level metric" in out.stderr

    res_a = json.loads(next(a.glob("results_*.json")).read_text())["results"]["capgap_pydoc_cloze"]
    res_b = json.loads(next(b.glob("results_*.json")).read_text())["results"]["capgap_pydoc_cloze"]
    assert c["mean_a"] == pytest.approx(res_a["acc,none"], rel=1e-12)  # lm-eval's own aggregate
    assert c["mean_b"] == pytest.approx(res_b["acc,none"], rel=1e-12)
    assert c["unpaired_se"] == pytest.approx(math.hypot(res_a["acc_stderr,none"], res_b["acc_stderr,none"]),
                                             rel=1e-9)  # lm-eval's stderrs, added in quadrature

    sa, sb = _samples(a, "capgap_pydoc_cloze"), _samples(b, "capgap_pydoc_cloze")
    assert c["n_matched"] == len(sa) == len(sb) == 107
    n10 = sum(1 for i in sa if sa[i] == 1 and sb[i] == 0)
    n01 = sum(1 for i in sa if sa[i] == 0 and sb[i] == 1)
    n11 = sum(1 for i in sa if sa[i] == 1 and sb[i] == 1)
    assert (c["discordant_a_only"], c["discordant_b_only"]) == (n10, n01)
    assert n10 + n01 > 0, "the two models should disagree somewhere for this test to mean anything"
    expected = mcnemar([[n11, n10], [n01, 107 - n11 - n10 - n01]], exact=True).pvalue
    assert c["p_value"] == pytest.approx(expected, rel=1e-10)
    assert c["diff"] == pytest.approx((n10 - n01) / 107, rel=1e-12)


@pytest.mark.slow
def test_the_real_runs_refuse_the_corpus_level_task_by_name(two_runs):
    a, b = two_runs
    out = subprocess.run([sys.executable, "-m", "analysis", "compare", str(a), str(b), "--task",
                          "capgap_pydoc_heldout"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "corpus-level" in out.stderr and "cannot be compared document by document" \
        in out.stderr
