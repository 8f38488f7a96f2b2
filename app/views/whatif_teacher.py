"""The What-if page's second lens: for a student of size S distilled on D tokens, the best teacher loss and size by
Busbridge et al.'s distillation scaling law, beside the best teacher size by the law of capacity gap at that
budget (analysis.law_compare.whatif_teacher). `render` is called by app/views/whatif.py."""
from __future__ import annotations

import streamlit as st

from app import settings
from app.display import interval, md, show_refusal, size


def render(active, form: str, alpha: float) -> None:
    from analysis.law_compare import whatif_teacher
    from analysis.sizes import parse_model_size, parse_size
    from app.compute import laws_for
    from app.teacher_compute import comparison_for

    st.header("Which teacher loss, and which teacher size? Both laws")
    if not active.has_rows:
        st.caption("Load results with teacher scores and no-teacher baselines to ask Busbridge et al.'s law.")
        return
    c = st.columns(4)
    student_text = settings.text("Student (both laws)", key="wi_dsl_s", default="1B", container=c[0],
                                 help="Parameters, e.g. 1B or 350M: the student both laws answer for.")
    tokens_text = settings.text("Distillation tokens", key="wi_dsl_d", default="20B", container=c[1])
    n_boot = settings.number("Scaling-law resamples", key="scaling_boot", default=200, min_value=50,
                             max_value=2000, container=c[2])  # the Law page's setting: one cached fit for both
    if not settings.flag("Ask the scaling law", key="wi_dsl", default=False, container=c[3],
                         help="Fits Busbridge et al.'s law with a bootstrap (cached per dataset and settings)."):
        return
    try:
        student, tokens = parse_model_size(student_text), parse_size(tokens_text)
    except ValueError as error:
        show_refusal(str(error))
        return
    comparisons, _ = comparison_for(active.cache_key, form=form, alpha=alpha, n_boot=int(n_boot))
    laws, _ = laws_for(active.cache_key, form=form, alpha=alpha)
    for comp in comparisons:
        answer = whatif_teacher(comp, student, tokens, alpha=alpha, laws=[g for g in laws if g.family == comp.family])
        if len(comparisons) > 1:
            st.subheader(md(comp.family))
        m = st.columns(2)
        sca, lin = answer["scaling_law"], answer["linear_law"]
        if sca is None:
            show_refusal(f"Scaling law: {answer['scaling_reason']}")
        else:
            guess = " (extrapolation)" if sca["extrapolated"] else ""
            m[0].metric("Scaling law: best teacher loss" + guess, f"{sca['teacher_loss']:.3f}",
                        f"CI {sca['ci_lower']:.3f} – {sca['ci_upper']:.3f}", delta_color="off", delta_arrow="off")
            st.caption(md(f"As a size: {size(sca['teacher_params'])} "
                          f"({interval(sca['params_ci_lower'], sca['params_ci_upper'])})"
                          + (f"; {sca['size_reason']}" if sca["size_reason"] else "")
                          + f". Distilling {'beats' if sca['distillation_beats_supervised'] else 'does not beat'} "
                            f"training from scratch (predicted {sca['student_loss_at_best']:.3f} vs supervised "
                            f"{sca['supervised_loss']:.3f}, interpolated from the measured baselines)."))
        if lin is None:
            show_refusal(f"Law of capacity gap: {answer['linear_reason']}")
        else:
            m[1].metric("Law of capacity gap: best teacher size", size(lin["teacher_params"]),
                        f"CI {interval(lin['ci_lower'], lin['ci_upper'])}", delta_color="off", delta_arrow="off")
