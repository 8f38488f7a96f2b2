"""Overview page: what the law of capacity gap says, one figure, the headline on the active dataset (fitted
slope with its interval beside the reported ~2.5) and a quick what-if box."""
from __future__ import annotations

import streamlit as st

from app import settings
from app.active import active_data
from app.compute import capture_caveats, choose_law, example_law_refusal, laws_for, reported_law
from app.display import bounds, empty_state, interval, level, md, show_caveats, show_refusal, size
from app.guard import guarded

st.title("Capacity Gap Lab")
st.markdown(
    "**Which teacher gives the best distilled student of size S?** Zhang et al. (*Towards the Law of Capacity "
    "Gap in Distilling Language Models*, ACL 2025) found that a bigger teacher is not always better: past an "
    "optimal size the student gets worse — the *curse of capacity gap*. Across GPT-2 and Pythia students the "
    "optimal teacher grew linearly with the student, reported as **T\\* ≈ 2.498 · S − 11.498M params** "
    "(R² = 0.9957): roughly a teacher 2.5 times the student.\n\n"
    "This lab finds the optimal teacher for each student in your distillation sweeps, fits that law with "
    "honest intervals, compares it with the reported one, and answers what-if questions with real checkpoints. "
    "Start on the **Data** page (or use the bundled example), then see the **Law** and **What-if** pages.")

active = active_data()
law_reported = reported_law()
alpha = 0.05
if active.key == "example:simulated":
    why = example_law_refusal("measured")
    st.info("You are looking at the **SIMULATED** example (drawn from the reported law, not measured)."
            + (f" The app opens on it because our own measured sweep does not support a law — {md(why)} — "
               "choose *measured* under **Data** to see its curves and why." if why else ""),
            icon=":material/science:")

def _verdict(lo: float, hi: float, reported_slope: float, alpha: float, fit) -> str:
    """One sentence comparing the reported slope with the fitted interval, only where the interval says something."""
    import math

    if not (math.isfinite(lo) and math.isfinite(hi)):
        return (f"The data do not bound the slope at {level(alpha)}, so they neither support nor contradict the "
                f"reported slope ({fit.nobs:g} students).")
    verdict = "inside" if lo <= reported_slope <= hi else "outside"
    return (f"The reported slope lies {verdict} the fitted {level(alpha)} interval ({fit.nobs:g} students"
            + ("" if fit.rsquared != fit.rsquared else f", R² of the bracketed optima = {fit.rsquared:.3f}") + ").")


with guarded("show the headline"):
    from analysis.figures import law_figure

    left, right = st.columns([3, 2])
    fit = None
    if active.has_rows:
        laws, _ = laws_for(active.cache_key, form="linear", alpha=alpha)
        fitted = [r for r in laws if r.fit is not None]
        result = fitted[0] if fitted else laws[0]
        fit = result.fit
        with right:
            st.subheader("On the active data")
            st.caption(f"{md(active.label)} · {md(active.metric)} · {md(result.label)} · hash `{active.data_hash}`")
            if fit is None:
                show_refusal(result.refused)
                st.caption("So nothing here is compared with the reported law: the data cannot support a law.")
            else:
                lo, hi = fit.conf_int(alpha).loc["slope"]
                st.metric("Fitted slope k (one-stage)", f"{fit.params['slope']:.3g}",
                          f"{level(alpha)} CI {bounds(lo, hi)}", delta_color="off", delta_arrow="off")
                st.metric("Reported slope (Zhang et al.)", f"{law_reported.slope:g}", "as reported, no interval",
                          delta_color="off", delta_arrow="off")
                st.caption(_verdict(lo, hi, law_reported.slope, alpha, fit))
                if len(laws) > 1:
                    st.caption(f"One of {len(laws)} (family, token budget) groups; the Law page shows each.")
                show_caveats(result.caveats)
    else:
        with right:
            st.subheader("No data loaded")
            empty_state("The figure shows the reported law only. Load the bundled example or your own results "
                        "on the Data page to see the fitted law beside it.")
    with left:
        st.plotly_chart(law_figure(fit, None if fit is None else fit.optima, reported=law_reported, alpha=alpha),
                        width="stretch", key="overview_law")

with guarded("answer the quick what-if"):
    from analysis.sizes import parse_model_size

    st.subheader("Quick what-if")
    q = st.columns([1, 3])
    text = settings.text("Student size", key="ov_s", default="1.3B", container=q[0],
                         help="Parameters, e.g. 1.3B, 350M or 125000000.")
    try:
        student = parse_model_size(text)
    except ValueError as error:
        q[1].error(f"Student size: {md(error)}", icon=":material/error:")
    else:
        from analysis.whatif import whatif

        chosen = choose_law(active, "fit", alpha=alpha)
        if chosen.law is None:
            q[1].warning(f"No answer for a {size(student)} student: {md(chosen.refusal)}", icon=":material/block:")
        else:
            reply, caveats = capture_caveats(whatif, student, law=chosen.law, alpha=alpha, top=0)
            if reply.declined:
                q[1].warning(f"No answer for a {size(student)} student: {md(reply.reason)}", icon=":material/block:")
            else:
                row = reply.teacher_params
                answer = f"For a **{size(student)}** student the optimal teacher is about **{size(row['mean'])}**"
                if chosen.source == "fit":
                    answer += (f" ({level(alpha)} prediction interval "
                               f"{interval(row['obs_ci_lower'], row['obs_ci_upper'])})")
                q[1].markdown(answer + ".  \n" + md(chosen.description) + " More on the **What-if** page.")
                with q[1]:
                    show_caveats(caveats)
