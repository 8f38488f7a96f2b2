"""AppTest: the Law page's second lens: the student against the teacher's own score, the teachers against their
size, Busbridge et al.'s law beside the linear one with held-out regrets, and what it says without teacher scores."""
import pytest
from app_harness import all_text, assert_no_traceback, go_to, open_app, simulated_csv, upload

FIT_SECONDS = 600  # the bootstrap and the held-out refits of both laws, on a shared 2-core machine


def distill_scaling_csv() -> bytes:
    from analysis.simulate import simulate_distill_scaling

    return simulate_distill_scaling(student_params=(7e7, 2e8, 6e8, 2e9), data_tokens=(2e9, 2e10), n_seeds=1,
                                    n_supervised=2, seed=4).to_csv(index=False).encode()


@pytest.mark.slow
def test_the_second_lens_fits_both_laws_and_compares_them_on_held_out_students(workspace):
    at = upload(open_app(query={"scaling_boot": "50"}), "dsl.csv", distill_scaling_csv())
    at.switch_page("views/law.py").run(timeout=FIT_SECONDS)
    assert_no_traceback(at)
    text = all_text(at)
    assert "Is it the gap or the teacher?" in text
    labels = {m.label: m.value for m in at.metric}
    assert labels["Linear law: held-out regret"] != "—" and labels["Scaling law: held-out regret"] != "—"
    assert float(labels["Scaling law: held-out RMSE"]) < 0.05  # planted noise 0.01 nats
    assert "Distillation scaling law" in text and "too strong" in text
    charts = [str(c.proto) for c in at.get("plotly_chart")]
    assert any("Student against the teacher" in spec for spec in charts)
    assert any("Optimal teacher by both laws" in spec for spec in charts)


def test_without_teacher_scores_the_page_says_which_rows_lack_them_and_how_to_add_them(workspace):
    at = go_to(upload(open_app(), "sweep.csv", simulated_csv()), "views/law.py")
    assert_no_traceback(at)
    text = all_text(at)
    assert "No teacher has a score" in text and "teacher_value" in text
    assert any("lack the teacher's own score" in e.label for e in at.expander)


@pytest.mark.slow
def test_the_what_if_page_answers_a_student_and_budget_from_both_laws(workspace):
    query = {"wi_dsl": "1", "wi_dsl_s": "400M", "wi_dsl_d": "20B", "scaling_boot": "50"}
    at = upload(open_app(query=query), "dsl.csv", distill_scaling_csv())
    at.switch_page("views/whatif.py").run(timeout=FIT_SECONDS)
    assert_no_traceback(at)
    labels = [m.label for m in at.metric]
    assert any(label.startswith("Scaling law: best teacher loss") for label in labels)
    assert "Law of capacity gap: best teacher size" in labels


def test_on_the_bundled_measured_sweep_the_page_shows_both_laws_held_out_or_says_why_not(workspace):
    at = open_app(query={"data": "example:measured"})
    at.switch_page("views/law.py").run(timeout=FIT_SECONDS)
    assert_no_traceback(at)
    text = all_text(at)
    labels = {m.label: m.value for m in at.metric}
    assert "Linear law: held-out regret" in labels and "Scaling law: held-out regret" in labels
    assert "Distillation scaling law" in text or "No distillation scaling law:" in text
    assert "not better" in text or "too strong" in text  # the steps past each student's best teacher, labelled
