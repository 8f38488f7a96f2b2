"""The cost estimate's arithmetic, against numbers worked out by hand."""
from __future__ import annotations

import pytest

from eval_runs import estimate
from eval_runs.estimate import GiB, GPUType, ModelSize

TEACHER = ModelSize(params=1_000_000_000, compute_params=900_000_000, d_model=2048, n_layers=16)
STUDENT = ModelSize(params=100_000_000, compute_params=80_000_000, d_model=512, n_layers=8)


def test_training_is_six_and_a_forward_pass_two_flops_per_compute_parameter_and_token():
    assert estimate.training_flops(STUDENT, 1_000) == 6 * 80_000_000 * 1_000 == 4.8e11
    assert estimate.forward_flops(TEACHER, 1_000) == 2 * 900_000_000 * 1_000 == 1.8e12


def test_a_students_cell_counts_the_teacher_once_and_every_student_and_its_evaluations():
    # teacher forward 2*0.9e9*1e6 = 1.8e15; two students trained 2 * 6*0.08e9*1e6 = 9.6e14;
    # their evaluations 2 students * 3 evals * 2*0.08e9*1e4 = 9.6e12
    flops = estimate.students_cell_flops(TEACHER, [STUDENT, STUDENT], 1_000_000, 10_000, n_evals=3)
    assert flops == pytest.approx(1.8e15 + 9.6e14 + 9.6e12, rel=1e-12)


def test_a_teacher_cell_is_pretraining_plus_one_evaluation_and_a_given_one_only_the_evaluation():
    assert estimate.teacher_cell_flops(TEACHER, 0, 10_000) == 2 * 900_000_000 * 10_000
    assert estimate.teacher_cell_flops(TEACHER, 1_000, 10_000) == 6 * 900_000_000 * 1_000 + 2 * 900_000_000 * 10_000


def test_time_is_flops_over_peak_times_mfu():
    gpu = GPUType("test", 1e15, 80 * 10**9)
    assert estimate.seconds(3.5e17, gpu, mfu=0.35) == pytest.approx(1_000.0)  # 3.5e17 / 3.5e14
    h100 = estimate.GPU_TYPES["H100-80GB"]
    assert estimate.seconds(989e12 * 0.35 * 3600, h100) == pytest.approx(3600.0)  # one hour at the default MFU
    with pytest.raises(ValueError, match="mfu"):
        estimate.seconds(1.0, gpu, mfu=0)


def test_training_memory_adds_optimizer_states_the_teacher_its_log_probs_activations_and_the_overhead():
    got = estimate.training_memory([STUDENT, STUDENT], TEACHER, batch_size=8, seq_len=1024, vocab_size=50_000)
    states = 2 * 16 * 100_000_000  # 3.2e9: fp32 weights, grads and two AdamW moments of both students
    teacher = 4 * 1_000_000_000 + 2 * 8 * 1024 * 50_000  # 4e9 + 819.2e6
    activations = 34 * 8 * 1024 * 512 * 8  # 1,140,850,688: one student at a time (they share no graph)
    assert got == states + teacher + activations + GiB == 9_160_050_688 + GiB


def test_without_a_teacher_memory_is_the_model_being_trained_alone():
    got = estimate.training_memory([STUDENT], None, batch_size=1, seq_len=10, vocab_size=5)
    assert got == 16 * 100_000_000 + 34 * 10 * 512 * 8 + GiB


def test_evaluation_memory_is_fp32_weights_and_one_batch_of_fp32_logits():
    got = estimate.evaluation_memory(TEACHER, batch_size=8, seq_len=1024, vocab_size=50_000)
    assert got == 4_000_000_000 + 4 * 8 * 1024 * 50_000 + GiB
