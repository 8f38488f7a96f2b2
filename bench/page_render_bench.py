"""Page render times of the app in a real headless Chromium, and the what-if update time.

    python bench/page_render_bench.py [--repeats 3] [--json bench/out/page_render.json]
                                      [--screenshot docs/screenshot_law.png [--screenshot-only]]

Starts `streamlit run app/main.py` on a free localhost port with a fresh workspace holding one simulated sweep
(6 students x 8 teachers x 3 seeds), opens every page once to warm the server's caches, then measures:
  - page switch: a click on the page's link in the sidebar of a warm session until the page's main content is on
    the screen and the script run is finished (how a user moves between pages); median of --repeats. Target: <= 2 s.
  - fresh load: the page's URL opened in a new browser tab (the frontend boots, loads plotly.js, opens a new
    session); median of --repeats. Reported for honesty; the same 2 s target.
  - what-if update: on the What-if page, type a new student size and press Enter, until the answer for that size is
    on the screen; the median over several sizes. Target: <= 200 ms.
Prints one line per measurement with its ratio to the target (ratio <= 1 meets it) and writes the numbers as
JSON. With --screenshot, also saves the Law page as the README's screenshot. Not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.local_server import CHROMIUM, CHROMIUM_ARGS, running_app, wait_until_idle  # noqa: E402

PAGE_TARGET_SECONDS = 2.0
WHATIF_TARGET_SECONDS = 0.2
TIMEOUT_MS = 90_000
# page url_path -> a locator (Playwright selector) that shows the page's main content has rendered
PAGES = {
    "overview": "[data-testid=stMetric]:has-text('Fitted slope k')",
    "data": "text=Active dataset: Upload: sweep.csv",
    "law": "[data-testid=stMetric]:has-text('Slope k') >> nth=0",
    "whatif": "[data-testid=stMetric]:has-text('Optimal teacher for a')",
    "benchmarks": ".js-plotly-plot >> nth=0",
    "report": "button:has-text('Build the HTML report')",
}
WHATIF_SIZES = ("350M", "700M", "1.3B", "2.7B", "6.7B", "125M", "13B", "1B")


def _seed_workspace(workspace: Path) -> str:
    """Store one simulated sweep as an upload; return its dataset key."""
    import os

    os.environ["CAPGAP_HOME"] = str(workspace)
    from analysis.simulate import simulate_distillation
    from eval_runs.workspace import store_upload

    upload = store_upload(simulate_distillation().to_csv(index=False).encode(), "sweep.csv", workspace)
    return f"upload:{upload.upload_id}"


def _page_url(url: str, name: str, query: str) -> str:
    """The page's address: the Overview is the default page, served at the root."""
    return f"{url}/{'' if name == 'overview' else name}{query}"


def _load(context, url: str, selector: str) -> float:
    """Seconds from navigation to the page's content being shown with the script run finished."""
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(selector)
    wait_until_idle(page, TIMEOUT_MS)
    seconds = time.perf_counter() - start
    page.close()
    return seconds


NAV_LABELS = {"overview": "Overview", "data": "Data", "law": "Law", "whatif": "What-if",
              "benchmarks": "Benchmarks", "report": "Report"}


def _switches(context, url: str, repeats: int) -> dict[str, list[float]]:
    """Seconds from a click on a page's link in the sidebar (a user moving between pages of one session) to
    its content being shown with the script run finished. Each switch starts from the Report page (no figure,
    no metric), so the awaited content cannot be left over from the page before."""
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector(PAGES["report"])
    wait_until_idle(page, TIMEOUT_MS)
    times: dict[str, list[float]] = {name: [] for name in PAGES if name != "report"}
    for _ in range(repeats + 1):  # the first round warms this session's frontend (plotly.js chunk etc.)
        for name in times:
            page.get_by_role("link", name=NAV_LABELS[name], exact=True).first.click()
            start = time.perf_counter()
            page.wait_for_selector(PAGES[name])
            wait_until_idle(page, TIMEOUT_MS)
            times[name].append(time.perf_counter() - start)
            page.get_by_role("link", name="Report", exact=True).first.click()
            page.wait_for_selector(PAGES["report"])
            wait_until_idle(page, TIMEOUT_MS)
    page.close()
    return {name: t[1:] for name, t in times.items()}


def _whatif_updates(context, url: str) -> list[float]:
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector(PAGES["whatif"])
    wait_until_idle(page, TIMEOUT_MS)
    box = page.get_by_role("textbox", name="Student size")
    times = []
    for size in WHATIF_SIZES:
        box.fill(size)
        label = f"Optimal teacher for a {size} params student"
        start = time.perf_counter()
        box.press("Enter")
        page.wait_for_selector(f"[data-testid=stMetric]:has-text('{label}')")
        times.append(time.perf_counter() - start)
    page.close()
    return times[1:]  # the first new size also warms the fragment's code path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh loads per page (median reported)")
    parser.add_argument("--json", default=str(ROOT / "bench" / "out" / "page_render.json"))
    parser.add_argument("--screenshot", default=None, help="save the Law page here (e.g. docs/screenshot_law.png)")
    parser.add_argument("--screenshot-only", action="store_true", help="take the screenshot, measure nothing")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        key = _seed_workspace(Path(tmp) / "workspace")
        query = f"?data={key}"
        with running_app(workspace=Path(tmp) / "workspace", log_path=Path(tmp) / "streamlit.log") as url, \
                sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            if not args.screenshot_only:
                for name, selector in PAGES.items():  # warm-up: imports, caches, the browser's copy of the JS
                    _load(context, _page_url(url, name, query), selector)
                renders = {name: [_load(context, _page_url(url, name, query), selector)
                                  for _ in range(args.repeats)] for name, selector in PAGES.items()}
                switches = _switches(context, f"{url}/report{query}", args.repeats)
                updates = _whatif_updates(context, f"{url}/whatif{query}")
            if args.screenshot:
                page = browser.new_page(viewport={"width": 1400, "height": 1900})
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(f"{url}/law{query}")  # the seeded sweep: one family, the planted law
                page.wait_for_selector(PAGES["law"])
                wait_until_idle(page, TIMEOUT_MS)
                page.wait_for_timeout(1500)  # plotly's entry animation
                Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.screenshot)
                print(f"screenshot of the Law page: {args.screenshot}")
            browser.close()

    if args.screenshot_only:
        return 0
    result = {"schema_version": 1, "machine": platform.platform(), "python": platform.python_version(),
              "repeats": args.repeats, "page_target_seconds": PAGE_TARGET_SECONDS,
              "whatif_target_seconds": WHATIF_TARGET_SECONDS, "pages": {}, "whatif_update": {}}
    print(f"{'measurement':<28}{'median':>10}{'max':>10}{'target':>10}{'ratio':>8}")
    result["page_switch"] = {}
    for kind, table in (("page_switch", switches), ("pages", renders)):
        for name, times in table.items():
            med = statistics.median(times)
            result[kind][name] = {"median_seconds": med, "max_seconds": max(times), "seconds": times,
                                  "ratio_to_target": med / PAGE_TARGET_SECONDS}
            label = ("switch to " if kind == "page_switch" else "fresh load ") + name
            print(f"{label:<28}{med:>9.3f}s{max(times):>9.3f}s{PAGE_TARGET_SECONDS:>9.1f}s"
                  f"{med / PAGE_TARGET_SECONDS:>8.2f}")
    med = statistics.median(updates)
    result["whatif_update"] = {"median_seconds": med, "max_seconds": max(updates), "seconds": updates,
                               "ratio_to_target": med / WHATIF_TARGET_SECONDS}
    print(f"{'what-if update':<28}{med:>9.3f}s{max(updates):>9.3f}s{WHATIF_TARGET_SECONDS:>9.1f}s"
          f"{med / WHATIF_TARGET_SECONDS:>8.2f}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
