"""AppTest: the Law page: curse curves, the fit with its settings in the URL, per-family laws, the forms table, the
pipeline bootstrap on demand, caveats in words, and the reported law alone when no data are loaded."""
from app_harness import all_text, assert_no_traceback, go_to, open_app, simulated_csv, texts, upload


def test_the_law_page_fits_the_planted_law_and_shows_the_curves_the_law_and_the_collapse(workspace):
    at = go_to(upload(open_app(), "sweep.csv", simulated_csv()), "views/law.py")
    metrics = {m.label: m for m in at.metric}
    slope = metrics["Slope k"]
    low, high = (float(v) for v in slope.delta.split("CI ")[1].split(" – "))
    assert low < 2.498 < high and low < float(slope.value) < high  # planted 2.498, one-stage by default
    assert metrics["Students"].value == "6"
    assert len(at.get("plotly_chart")) == 4  # curse curves + law + collapse + the plan's ghost points
    text = all_text(at)
    assert "The curse of capacity gap" in text and "two-stage fit on the same data" in text
    at.toggle(key="_w_law_details").set_value(True).run()
    assert_no_traceback(at)
    assert len(at.get("plotly_chart")) == 5  # + residuals
    assert "Parameters" in all_text(at) and at.query_params["details"] == "1"


def test_form_alpha_and_method_are_settings_in_the_url_and_laws_are_fitted_per_group(workspace):
    at = go_to(upload(open_app(), "two.csv", simulated_csv(families=("gpt2", "pythia"), n_seeds=3)), "views/law.py")
    at.selectbox(key="_w_law_form").set_value("power").run()
    at.selectbox(key="_w_law_alpha").set_value(0.1).run()
    at.selectbox(key="_w_law_method").set_value("two_stage").run()
    assert_no_traceback(at)
    assert at.query_params["method"] == "two_stage"
    assert at.query_params["form"] == "power" and at.query_params["alpha"] == "0.1"
    at.selectbox(key="_w_law_method").set_value("one_stage").run()
    assert [s.value for s in at.subheader] == ["gpt2", "pythia"]  # one law per (family, token budget)
    assert sum(m.label == "Exponent p (1 = linear)" for m in at.metric) == 2
    forms = [d.value for d in at.dataframe if "aic" in d.value.columns]
    assert len(forms) == 1 and set(forms[0]["group"]) == {"gpt2", "pythia"}  # forms compared per group too
    assert any("across families" in i.value for i in at.info)  # the test of equal exponents, in one sentence


def test_a_link_with_settings_reproduces_the_view(workspace):
    first = go_to(upload(open_app(), "sweep.csv", simulated_csv()), "views/law.py")
    link = {**first.query_params, "form": "proportional", "alpha": "0.32"}
    at = open_app(page="views/law.py", query=link)
    assert_no_traceback(at)
    assert at.selectbox(key="_w_law_form").value == "proportional"
    assert at.selectbox(key="_w_law_alpha").value == 0.32
    assert "Intercept b" not in [m.label for m in at.metric]


def published_csv() -> bytes:
    """Two teachers per student, as in a published table: every optimum at an edge of its grid."""
    lines = ["student_params,teacher_params,metric,value"]
    for student, teachers, values in (("125M", ("350M", "1.3B"), (3.1, 3.0)), ("350M", ("1.3B", "6.7B"), (2.8, 2.9)),
                                      ("1.3B", ("6.7B", "13B"), (2.5, 2.45)), ("2.7B", ("6.7B", "30B"), (2.3, 2.35))):
        lines += [f"{student},{t},val_loss,{v}" for t, v in zip(teachers, values)]
    return ("\n".join(lines) + "\n").encode()


def test_a_table_that_cannot_support_a_law_shows_the_refusal_where_the_slope_would_be(workspace):
    at = go_to(upload(open_app(), "published.csv", published_csv()), "views/law.py")
    assert_no_traceback(at)
    assert not any(m.label == "Slope k" for m in at.metric)
    refusal = texts(at.warning)
    assert any("No law: a linear law needs at least 3 students" in e and "cannot be told apart" in e for e in refusal)
    assert len(at.get("plotly_chart")) == 2  # the curse curves and the plan: no law figure without a law


def test_the_bootstrap_runs_only_when_asked(workspace):
    at = go_to(upload(open_app(), "sweep.csv", simulated_csv()), "views/law.py")
    assert "Off. Turn it on" in all_text(at)
    at.number_input(key="_w_law_nboot").set_value(100).run()
    at.toggle(key="_w_law_boot").set_value(True).run()
    assert_no_traceback(at)
    assert "Off. Turn it on" not in all_text(at)
    assert at.query_params["boot"] == "1" and at.query_params["nboot"] == "100"


def test_without_data_the_law_page_shows_the_reported_law_and_what_to_do(workspace):
    at = open_app(page="views/law.py", query={"data": "none"})
    assert_no_traceback(at)
    assert "nothing to fit" in all_text(at)
    assert len(at.get("plotly_chart")) == 1


def test_a_small_intercept_and_its_interval_keep_their_digits(workspace):
    # a planted intercept of -147K on small students: at one decimal in millions it would read "-0.1M, CI -0M - 0M"
    data = simulated_csv(intercept_params=-147e3, student_params=[2e6, 4e6, 8e6, 16e6, 32e6, 64e6])
    at = go_to(upload(open_app(), "small.csv", data), "views/law.py")
    intercept = {m.label: m for m in at.metric}["Intercept b"]
    text = all_text(at) + intercept.value + str(intercept.delta)
    assert "0M – 0M" not in text and "-0M" not in text and "-0.1M" not in text
    lo, hi = str(intercept.delta).split("CI ")[1].removesuffix(" params").split(" – ")
    assert lo != hi and not lo.startswith(("0", "-0")) and not hi.startswith(("0", "-0"))
    assert intercept.value.endswith(" params") and not intercept.value.startswith(("0.", "-0."))
    labels = [b.label for b in at.get("download_button")]
    assert {"law table (LaTeX)", "law table (Markdown)", "optima table (LaTeX)", "optima table (Markdown)"} <= set(labels)
