"""Law page: the curse curves with the optimal teachers, the law fit with CI/PI bands (form, alpha, pooled or per
family), residuals, a table comparing forms, the pipeline bootstrap on demand, the reported law as an overlay,
and every caveat of the analysis in words."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import settings
from app.active import active_data
from app.compute import FORMS, FORM_LABELS, bootstrap_for, forms_table_for, laws_for, optima_for, reported_law
from app.display import empty_state, humanize, level, show_caveats, size
from app.guard import guarded

st.title("The law of capacity gap")
active = active_data()

with st.container(border=True):
    c = st.columns(5)
    form = settings.choice("Form", list(FORMS), key="form", default="linear", container=c[0],
                           format_func=FORM_LABELS.get)
    alpha = settings.choice("Interval level", [0.05, 0.1, 0.32], key="alpha", default=0.05, container=c[1],
                            format_func=lambda a: f"{level(a)} (alpha {a:g})")
    pooled = settings.choice("Families", ["pooled", "per family"], key="pool", default="per family", container=c[2],
                             help="One law over all families, or one law per family.") == "pooled"
    weights = settings.choice("Weights", ["auto", "ci", "none"], key="weights", default="auto", container=c[3],
                              format_func={"auto": "WLS if intervals, else OLS", "none": "equal (OLS)",
                                           "ci": "by optimum precision (WLS)"}.get,
                              help="WLS weighs each optimal teacher by 1/variance from its interval; without "
                                   "intervals (one run per teacher) the fit falls back to OLS.")
    overlay = settings.flag("Reported law", key="overlay", default=True, container=c[4],
                            help="Zhang et al.'s T* ≈ 2.498·S − 11.498M, as reported (a reference line).")
reported = reported_law() if overlay else None

if not active.has_rows:
    with guarded("draw the reported law"):
        from analysis.figures import law_figure

        if active.error:
            st.error(f"The active dataset did not load: {active.error}", icon=":material/error:")
        empty_state("No distillation results are loaded, so there is nothing to fit: the figure shows the law as "
                    "reported by Zhang et al. Load the bundled example or upload your results on the Data page.")
        st.plotly_chart(law_figure(None, None, reported=reported_law(), alpha=alpha), width="stretch",
                        key="law_reported_only")
        show_caveats(reported_law().caveats, title="About the reported law")
    st.stop()

st.caption(f"{active.label} · metric {active.metric} · {len(active.rows):,} rows · data hash `{active.data_hash}`")

# ------------------------------------------------------------------------------------------ curse curves
with guarded("find the optimal teachers"):
    from analysis.figures import curse_figure

    optima, optima_caveats = optima_for(active.cache_key, alpha)
    st.header("1. The curse of capacity gap")
    st.markdown("Each line is one student distilled from teachers of growing size. Past the best teacher "
                "(marked, with its interval), a larger teacher makes the student worse.")
    st.plotly_chart(curse_figure(active.rows, optima, active.metric), width="stretch", key="curse")
    show_caveats(optima_caveats)
    with st.expander(f"Optimal teacher per student ({len(optima)} students)"):
        cols = [c for c in ("family", "data_tokens", "student_params", "teacher_params", "ci_lower", "ci_upper",
                            "method", "n_teachers", "n_runs", "at_grid_edge", "convex", "note") if c in optima]
        st.dataframe(humanize(optima[cols]), hide_index=True, width="stretch")

# ------------------------------------------------------------------------------------------ law fit
with guarded("fit the law"):
    from analysis.figures import law_figure, residuals_figure

    st.header("2. The law: optimal teacher against student size")
    laws, _ = laws_for(active.cache_key, form=form, alpha=alpha, pooled=pooled, weights=weights)
    show_details = settings.flag("Show parameters, residuals and the fit summary", key="details", default=False)
    for i, result in enumerate(laws):
        if len(laws) > 1:
            st.subheader(f"Family {result.group}")
        if result.fit is None:
            st.error(f"No law for {result.group}: {result.error}", icon=":material/error:")
            continue
        fit = result.fit
        ci = fit.conf_int(alpha)
        m = st.columns(4)
        if "slope" in fit.params:
            m[0].metric("Slope k", f"{fit.params['slope']:.3g}",
                        f"{level(alpha)} CI {ci.loc['slope', 'lower']:.3g} – {ci.loc['slope', 'upper']:.3g}",
                        delta_color="off", delta_arrow="off", help="Optimal-teacher params per student param.")
        if "exponent" in fit.params:
            m[0].metric("Exponent p (1 = linear)", f"{fit.params['exponent']:.3g}",
                        f"{level(alpha)} CI {ci.loc['exponent', 'lower']:.3g} – {ci.loc['exponent', 'upper']:.3g}",
                        delta_color="off", delta_arrow="off")
        if "intercept_params" in fit.params:
            m[1].metric("Intercept b (params)", f"{fit.params['intercept_params'] / 1e6:,.1f}M",
                        f"{level(alpha)} CI {ci.loc['intercept_params', 'lower'] / 1e6:,.0f}M – "
                        f"{ci.loc['intercept_params', 'upper'] / 1e6:,.0f}M", delta_color="off", delta_arrow="off")
        m[2].metric("R²", f"{fit.rsquared:.4f}")
        m[3].metric("Optimal teachers fitted", f"{fit.nobs:g} students")
        st.plotly_chart(law_figure(fit, fit.optima, reported=reported, alpha=alpha), width="stretch",
                        key=f"law_{i}")
        show_caveats(result.caveats)
        table = ci.rename(columns={"lower": f"{level(alpha)} CI lower", "upper": f"{level(alpha)} CI upper"})
        table.insert(0, "estimate", fit.params)
        if show_details:
            st.markdown("**Parameters** (sizes in raw params)")
            st.dataframe(table, width="stretch")
            st.plotly_chart(residuals_figure(fit), width="stretch", key=f"resid_{i}")
            st.code(fit.summary(), language=None)
    if overlay:
        show_caveats(reported_law().caveats, title="About the reported law")

# ------------------------------------------------------------------------------------------ forms
def _readable_forms(forms: pd.DataFrame) -> pd.DataFrame:
    """compare_forms' table with units: intercepts in millions of params, statistics rounded, blanks for n/a."""
    out = forms.copy()
    for col in out.columns:
        if col.startswith("intercept_params"):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v / 1e6:,.1f}M params")
        elif col in ("r2",):
            out[col] = out[col].map(lambda v: f"{v:.4f}")
        elif col != "form" and pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    return out



with guarded("compare the law forms"):
    st.header("3. Which form fits best?")
    forms, forms_caveats = forms_table_for(active.cache_key, alpha=alpha, pooled=pooled, weights=weights)
    st.caption("Lower AIC/BIC is better; a power exponent whose interval holds 1 supports the linear law.")
    st.dataframe(_readable_forms(forms), hide_index=True, width="stretch")
    show_caveats(forms_caveats)

# ------------------------------------------------------------------------------------------ bootstrap
with guarded("bootstrap the pipeline"):
    st.header("4. Pipeline bootstrap")
    st.markdown("Resamples the runs, re-finds every optimum and refits the law: the honest interval when the "
                "optima themselves are uncertain.")
    b = st.columns([1, 1, 2])
    n_boot = settings.number("Resamples", key="nboot", default=200, min_value=50, max_value=5000, container=b[0])
    run = settings.flag("Run the bootstrap", key="boot", default=False, container=b[1])
    if run:
        families = [None] if pooled else sorted(active.rows["family"].astype(str).unique()) or [None]
        for family in families:
            if family is not None and len(families) > 1:
                st.subheader(f"Family {family}")
            boot, boot_caveats = bootstrap_for(active.cache_key, form=form, alpha=alpha, n_boot=n_boot,
                                               family=family)
            st.dataframe(boot.conf_int(alpha), width="stretch")
            st.code(boot.summary(), language=None)
            show_caveats(boot_caveats)
    else:
        st.caption(f"Off. Turn it on to run {n_boot} resamples of the whole pipeline.")
