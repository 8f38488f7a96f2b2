"""AppTest: every page opens cleanly (no error, no traceback) on the bundled example and with no data at all."""
import pytest

from app_harness import all_text, assert_no_traceback, open_app
PAGES = ["views/overview.py", "views/data.py", "views/law.py", "views/whatif.py", "views/benchmarks.py",
         "views/report.py", "views/runs.py"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_works_on_the_bundled_example(workspace, page):
    at = open_app(page=page)
    assert_no_traceback(at)
    assert not at.error, [e.value for e in at.error]
    assert "simulated" in all_text(at).lower() or page.endswith(("benchmarks.py", "report.py", "runs.py"))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_works_with_no_data_and_says_what_to_do(workspace, page):
    at = open_app(page=page, query={"data": "none"})
    assert_no_traceback(at)
    assert not at.error, [e.value for e in at.error]
    if not page.endswith(("benchmarks.py", "runs.py")):
        assert "reported" in all_text(at)


def test_no_page_imports_torch(tmp_path):
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        f"os.environ['CAPGAP_HOME'] = {str(tmp_path)!r}\n"
        "sys.path[:0] = ['tests', '.']\n"
        "from app_harness import open_app\n"
        f"for page in {PAGES!r}:\n"
        "    open_app(page=page)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert out.stdout.strip().splitlines()[-1] == "False"
