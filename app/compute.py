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
def optima_for(cache_key: tuple, alpha: float):
    """(optima frame, caveats) of the active rows."""
    from analysis.optimum import find_optima

    rows = rows_for(cache_key)
    return capture_caveats(find_optima, rows, cache_key[3], alpha=alpha)


METHODS = ("one_stage", "two_stage")
METHOD_LABELS = {"one_stage": "one-stage (every curve at once; default)",
                 "two_stage": "two-stage (the paper's: optima → regression)"}
METHOD_HELP = ("One-stage fits every student's curve at once (value = student level + one shared, possibly asymmetric "
               "curve of ln(T / T*(S))): on planted laws its 95% intervals held the truth whatever the curve shape "
               "or teacher grid. Two-stage is the paper's: each student's best teacher, then a regression; its "
               "intervals ignore how uncertain those optima are (bench/RESULTS.md).")


def one_stage_caption(fit, form: str, alpha: float) -> str:
    """One paragraph under a one-stage fit: the cells fitted, the lack-of-fit test, the paper's two-stage fit on the
    same optima (or its refusal)."""
    from analysis.law import fit_law

    try:
        two, _ = capture_caveats(fit_law, fit.optima, form=form, alpha=alpha)
    except ValueError:
        two = None
    lof = fit.lack_of_fit
    text = f"One-stage fit of {len(fit.cells)} (student, teacher) cells. "
    if lof.get("p_value") is not None:
        text += (f"Does the law hold? Freeing every student's optimum improves the fit with p = {lof['p_value']:.2g} "
                 f"(F test; a small p says the optima do not lie on this law). ")
    if two is None:
        return text + "The paper's two-stage fit is refused on these optima."
    name = "exponent" if form == "power" else "slope"
    return text + (f"The paper's two-stage fit on the same data: {name} {two.params[name]:.3g} "
                   f"(R² {two.rsquared:.3f}, {two.nobs} bracketed optima).")


@st.cache_data(show_spinner="Fitting the law…", max_entries=128)
def laws_for(cache_key: tuple, *, form: str, alpha: float, method: str = "one_stage", weights: str = "none"):
    """(list of analysis.law.GroupLaw, test sentences): one law per (family, data_tokens) group of the active rows,
    and whether the slope differs across families / token budgets (analysis.law.slope_difference_test)."""
    from analysis.law import fit_laws, slope_difference_test

    rows = rows_for(cache_key)
    laws = fit_laws(rows, cache_key[3], form=form, alpha=alpha, method=method, weights=weights)
    tests = [slope_difference_test(laws, by)["sentence"] for by in ("family", "data_tokens")
             if len({getattr(law, by) if by == "family" else str(law.data_tokens) for law in laws}) > 1]
    return laws, tests


@st.cache_data(show_spinner=False, max_entries=4)
def example_law_refusal(name: str, metric: str = "val_loss") -> str:
    """Why a bundled example supports no law (the first group's refusal), or "" when one of its groups fits."""
    from analysis.law import fit_laws
    from analysis.results_io import load_example_results

    frame, _ = load_example_results(name)
    laws = fit_laws(frame, metric)
    return "" if any(law.fit is not None for law in laws) else f"{laws[0].label}: {laws[0].refused}"


def group_rows(cache_key: tuple, family: str, data_tokens: float) -> pd.DataFrame:
    """The active rows of one (family, data_tokens) group."""
    from analysis.law import group_rows as rows_of_group

    return rows_of_group(rows_for(cache_key), family, data_tokens)


@st.cache_data(show_spinner="Comparing law forms…", max_entries=64)
def forms_table_for(cache_key: tuple, *, alpha: float, method: str = "one_stage", weights: str = "none"):
    """(forms table with a leading `group` column, caveats): the three forms per (family, data_tokens) group."""
    from analysis.collapse import compare_collapse_forms
    from analysis.law import compare_forms
    from analysis.optimum import find_optima

    laws, _ = laws_for(cache_key, form="linear", alpha=alpha, method=method, weights=weights)
    tables, caveats = [], []
    for law in laws:
        rows = group_rows(cache_key, law.family, law.data_tokens)
        try:
            if method == "one_stage":
                table, more = capture_caveats(compare_collapse_forms, rows, cache_key[3], alpha=alpha)
            else:
                optima = capture_caveats(find_optima, rows, cache_key[3], alpha=alpha)[0]
                table, more = capture_caveats(compare_forms, optima, alpha=alpha, weights=weights)
        except ValueError as error:  # a refusal: said in words, the other groups still shown
            caveats.append(f"{law.label}: {error}")
            continue
        tables.append(table.assign(group=law.label).set_index("group").reset_index())
        caveats += more
    return (pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()), list(dict.fromkeys(caveats))


@st.cache_data(show_spinner="Bootstrapping the two-stage pipeline (runs → optima → law)…", max_entries=32)
def bootstrap_for(cache_key: tuple, *, form: str, alpha: float, n_boot: int, family: str,
                  data_tokens: float = float("nan")):
    """(LawBootstrap, caveats) of one (family, data_tokens) group's rows."""
    from analysis.law import bootstrap_law

    rows = group_rows(cache_key, family, data_tokens)
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

    law: object  # CollapseFit / LawFit / ReportedLaw; None when the data refuse every law
    source: str  # "fit" | "reported"
    description: str  # one sentence naming the law for the user
    caveats: list[str] = field(default_factory=list)
    refusal: str = ""  # why there is no law (the data cannot support one)


def choose_law(active, want: str, *, form: str = "linear", alpha: float = 0.05) -> ChosenLaw:
    """`want` "fit": the law fitted on the active data (its first (family, data_tokens) group with a law); when
    no group can be fitted, `law` is None and `refusal` says why (the what-if then declines); "reported": the
    reported law. With no data loaded, "fit" falls back to the reported law, saying so."""
    reported = reported_law()
    reported_text = (f"the law as reported by Zhang et al. (T* ≈ {reported.slope:g}·S − "
                     f"{-reported.intercept_params / 1e6:g}M params; R² = {reported.r_squared:g}; no interval "
                     "was published)")
    if want == "fit":
        if not active.has_rows:
            why = "no dataset is loaded" if not active.error else "the dataset did not load"
            return ChosenLaw(reported, "reported", f"Using {reported_text}, because {why}.")
        try:
            results, _tests = laws_for(active.cache_key, form=form, alpha=alpha)
        except Exception as error:  # noqa: BLE001
            from app.guard import describe_error

            why = describe_error(error)
            return ChosenLaw(None, "fit", f"No law could be fitted on {active.label}: {why}", refusal=why)
        fitted = [r for r in results if r.fit is not None]
        if not fitted:
            why = " ".join(f"{r.label}: {r.refused}" for r in results)
            return ChosenLaw(None, "fit", f"No law can be fitted on {active.label} ({active.metric}).", refusal=why)
        result = fitted[0]
        others = (f" The data hold {len(results)} (family, token budget) groups; narrow them with the sidebar's "
                  f"filters to ask about another." if len(results) > 1 else "")
        return ChosenLaw(result.fit, "fit", f"Using the {form} law fitted on {active.label} "
                         f"(one-stage; {active.metric}; {result.label}).{others}",
                         [str(c) for c in result.caveats])
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
