"""AppTest: the Benchmarks page: the MiniMA table and frontier, lm-eval uploads in the explorer, two models
compared, and an lm-eval file the importer cannot read."""
import json
from pathlib import Path

from app_harness import all_text, assert_no_traceback, open_app, upload
LMEVAL = Path(__file__).parent / "data" / "lmeval"


def test_the_minima_table_frontier_and_a_comparison_show_without_uploads(workspace):
    at = open_app(page="views/benchmarks.py")
    assert_no_traceback(at)
    assert len(at.get("plotly_chart")) == 2  # bars + frontier
    labels = [m.label for m in at.metric]
    assert any(label.startswith("A − B on") for label in labels)


def test_an_uploaded_lm_eval_file_joins_the_explorer(workspace):
    data = (LMEVAL / "v0.3.0_pythia-160m.json").read_bytes()
    at = upload(open_app(), "results.json", data, "application/json")
    assert_no_traceback(at)
    assert "stored as lm-eval results" in all_text(at)
    at.switch_page("views/benchmarks.py").run()
    assert_no_traceback(at)
    models = set(at.selectbox(key="_w_benchmarks_b_a").options)
    assert any("pythia-160m" in m for m in models)


def test_an_lm_eval_file_from_an_unknown_version_gives_a_clear_error(workspace):
    data = json.dumps({"results": {"arc": {"weird": "x"}}, "lm_eval_version": "9.9"}).encode()
    at = upload(open_app(), "future.json", data, "application/json")
    at.switch_page("views/benchmarks.py").run()
    assert_no_traceback(at)
    assert any("nothing could be imported" in e.value for e in at.error)


def test_two_models_compared_give_the_difference_with_its_interval(workspace):
    at = open_app(page="views/benchmarks.py")
    at.selectbox(key="_w_benchmarks_b_a").set_value("MiniMA-3B").run()
    assert_no_traceback(at)
    delta = next(m for m in at.metric if m.label.startswith("A − B on"))
    assert delta.value.startswith(("+", "-"))
    assert at.query_params["b_a"] == "MiniMA-3B"


def test_a_zipped_lm_eval_output_folder_is_imported(workspace):
    import io
    import zipfile

    folder = LMEVAL / "v0.4.2"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path in folder.rglob("*.json"):
            z.write(path, path.relative_to(folder.parent))
    at = upload(open_app(), "outputs.zip", buf.getvalue(), "application/zip")
    at.switch_page("views/benchmarks.py").run()
    assert_no_traceback(at)
    assert not at.error, [e.value for e in at.error]
    assert any("Qwen2.5-0.5B" in m for m in at.selectbox(key="_w_benchmarks_b_a").options)
