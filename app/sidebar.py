"""The sidebar on every page: which dataset and metric the pages analyse (kept in the URL as ?data=&metric=)."""
from __future__ import annotations

import streamlit as st

from app import settings
from app.active import resolve, set_active
from app.datasets import EXAMPLE_NAMES, results_datasets
from app.display import md


def show_active_data() -> None:
    """Draw the dataset and metric pickers and resolve the active data for this run."""
    entries = results_datasets()
    labels = {e.key: e.label for e in entries}
    box = st.sidebar.container()
    box.caption("Active data")
    requested = settings.raw("data")
    key = settings.choice("Dataset", list(labels), key="data", default=f"example:{EXAMPLE_NAMES[0]}",
                          format_func=lambda k: labels.get(k, k), container=box,
                          help="Bundled examples, your uploads (Data page), or none: the reported law only.")

    def metric_pick(options: list[str], default: str) -> str:
        return settings.choice("Metric", options, key="metric", default=default, container=box,
                               help="The student metric the optimal teacher is chosen by.")

    if isinstance(requested, str) and requested not in labels:
        box.warning(f"The dataset in the link ({md(requested[:40])}) is not in this workspace (removed, or "
                    f"uploaded on another machine); showing {md(labels[key])} instead.", icon=":material/warning:")
    active = resolve(key, labels.get(key, key), metric_pick)
    set_active(active)
    if active.error:
        box.error("This dataset did not load; open the Data page to fix the column mapping or units.",
                  icon=":material/error:")
    elif active.all_rows is not None:
        n_kept = 0 if active.rows is None else len(active.rows)
        n_fam, n_tok = len(active.families), len(active.data_tokens)
        box.caption(f"{n_kept:,} rows of {md(active.metric)} · {n_fam} famil{'y' if n_fam == 1 else 'ies'} · "
                    f"{n_tok} data scale{'' if n_tok == 1 else 's'} · hash `{active.data_hash}`")
    else:
        box.caption("No data: the pages use the law as reported by Zhang et al. (ACL 2025).")
