"""The analysis behind the pages, cached by data hash + settings (st.cache_data: each caller gets its own
copy, so sessions never share mutable results).

Every function takes the active data's identity (`ActiveData.cache_key`: dataset key, content hash, loader
settings, metric, filters) plus the page's settings, reloads the rows through the cached loader, calls one
function of `analysis`, and returns its result together with the statistical caveats it raised as sentences
(warnings do not fire again on a cache hit, so they are returned, not just emitted).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from app.datasets import filter_results, load_results

FORMS = ("linear", "proportional", "power")
FORM_LABELS = {"linear": "linear  T* = k·S + b", "proportional": "proportional  T* = k·S",
               "power": "power  T* = a·S^p"}


def capture_caveats(fn, *args, **kwargs):
    """(fn(...), caveat sentences): the CapacityGapWarnings raised while it ran, in order, without repeats."""
    from analysis.caveats import CapacityGapWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    messages = [str(w.message) for w in caught if issubclass(w.category, CapacityGapWarning)]
    return result, list(dict.fromkeys(messages))


def rows_for(cache_key: tuple) -> pd.DataFrame:
    """The filtered rows that `cache_key` names (from the cached loader)."""
    key, _hash, loader, metric, families, tokens = cache_key
    frame, _report, _ = load_results(key, loader)
    return filter_results(frame, metric=metric, families=list(families), data_tokens=list(tokens))


@st.cache_data(show_spinner="Finding the optimal teacher for each student…", max_entries=128)
def optima_for(cache_key: tuple, alpha: float, n_boot: int = 200):
    """(optima frame, caveats) of the active rows."""
    from analysis.optimum import find_optima

    rows = rows_for(cache_key)
    return capture_caveats(find_optima, rows, cache_key[3], alpha=alpha, n_boot=n_boot, seed=0)


@dataclass
class LawResult:
    """One fitted law (pooled, or one family's) with its caveats; `error` says why there is none."""

    group: str  # "all families (pooled)" or the family name
    fit: object | None = None  # analysis.law.LawFit
    caveats: list[str] = field(default_factory=list)
    error: str = ""


def _fit_one(group: str, optima: pd.DataFrame, form: str, alpha: float, weights: str) -> LawResult:
    from analysis.law import fit_law

    try:
        fit, caveats = capture_caveats(fit_law, optima, form=form, alpha=alpha, weights=weights,
                                       metric=optima.attrs.get("metric"))
    except Exception as error:  # noqa: BLE001 - too few points, degenerate data: shown in words
        from app.guard import describe_error

        return LawResult(group, error=describe_error(error))
    caveats += [str(c) for c in getattr(fit, "caveats", [])]
    return LawResult(group, fit, list(dict.fromkeys(caveats)))


@st.cache_data(show_spinner="Fitting the law…", max_entries=128)
def laws_for(cache_key: tuple, *, form: str, alpha: float, pooled: bool, weights: str = "auto"):
    """(list of LawResult, optima caveats): one pooled law, or one law per family."""
    optima, caveats = optima_for(cache_key, alpha)
    if pooled or optima["family"].nunique() <= 1:
        label = "all families (pooled)" if optima["family"].nunique() > 1 else str(optima["family"].iloc[0])
        return [_fit_one(label, optima, form, alpha, weights)], caveats
    return [_fit_one(str(f), group, form, alpha, weights) for f, group in optima.groupby("family", sort=True)], \
        caveats


@st.cache_data(show_spinner="Comparing law forms…", max_entries=64)
def forms_table_for(cache_key: tuple, *, alpha: float, pooled: bool, weights: str = "auto"):
    """(compare_forms frame, caveats): on the pooled optima, or per family with a leading `family` column."""
    from analysis.law import compare_forms

    optima, _ = optima_for(cache_key, alpha)
    if pooled or optima["family"].nunique() <= 1:
        return capture_caveats(compare_forms, optima, alpha, weights=weights)
    tables, caveats = [], []
    for family, group in optima.groupby("family", sort=True):
        try:
            table, group_caveats = capture_caveats(compare_forms, group, alpha, weights=weights)
        except ValueError as error:  # too few students in this family: said in words, the others still shown
            caveats.append(f"Family {family}: {error}")
            continue
        tables.append(table.assign(family=str(family)).set_index("family").reset_index())
        caveats += group_caveats
    return (pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()), list(dict.fromkeys(caveats))


@st.cache_data(show_spinner="Bootstrapping the whole pipeline (runs → optima → law)…", max_entries=32)
def bootstrap_for(cache_key: tuple, *, form: str, alpha: float, n_boot: int, family: str | None = None):
    """(LawBootstrap, caveats) of the active rows, or of one family's rows."""
    from analysis.law import bootstrap_law

    rows = rows_for(cache_key)
    if family is not None:
        rows = rows[rows["family"].astype(str) == family]
    return capture_caveats(bootstrap_law, rows, cache_key[3], form=form, n_boot=n_boot, alpha=alpha, seed=0)


def reported_law():
    """The law as reported by Zhang et al. (cached: read once per process; it is frozen)."""
    return _reported_law()


@st.cache_resource(show_spinner=False)
def _reported_law():
    from analysis.reported_law import load_reported_law

    return load_reported_law()


@st.cache_data(show_spinner=False, max_entries=4)
def catalog():
    from analysis.catalog import load_catalog

    return load_catalog()


@dataclass
class ChosenLaw:
    """The law a page answers with: a fit on the active data or the reported one, and why."""

    law: object  # LawFit or ReportedLaw
    source: str  # "fit" | "reported"
    description: str  # one sentence naming the law for the user
    caveats: list[str] = field(default_factory=list)


def choose_law(active, want: str, *, form: str = "linear", alpha: float = 0.05) -> ChosenLaw:
    """`want` "fit": the pooled law fitted on the active data, falling back to the reported law (saying why)
    when there are no data or the fit fails; "reported": the reported law."""
    reported = reported_law()
    reported_text = (f"the law as reported by Zhang et al. (T* ≈ {reported.slope:g}·S − "
                     f"{-reported.intercept_params / 1e6:g}M params; R² = {reported.r_squared:g}; no interval "
                     "was published)")
    if want == "fit":
        if not active.has_rows:
            why = "no dataset is loaded" if not active.error else "the dataset did not load"
            return ChosenLaw(reported, "reported", f"Using {reported_text}, because {why}.")
        try:
            results, caveats = laws_for(active.cache_key, form=form, alpha=alpha, pooled=True)
        except Exception as error:  # noqa: BLE001
            from app.guard import describe_error

            return ChosenLaw(reported, "reported",
                             f"Using {reported_text}, because the law could not be fitted: {describe_error(error)}")
        result = results[0]
        if result.fit is None:
            return ChosenLaw(reported, "reported",
                             f"Using {reported_text}, because the law could not be fitted: {result.error}")
        return ChosenLaw(result.fit, "fit", f"Using the {form} law fitted on {active.label} "
                         f"({active.metric}; {result.group}).", caveats + result.caveats)
    return ChosenLaw(reported, "reported", f"Using {reported_text}.")


@st.cache_data(show_spinner="Reading benchmark results…", max_entries=32)
def benchmarks_for(upload_keys: tuple[str, ...], include_minima: bool,
                   lmeval_runs: tuple[tuple[str, str], ...] = ()):
    """(benchmark table, failures, notes): the MiniMA table, the chosen lm-eval uploads and the chosen lm-eval runs
    of the workspace ((model folder, fingerprint) pairs: app/runs_data.py), stacked."""
    from analysis.benchmarks import as_benchmark_frame, load_minima_benchmarks

    from app.datasets import load_benchmark_upload_cached

    frames, failures, notes = [], [], []
    if include_minima:
        frames.append(load_minima_benchmarks())
    from app.guard import describe_error
    from app.runs_data import load_lmeval_run

    # uploads, then finished lm-eval runs of the workspace (a run's fingerprint only keys the cache)
    sources = [(key, load_benchmark_upload_cached, key) for key in upload_keys]
    sources += [(None, load_lmeval_run, model) for model, _fingerprint in lmeval_runs]
    for upload_key, load, arg in sources:
        try:
            result = load(arg)
        except Exception as error:  # noqa: BLE001 - e.g. the upload or the run folder was removed meanwhile
            failures.append(describe_error(error))
            continue
        frames.append(result.frame)
        failures += [str(f) for f in result.failures]
        notes += list(result.notes)
        if upload_key and result.frame.empty and not result.failures:  # an lm-eval layout the importer does not know
            why = "; ".join(result.notes) or "the file holds no numeric results"
            failures.append(f"{upload_key.split(':', 1)[1]}: nothing could be imported ({why})")
    frames = [f for f in frames if len(f)]
    frame = pd.concat(frames, ignore_index=True) if frames else as_benchmark_frame([])
    return frame, failures, notes
