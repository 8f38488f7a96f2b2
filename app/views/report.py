"""Report page: choose figures and fit summaries, download a self-contained HTML report (interactive figures,
provenance: data hashes, settings, versions); download any figure as PNG or SVG (kaleido + Chromium), or as
HTML where no browser is available."""
from __future__ import annotations

import streamlit as st

from app import settings
from app.active import active_data
from app.compute import FORMS, FORM_LABELS
from app.display import empty_state, level, md, show_caveats
from app.guard import guarded
from app.report_items import available_items, build_item, figure_items, provenance

st.title("Report")
active = active_data()
available = available_items(active)
if not active.has_rows:
    empty_state("No distillation results are loaded: the report can hold the reported law, a what-if and the "
                "MiniMA frontier. Load data on the Data page for the curse curves and the fitted law.")

with st.container(border=True):
    c = st.columns([3, 1, 1, 1])
    items = settings.choices("Sections", available, key="r_items", container=c[0],
                             default=[i for i in available if i not in ("Residuals", "Optimal teachers table")])
    form = settings.choice("Law form", list(FORMS), key="form", default="linear", container=c[1],
                           format_func=FORM_LABELS.get)
    alpha = settings.choice("Interval level", [0.05, 0.1, 0.32], key="alpha", default=0.05, container=c[2],
                            format_func=level)
    student_text = settings.text("What-if student", key="wi_s", default="1.3B", container=c[3])
    title = settings.text("Title", key="r_title", default="Capacity gap report")


def _student() -> int | None:
    from analysis.sizes import parse_model_size

    try:
        return parse_model_size(student_text)
    except ValueError as error:
        st.error(f"What-if student: {md(error)}", icon=":material/error:")
        return None


student = _student()
report_settings = {"metric": active.metric, "form": form, "alpha": alpha, "pooled": True,
                   "what_if_student_params": student, "sections": list(items)}

with guarded("build the HTML report"):
    from analysis.report import build_report_html

    if not items:
        empty_state("Choose at least one section.")
    elif student is not None and st.button("Build the HTML report", type="primary", icon=":material/build:",
                                           key="build_report"):
        sections, failed = [], []
        progress = st.progress(0.0, text="Building the report…")
        for n, name in enumerate(items, start=1):
            try:
                section = build_item(name, active, form=form, alpha=alpha, student_params=student)
            except Exception as error:  # noqa: BLE001 - one failing section must not lose the others
                from app.guard import describe_error

                failed.append(f"{name}: {describe_error(error)}")
                section = None
            if section is not None:
                sections.append(section)
            progress.progress(n / len(items), text=f"Built {name}")
        progress.empty()
        html = build_report_html(title or "Capacity gap report", sections, provenance(active, report_settings))
        st.session_state["_report_html"] = (html, len(sections))
        for message in failed:
            st.error(f"Left out of the report: {md(message)}", icon=":material/error:")
    built = st.session_state.get("_report_html")
    if built:
        html, n_sections = built
        st.success(f"Report ready: {n_sections} section(s), {len(html) / 2**20:.1f} MB (plotly.js included "
                   "once, so it opens offline).", icon=":material/check:")
        st.download_button("Download the HTML report", html.encode("utf-8"), file_name="capacity_gap_report.html",
                           mime="text/html", icon=":material/download:", key="download_report")

st.header("Download one figure")
with guarded("export the figure"):
    from analysis.report import ImageExportUnavailable, figure_html, figure_image, find_browser, stamp_figure

    names = figure_items(active)
    c = st.columns([2, 1, 1])
    chosen = settings.choice("Figure", names, key="r_fig", default="Law fit", container=c[0])
    fmt = settings.choice("Format", ["png", "svg", "html"], key="r_fmt", default="png", container=c[1],
                          format_func=str.upper)
    if student is not None and c[2].button("Make the file", key="make_figure", icon=":material/image:"):
        section = build_item(chosen, active, form=form, alpha=alpha, student_params=student)
        prov = provenance(active, {**report_settings, "sections": [chosen]})
        if section is None or section.figure is None:
            st.error(f"{chosen} has no figure for the current data.", icon=":material/error:")
        else:
            show_caveats(section.notes)
            stem = chosen.lower().replace(" ", "_").replace("-", "")
            if fmt != "html" and find_browser() is None:
                st.warning("No Chromium/Chrome browser was found on the server, so PNG/SVG cannot be drawn; "
                           "here is the figure as interactive HTML instead.", icon=":material/warning:")
                fmt = "html"
            if fmt == "html":
                data, mime = figure_html(section.figure, prov).encode("utf-8"), "text/html"
            else:
                try:
                    with st.spinner(f"Drawing the {fmt.upper()} with Chromium…"):
                        data = figure_image(stamp_figure(section.figure, prov), fmt)
                    mime = "image/png" if fmt == "png" else "image/svg+xml"
                except ImageExportUnavailable as error:
                    st.warning(f"{md(error)}. Here is the figure as interactive HTML instead.", icon=":material/warning:")
                    data, mime, fmt = figure_html(section.figure, prov).encode("utf-8"), "text/html", "html"
            st.session_state["_figure_file"] = (f"{stem}.{fmt}", data, mime)
    made = st.session_state.get("_figure_file")
    if made:
        name, data, mime = made
        st.download_button(f"Download {name}", data, file_name=name, mime=mime, icon=":material/download:",
                           key="download_figure")
