"""What the pages analyse right now: the active dataset, its loader settings, metric and filters.

The sidebar (app/sidebar.py) draws the pickers on every page; this module turns the URL-backed settings
into an `ActiveData` that pages read with `active_data()`. Nothing here is shared between sessions.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from app import settings
from app.datasets import LoaderSettings, NONE_KEY, filter_results, load_results, saved_settings, tokens_labels

_ACTIVE = "_active_data"  # session_state key


@dataclass
class ActiveData:
    """The loaded, filtered results (None when no dataset or when it failed to load, with `error` saying why)."""

    key: str
    label: str
    loader: LoaderSettings = field(default_factory=LoaderSettings)
    all_rows: pd.DataFrame | None = None  # every row the loader kept
    rows: pd.DataFrame | None = None  # the chosen metric, families and data scales
    report: object | None = None  # analysis.results_io.LoadReport
    data_hash: str = ""
    metric: str | None = None
    higher_is_better: bool | None = None
    families: list[str] = field(default_factory=list)
    data_tokens: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def has_rows(self) -> bool:
        return self.rows is not None and len(self.rows) > 0

    @property
    def cache_key(self) -> tuple:
        """Identifies the analysed rows: data hash + loader settings + metric + filters."""
        return (self.key, self.data_hash, self.loader, self.metric, tuple(self.families), tuple(self.data_tokens))


def loader_settings_for(key: str) -> LoaderSettings:
    """Loader settings from the URL (`map=contract=file`, `unit=B`, `hib=metric=1`) or else those saved with
    the upload."""
    if not key.startswith("upload:"):
        return LoaderSettings()
    saved = saved_settings(key)
    mapping = settings.raw("map")
    unit = settings.raw("unit")
    directions = settings.raw("hib")
    if mapping is None and unit is None and directions is None:
        return saved
    hib = [directions] if isinstance(directions, str) else list(directions or [])
    higher = tuple(sorted((m, v == "1") for m, v in (p.rsplit("=", 1) for p in hib if "=" in p) if m))
    pairs = [mapping] if isinstance(mapping, str) else list(mapping or [])
    column_map = dict(p.split("=", 1) for p in pairs if "=" in p)
    # "-" means "as written"; anything else goes to the loader, which names a unit it cannot parse
    size_unit = unit.strip()[:20] if isinstance(unit, str) and unit.strip() not in ("", "-") else ""
    return LoaderSettings(tuple(sorted(column_map.items())), size_unit,
                          higher if directions is not None else saved.higher_is_better)


def resolve(key: str, label: str, metric_pick=None) -> ActiveData:
    """Load `key` and apply the metric/family/data-scale settings. `metric_pick(options, default)` draws
    the metric picker (the sidebar passes one; tests and pages may pass None to take the URL's value)."""
    active = ActiveData(key=key, label=label)
    if key == NONE_KEY:
        return active
    active.loader = loader_settings_for(key)
    try:
        frame, report, data_hash = load_results(key, active.loader)
    except Exception as error:  # noqa: BLE001 - shown by the pages as a validation message
        from app.guard import describe_error

        active.error = describe_error(error)
        return active
    active.all_rows, active.report, active.data_hash = frame, report, data_hash
    metrics = sorted(frame["metric"].astype(str).unique())
    if not metrics:
        active.error = "the file has no rows left after validation"
        return active
    default_metric = "val_loss" if "val_loss" in metrics else metrics[0]
    if metric_pick is not None:
        active.metric = metric_pick(metrics, default_metric)
    else:
        chosen = settings.value_of("metric", default_metric)
        active.metric = chosen if chosen in metrics else default_metric
    of_metric = frame[frame["metric"] == active.metric]
    fam_options = sorted(of_metric["family"].astype(str).unique())
    tok_options = sorted(tokens_labels(of_metric["data_tokens"]).unique())
    active.families = _listed("fam", fam_options)
    active.data_tokens = _listed("tok", tok_options)
    active.rows = filter_results(frame, metric=active.metric, families=active.families,
                                 data_tokens=active.data_tokens)
    if "higher_is_better" in of_metric and len(of_metric):
        active.higher_is_better = bool(of_metric["higher_is_better"].iloc[0])
    return active


def _listed(key: str, options: list[str]) -> list[str]:
    value = settings.raw(key)
    if value is None:
        return options
    wanted = [value] if isinstance(value, str) else list(value)
    chosen = [o for o in options if o in wanted]
    return chosen or options


def set_active(active: ActiveData) -> None:
    import streamlit as st

    st.session_state[_ACTIVE] = active


def active_data() -> ActiveData:
    """The active dataset of this session (resolved by the sidebar on this run)."""
    import streamlit as st

    active = st.session_state.get(_ACTIVE)
    if active is None:
        from app.datasets import EXAMPLE_NAMES

        active = resolve(f"example:{EXAMPLE_NAMES[0]}", "Example")
        set_active(active)
    return active
