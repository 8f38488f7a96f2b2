"""Shared helpers for the AppTest page tests (tests/test_app_*.py): starting the app from its entry point on a
page, and the check that nothing leaked a traceback onto the screen. (The `workspace` fixture is in conftest.py.)"""
from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app" / "main.py"
TIMEOUT_SECONDS = 60  # generous: the 2-core CI machine runs the first plotly/statsmodels import in a few seconds


def open_app(page: str | None = None, query: dict | None = None) -> AppTest:
    """Run the entry point (with `query` as the URL's query string), then switch to `page` (e.g. "views/law.py")."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_SECONDS)
    at.query_params.update(query or {})
    at.run()
    if page is not None:
        at.switch_page(page).run()
    return at


def shown(text) -> str:
    """What the reader sees of a Markdown message: the escapes app.display.md adds are not shown."""
    return re.sub(r"\\([\\`*_{}\[\]()#!|<>~$:.+\-=])", r"\1", str(text))


def texts(elements) -> list[str]:
    return [shown(e.value) for e in elements]


def assert_no_traceback(at: AppTest) -> None:
    """No uncaught exception, and no message on the screen that looks like a traceback or a raw exception dump."""
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at.error) + texts(at.warning) + texts(at.markdown) + texts(at.info)
    for text in shown:
        assert "Traceback" not in text and 'File "' not in text, text


def go_to(at: AppTest, page: str) -> AppTest:
    """Switch the session to `page` (e.g. "views/law.py"), run it, and check that no traceback reached the screen."""
    at.switch_page(page).run()
    assert_no_traceback(at)
    return at


def all_text(at: AppTest) -> str:
    """Everything written on the page, for 'does it say X' checks."""
    parts = texts(at.markdown) + texts(at.error) + texts(at.warning) + texts(at.info) + texts(at.success)
    parts += texts(at.caption) + texts(at.title) + texts(at.header) + texts(at.subheader)
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def simulated_csv(**kwargs) -> bytes:
    """A small simulated sweep (the planted reported law) as CSV bytes, for uploads."""
    from analysis.simulate import simulate_distillation

    return simulate_distillation(**kwargs).to_csv(index=False).encode()


def upload(at: AppTest, name: str, data: bytes, mime: str = "text/csv") -> AppTest:
    """Go to the Data page and upload one file through the uploader."""
    at.switch_page("views/data.py").run()
    at.file_uploader(key="uploader").set_value((name, data, mime)).run()
    return at
