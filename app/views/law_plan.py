"""The Law page's "Plan the next runs" section: a budget, a cost model and a teacher ladder in; the ranked plan
(analysis.plan) out, as a table and as ghost points on the curse curves; exports (eval_runs sweep plans, CSV, the
plan JSON with its expectation); and, given a saved plan JSON, the interval before and after next to what the plan
expected."""
from __future__ import annotations

import io
import json
import zipfile

import streamlit as st

from app import settings
from app.compute import capture_caveats, optima_for, rows_for
from app.display import md, show_refusal
from app.guard import guarded


@st.cache_data(show_spinner="Planning the next runs…", max_entries=32)
def plan_for(cache_key: tuple, *, form: str, alpha: float, n_runs: int, max_cost: float | None, ladder: str,
             costs: tuple[float, float, float, float]):
    """(plans, plan JSON, caveats) of the active rows (analysis.plan.plan_runs, reusing the page's cached laws)."""
    from analysis.plan import CostModel, parse_ladder, plan_runs, plans_to_dict

    from app.compute import laws_for

    laws, _tests = laws_for(cache_key, form=form, alpha=alpha)
    sizes, names = parse_ladder(ladder) if ladder.strip() else (None, None)
    cost = CostModel(*costs)
    plans, caveats = capture_caveats(plan_runs, rows_for(cache_key), cache_key[3], form=form, alpha=alpha,
                                     n_runs=n_runs, max_cost=max_cost, ladder=sizes, ladder_names=names,
                                     cost_model=cost, laws=laws)
    return plans, plans_to_dict(plans, metric=cache_key[3], n_runs=n_runs, max_cost=max_cost,
                                data_hash=cache_key[1]), caveats


def _exports(plans, plan_json) -> bytes:
    """A zip of the sweep plans (TOML), the CSV and the plan JSON."""
    from analysis.plan import plans_to_csv, sweep_plans

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in sweep_plans(plans):
            z.writestr(name, text)
        z.writestr("plan.csv", plans_to_csv(plans))
        z.writestr("plan.json", json.dumps(plan_json, indent=2, allow_nan=False))
    return buf.getvalue()


def show_plan(active, *, form: str, alpha: float) -> None:
    """The section (called by the Law page with its settings); the plan's ghost points go on the curse curves."""
    from analysis.figures import curse_figure

    curse = curse_figure(active.rows, optima_for(active.cache_key, alpha)[0], active.metric)
    st.header("6. Plan the next runs")
    st.markdown("Which distillations would narrow the slope's interval most per unit of compute? Each candidate "
                "(another seed of a tested pair, a new teacher, a new student) is judged by how much the one-stage "
                "fit expects it to narrow the interval, over the laws the data still allow, divided by its cost.")
    c = st.columns(3)
    n_runs = settings.number("Runs to add (per group)", key="plan_runs", default=10, min_value=1, max_value=200,
                             container=c[0])
    ladder = settings.text("Teacher ladder (sizes, or catalog:Pythia)", key="plan_ladder", default="", container=c[1],
                           help="Empty: each student's grid extended by its own step.")
    max_cost = c[2].number_input("Cost limit (0 = none)", min_value=0.0, value=0.0, key="plan_max_cost",
                                 format="%g")
    k = st.columns(4)
    costs = (k[0].number_input("Cost per teacher param·token", min_value=0.0, value=1.0, key="plan_tw"),
             k[1].number_input("Cost per student param·token", min_value=0.0, value=1.0, key="plan_sw"),
             k[2].number_input("Cost per run", min_value=0.0, value=0.0, key="plan_run"),
             k[3].number_input("Cost of a new teacher", min_value=0.0, value=0.0, key="plan_pre"))
    with guarded("plan the next runs"):
        plans, plan_json, caveats = plan_for(active.cache_key, form=form, alpha=alpha, n_runs=int(n_runs),
                                             max_cost=float(max_cost) or None, ladder=ladder, costs=costs)
        for plan in plans:
            if len(plans) > 1:
                st.markdown(f"**{md(plan.label)}**")
            box = {"shrinks": st.success, "refused": st.warning}.get(plan.verdict, st.info)
            box(md(plan.message))
            if len(plan.recommendations):
                shown = plan.recommendations.drop(columns=["family", "data_tokens", "expected_value"])
                st.dataframe(shown, hide_index=True, width="stretch", key=f"plan_table_{plan.label}")
        from analysis.plan import plan_figure

        st.plotly_chart(plan_figure(curse, plans), width="stretch", key="plan_curse")
        st.download_button("Download the plan (sweep TOMLs, CSV, JSON)", _exports(plans, plan_json),
                           file_name="plan.zip", mime="application/zip", key="plan_download")
        for caveat in caveats:
            st.caption(md(caveat))
    _compare()


def _compare() -> None:
    """Closing the loop: a saved plan JSON against the data loaded now."""
    saved = st.file_uploader("After the runs: a saved plan.json, to compare the interval with what it expected",
                             type=["json"], key="plan_saved")
    if saved is None:
        return
    with guarded("compare with the saved plan"):
        from analysis.json_io import loads
        from analysis.plan import compare_with_plan

        from app.active import active_data
        from app.compute import laws_for

        try:
            plan_json = loads(saved.getvalue()[:5_000_000], source=saved.name)
            active = active_data()
            first = plan_json["groups"][0] if isinstance(plan_json, dict) and plan_json.get("groups") else {}
            laws, _ = laws_for(active.cache_key, form=str(first.get("form") or "linear"),
                               alpha=float(first.get("alpha") or 0.05))
            rows = compare_with_plan(plan_json, laws)
        except (ValueError, AttributeError, TypeError) as error:
            show_refusal(f"{saved.name}: {error}")
            return
        st.dataframe(rows, hide_index=True, width="stretch", key="plan_compare")
        for row in rows:
            if row["ci_width_now"] is not None and row["ci_width_before"] is not None:
                st.markdown(md(f"{row['family']}: the {row['parameter']} interval was {row['ci_width_before']:.3g} "
                               f"wide; the plan expected {_num(row['ci_width_expected_after'])}; it is "
                               f"{row['ci_width_now']:.3g} now ({row['runs_done']} of {row['runs_planned']} "
                               f"planned runs in)."))


def _num(value) -> str:
    return "no width" if value is None else f"{value:.3g}"
