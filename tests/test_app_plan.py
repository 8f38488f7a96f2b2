"""AppTest: the Law page's "Plan the next runs" section: the ranked plan, its ghost points, the download, and the
comparison with a saved plan after the runs."""
import json

from app_harness import all_text, assert_no_traceback, go_to, open_app, simulated_csv, upload


def sweep() -> bytes:
    return simulated_csv(n_seeds=2, noise=0.015, teacher_ratios=(1.25, 2.0, 3.2, 5.0, 8.0))


def test_the_law_page_plans_the_next_runs_with_a_table_ghost_points_and_a_download(workspace):
    at = go_to(upload(open_app(), "sweep.csv", sweep()), "views/law.py")
    assert "6. Plan the next runs" in all_text(at)
    plans = [d.value for d in at.dataframe if "expected_slope_ci_width_after" in d.value.columns]
    assert len(plans) == 1 and len(plans[0]) >= 1 and plans[0]["n_seeds"].sum() <= 10
    assert any("expected to narrow" in s.value for s in at.success)
    assert len(at.get("download_button")) >= 1
    at.number_input(key="_w_law_plan_runs").set_value(3).run()
    assert_no_traceback(at)
    plans = [d.value for d in at.dataframe if "expected_slope_ci_width_after" in d.value.columns]
    assert not plans or plans[0]["n_seeds"].sum() <= 3


def test_a_saved_plan_is_compared_with_the_interval_now(workspace):
    import io

    import pandas as pd

    from analysis.plan import plan_runs, plans_to_dict

    at = go_to(upload(open_app(), "sweep.csv", sweep()), "views/law.py")
    rows = pd.read_csv(io.BytesIO(sweep()))
    saved = plans_to_dict(plan_runs(rows, "val_loss", n_runs=5), metric="val_loss", n_runs=5, max_cost=None)
    at.file_uploader(key="plan_saved").set_value(("plan.json", json.dumps(saved).encode(), "application/json")).run()
    assert_no_traceback(at)
    assert "the plan expected" in all_text(at)
    at.file_uploader(key="plan_saved").set_value(("plan.json", b'{"kind": 3}', "application/json")).run()
    assert_no_traceback(at)
    assert any("expected the JSON of a run plan" in w.value for w in at.warning)
