"""The second lens behind the Law page, cached by the active data's identity and settings (see app/compute.py):
both laws side by side (analysis.law_compare) and the teachers' own scores (analysis.teacher_quality)."""
from __future__ import annotations

import streamlit as st

from app.compute import capture_caveats, rows_for


@st.cache_data(show_spinner="Fitting the distillation scaling law (bootstrap over runs)…", max_entries=32)
def comparison_for(cache_key: tuple, *, form: str, alpha: float, n_boot: int):
    """(list of analysis.law_compare.FamilyComparison, caveat sentences) of the active rows."""
    from analysis.law_compare import compare_laws

    return capture_caveats(compare_laws, rows_for(cache_key), cache_key[3], form=form, alpha=alpha, n_boot=n_boot)


@st.cache_data(max_entries=64)
def teachers_for(cache_key: tuple):
    """(student vs teacher cells, teacher table, rows lacking a teacher score) of the active rows."""
    from analysis.teacher_quality import missing_teacher_values, student_vs_teacher, teacher_table

    rows, metric = rows_for(cache_key), cache_key[3]
    return student_vs_teacher(rows, metric), teacher_table(rows, metric), missing_teacher_values(rows, metric)
