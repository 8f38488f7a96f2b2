"""Data page: pick a bundled example or upload files; map columns and units when a file does not follow the
contract; see validation messages and dropped rows; filter families, data scales and metrics; manage uploads."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import settings
from app.active import active_data
from app.datasets import (BENCHMARK_KIND, EXAMPLE_NAMES, NONE_KEY, RESULTS_KIND, preview_columns,
                          save_settings, save_upload, saved_settings, stored_uploads, tokens_labels)
from app.display import code, empty_state, humanize, md, size
from app.guard import describe_error, guarded

UPLOAD_TYPES = ["csv", "tsv", "txt", "parquet", "json", "jsonl", "zip"]
CONTRACT_REQUIRED = ("student_params", "teacher_params", "metric", "value")
CONTRACT_OPTIONAL = ("family", "data_tokens", "seed", "run_id", "higher_is_better")
AUTO = "(as named in the file)"
UNITS = {"": "as written (1.3B, 125M or raw counts)", "K": "thousands", "M": "millions", "B": "billions",
         "T": "trillions"}

st.title("Data")
st.markdown("Distillation results (one row per student run and metric: `student_params`, `teacher_params`, "
            "`metric`, `value`, optional `family`, `data_tokens`, `seed`, …) feed the Law and What-if pages; "
            "lm-eval result files feed the Benchmarks page.")


# ------------------------------------------------------------------------------------------ sources
def _activate(key: str) -> None:
    """Make `key` the active dataset; it starts from its own saved mapping and no filters."""
    settings.assign("data", key)
    for k in ("map", "unit", "hib", "fam", "tok", "metric"):
        settings.assign(k, None)


def _handle_uploads(files) -> None:
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
        _activate(new_results.key)
        st.rerun()


left, right = st.columns([3, 2])
with left, guarded("store the uploaded files"):
    files = st.file_uploader("Upload results (CSV, TSV, Parquet, JSON, JSONL) or lm-eval results (JSON, or a zip "
                             "of an output folder)", type=UPLOAD_TYPES, accept_multiple_files=True, key="uploader")
    _handle_uploads(files)
with right:
    st.markdown("**Bundled examples**")
    for name in EXAMPLE_NAMES:
        if st.button(f"Use the {name} example", key=f"use_{name}", icon=":material/dataset:"):
            _activate(f"example:{name}")
            st.rerun()
    if st.button("Use no data (the reported law only)", key="use_none"):
        _activate(NONE_KEY)
        st.rerun()

active = active_data()
st.header(f"Active dataset: {md(active.label)}")


# ------------------------------------------------------------------------------------------ mapping
def mapping_form(key: str, expanded: bool) -> None:
    """Which file column is which contract column, and the unit of bare size numbers."""
    try:
        columns, preview = preview_columns(key)
    except Exception as error:  # noqa: BLE001
        st.info(f"Column mapping is not available: {md(describe_error(error))}.", icon=":material/info:")
        return
    current = active.loader
    mapped = dict(current.column_map)
    with st.expander("Column mapping and units", expanded=expanded, icon=":material/tune:"):
        st.caption("Tell the loader which column holds what when the file does not use the contract's names.")
        st.dataframe(preview, hide_index=True, width="stretch")
        with st.form("mapping"):
            chosen = {}
            cols = st.columns(4)
            for i, name in enumerate(CONTRACT_REQUIRED + CONTRACT_OPTIONAL):
                options = [AUTO] + columns
                start = mapped.get(name, AUTO)
                chosen[name] = cols[i % 4].selectbox(name + (" *" if name in CONTRACT_REQUIRED else ""), options,
                                                     index=options.index(start) if start in options else 0,
                                                     key=f"map_{name}")
            unit = st.radio("Bare numbers in the size columns are", list(UNITS), format_func=UNITS.get,
                            index=list(UNITS).index(current.size_unit) if current.size_unit in UNITS else 0,
                            horizontal=True, key="map_unit")
            d = st.columns(2)
            directions = dict(current.higher_is_better)
            higher = d[0].text_input("Metrics where higher is better (comma-separated)", key="map_higher",
                                     value=", ".join(m for m, v in directions.items() if v),
                                     help="Only for metrics whose name does not say (acc, loss, ppl … do).")
            lower = d[1].text_input("Metrics where lower is better (comma-separated)", key="map_lower",
                                    value=", ".join(m for m, v in directions.items() if not v))
            if st.form_submit_button("Apply mapping", type="primary"):
                pairs = [f"{c}={f}" for c, f in chosen.items() if f != AUTO]
                files_used = [f for f in chosen.values() if f != AUTO]
                if len(files_used) != len(set(files_used)):
                    twice = ", ".join(sorted({f for f in files_used if files_used.count(f) > 1}))
                    st.error(f"Each file column can be mapped to one contract column only; found {md(twice)} used "
                             "twice.", icon=":material/error:")
                    return
                words = {"1": higher, "0": lower}
                hib = [f"{m.strip()}={v}" for v, text in words.items() for m in text.split(",") if m.strip()]
                settings.assign("map", pairs or ["-"])  # "-": explicitly no mapping (not the saved one)
                settings.assign("unit", unit or "-")
                settings.assign("hib", hib or ["-"])
                st.rerun()


def show_report(report) -> None:
    """Rows read/kept/dropped, the dropped rows with their reasons, and the loader's warnings."""
    unit = "records" if report.layout == "wide" else "rows"
    c = st.columns(4)
    c[0].metric("Read", f"{report.n_rows_read:,} {unit}")
    c[1].metric("Kept", f"{report.n_rows_kept:,} {unit}")
    c[2].metric("Dropped (bad values)", f"{report.n_dropped:,} {unit}")
    c[3].metric("Dropped (exact duplicates)", f"{report.n_duplicates:,} {unit}")
    st.caption(md(f"{report.source}: {report.file_format.upper()}, {report.layout} layout"
                  + (f" (metric columns {', '.join(report.metric_columns)})" if report.metric_columns else "")
                  + (f"; columns used: {', '.join(f'{k} ← {v}' for k, v in report.columns_used.items())}"
                     if report.columns_used else "")))
    for message in report.warnings:  # they quote the file's column names and cells: shown as text
        st.warning(md(message), icon=":material/warning:")
    if report.n_dropped:
        by_column = md(", ".join(f"{col}: {n:,}" for col, n in report.dropped_by_column.items()))
        st.warning(f"{report.n_dropped:,} {unit} were dropped because of bad values ({by_column}); the first "
                   f"{min(len(report.dropped), report.n_dropped):,} are listed with the reason.",
                   icon=":material/warning:")
        table = pd.DataFrame([{"row": d.row, "column": d.column, "reason": d.reason} for d in report.dropped])
        st.dataframe(table, hide_index=True, width="stretch")


with guarded("show the active dataset"):
    if active.key == NONE_KEY:
        empty_state("No dataset is active: the Law and What-if pages use the law as reported by Zhang et al. "
                    "Upload a results file above or use the bundled example.")
    elif active.error:
        st.error(f"The file did not load: {md(active.error)}", icon=":material/error:")
        if active.key.startswith("upload:"):
            st.markdown("Map the file's columns (and the unit of its sizes) below, then apply.")
            mapping_form(active.key, expanded=True)
    else:
        if active.key.startswith("upload:"):
            if active.loader != saved_settings(active.key):  # remember what made the file load
                save_settings(active.key, active.loader)
            mapping_form(active.key, expanded=False)
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
                _activate(entry.key)
                st.rerun()
        if c[3].button("Remove", key=f"rm_{entry.key}", icon=":material/delete:"):
            from eval_runs.workspace import remove_upload

            remove_upload(entry.key.split(":", 1)[1])
            if entry.key == active.key:
                _activate(f"example:{EXAMPLE_NAMES[0]}")
            st.rerun()
