"""Data page: pick a bundled example, upload files or paste a table; map columns and units when a file does not
follow the contract (what the loader inferred is asked back); see validation messages and dropped rows; filter
families, data scales and metrics; manage uploads."""
from __future__ import annotations

import streamlit as st

from app import settings
from app.active import active_data
from app.data_mapping import mapping_form, show_report
from app.data_sources import UPLOAD_TYPES, activate, example_buttons, handle_uploads, paste_box
from app.datasets import (EXAMPLE_NAMES, NONE_KEY, RESULTS_KIND, save_settings, saved_settings, stored_uploads,
                          tokens_labels)
from app.display import code, empty_state, humanize, md, size
from app.guard import guarded

st.title("Data")
st.markdown("Distillation results (one row per student run and metric: `student_params`, `teacher_params`, "
            "`metric`, `value`, optional `family`, `data_tokens`, `seed`, …) feed the Law and What-if pages; "
            "lm-eval result files feed the Benchmarks page.")


left, right = st.columns([3, 2])
with left, guarded("store the uploaded files"):
    files = st.file_uploader("Upload results (CSV, TSV, Parquet, JSON, JSONL) or lm-eval results (JSON, or a zip "
                             "of an output folder)", type=UPLOAD_TYPES, accept_multiple_files=True, key="uploader")
    handle_uploads(files)
    paste_box()
with right:
    example_buttons()

active = active_data()
st.header(f"Active dataset: {md(active.label)}")


with guarded("show the active dataset"):
    if active.key == NONE_KEY:
        empty_state("No dataset is active: the Law and What-if pages use the law as reported by Zhang et al. "
                    "Upload a results file above or use the bundled example.")
    elif active.error:
        st.error(f"The file did not load: {md(active.error)}", icon=":material/error:")
        if active.key.startswith("upload:"):
            st.markdown("Map the file's columns (and the unit of its sizes) below, then apply.")
            mapping_form(active, active.key, expanded=True)
    else:
        if active.key.startswith("upload:"):
            if active.loader != saved_settings(active.key):  # remember what made the file load
                save_settings(active.key, active.loader)
            mapping_form(active, active.key, expanded=False)
        show_report(active.report)

if active.all_rows is not None and not active.error:
    with guarded("show the filters"):
        st.subheader("Filters")
        frame = active.all_rows
        of_metric = frame[frame["metric"] == active.metric]
        c = st.columns(2)
        settings.choices("Families", sorted(of_metric["family"].astype(str).unique()), key="fam", container=c[0],
                         help="Laws are fitted per family, or pooled (Law page).")
        settings.choices("Data scales (distillation tokens)", sorted(tokens_labels(of_metric["data_tokens"]).unique()),
                         key="tok", container=c[1])
        st.caption(f"Metric: {md(active.metric)} (pick another in the sidebar). "
                   f"Higher is better: {'yes' if active.higher_is_better else 'no'}.")
    with guarded("show the rows"):
        rows = active_data().rows
        if rows is None or rows.empty:
            empty_state("No rows match these filters; widen them above.")
        else:
            n_students = rows["student_params"].nunique()
            teachers = rows.loc[rows["teacher_params"] > 0, "teacher_params"]  # 0: trained without a teacher
            st.markdown(f"**{len(rows):,} rows** · {n_students} students "
                        f"({size(rows['student_params'].min())} – {size(rows['student_params'].max())}) · "
                        f"{teachers.nunique()} teachers ({size(teachers.min())} – {size(teachers.max())})")
            st.dataframe(humanize(rows.head(500)), hide_index=True, width="stretch")
            if len(rows) > 500:
                st.caption(f"Showing the first 500 of {len(rows):,} rows.")


# ------------------------------------------------------------------------------------------ store
st.header("Stored uploads")
with guarded("list the stored uploads"):
    entries = stored_uploads()
    if not entries:
        empty_state("No uploads yet. Files you upload are kept in the workspace by content hash, so they are "
                    "here again after a restart.")
    for entry in entries:
        c = st.columns([4, 2, 2, 1])
        kind = "results" if entry.upload_kind == RESULTS_KIND else "lm-eval results"
        c[0].markdown(f"**{md(entry.label)}**  \n{code(entry.key.split(':', 1)[1])}")
        c[1].caption(f"{kind} · {entry.n_bytes:,} bytes")
        if entry.upload_kind == RESULTS_KIND and entry.key != active.key:
            if c[2].button("Make active", key=f"act_{entry.key}"):
                activate(entry.key)
                st.rerun()
        if c[3].button("Remove", key=f"rm_{entry.key}", icon=":material/delete:"):
            from eval_runs.workspace import remove_upload

            remove_upload(entry.key.split(":", 1)[1])
            if entry.key == active.key:
                activate(f"example:{EXAMPLE_NAMES[0]}")
            st.rerun()
