"""AppTest: the Benchmarks page's paired comparison. lm-eval runs of the workspace (here the hand-written 0.4.13 logs
of tests/data/lmeval_samples, placed where `python -m eval_runs lmeval` writes) flow in with no upload; the page
shows the paired table beside the unpaired numbers, the forest plot, the power line and the refusals; the report
can hold the same section."""
import shutil
from pathlib import Path

from app_harness import all_text, assert_no_traceback, go_to, open_app

LOGS = Path(__file__).parent / "data" / "lmeval_samples" / "v0.4.13"


def _runs(workspace: Path) -> None:
    for name in ("org__model-a", "org__model-b"):
        shutil.copytree(LOGS / name, workspace / "lmeval" / name)


def test_workspace_runs_are_compared_document_by_document(workspace):
    _runs(workspace)
    at = open_app(page="views/benchmarks.py")
    assert_no_traceback(at)
    text = all_text(at)
    assert "Paired comparison, document by document" in text
    table = next(df.value for df in at.dataframe if "p (paired)" in df.value.columns)
    row = table.iloc[0]
    assert (row["task"], row["metric"], row["A − B"], row["A only / B only right"]) == ("arc_easy", "acc", "+0.3000",
                                                                                       "4 / 1")
    assert row["p (paired)"] == "0.375" and "unpaired CI" in table.columns
    assert any(getattr(c, "key", None) == "paired_forest" or "paired_forest" in str(c.proto.id)
               for c in at.get("plotly_chart"))
    assert "Detecting a difference of 1 point with 80% power" in text
    labels = [b.label for b in at.get("download_button")]
    assert "paired table (LaTeX)" in labels and "paired table (Markdown)" in labels
    assert "squad_f1" in text and "corpus-level: f1, exact" in text  # refused, and why


def test_without_two_logged_runs_the_section_says_what_to_do(workspace):
    at = open_app(page="views/benchmarks.py")
    assert_no_traceback(at)
    assert "Paired comparisons need per-sample logs of at least two models" in all_text(at)


def test_a_broken_samples_file_is_named_and_the_page_carries_on(workspace):
    _runs(workspace)
    broken = workspace / "lmeval" / "broken"
    broken.mkdir()
    shutil.copy(next((LOGS / "org__model-a").glob("results_*.json")), broken)
    (broken / "samples_arc_easy_2024-06-01T10-00-00.000001.jsonl").write_text('{"doc_id": 0, "acc": 1')
    at = open_app(page="views/benchmarks.py")
    assert_no_traceback(at)
    text = all_text(at)
    assert "Not usable: run: broken" in text and "truncated" in text
    assert any("p (paired)" in df.value.columns for df in at.dataframe)


def test_the_report_can_hold_the_paired_section(workspace):
    _runs(workspace)
    at = go_to(open_app(query={"data": "none"}), "views/report.py")
    assert "Paired comparison" in at.multiselect(key="_w_report_r_items").options
    at.multiselect(key="_w_report_r_items").set_value(["Paired comparison"]).run()
    at.button(key="build_report").click().run()
    assert_no_traceback(at)
    ext, data, n_sections = at.session_state["_report_file"]
    html = data.decode("utf-8")
    assert ext == "html"
    assert n_sections == 1 and "Paired comparison" in html and "McNemar exact" in html and "Plotly.newPlot" in html
