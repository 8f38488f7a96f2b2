"""Model shapes, parameter counts, the size ladder and structured pruning (tiny, CPU)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from eval_runs.models import (FAMILIES, count_model_params, count_params, fits_inside, ladder_shape,  # noqa: E402
                              nested_ladder, new_model, shape_of)
from eval_runs.prune import compute_importance, plan_student_shape, prune_model  # noqa: E402

torch.set_num_threads(1)
VOCAB = 300


def _batches(n=2):
    g = torch.Generator().manual_seed(0)
    return [(torch.randint(0, VOCAB, (2, 16), generator=g), torch.randint(0, VOCAB, (2, 16), generator=g))
            for _ in range(n)]


@pytest.mark.parametrize("family", FAMILIES)
def test_closed_form_counts_equal_the_instantiated_model(family):
    shape = ladder_shape(family, 200_000, vocab_size=VOCAB, max_seq_len=32)
    counts = count_model_params(new_model(shape, 0))
    assert counts == count_params(shape)
    assert counts.non_embedding_params < counts.total_params


@pytest.mark.parametrize("target", [60_000, 300_000, 2_000_000])
def test_ladder_hits_the_target_within_five_percent(target):
    shape = ladder_shape("llama", target, vocab_size=VOCAB)
    assert count_params(shape).total_params == pytest.approx(target, rel=0.05)
    assert shape.n_layers >= 1 and shape.d_model % shape.head_dim == 0


def test_a_nested_ladder_lets_every_size_be_pruned_out_of_every_bigger_one():
    sizes = [50_000, 62_500, 100_000, 125_000, 200_000, 250_000, 500_000, 1_000_000, 2_000_000, 4_000_000]
    ladder = nested_ladder("llama", sizes, vocab_size=272, max_seq_len=128)  # the cpu-law preset's ladder
    assert sorted(ladder) == sizes
    for size, shape in ladder.items():
        assert count_params(shape).total_params == pytest.approx(size, rel=0.01)
        assert shape.head_dim == 16 and shape.d_model == shape.n_heads * 16
    for small, big in zip(sizes, sizes[1:]):
        a, b = ladder[small], ladder[big]
        assert fits_inside(a, b)
    # a student pruned out of any teacher of the ladder has exactly the ladder's shape for its size
    teacher = new_model(ladder[250_000], 0)
    student = prune_model(teacher, ladder[100_000], compute_importance(teacher, "magnitude"))
    got, want = shape_of(student.config), ladder[100_000]
    assert (got.n_layers, got.d_model, got.n_heads, got.kv_heads, got.d_ff) == \
        (want.n_layers, want.d_model, want.n_heads, want.kv_heads, want.d_ff)


def test_a_nested_ladder_that_cannot_exist_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"no nested ladder .*vocabulary 2048\) reaches 50,000 parameters; space"):
        nested_ladder("llama", [50_000, 100_000], vocab_size=2048, max_seq_len=64)  # the embedding alone is 65K


def test_an_unreachable_target_size_is_refused():
    with pytest.raises(ValueError, match="unreachable target size 1,000 parameters"):
        ladder_shape("llama", 1000, vocab_size=VOCAB)


def test_an_unknown_family_is_refused():
    with pytest.raises(ValueError, match="unknown model family 'bert'"):
        ladder_shape("bert", 100_000, vocab_size=VOCAB)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", ["magnitude", "gradient"])
def test_pruning_to_the_full_size_keeps_outputs_equal(family, method):
    shape = ladder_shape(family, 150_000, vocab_size=VOCAB, max_seq_len=32)
    teacher = new_model(shape, 0).eval()
    same = prune_model(teacher, shape, compute_importance(teacher, method, _batches())).eval()
    x = _batches(1)[0][0]
    with torch.no_grad():
        assert torch.equal(teacher(input_ids=x).logits, same(input_ids=x).logits)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("drop_layers", [0, 1])
def test_a_pruned_student_is_within_five_percent_of_its_target(family, drop_layers):
    shape = ladder_shape(family, 400_000, vocab_size=VOCAB, max_seq_len=32)
    teacher = new_model(shape, 0)
    student_shape = plan_student_shape(shape, 150_000, drop_layers=drop_layers)
    student = prune_model(teacher, student_shape, compute_importance(teacher, "gradient", _batches()))
    assert count_model_params(student).total_params == pytest.approx(150_000, rel=0.05)
    assert student.config.num_hidden_layers == shape.n_layers - drop_layers
    with torch.no_grad():
        student(input_ids=_batches(1)[0][0])


def test_a_pruned_student_keeps_the_teachers_most_important_heads_weights():
    shape = ladder_shape("llama", 400_000, vocab_size=VOCAB, max_seq_len=32)
    teacher = new_model(shape, 0)
    imp = compute_importance(teacher, "magnitude")
    student = prune_model(teacher, plan_student_shape(shape, 200_000), imp)
    kept_hidden = torch.sort(torch.argsort(imp.hidden, descending=True)[:student.config.hidden_size]).values
    assert torch.equal(student.model.embed_tokens.weight, teacher.model.embed_tokens.weight[:, kept_hidden])


def test_a_student_not_smaller_than_its_teacher_is_refused():
    shape = ladder_shape("llama", 200_000, vocab_size=VOCAB)
    with pytest.raises(ValueError, match="student not smaller than teacher"):
        plan_student_shape(shape, 250_000)


def test_an_unreachable_student_size_is_refused():
    shape = ladder_shape("llama", 200_000, vocab_size=VOCAB)
    with pytest.raises(ValueError, match="unreachable target size 5,000 parameters by pruning"):
        plan_student_shape(shape, 5_000)


def test_a_saved_student_loads_with_from_pretrained(tmp_path):
    from transformers import AutoModelForCausalLM
    shape = ladder_shape("gpt2", 200_000, vocab_size=VOCAB, max_seq_len=32)
    teacher = new_model(shape, 0)
    student = prune_model(teacher, plan_student_shape(shape, 100_000), compute_importance(teacher, "magnitude"))
    student.save_pretrained(tmp_path / "s")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "s", local_files_only=True)
    assert shape_of(again.config).d_model == student.config.n_embd
    x = _batches(1)[0][0]
    with torch.no_grad():
        torch.testing.assert_close(again(input_ids=x).logits, student.eval()(input_ids=x).logits)
