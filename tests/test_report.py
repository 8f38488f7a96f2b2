"""analysis.report: the self-contained HTML report, its provenance, and figure exports."""
import datetime as dt
import json
import re

import pandas as pd
import plotly.graph_objects as go
import pytest

from analysis import report
from analysis.report import ReportSection, build_provenance, build_report_html, stamp_figure

WHEN = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def _provenance():
    return build_provenance(datasets=[{"name": "sweep.csv", "data_hash": "0123456789abcdef", "n_rows": 144}],
                            settings={"metric": "val_loss", "form": "linear", "alpha": 0.05}, created=WHEN)


def _figure(name):
    return go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name=name))


def test_provenance_names_the_data_settings_time_and_versions():
    prov = _provenance()
    assert prov["schema_version"] == 1 and prov["created_utc"] == "2026-01-02T03:04:05Z"
    assert prov["datasets"][0]["data_hash"] == "0123456789abcdef"
    assert {"python", "capacity_gap_lab", "numpy", "pandas", "statsmodels", "plotly"} <= set(prov["versions"])


def test_the_report_inlines_plotly_once_and_carries_machine_readable_provenance():
    sections = [ReportSection("Law", "A paragraph.", figure=_figure("a")),
                ReportSection("Table", table=pd.DataFrame({"x": [1]}), notes=("a <caveat>",)),
                ReportSection("Curves", figure=_figure("b"))]
    html = build_report_html("My <report>", sections, _provenance())
    assert html.count("plotly.js v") == 1 and html.count("Plotly.newPlot") == 2
    assert "My &lt;report&gt;" in html and "a &lt;caveat&gt;" in html
    embedded = re.search(r"<script type='application/json' id='provenance'>(.*?)</script>", html, re.S).group(1)
    assert json.loads(embedded.replace("<\\/", "</")) == json.loads(json.dumps(_provenance()))


def test_a_stamped_figure_carries_the_provenance_line_and_leaves_the_original_alone():
    fig = _figure("a")
    stamped = stamp_figure(fig, _provenance())
    assert "0123456789abcdef" in stamped.layout.annotations[-1].text
    assert not fig.layout.annotations


def test_without_a_browser_image_export_says_so(monkeypatch):
    monkeypatch.setattr(report, "find_browser", lambda: None)
    with pytest.raises(report.ImageExportUnavailable, match="no Chromium"):
        report.figure_image(_figure("a"), "png")


def test_an_unknown_image_format_is_refused():
    with pytest.raises(ValueError, match="expected 'png', 'svg' or 'pdf'"):
        report.figure_image(_figure("a"), "gif")


def test_the_html_fallback_is_a_whole_interactive_page():
    html = report.figure_html(_figure("a"), _provenance())
    assert html.lower().startswith("<!doctype html>") and "plotly.js v" in html and "0123456789abcdef" in html
