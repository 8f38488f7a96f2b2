"""Paper-ready downloads in the app: a figure as PDF/PNG/SVG at a printed width and font size (or HTML), a talk
bundle (the chosen figures as PDFs and PNGs with their captions and provenance), the report as PDF, and the law's
and the optima's tables as LaTeX (booktabs) and Markdown. The work is analysis.paper_figures /
analysis.paper_tables / analysis.report; this module draws the controls and the download buttons."""
from __future__ import annotations

import streamlit as st

from app.display import md

LAYOUT_LABELS = {"one-column": "one column of a paper (3.5 in)", "two-column": "full width of a two-column paper "
                 "(7 in)", "talk": "a slide (10 in)"}


def style_controls(key: str, default: str = "one-column"):
    """Layout preset, width (inches) and font size (points) -> analysis.paper_figures.FigureStyle."""
    from analysis.paper_figures import LAYOUTS, FigureStyle

    c = st.columns(3)
    layout = c[0].selectbox("Sized for", list(LAYOUTS), index=list(LAYOUTS).index(default),
                            format_func=LAYOUT_LABELS.get, key=f"{key}_layout")
    width, font = LAYOUTS[layout]
    width = c[1].number_input("Width (inches)", 1.0, 20.0, float(width), 0.25, key=f"{key}_width_{layout}")
    font = c[2].number_input("Font size (pt)", 5.0, 40.0, float(font), 0.5, key=f"{key}_font_{layout}")
    return FigureStyle(width_in=float(width), font_pt=float(font))


def figure_file(figure, fmt: str, style, provenance: dict) -> tuple[str, bytes, str]:
    """(format actually made, bytes, mime type): PDF/PNG/SVG in the paper style with the provenance footnote, or
    interactive HTML (asked for, or when no browser can draw the image: said on screen)."""
    from analysis.paper_figures import figure_file as styled_file
    from analysis.report import ImageExportUnavailable, figure_html, stamp_figure

    if fmt != "html":
        try:
            with st.spinner(f"Drawing the {fmt.upper()} with Chromium…"):
                data = styled_file(stamp_figure(figure, provenance), fmt, style)
            return fmt, data, {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}[fmt]
        except ImageExportUnavailable as error:
            st.warning(f"{md(error)}. Here is the figure as interactive HTML instead.", icon=":material/warning:")
    return "html", figure_html(figure, provenance).encode("utf-8"), "text/html"


def talk_bundle_download(sections: dict, style, provenance: dict) -> None:
    """A zip of the chosen figures ({name: ReportSection}) as PDF + PNG with captions.txt and provenance.json."""
    from analysis.paper_figures import BundleItem, talk_bundle
    from analysis.report import ImageExportUnavailable

    items = [BundleItem(name, s.figure, " ".join(filter(None, [s.title + ".", s.text] + list(s.notes))))
             for name, s in sections.items() if s is not None and s.figure is not None]
    if not items:
        st.error("None of the chosen sections has a figure for the current data.", icon=":material/error:")
        return
    try:
        with st.spinner(f"Drawing {len(items)} figure(s) as PDF and PNG…"):
            data = talk_bundle(items, provenance, style)
    except ImageExportUnavailable as error:
        st.error(f"The talk bundle needs Chromium to draw the figures: {md(error)}", icon=":material/error:")
        return
    st.session_state["_talk_bundle"] = data


def table_downloads(laws, optima, *, alpha: float, caption: str, key: str) -> None:
    """LaTeX (booktabs) and Markdown of the law per group and of the optimal teachers, as downloads."""
    from analysis.paper_tables import law_table, optima_table

    tables = {"law": law_table(laws, alpha=alpha)}
    if optima is not None and len(optima):
        tables["optima"] = optima_table(optima, alpha=alpha)
    paper_table_downloads(tables, caption=caption, key=key)


def paper_table_downloads(tables: dict, *, caption: str, key: str) -> None:
    """Each (frame, columns) of `tables` as a LaTeX (booktabs) and a Markdown download, named by its key."""
    from analysis.paper_tables import render_table

    c = st.columns(2 * len(tables))
    for i, (name, (frame, columns)) in enumerate(tables.items()):
        for j, (fmt, ext, mime) in enumerate((("latex", "tex", "application/x-tex"),
                                               ("markdown", "md", "text/markdown"))):
            text = render_table(frame, columns, fmt, caption=caption)
            c[2 * i + j].download_button(f"{name} table ({'LaTeX' if fmt == 'latex' else 'Markdown'})",
                                         text.encode("utf-8"), file_name=f"{name}_table.{ext}", mime=mime,
                                         icon=":material/table:", key=f"{key}_{name}_{fmt}")
