"""Where the Data page's datasets come from: uploaded files, a table pasted as text, the bundled examples. Every
one is stored in the workspace by content hash and read by the same loader (analysis.results_io)."""
from __future__ import annotations

import streamlit as st

from app import settings
from app.datasets import BENCHMARK_KIND, EXAMPLE_NAMES, NONE_KEY, save_upload
from app.display import md

UPLOAD_TYPES = ["csv", "tsv", "txt", "parquet", "json", "jsonl", "zip"]


def activate(key: str) -> None:
    """Make `key` the active dataset; it starts from its own saved mapping and no filters."""
    settings.assign("data", key)
    for k in ("map", "unit", "hib", "fam", "tok", "metric"):
        settings.assign(k, None)


def handle_uploads(files) -> None:
    """Store each new uploaded file; a results table becomes the active dataset."""
    seen = st.session_state.setdefault("_seen_upload_ids", set())
    new_results = None
    for file in files or []:
        if file.file_id in seen:
            continue
        seen.add(file.file_id)
        data = file.getvalue()
        if not data:
            st.error(f"{md(file.name)}: the file is empty (0 bytes); nothing was stored.", icon=":material/error:")
            continue
        entry = save_upload(file.name, data)
        if entry.upload_kind == BENCHMARK_KIND:
            st.success(f"{md(file.name)}: stored as lm-eval results ({len(data):,} bytes); open the Benchmarks page.",
                       icon=":material/check:")
        else:
            new_results = entry
    if new_results is not None:
        activate(new_results.key)
        st.rerun()


def paste_box() -> None:
    """A table pasted as text (copied from a PDF, a web page or a spreadsheet), stored and loaded like a file."""
    from analysis.tabular import MAX_PASTE_CHARS, pasted_table

    with st.expander("Paste a table", icon=":material/content_paste:"):
        with st.form("paste"):
            text = st.text_area("Tab- or comma-separated, the first line naming the columns (wide tables, one "
                                "column per benchmark, are melted as files are)", height=160, key="paste_text",
                                max_chars=MAX_PASTE_CHARS)
            if st.form_submit_button("Load the pasted table", icon=":material/table:"):
                try:
                    name, data = pasted_table(text)
                except ValueError as error:
                    st.error(md(error), icon=":material/error:")
                    return
                activate(save_upload(name, data).key)
                st.rerun()


def example_buttons() -> None:
    st.markdown("**Bundled examples**")
    for name in EXAMPLE_NAMES:
        if st.button(f"Use the {name} example", key=f"use_{name}", icon=":material/dataset:"):
            activate(f"example:{name}")
            st.rerun()
    if st.button("Use no data (the reported law only)", key="use_none"):
        activate(NONE_KEY)
        st.rerun()
