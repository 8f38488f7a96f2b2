"""AppTest: the Law page: curse curves, the fit with its settings in the URL, per-family laws, the forms table, the
pipeline bootstrap on demand, caveats in words, and the reported law alone when no data are loaded."""
from app_harness import (go_to, all_text, assert_no_traceback, open_app, simulated_csv, upload,  # noqa: F401
                         workspace)


def test_the_law_page_fits_the_planted_law_and_shows_both_figures(workspace):
    at = go_to(upload(open_app(), "sweep.csv", simulated_csv()), "views/law.py")
    metrics = {m.label: m.value for m in at.metric}
    slope = float(metrics["Slope k"])
    assert 2.2 < slope < 2.8  # planted 2.498
    assert metrics["Optimal teachers fitted"] == "6 students"
    assert len(at.get("plotly_chart")) == 2  # curse curves + law
    assert "The curse of capacity gap" in all_text(at)
    at.toggle(key="_w_law_details").set_value(True).run()
    assert_no_traceback(at)
    assert len(at.get("plotly_chart")) == 3  # + residuals
    assert "Parameters" in all_text(at) and at.query_params["details"] == "1"


def test_form_alpha_and_families_are_settings_in_the_url(workspace):
    at = go_to(upload(open_app(), "two.csv", simulated_csv(families=("gpt2", "pythia"))), "views/law.py")
    at.selectbox(key="_w_law_form").set_value("power").run()
    at.selectbox(key="_w_law_alpha").set_value(0.1).run()
    at.selectbox(key="_w_law_pool").set_value("pooled").run()
    at.selectbox(key="_w_law_weights").set_value("none").run()
    assert_no_traceback(at)
    assert at.query_params["weights"] == "none" and at.query_params["pool"] == "pooled"
    assert at.query_params["form"] == "power" and at.query_params["alpha"] == "0.1"
    at.selectbox(key="_w_law_pool").set_value("per family").run()  # the default: fitted per family (DESIGN.md)
    assert at.query_params.get("pool", "per family") == "per family"
    assert [s.value for s in at.subheader if s.value.startswith("Family")] == ["Family gpt2", "Family pythia"]
    assert sum(m.label == "Exponent p (1 = linear)" for m in at.metric) == 2
    forms = [d.value for d in at.dataframe if "aic" in d.value.columns]
    assert len(forms) == 1 and set(forms[0]["family"]) == {"gpt2", "pythia"}  # forms compared per family too


def test_a_link_with_settings_reproduces_the_view(workspace):
    first = go_to(upload(open_app(), "sweep.csv", simulated_csv()), "views/law.py")
    link = {**first.query_params, "form": "proportional", "alpha": "0.32"}
    at = open_app(page="views/law.py", query=link)
    assert_no_traceback(at)
    assert at.selectbox(key="_w_law_form").value == "proportional"
    assert at.selectbox(key="_w_law_alpha").value == 0.32
    assert "Intercept b (params)" not in [m.label for m in at.metric]


def test_pooled_families_raise_a_caveat_in_words(workspace):
    at = go_to(upload(open_app(), "two.csv", simulated_csv(families=("gpt2", "pythia"))), "views/law.py")
    assert not any("pools optima from 2 families" in w.value for w in at.warning)  # per family by default
    at.selectbox(key="_w_law_pool").set_value("pooled").run()
    assert any("pools optima from 2 families" in w.value for w in at.warning)


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
