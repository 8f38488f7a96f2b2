"""app: the Streamlit UI of Capacity Gap Lab. `streamlit run app/main.py` (the router); one page per file in views/.

Shared pieces, one concept each: settings (URL-backed widgets), active (the active dataset), datasets (loading and
the upload store), compute (cached analysis), display (units, caveats, empty states), guard (no traceback on the
screen), sidebar, report_items (report assembly glue), local_server (the app in a subprocess for tests/benches).
Pages import analysis/ and eval_runs.workspace only: never torch.
"""
