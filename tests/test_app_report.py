"""AppTest: the Report page: the self-contained HTML report with provenance, the report as PDF, figure downloads
(PDF/PNG/SVG through kaleido + Chromium at a printed width; HTML when no browser exists) and the talk bundle."""
import pytest

import analysis.report
from app_harness import assert_no_traceback, go_to, open_app, simulated_csv, upload


def test_the_html_report_holds_interactive_figures_plotly_once_and_the_data_hash(workspace):
    at = go_to(upload(open_app(), "sweep.csv", simulated_csv()), "views/report.py")
    at.button(key="build_report").click().run()
    assert_no_traceback(at)
    ext, data, n_sections = at.session_state["_report_file"]
    html = data.decode("utf-8")
    data_hash = at.query_params["data"].split(":", 1)[1]
    assert n_sections == 6
    assert data_hash in html and "Provenance" in html and "statsmodels" in html
    assert html.count("Plotly.newPlot") >= 4
    assert html.count("plotly.js v") == 1  # the library is inlined once
    assert "Download the HTML report" in [b.label for b in at.get("download_button")]


def test_with_no_data_the_report_offers_the_reported_law_what_if_and_frontier(workspace):
    at = go_to(open_app(query={"data": "none"}), "views/report.py")
    assert set(at.multiselect(key="_w_report_r_items").options) == {"Law fit", "What-if", "MiniMA frontier"}
    at.button(key="build_report").click().run()
    assert_no_traceback(at)
    ext, data, n_sections = at.session_state["_report_file"]
    html = data.decode("utf-8")
    assert n_sections == 3 and "as reported" in html


def test_without_a_browser_a_figure_is_offered_as_html(workspace, monkeypatch):
    monkeypatch.setattr(analysis.report, "find_browser", lambda: None)
    at = go_to(open_app(query={"data": "none"}), "views/report.py")
    at.button(key="make_figure").click().run()
    assert_no_traceback(at)
    assert any("no Chromium/Chrome was found" in w.value and "as interactive HTML instead" in w.value
               for w in at.warning)
    assert "Download law_fit.html" in [b.label for b in at.get("download_button")]


@pytest.mark.slow
def test_a_figure_downloads_as_png_and_svg_through_chromium(workspace):
    if analysis.report.find_browser() is None:
        pytest.skip("no Chromium on this machine")
    at = go_to(open_app(query={"data": "none"}), "views/report.py")
    at.button(key="make_figure").click().run()
    assert_no_traceback(at)
    name, data, mime = at.session_state["_figure_file"]
    assert name == "law_fit.pdf" and data.startswith(b"%PDF") and mime == "application/pdf"  # PDF by default
    at.selectbox(key="_w_report_r_fmt").set_value("png").run()
    at.button(key="make_figure").click().run()
    name, data, mime = at.session_state["_figure_file"]
    assert name == "law_fit.png" and data[:8] == b"\x89PNG\r\n\x1a\n" and mime == "image/png"
    at.selectbox(key="_w_report_r_fmt").set_value("svg").run()
    at.button(key="make_figure").click().run()
    name, data, mime = at.session_state["_figure_file"]
    assert name == "law_fit.svg" and b"<svg" in data[:200] and b"Capacity Gap Lab" in data


@pytest.mark.slow
def test_the_report_downloads_as_pdf_and_the_figures_as_a_talk_bundle(workspace):
    import io
    import zipfile

    if analysis.report.find_browser() is None:
        pytest.skip("no Chromium on this machine")
    at = go_to(open_app(query={"data": "none"}), "views/report.py")
    at.radio(key="report_format").set_value("PDF").run()
    at.button(key="build_report").click().run()
    assert_no_traceback(at)
    ext, data, n_sections = at.session_state["_report_file"]
    assert ext == "pdf" and data.startswith(b"%PDF") and n_sections == 3
    assert "Download the PDF report" in [b.label for b in at.get("download_button")]
    at.button(key="make_bundle").click().run()
    assert_no_traceback(at)
    names = zipfile.ZipFile(io.BytesIO(at.session_state["_talk_bundle"])).namelist()
    assert {"law_fit.pdf", "law_fit.png", "captions.txt", "provenance.json"} <= set(names)
