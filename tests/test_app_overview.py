"""AppTest: the Overview page (entry point) on the bundled example, on no data, and its quick what-if box."""
from app_harness import all_text, assert_no_traceback, open_app

def test_the_app_opens_on_the_simulated_example_and_says_why_not_on_the_measured_sweep(workspace):
    at = open_app()
    assert_no_traceback(at)
    note = next(i.value for i in at.info if "SIMULATED" in i.value)
    assert "our own measured sweep does not support a law" in note and "bracketed" in note
    assert "Fitted slope k (one-stage)" in [m.label for m in at.metric]


def test_on_the_measured_sweep_the_overview_declines_instead_of_claiming_agreement(workspace):
    at = open_app(query={"data": "example:measured"})  # 2 students per budget, most optima at the smallest teacher
    assert_no_traceback(at)
    labels = [m.label for m in at.metric]
    assert "Fitted slope k (one-stage)" not in labels and "Reported slope (Zhang et al.)" not in labels
    assert any("No law" in w.value for w in at.warning)
    text = all_text(at)
    assert "lies inside" not in text and "nothing here is compared with the reported law" in text


def test_on_the_simulated_example_the_overview_shows_the_fitted_and_reported_slopes(workspace):
    at = open_app(query={"data": "example:simulated"})
    assert_no_traceback(at)
    labels = [m.label for m in at.metric]
    assert "Fitted slope k (one-stage)" in labels and "Reported slope (Zhang et al.)" in labels
    assert "The reported slope lies inside the fitted 95% interval" in all_text(at)


def test_without_data_the_overview_shows_the_reported_law_and_says_so(workspace):
    at = open_app(query={"data": "none"})
    assert_no_traceback(at)
    text = all_text(at)
    assert "No data loaded" in text
    assert "as reported by Zhang et al." in text


def test_the_quick_what_if_answers_in_params_and_refuses_a_size_it_cannot_read(workspace):
    at = open_app(query={"data": "none"})
    at.text_input(key="_w_overview_ov_s").set_value("350M").run()
    assert_no_traceback(at)
    assert "For a **350M params** student" in all_text(at)
    at.text_input(key="_w_overview_ov_s").set_value("lots").run()
    assert_no_traceback(at)
    assert any("Student size" in e.value for e in at.error)
    assert at.query_params["ov_s"] == "lots"
