"""What-if page: student size -> optimal teacher (interval and prediction interval) and real checkpoints
for it; teacher size -> the student it serves best. Works from the reported law when no data are loaded."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import settings
from app.active import active_data
from app.compute import FORMS, FORM_LABELS, capture_caveats, catalog, choose_law
from app.display import empty_state, interval, level, md, show_caveats, show_refusal, size
from app.guard import guarded

st.title("What-if: which teacher for my student?")
active = active_data()

with st.container(border=True):
    left, mid, right, far = st.columns([2, 1, 1, 1])
    want = settings.choice("Law", ["fit", "reported"], key="wi_law", default="fit", widget="radio",
                           container=left, horizontal=True,
                           format_func=lambda v: {"fit": "fitted on the active data",
                                                  "reported": "as reported (Zhang et al.)"}[v])
    form = settings.choice("Law form", list(FORMS), key="form", default="linear", container=mid,
                           format_func=FORM_LABELS.get, disabled=want != "fit")
    alpha = settings.choice("Interval level", [0.05, 0.1, 0.32], key="alpha", default=0.05, container=right,
                            format_func=lambda a: f"{level(a)} (alpha {a:g})", disabled=want != "fit")
    extrapolate = settings.flag("Extrapolate", key="wi_x", default=False, container=far, widget="checkbox",
                                disabled=want != "fit",
                                help="Answer even where the data cannot (an interval reaching zero, a student more "
                                     "than 10x outside the fitted ones); every number is then labelled as a guess.")
chosen = choose_law(active, want, form=form, alpha=alpha)
st.caption(md(chosen.description))


@st.fragment
def student_to_teacher() -> None:
    """S -> T* (a fragment: changing the size reruns only this part, so the answer comes back at once)."""
    from analysis.sizes import parse_model_size
    from analysis.whatif import whatif

    st.subheader("Student → optimal teacher")
    text = settings.text("Student size", key="wi_s", default="1.3B",
                         help="Parameters, e.g. 1.3B, 350M, 125000000 or 7e9.")
    try:
        student = parse_model_size(text)
    except ValueError as error:
        st.error(f"Student size: {md(error)}", icon=":material/error:")
        return
    if chosen.law is None:  # the data refuse every law: no number, no ranking
        show_refusal(f"No answer for a {size(student)} student: {chosen.refusal}")
        return
    # the expected penalty comes from the observed curves, whichever law gives T*
    answer, caveats = capture_caveats(whatif, student, law=chosen.law, alpha=alpha, catalog=catalog(),
                                      results=active.rows if active.has_rows else None, metric=active.metric,
                                      extrapolate=extrapolate)
    if answer.declined:
        show_refusal(f"No answer for a {size(student)} student: {answer.reason}")
        return
    if answer.extrapolated:
        st.warning("EXTRAPOLATION, asked for: every number below is the law's guess past what the data support.",
                   icon=":material/warning:")
    t = answer.teacher_params
    cols = st.columns(3)
    cols[0].metric(f"Optimal teacher for a {size(student)} student", size(t["mean"]))
    cols[1].metric(f"{level(alpha)} confidence interval (params)", interval(t["mean_ci_lower"], t["mean_ci_upper"], ""),
                   help="Where the law's mean optimal teacher lies for this student size.")
    cols[2].metric(f"{level(alpha)} prediction interval (params)", interval(t["obs_ci_lower"], t["obs_ci_upper"], ""),
                   help="Where a new sweep's optimal teacher for this student would fall.")
    if chosen.source == "reported":
        st.caption("The reported law has no published interval, so the intervals are not available.")
    show_caveats(list(answer.caveats) + caveats, once=False)
    st.markdown(f"**Real checkpoints for a {size(student)} student**, closest to the optimum first")
    table = answer.candidates.copy()
    if table.empty:
        empty_state("No catalog checkpoint is larger than this student.")
        return
    shown = table.assign(
        params=table["params"].map(size),
        non_embedding_params=table["non_embedding_params"].map(size),
        log10_distance=table["log10_distance"].map(lambda v: "—" if v != v else f"{v:.2f} decades"),
        within_ci=table["within_ci"].map(_yes_no), within_pi=table["within_pi"].map(_yes_no),
        expected_penalty=table["expected_penalty"].map(
            lambda v: "—" if v != v else f"{v:.4g} {answer.metric or ''}".strip()))
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "rank": "rank", "model": "checkpoint", "params": "parameters", "non_embedding_params": "non-embedding",
        "log10_distance": "distance from T*", "within_ci": "in CI", "within_pi": "in PI",
        "expected_penalty": "expected penalty", "penalty_note": "penalty from"})


def _yes_no(v) -> str:
    return "—" if v is None or pd.isna(v) else ("yes" if bool(v) else "no")


@st.fragment
def teacher_to_student() -> None:
    """T -> the student this teacher serves best."""
    from analysis.sizes import parse_model_size
    from analysis.whatif import best_served_student

    st.subheader("Teacher → student it serves best")
    text = settings.text("Teacher size", key="wi_t", default="7B", help="Parameters, e.g. 7B or 6.7e9.")
    try:
        teacher = parse_model_size(text)
    except ValueError as error:
        st.error(f"Teacher size: {md(error)}", icon=":material/error:")
        return
    if chosen.law is None:
        show_refusal(f"No answer: {chosen.refusal}")
        return
    served, caveats = capture_caveats(best_served_student, teacher, chosen.law, alpha=alpha)
    cols = st.columns(3)
    cols[0].metric(f"A {size(teacher)} teacher serves best a student of", size(served["mean"]))
    cols[1].metric(f"{level(alpha)} confidence interval (params)",
                   interval(served["mean_ci_lower"], served["mean_ci_upper"], ""))
    cols[2].metric(f"{level(alpha)} prediction interval (params)",
                   interval(served["obs_ci_lower"], served["obs_ci_upper"], ""))
    show_caveats(caveats)


with guarded("answer the what-if for that student"):
    student_to_teacher()
with guarded("answer the what-if for that teacher"):
    teacher_to_student()
show_caveats(chosen.caveats, title="About the fitted law")
with guarded("ask Busbridge et al.'s law"):
    from app.views.whatif_teacher import render

    render(active, form, alpha)
