"""Law page: the curse curves with each student's optimal teacher (tied teachers, bounds), the law per (family, token
budget) with CI/PI bands, the collapse figure, the two-stage fit beside the one-stage one, whether the slope differs
across groups, the forms compared, the two-stage bootstrap on demand, the reported law as an overlay, every caveat or
refusal in words; then the second lens (views/law_teacher.py) and the next-run advisor (views/law_plan.py)."""
from __future__ import annotations

import streamlit as st

from app import settings
from app.active import active_data
from app.compute import (FORMS, FORM_LABELS, METHOD_HELP, METHOD_LABELS, METHODS, bootstrap_for, forms_table_for,
                         laws_for, one_stage_caption, optima_for, reported_law)
from app.display import (empty_state, law_metrics, level, md, optima_table, param_table, readable_forms,
                         show_caveats, show_refusal)
from app.guard import guarded
from app.paper_exports import table_downloads
from app.views.law_plan import show_plan
from app.views.law_teacher import render as show_teacher_lens

st.title("The law of capacity gap")
active = active_data()

with st.container(border=True):
    c = st.columns(4)
    form = settings.choice("Form", list(FORMS), key="form", default="linear", container=c[0],
                           format_func=FORM_LABELS.get)
    alpha = settings.choice("Interval level", [0.05, 0.1, 0.32], key="alpha", default=0.05, container=c[1],
                            format_func=lambda a: f"{level(a)} (alpha {a:g})")
    method = settings.choice("Fit", list(METHODS), key="method", default="one_stage", container=c[2],
                             format_func=METHOD_LABELS.get, help=METHOD_HELP)
    overlay = settings.flag("Reported law", key="overlay", default=True, container=c[3],
                            help="Zhang et al.'s T* ≈ 2.498·S − 11.498M, as reported (a reference line).")
reported = reported_law() if overlay else None

if not active.has_rows:
    with guarded("draw the reported law"):
        from analysis.figures import law_figure

        if active.error:
            st.error(f"The active dataset did not load: {md(active.error)}", icon=":material/error:")
        empty_state("No distillation results are loaded, so there is nothing to fit: the figure shows the law as "
                    "reported by Zhang et al. Load the bundled example or upload your results on the Data page.")
        st.plotly_chart(law_figure(None, None, reported=reported_law(), alpha=alpha), width="stretch",
                        key="law_reported_only")
        show_caveats(reported_law().caveats, title="About the reported law")
    st.stop()

st.caption(f"{md(active.label)} · metric {md(active.metric)} · {len(active.rows):,} rows · data hash `{active.data_hash}`")

# ------------------------------------------------------------------------------------------ curse curves
with guarded("find the optimal teachers"):
    from analysis.figures import curse_figure

    optima, optima_caveats = optima_for(active.cache_key, alpha)
    st.header("1. The curse of capacity gap")
    st.markdown("Each line is one student distilled from teachers of growing size. The star marks its best "
                "teacher with the interval of the optimal size: from the tested teacher below the teachers the runs "
                "cannot tell from the best to the one above them (an open side means the optimum may lie outside "
                "the tested teachers).")
    st.plotly_chart(curse_figure(active.rows, optima, active.metric), width="stretch", key="curse")
    show_caveats(optima_caveats)
    with st.expander(f"Optimal teacher per student ({len(optima)} students)"):
        shown, labels = optima_table(optima)
        st.dataframe(shown, hide_index=True, width="stretch", column_config=labels)


# ------------------------------------------------------------------------------------------ law fit
with guarded("fit the law"):
    from analysis.figures import collapse_figure, law_figure, residuals_figure

    st.header("2. The law: optimal teacher against student size")
    laws, tests = laws_for(active.cache_key, form=form, alpha=alpha, method=method)
    show_details = settings.flag("Show parameters, residuals and the fit summary", key="details", default=False)
    for i, result in enumerate(laws):
        if len(laws) > 1:
            st.subheader(md(result.label))
        if result.fit is None:
            show_refusal(result.refused)  # where the slope would be: the refusal, in words
            show_caveats(result.caveats)
            continue
        fit = result.fit
        law_metrics(fit, alpha)
        if method == "one_stage":
            st.caption(one_stage_caption(fit, form, alpha))
        st.plotly_chart(law_figure(fit, fit.optima, reported=reported, alpha=alpha), width="stretch",
                        key=f"law_{i}")
        if method == "one_stage":
            st.plotly_chart(collapse_figure(fit), width="stretch", key=f"collapse_{i}")
            st.caption("If the law holds, every student's curve, shifted by its optimum from the law, falls on the "
                       "dashed shared curve.")
        show_caveats(result.caveats)
        if show_details:
            st.markdown("**Parameters** (a bound the data do not give is a dash)")
            st.dataframe(param_table(fit, alpha), width="stretch")
            st.plotly_chart(residuals_figure(fit), width="stretch", key=f"resid_{i}")
            if hasattr(fit, "student_influence"):
                st.markdown("**Influence**: the law refitted without each student (no student should move the "
                            "slope by more than its interval's half-width)")
                st.dataframe(fit.student_influence(), hide_index=True, width="stretch")
            st.code(fit.summary(), language=None)
    for sentence in tests:
        st.info(md(sentence), icon=":material/functions:")
    table_downloads(laws, optima, alpha=alpha, key="law_tables", caption=f"{active.label}; metric {active.metric}; "
                    f"{form}, {method.replace('_', '-')}; data {active.data_hash}; Capacity Gap Lab")
    if overlay:
        show_caveats(reported_law().caveats, title="About the reported law")


# ------------------------------------------------------------------------------------------ forms
with guarded("compare the law forms"):
    st.header("3. Which form fits best?")
    forms, forms_caveats = forms_table_for(active.cache_key, alpha=alpha, method=method)
    st.caption("Lower AIC/BIC is better; a power exponent whose interval holds 1 supports the linear law.")
    if forms.empty:
        empty_state("No form could be fitted: see the refusals above.")
    else:
        st.dataframe(readable_forms(forms), hide_index=True, width="stretch")
    show_caveats(forms_caveats)

# ------------------------------------------------------------------------------------------ bootstrap
with guarded("bootstrap the pipeline"):
    st.header("4. Two-stage pipeline bootstrap (for comparison)")
    st.markdown("Resamples the runs, re-finds every optimum and refits the paper's two-stage law. On curves that "
                "are not parabolas in log teacher size its intervals miss the truth often (bench/RESULTS.md); the "
                "one-stage intervals above are the ones to quote.")
    b = st.columns([1, 1, 2])
    n_boot = settings.number("Resamples", key="nboot", default=200, min_value=50, max_value=5000, container=b[0])
    run = settings.flag("Run the bootstrap", key="boot", default=False, container=b[1])
    if run:
        for result in laws:
            if result.fit is None:
                continue
            if len(laws) > 1:
                st.subheader(md(result.label))
            try:
                boot, boot_caveats = bootstrap_for(active.cache_key, form=form, alpha=alpha, n_boot=n_boot,
                                                   family=result.family, data_tokens=result.data_tokens)
            except ValueError as error:
                show_refusal(str(error))
                continue
            st.dataframe(boot.conf_int(alpha), width="stretch")
            st.code(boot.summary(), language=None)
            show_caveats(boot_caveats)
    else:
        st.caption(f"Off. Turn it on to run {n_boot} resamples of the two-stage pipeline.")

with guarded("fit the distillation scaling law"):
    show_teacher_lens(active, form, alpha)
with guarded("plan the next runs"):
    show_plan(active, form=form, alpha=alpha)
