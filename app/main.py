"""Capacity Gap Lab, the Streamlit app: the router (st.navigation over the pages in app/views/).

Run from the repository root:  streamlit run app/main.py
(.streamlit/config.toml there binds to localhost, headless, no usage statistics.)
Each page is one file in app/views/; pages are thin (widgets -> one call into analysis/ -> display).
"""
from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run app/main.py` puts app/ on sys.path; the pages import `app.*` and `analysis.*` from the root
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app.display import SHOWN_KEY  # noqa: E402
from app.guard import guarded  # noqa: E402
from app.settings import SCOPE_KEY  # noqa: E402
from app.sidebar import show_active_data  # noqa: E402

st.set_page_config(page_title="Capacity Gap Lab", page_icon=":material/school:", layout="wide")

# served at /; its own path is not "overview", which a hidden page takes to bring /overview typed by hand here
# (Streamlit would show "page not found" for the default page's own path)
OVERVIEW = st.Page("views/overview.py", title="Overview", icon=":material/home:", default=True, url_path="home")
PAGES = {
    "Explore": [
        OVERVIEW,
        st.Page("views/data.py", title="Data", icon=":material/table_view:", url_path="data"),
        st.Page("views/law.py", title="Law", icon=":material/show_chart:", url_path="law"),
        st.Page("views/whatif.py", title="What-if", icon=":material/help:", url_path="whatif"),
        st.Page("views/benchmarks.py", title="Benchmarks", icon=":material/leaderboard:", url_path="benchmarks"),
    ],
    "Present": [
        st.Page("views/report.py", title="Report", icon=":material/description:", url_path="report"),
    ],
    "Run": [
        st.Page("views/runs.py", title="Runs", icon=":material/rocket_launch:", url_path="runs"),
        st.Page(lambda: st.switch_page(OVERVIEW, query_params={k: st.query_params.get_all(k) for k in st.query_params}),
                title="Overview", url_path="overview", visibility="hidden"),
    ],
}

page = st.navigation(PAGES)
# widget keys are per page (app/settings.py)
st.session_state[SCOPE_KEY] = "overview" if page.url_path in ("", OVERVIEW.url_path) else page.url_path
st.session_state[SHOWN_KEY] = set()  # caveats are shown once per page run (app/display.py)
with guarded("show the active dataset"):
    show_active_data()
with guarded(f"show the {page.title} page"):
    page.run()
