"""`sweep --dry-run`: the gpu-pythia preset's plan, jobs and estimate, offline, writing nothing; and the GPT-NeoX
path its students take (a Pythia-shaped untied checkpoint, config-built and saved as a local folder)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from eval_runs import estimate  # noqa: E402
from eval_runs.__main__ import main  # noqa: E402
from eval_runs.sweep_dry_run import PYTHIA_SHAPES, dry_run  # noqa: E402
from eval_runs.sweep_plan import PRESETS, SweepPlan  # noqa: E402

PYTHIA = PRESETS["gpu-pythia"]


@pytest.fixture
def offline(monkeypatch):
    """No hub access and no weights loaded: a dry run that tried either would fail here."""
    from eval_runs import checkpoints

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise AssertionError("a dry run loaded or downloaded a checkpoint")

    monkeypatch.setattr(checkpoints, "load_teacher", refuse)
    monkeypatch.setattr(checkpoints, "local_folder", refuse)


def test_the_pythia_shapes_count_what_the_catalog_states():
    from analysis.catalog import load_catalog
    from eval_runs.models import count_params

    catalog = load_catalog().set_index("model")
    for hub_id, shape in PYTHIA_SHAPES.items():
        counts = count_params(shape)
        assert counts.total_params == catalog.loc[hub_id, "params"], hub_id
        assert counts.total_params - 2 * shape.vocab_size * shape.d_model == catalog.loc[hub_id, "non_embedding_params"]


def test_the_preset_distils_students_from_the_pythia_ladder_160m_to_2_8b():
    assert PYTHIA.family == "gpt_neox" and not PYTHIA.teacher_params
    assert PYTHIA.teacher_paths == tuple(f"EleutherAI/pythia-{s}" for s in ("160m", "410m", "1b", "1.4b", "2.8b"))


def test_the_dry_run_prints_the_plan_the_jobs_and_the_gpu_hours_and_writes_nothing(offline, tmp_path, capsys):
    ws = tmp_path / "ws"
    assert main(["sweep", "--preset", "gpu-pythia", "--device", "cuda", "--dry-run", "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert not ws.exists()
    assert "DRY RUN" in out and "22 distillations in 15 cells" in out
    for size in ("160m", "410m", "1b", "1.4b", "2.8b"):
        assert re.search(rf"\n  teacher-T\S+-pythia-{re.escape(size)} ", out), size  # its teacher cell's job
    assert "estimated GPU-hours at 35% MFU: A100-80GB" in out and "not measured" in out


def test_the_json_report_has_every_cell_as_a_job_after_its_teacher_and_hours_from_the_flop_count(offline, tmp_path,
                                                                                                   capsys):
    assert main(["sweep", "--preset", "gpu-pythia", "--device", "cuda", "--dry-run", "--json", "--executor", "slurm",
                 "--slurm-gpus-per-node", "1", "--workspace", str(tmp_path / "ws")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["schema_version"] == 1 and report["dry_run"] and report["n_distillations"] == 22
    cells = {c["cell_id"]: c for c in report["cells"]}
    teachers = [c for c in cells.values() if c["kind"] == "teacher"]
    assert len(teachers) == 5 and all(not c["after"] for c in teachers)
    for c in cells.values():
        argv = c["job"]["argv"]
        assert argv[3:] == ["sweep-cell", "--sweep", "gpu-pythia", "--cell", c["cell_id"], "--device", "cuda",
                            "--workspace", str((tmp_path / "ws").resolve())]
        if c["kind"] == "students":
            assert cells[c["after"][0]]["kind"] == "teacher" and cells[c["after"][0]]["teacher"] == c["teacher"]
            assert c["job"]["slurm"]["dependency"] == f"afterok:<job of {c['after'][0]}>"
            assert c["job"]["slurm"]["gpus_per_node"] == 1
    # by hand: loading pythia-160m evaluates 1,048,576 tokens at 2 x (162,322,944 - 50,304 x 768) FLOP per token
    assert cells["teacher-T162M-pythia-160m"]["flops"] == 2 * (162_322_944 - 38_633_472) * 1_048_576
    # a students cell of pythia-2.8b on 100M tokens costs at least the teacher's forward passes
    big = cells["T2.78B-pythia-2.8b-D100M-s0"]
    assert big["flops"] > 2 * (2_775_208_960 - 50_304 * 2560) * 100_000_000
    assert report["total_flops"] == pytest.approx(sum(c["flops"] for c in cells.values()))
    for name, gpu in estimate.GPU_TYPES.items():
        assert report["gpu_hours"][name] == pytest.approx(report["total_flops"] / (gpu.peak_flops * 0.35) / 3600)
        assert report["gpu_hours"][name] == pytest.approx(sum(c["hours"][name] for c in cells.values()))


def test_a_hub_id_it_cannot_size_offline_is_refused_by_name(offline, tmp_path, capsys):
    code = main(["sweep", "--teacher-paths", "Qwen/Qwen2.5-0.5B", "--student-params", "100M", "--data-tokens", "1M",
                 "--dry-run", "--workspace", str(tmp_path)])
    assert code == 2 and "Qwen/Qwen2.5-0.5B" in capsys.readouterr().err


def test_json_without_dry_run_is_refused(tmp_path, capsys):
    assert main(["sweep", "--preset", "cpu-tiny", "--json", "--workspace", str(tmp_path)]) == 2
    assert "--dry-run" in capsys.readouterr().err


def _pythia_like_folder(folder: Path) -> Path:
    """A tiny checkpoint built like Pythia's config: GPT-NeoX, untied head, partial rotary, parallel residual."""
    from transformers import AutoModelForCausalLM, GPTNeoXConfig

    torch.manual_seed(0)
    config = GPTNeoXConfig(vocab_size=512, hidden_size=128, num_hidden_layers=3, num_attention_heads=4,
                           intermediate_size=512, max_position_embeddings=128, rotary_pct=0.25,
                           use_parallel_residual=True, tie_word_embeddings=False)
    AutoModelForCausalLM.from_config(config).save_pretrained(str(folder))
    return folder


def test_a_local_pythia_like_teacher_is_sized_from_its_config_as_loading_it_would(tmp_path):
    from eval_runs.checkpoints import load_teacher
    from eval_runs.models import count_model_params
    from eval_runs.sweep_cells import sweep_layout

    folder = _pythia_like_folder(tmp_path / "pythia-like")
    plan = SweepPlan(name="neox", family="gpt_neox", teacher_paths=(str(folder),), student_params=(120_000,),
                     data_tokens=(4096,), seq_len=32, batch_size=2)
    report = dry_run(plan, workspace=tmp_path / "ws")
    n = count_model_params(load_teacher(str(folder))).total_params
    assert report["teachers"][0]["params"] == n and report["teachers"][0]["shape"]["tie_embeddings"] is False
    real = sweep_layout(plan, None, tmp_path / "ws")  # the layout a real sweep builds (it loads the checkpoint)
    assert [c["cell_id"] for c in report["cells"]] == [c.cell_id for c in real.cells]


def test_a_student_pruned_from_an_untied_gpt_neox_teacher_keeps_the_family_and_the_planned_size(tmp_path):
    from eval_runs.checkpoints import load_teacher
    from eval_runs.models import count_model_params, count_params, shape_of
    from eval_runs.prune import compute_importance, plan_student_shape, prune_model

    teacher = load_teacher(str(_pythia_like_folder(tmp_path / "pythia-like")))
    t_shape = shape_of(teacher.config)
    assert t_shape.family == "gpt_neox" and not t_shape.tie_embeddings
    planned = plan_student_shape(t_shape, 120_000)  # what the dry run sizes the student as
    student = prune_model(teacher, planned, compute_importance(teacher, "magnitude", None))
    assert student.config.model_type == "gpt_neox" and type(student) is type(teacher)
    assert not student.config.tie_word_embeddings
    for key in ("rope_parameters", "use_parallel_residual"):  # Pythia's partial rotary and parallel residual
        assert student.config.to_dict()[key] == teacher.config.to_dict()[key]
    assert teacher.config.to_dict()["rope_parameters"]["partial_rotary_factor"] == 0.25
    assert count_model_params(student).total_params == count_params(planned).total_params
    ids = torch.randint(0, 512, (1, 16))
    assert torch.isfinite(student(ids).logits).all()


@pytest.mark.parametrize("name", ["cpu-tiny", "cpu-law"])
def test_a_ladder_plan_s_dry_run_has_the_cells_of_the_real_layout_and_prices_pretraining(name, tmp_path):
    from types import SimpleNamespace

    from eval_runs.sweep_cells import sweep_layout

    plan = PRESETS[name]
    report = dry_run(plan, workspace=tmp_path / "ws", device="cpu")
    data = SimpleNamespace(tokens=SimpleNamespace(vocab_size=plan.vocab_size))
    real = sweep_layout(plan, data, tmp_path / "ws")
    assert [(c["cell_id"], tuple(c["after"]), tuple(c["runs"])) for c in report["cells"]] == [
        (c.cell_id, c.after, c.runs) for c in real.cells]
    teachers = {t["label"]: t for t in report["teachers"]}
    for cell in (c for c in report["cells"] if c["kind"] == "teacher"):
        teacher = teachers[cell["teacher"]]
        shape = teacher["shape"]
        n = teacher["params"] - (0 if shape["tie_embeddings"] else shape["vocab_size"] * shape["d_model"])
        assert cell["flops"] == 6 * n * plan.teacher_tokens + 2 * n * plan.eval_tokens


def test_a_cell_too_big_for_a_gpu_is_marked_and_the_summary_says_so(offline, tmp_path):
    from dataclasses import replace

    from eval_runs.sweep_dry_run import format_dry_run

    # batch 128: the 140M student's activations alone are 34 x 128 x 1024 x 480 x 32 bytes = 68 GB
    report = dry_run(replace(PYTHIA, batch_size=128), workspace=tmp_path / "ws")
    big = next(c for c in report["cells"] if c["cell_id"] == "T2.78B-pythia-2.8b-D100M-s0")
    assert 80e9 < big["memory_bytes"] < 141e9
    assert big["fits"] == {"A100-80GB": False, "H100-80GB": False, "H200-141GB": True, "L40S-48GB": False}
    text = format_dry_run(report)
    assert "(fits: H200-141GB)" in text and "h!" in text
    text = format_dry_run(dry_run(replace(PYTHIA, batch_size=1024), workspace=tmp_path / "ws"))
    assert "fits: none of these GPU types" in text


@pytest.mark.parametrize("text", ['{"model_type": "gpt_neox", "hidden_size": ', "\xff\xfe", "{}", "[" * 100_000])
def test_a_local_teacher_with_a_broken_config_is_refused_with_a_message(text, tmp_path, capsys):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_bytes(text.encode("latin-1"))
    code = main(["sweep", "--teacher-paths", str(folder), "--student-params", "1M", "--data-tokens", "1M",
                 "--dry-run", "--workspace", str(tmp_path / "ws")])
    assert code == 2 and "teacher" in capsys.readouterr().err


def test_a_deduped_pythia_checkpoint_is_sized_as_its_twin(offline):
    from eval_runs.sweep_dry_run import teacher_shape

    assert teacher_shape("EleutherAI/pythia-1b-deduped") == teacher_shape("EleutherAI/pythia-1b")
    with pytest.raises(ValueError, match="openai-community/gpt2"):  # in the catalog, but no shape known here
        teacher_shape("openai-community/gpt2")
