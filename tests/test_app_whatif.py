"""AppTest: the What-if page: S -> T* with intervals and catalog checkpoints, T -> S, which law it uses."""
from app_harness import all_text, assert_no_traceback, open_app, simulated_csv, upload


def test_with_no_data_the_what_if_uses_the_reported_law_and_says_so(workspace):
    at = open_app(page="views/whatif.py", query={"data": "none"})
    assert_no_traceback(at)
    assert "Using the law as reported by Zhang et al." in all_text(at)
    assert "because no dataset is loaded" in all_text(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Optimal teacher for a 1.3B params student"] == "3.24B params"  # 2.498 * 1300 - 11.498 M
    checkpoints = next(d.value for d in at.dataframe if "model" in d.value.columns)
    assert len(checkpoints) > 0


def test_a_fitted_law_gives_intervals_and_a_new_student_size_updates_the_answer(workspace):
    at = upload(open_app(), "sweep.csv", simulated_csv())
    at.switch_page("views/whatif.py").run()
    assert "Using the linear law fitted on" in all_text(at)
    ci = {m.label: m.value for m in at.metric}["95% confidence interval (params)"]
    assert ci != "not available" and "B" in ci
    at.text_input(key="_w_whatif_wi_s").set_value("350M").run()
    assert_no_traceback(at)
    assert "Optimal teacher for a 350M params student" in [m.label for m in at.metric]
    assert at.query_params["wi_s"] == "350M"


def test_the_teacher_to_student_question_answers_in_params(workspace):
    at = open_app(page="views/whatif.py", query={"data": "none", "wi_t": "13B"})
    assert_no_traceback(at)
    assert "A 13B params teacher serves best a student of" in [m.label for m in at.metric]


def test_the_reported_law_can_be_chosen_even_with_data(workspace):
    at = upload(open_app(), "sweep.csv", simulated_csv())
    at.switch_page("views/whatif.py").run()
    at.radio(key="_w_whatif_wi_law").set_value("reported").run()
    assert_no_traceback(at)
    assert "Using the law as reported by Zhang et al." in all_text(at)
    assert {m.label: m.value for m in at.metric}["95% prediction interval (params)"] == "not available"


def test_a_setting_shared_by_two_pages_follows_the_user_from_one_page_to_the_other(workspace):
    at = open_app(page="views/report.py", query={"data": "none"})
    at.text_input(key="_w_report_wi_s").set_value("2.7B").run()
    at.switch_page("views/whatif.py").run()
    assert_no_traceback(at)
    assert at.text_input(key="_w_whatif_wi_s").value == "2.7B"
    assert "Optimal teacher for a 2.7B params student" in [m.label for m in at.metric]


def test_a_student_far_outside_the_fitted_ones_gets_no_number_unless_extrapolating(workspace):
    at = upload(open_app(), "sweep.csv", simulated_csv())
    at.switch_page("views/whatif.py").run()
    at.text_input(key="_w_whatif_wi_s").set_value("200B").run()
    assert_no_traceback(at)
    assert not any(m.label.startswith("Optimal teacher for a 200B") for m in at.metric)
    assert any("more than 10x outside" in w.value for w in at.warning)
    assert not [d for d in at.dataframe if "model" in d.value.columns]  # no checkpoint ranking either
    at.checkbox(key="_w_whatif_wi_x").check().run()
    assert_no_traceback(at)
    assert any(m.label.startswith("Optimal teacher for a 200B") for m in at.metric)
    assert any("EXTRAPOLATION" in w.value for w in at.warning) and at.query_params["wi_x"] == "1"


def test_on_the_measured_sweep_the_what_if_declines_and_says_what_to_run(workspace):
    at = open_app(page="views/whatif.py", query={"data": "example:measured"})  # too few bracketed students
    assert_no_traceback(at)
    assert not any(m.label.startswith("Optimal teacher for a") for m in at.metric)
    assert any("No answer for a 1.3B params student" in w.value and "add a smaller teacher" in w.value
               for w in at.warning)
