"""The Data page's loader dialogue: the column-mapping form (with the sizes the loader inferred asked back as
questions, its answer preselected) and the load report (what was kept, dropped, inferred and warned about)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import settings
from app.datasets import preview_columns
from app.display import md
from app.guard import describe_error

CONTRACT_REQUIRED = ("student_params", "teacher_params", "metric", "value")
CONTRACT_OPTIONAL = ("family", "data_tokens", "seed", "run_id", "higher_is_better")
AUTO = "(as named in the file)"
UNITS = {"": "as written (1.3B, 125M or raw counts)", "K": "thousands", "M": "millions", "B": "billions",
         "T": "trillions"}


def size_questions(report) -> dict[str, list[str]]:
    """{contract column: candidate file columns, the loader's choice first} for each size more than one column
    could give (none when the load failed before choosing)."""
    choices = getattr(report, "size_choices", None) or {}
    return {c: list(ch.candidates) for c, ch in choices.items() if ch.ambiguous}


def mapping_form(active, key: str, expanded: bool) -> None:
    """Which file column is which contract column, and the unit of bare size numbers."""
    try:
        columns, preview = preview_columns(key)
    except Exception as error:  # noqa: BLE001
        st.info(f"Column mapping is not available: {md(describe_error(error))}.", icon=":material/info:")
        return
    current = active.loader
    mapped = dict(current.column_map)
    questions = size_questions(active.report) if not active.error else {}
    inferred = {c: ch.column for c, ch in (getattr(active.report, "size_choices", None) or {}).items()}
    with st.expander("Column mapping and units", expanded=expanded or bool(questions), icon=":material/tune:"):
        st.caption("Tell the loader which column holds what when the file does not use the contract's names.")
        st.dataframe(preview, hide_index=True, width="stretch")
        with st.form("mapping"):
            answers = {}
            for contract, candidates in questions.items():
                answers[contract] = st.radio(
                    f"Which column gives {contract}? (the loader chose the first; check it)", candidates,
                    index=0, horizontal=True, key=f"ask_{contract}")
            chosen = {}
            cols = st.columns(4)
            for i, name in enumerate(CONTRACT_REQUIRED + CONTRACT_OPTIONAL):
                if name in answers:
                    continue
                options = [AUTO] + columns
                start = mapped.get(name) or inferred.get(name) or AUTO  # the loader's inference, preselected
                chosen[name] = cols[i % 4].selectbox(name + (" *" if name in CONTRACT_REQUIRED else ""), options,
                                                     index=options.index(start) if start in options else 0,
                                                     key=f"map_{name}")
            chosen.update(answers)
            unit = st.radio("Bare numbers in the size columns are", list(UNITS), format_func=UNITS.get,
                            index=list(UNITS).index(current.size_unit) if current.size_unit in UNITS else 0,
                            horizontal=True, key="map_unit",
                            help="A column whose name gives the unit (params_B, size_m) is read in that unit.")
            d = st.columns(2)
            directions = dict(current.higher_is_better)
            higher = d[0].text_input("Metrics where higher is better (comma-separated)", key="map_higher",
                                     value=", ".join(m for m, v in directions.items() if v),
                                     help="Only for metrics whose name does not say (acc, loss, ppl … do).")
            lower = d[1].text_input("Metrics where lower is better (comma-separated)", key="map_lower",
                                    value=", ".join(m for m, v in directions.items() if not v))
            if st.form_submit_button("Apply mapping", type="primary"):
                _apply(chosen, unit, higher, lower)


def _apply(chosen: dict, unit: str, higher: str, lower: str) -> None:
    pairs = [f"{c}={f}" for c, f in chosen.items() if f != AUTO]
    files_used = [f for f in chosen.values() if f != AUTO]
    if len(files_used) != len(set(files_used)):
        twice = ", ".join(sorted({f for f in files_used if files_used.count(f) > 1}))
        st.error(f"Each file column can be mapped to one contract column only; found {md(twice)} used twice.",
                 icon=":material/error:")
        return
    words = {"1": higher, "0": lower}
    hib = [f"{m.strip()}={v}" for v, text in words.items() for m in text.split(",") if m.strip()]
    settings.assign("map", pairs or ["-"])  # "-": explicitly no mapping (not the saved one)
    settings.assign("unit", unit or "-")
    settings.assign("hib", hib or ["-"])
    st.rerun()


def show_report(report) -> None:
    """Rows read/kept/dropped, what was inferred, the dropped rows with their reasons, and the loader's warnings."""
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
    if getattr(report, "inferred", None):  # one line: what was inferred from which column (override below)
        st.info("Inferred: " + md("; ".join(report.inferred)) + ". Change it in the column mapping below.",
                icon=":material/auto_fix_high:")
    for message in report.warnings:  # they quote the file's column names and cells: shown as text
        st.warning(md(message), icon=":material/warning:")
    if report.n_dropped:
        by_column = md(", ".join(f"{col}: {n:,}" for col, n in report.dropped_by_column.items()))
        st.warning(f"{report.n_dropped:,} {unit} were dropped because of bad values ({by_column}); the first "
                   f"{min(len(report.dropped), report.n_dropped):,} are listed with the reason.",
                   icon=":material/warning:")
        table = pd.DataFrame([{"row": d.row, "column": d.column, "reason": d.reason} for d in report.dropped])
        st.dataframe(table, hide_index=True, width="stretch")
