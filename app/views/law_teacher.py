"""The Law page's second lens (Busbridge et al., *Distillation Scaling Laws*, ICML 2025): the student against the
teacher's own score, the teachers' score against their size, which rows lack a teacher score, the distillation
scaling law fitted beside the law of capacity gap, held-out students for both, and the too-strong / not-better
diagnosis of the teachers past each student's best one. `render` is called by app/views/law.py."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import settings
from app.display import empty_state, humanize, md, show_caveats, show_refusal

_SIDE_SIZES = ("student_params", "linear_teacher_params", "linear_ci_lower", "linear_ci_upper",
               "scaling_teacher_params", "scaling_params_ci_lower", "scaling_params_ci_upper")
_HELD_OUT_LABELS = {"linear_regret": "linear law: regret (nats)", "scaling_regret": "scaling law: regret (nats)",
                    "scaling_rmse": "scaling law: held-out RMSE (nats)"}


def render(active, form: str, alpha: float) -> None:
    from analysis.teacher_figures import laws_figure, student_vs_teacher_figure, teacher_size_figure
    from analysis.teacher_quality import HOW_TO_ADD
    from app.teacher_compute import comparison_for, teachers_for

    st.header("5. Is it the gap or the teacher?")
    st.markdown("Busbridge et al. (*Distillation Scaling Laws*, ICML 2025) say a student depends on its teacher only "
                "through the teacher's own loss. Here: the student against the teacher's score, the teachers' score "
                "against their size, and their law fitted beside the linear one.")
    cells, teachers, missing = teachers_for(active.cache_key)
    if len(missing):
        with st.expander(f"{len(missing)} row(s) lack the teacher's own score"):
            st.markdown(HOW_TO_ADD)
            st.dataframe(humanize(missing), hide_index=True, width="stretch")
    if teachers.empty:
        empty_state(f"No teacher has a score for {md(active.metric)}, so teacher quality cannot be shown. {HOW_TO_ADD}")
        return
    c = st.columns(2)
    c[0].plotly_chart(student_vs_teacher_figure(cells, active.metric), width="stretch", key="teacher_student")
    run = settings.flag("Fit the distillation scaling law", key="scaling", default=True,
                        help="Bootstrap over runs for the intervals; cached per dataset and settings.")
    n_boot = settings.number("Scaling-law resamples", key="scaling_boot", default=200, min_value=50,
                             max_value=2000)
    if not run:
        c[1].plotly_chart(teacher_size_figure(teachers, None, active.metric), width="stretch", key="teacher_size")
        st.caption("Off: turn it on to fit Busbridge et al.'s law and compare both laws on held-out students.")
        return
    comparisons, caveats = comparison_for(active.cache_key, form=form, alpha=alpha, n_boot=int(n_boot))
    for i, comp in enumerate(comparisons):
        if len(comparisons) > 1:
            st.subheader(md(comp.family))
        fig_col = c[1] if i == 0 else st
        fig_col.plotly_chart(teacher_size_figure(teachers[teachers["family"] == comp.family], comp.curve,
                                                 active.metric), width="stretch", key=f"teacher_size_{i}")
        st.caption(md(f"Teachers' size → loss: {comp.curve.describe()}"))
        _diagnosis(comp.diagnosis)
        if comp.fit is None:
            show_refusal(f"No distillation scaling law: {comp.refused}")
        else:
            _fit(comp, alpha, i, laws_figure)
        _held_out(comp.held_out)
        show_caveats(comp.caveats)
    show_caveats(caveats)


def _diagnosis(diagnosis: pd.DataFrame) -> None:
    if diagnosis.empty:
        return
    counts = diagnosis["verdict"].value_counts()
    st.markdown("**Steps up past a student's best teacher that made it worse**: "
                + ", ".join(f"{n} {v}" for v, n in counts.items())
                + " (too strong: a better teacher gave a worse student, the gap; not better: the bigger teacher is "
                  "no better a teacher, so teacher quality does not explain it).")
    with st.expander("Each step"):
        for sentence in diagnosis["sentence"]:
            st.markdown(f"- {md(sentence)}")


def _fit(comp, alpha: float, i: int, laws_figure) -> None:
    fit = comp.fit
    table = fit.conf_int(alpha)
    table.insert(0, "estimate", fit.params)
    table["determined by the data"] = [n not in fit.undetermined() for n in table.index]
    st.markdown(f"**Distillation scaling law** ({fit.nobs} runs, {fit.n_boot} resamples; nats/token)")
    st.code(fit.summary(), language=None)
    st.plotly_chart(laws_figure(comp.side_by_side), width="stretch", key=f"laws_side_{i}")
    with st.expander("Both laws per student (optimal teacher size; the scaling law's loss and whether distilling "
                     "beats training from scratch)"):
        st.dataframe(humanize(comp.side_by_side, _SIDE_SIZES), hide_index=True, width="stretch")


def _held_out(ho: pd.DataFrame) -> None:
    """Both laws on held-out students (means over the students both answer), with each refusal in words."""
    st.markdown("**Held-out students**: each law refitted without the student picks one of its tested teachers; "
                "the regret is that teacher's loss minus the best one's (nats/token, 0 = the best).")
    both = ho.dropna(subset=["linear_regret", "scaling_regret"])
    m = st.columns(3)
    m[0].metric("Linear law: held-out regret", "—" if both.empty else f"{both['linear_regret'].mean():.4f}")
    m[1].metric("Scaling law: held-out regret", "—" if both.empty else f"{both['scaling_regret'].mean():.4f}")
    rmse = ho["scaling_rmse"].dropna()
    m[2].metric("Scaling law: held-out RMSE", "—" if rmse.empty else f"{(rmse ** 2).mean() ** 0.5:.4f}")
    st.dataframe(humanize(ho).rename(columns=_HELD_OUT_LABELS), hide_index=True, width="stretch")
