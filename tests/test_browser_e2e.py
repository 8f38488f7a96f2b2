"""End to end in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright): start the app, upload a
CSV, fit the law, run a what-if, download the HTML report and check its contents."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from app.local_server import CHROMIUM, CHROMIUM_ARGS, running_app, wait_until_idle

pytestmark = pytest.mark.slow
sync_api = pytest.importorskip("playwright.sync_api")
if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with running_app(workspace=tmp_path_factory.mktemp("workspace"),
                     log_path=tmp_path_factory.mktemp("log") / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _go(page, name: str) -> None:
    """Open a page through the sidebar navigation (same session, like a user)."""
    page.get_by_role("link", name=name, exact=True).first.click()
    wait_until_idle(page, TIMEOUT_MS)


def test_upload_fit_what_if_and_report_in_a_real_browser(app_url, browser, tmp_path):
    from analysis.simulate import simulate_distillation

    csv = tmp_path / "sweep.csv"
    simulate_distillation().to_csv(csv, index=False)
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{app_url}/data")
    wait_until_idle(page, TIMEOUT_MS)

    # upload: the file becomes the active dataset, its rows are counted
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(csv))
    page.get_by_text("Active dataset: Upload: sweep.csv").wait_for()
    wait_until_idle(page, TIMEOUT_MS)
    data_hash = re.search(r"data=upload%3A([0-9a-f]{16})|data=upload:([0-9a-f]{16})", page.url)
    assert data_hash, page.url
    data_hash = data_hash.group(1) or data_hash.group(2)

    # the law: fitted on the upload, its interval around the planted slope 2.498
    _go(page, "Law")
    slope = page.locator('[data-testid="stMetric"]', has_text="Slope k").first
    slope.wait_for()
    value = float(slope.locator('[data-testid="stMetricValue"]').inner_text())
    low, high = (float(v) for v in slope.locator('[data-testid="stMetricDelta"]').inner_text()
                 .split("CI ")[1].split(" – "))
    assert low < 2.498 < high and low < value < high
    assert page.locator(".js-plotly-plot").count() >= 3  # curse curves, the law, the collapse
    assert "Traceback" not in page.content()

    # what-if: a new student size updates the answer
    _go(page, "What-if")
    box = page.get_by_role("textbox", name="Student size")
    box.fill("350M")
    box.press("Enter")
    page.get_by_text("Optimal teacher for a 350M params student").wait_for()
    assert "Using the linear law fitted on" in page.inner_text("body")

    # the report: build, download, check
    _go(page, "Report")
    page.get_by_role("button", name="Build the report").click()  # HTML is the default format
    download_button = page.get_by_role("button", name="Download the HTML report")
    download_button.wait_for()
    with page.expect_download() as info:
        download_button.click()
    html = Path(info.value.path()).read_text("utf-8")
    assert data_hash in html
    assert "Provenance" in html and '"schema_version": 1' in html
    assert html.count("Plotly.newPlot") >= 4 and html.count("plotly.js v") == 1
    assert "350M" in html or "350000000" in html  # the what-if section follows the page's student size
    context.close()


def test_two_tabs_used_at_once_do_not_interfere(app_url, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tabs = []
    for size in ("350M", "7B"):
        tab = context.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        tab.goto(f"{app_url}/whatif?data=none&wi_s={size}")
        tab.get_by_text(f"Optimal teacher for a {size} params student").wait_for()
        tabs.append(tab)
    first, second = tabs
    box = first.get_by_role("textbox", name="Student size")
    box.fill("1B")
    box.press("Enter")
    first.get_by_text("Optimal teacher for a 1B params student").wait_for()
    second.reload()
    second.get_by_text("Optimal teacher for a 7B params student").wait_for()
    wait_until_idle(second, TIMEOUT_MS)
    assert "Optimal teacher for a 1B params student" not in second.inner_text("body")
    context.close()


def test_every_page_renders_without_an_exception_box_in_the_browser(app_url, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    page.get_by_text("Capacity Gap Lab").first.wait_for()
    wait_until_idle(page, TIMEOUT_MS)
    for name in ("Data", "Law", "What-if", "Benchmarks", "Report", "Overview"):
        _go(page, name)
        page.locator("h1").first.wait_for()
        assert page.locator('[data-testid="stException"]').count() == 0, name
        assert "Traceback" not in page.inner_text("body"), name
        assert "Page not found" not in page.inner_text("body"), name
    page.goto(app_url.rstrip("/") + "/overview?data=none")  # typed by hand: the Overview, not "page not found"
    page.get_by_role("heading", name="Capacity Gap Lab").first.wait_for()
    wait_until_idle(page, TIMEOUT_MS)
    assert "Page not found" not in page.inner_text("body") and "No data:" in page.inner_text("body")
    assert page.url.endswith("/?data=none")  # served at /, the link's settings kept
    context.close()
