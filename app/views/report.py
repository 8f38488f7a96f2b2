"""Report page: choose figures and fit summaries, download a self-contained HTML report (interactive figures,
provenance: data hashes, settings, versions) or the same report as PDF; download any figure as PDF, PNG or SVG
at a printed width and font size (kaleido + Chromium), or as HTML where no browser is available; download the
chosen figures as a talk bundle (PDFs, PNGs, captions, provenance)."""
from __future__ import annotations

import streamlit as st

from analysis.paper_figures import file_stem
from app import settings
from app.active import active_data
from app.compute import FORMS, FORM_LABELS
from app.display import empty_state, level, md, show_caveats
from app.guard import describe_error, guarded
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


def build_sections(names) -> tuple[dict, list[str]]:
    """{name: ReportSection or None} for the chosen items, and what failed (one failure loses no other)."""
    sections, failed = {}, []
    progress = st.progress(0.0, text="Building…")
    for n, name in enumerate(names, start=1):
        try:
            sections[name] = build_item(name, active, form=form, alpha=alpha, student_params=student)
        except Exception as error:  # noqa: BLE001 - one failing section must not lose the others
            failed.append(f"{name}: {describe_error(error)}")
        progress.progress(n / len(names), text=f"Built {name}")
    progress.empty()
    return sections, failed


student = _student()
report_settings = {"metric": active.metric, "form": form, "alpha": alpha, "pooled": True,
                   "what_if_student_params": student, "sections": list(items)}

with guarded("build the report"):
    from analysis.report import ImageExportUnavailable, build_report_html, build_report_pdf

    as_pdf = st.radio("Report as", ["HTML", "PDF"], horizontal=True, key="report_format",
                      help="PDF: the same report with static figures, printed by Chromium.") == "PDF"
    if not items:
        empty_state("Choose at least one section.")
    elif student is not None and st.button("Build the report", type="primary", icon=":material/build:",
                                           key="build_report"):
        built_sections, failed = build_sections(items)
        sections = [section for section in built_sections.values() if section is not None]
        prov, name = provenance(active, report_settings), title or "Capacity gap report"
        try:
            data = build_report_pdf(name, sections, prov) if as_pdf else \
                build_report_html(name, sections, prov).encode("utf-8")
            st.session_state["_report_file"] = ("pdf" if as_pdf else "html", data, len(sections))
        except ImageExportUnavailable as error:
            st.error(f"The PDF could not be made: {md(error)}", icon=":material/error:")
        for message in failed:
            st.error(f"Left out of the report: {md(message)}", icon=":material/error:")
    built = st.session_state.get("_report_file")
    if built:
        ext, data, n_sections = built
        st.success(f"Report ready: {n_sections} section(s), {len(data) / 2**20:.1f} MB"
                   + (" (plotly.js included once, so it opens offline)." if ext == "html" else "."),
                   icon=":material/check:")
        st.download_button(f"Download the {ext.upper()} report", data, file_name=f"capacity_gap_report.{ext}",
                           mime="text/html" if ext == "html" else "application/pdf", icon=":material/download:",
                           key="download_report")

st.header("Figures for a paper or a talk")
with guarded("export the figure"):
    from app.paper_exports import figure_file, style_controls, talk_bundle_download

    style = style_controls("r_style")
    names = figure_items(active)
    c = st.columns([2, 1, 1])
    chosen = settings.choice("Figure", names, key="r_fig", default="Law fit", container=c[0])
    fmt = settings.choice("Format", ["pdf", "png", "svg", "html"], key="r_fmt", default="pdf", container=c[1],
                          format_func=str.upper)
    if student is not None and c[2].button("Make the file", key="make_figure", icon=":material/image:"):
        section = build_sections([chosen])[0].get(chosen)
        prov = provenance(active, {**report_settings, "sections": [chosen], "width_in": style.width_in,
                                   "font_pt": style.font_pt})
        if section is None or section.figure is None:
            st.error(f"{chosen} has no figure for the current data.", icon=":material/error:")
        else:
            show_caveats(section.notes)
            made, data, mime = figure_file(section.figure, fmt, style, prov)
            st.session_state["_figure_file"] = (f"{file_stem(chosen)}.{made}", data, mime)
    made = st.session_state.get("_figure_file")
    if made:
        name, data, mime = made
        st.download_button(f"Download {name}", data, file_name=name, mime=mime, icon=":material/download:",
                           key="download_figure")
    if student is not None and st.button("Make a talk bundle of the chosen sections' figures (PDF + PNG, "
                                         "captions)", key="make_bundle", icon=":material/slideshow:"):
        talk_bundle_download(build_sections(items)[0], style, provenance(active, report_settings))
    if st.session_state.get("_talk_bundle"):
        st.download_button("Download the talk bundle (zip)", st.session_state["_talk_bundle"],
                           file_name="capacity_gap_figures.zip", mime="application/zip", key="download_bundle",
                           icon=":material/download:")
