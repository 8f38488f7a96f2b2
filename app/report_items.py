"""The items a report can hold (figures, tables, fit summaries) built from the active data and the pages'
settings, and the provenance of the whole. Pure assembly is in analysis/report.py; this is the app's glue."""
from __future__ import annotations


from app.compute import choose_law, forms_table_for, laws_for, optima_for, reported_law
from app.display import humanize, interval, level, param_table, size

ITEMS = ("Curse curves", "Law fit", "Law summary", "Residuals", "Forms comparison", "Optimal teachers table",
         "What-if", "MiniMA frontier", "Paired comparison")
DATA_ITEMS = {"Curse curves", "Law summary", "Residuals", "Forms comparison", "Optimal teachers table"}


def provenance(active, report_settings: dict) -> dict:
    from analysis.report import build_provenance

    datasets = []
    if active.has_rows:
        datasets.append({"name": active.label, "key": active.key, "data_hash": active.data_hash,
                         "n_rows": int(len(active.rows)), "metric": active.metric,
                         "families": ", ".join(active.families), "data_scales": ", ".join(active.data_tokens),
                         "column_map": dict(active.loader.column_map) or None,
                         "size_unit": active.loader.size_unit or None})
    return build_provenance(datasets=datasets, settings=report_settings)


def build_item(name: str, active, *, form: str, alpha: float, student_params: int):
    """One ReportSection (analysis.report) for the item `name`."""
    from analysis import figures
    from analysis.report import ReportSection

    if name == "MiniMA frontier":
        from analysis.benchmarks import load_minima_table

        return ReportSection("MiniMA: score against training compute",
                             "Scores and compute as published in the MiniMA README (github.com/GeneZC/MiniMA).",
                             figure=figures.frontier_figure(load_minima_table(), x="train_compute_flops"))
    if name == "Paired comparison":
        from app.paired_section import paired_report_section

        return paired_report_section(alpha)
    if name == "What-if":
        from analysis.whatif import whatif

        chosen = choose_law(active, "fit", form=form, alpha=alpha)
        from app.compute import capture_caveats, catalog

        if chosen.law is None:
            return ReportSection("What-if", f"No answer for a {size(student_params)} student: {chosen.refusal}")
        answer, caveats = capture_caveats(whatif, student_params, law=chosen.law, alpha=alpha, catalog=catalog(),
                                          results=active.rows if active.has_rows else None,
                                          metric=active.metric)
        if answer.declined:
            return ReportSection("What-if", f"No answer for a {size(student_params)} student: {answer.reason}")
        t = answer.teacher_params
        text = (f"For a {size(student_params)} student the optimal teacher is about {size(t['mean'])} "
                f"({level(alpha)} CI {interval(t['mean_ci_lower'], t['mean_ci_upper'])}; "
                f"{level(alpha)} PI {interval(t['obs_ci_lower'], t['obs_ci_upper'])}). {chosen.description}")
        table = humanize(answer.candidates.drop(columns=["penalty_note"], errors="ignore"))
        return ReportSection("What-if", text, figure=figures.whatif_figure(answer, answer.candidates, chosen.law),
                             table=table, notes=tuple(dict.fromkeys(list(answer.caveats) + caveats)))
    if name == "Law fit" and not active.has_rows:
        return ReportSection("The law as reported", "No data were loaded; the reported law only.",
                             figure=figures.law_figure(None, None, reported=reported_law(), alpha=alpha),
                             notes=tuple(reported_law().caveats))
    if not active.has_rows:
        return None
    key = active.cache_key
    optima, optima_caveats = optima_for(key, alpha)
    if name == "Curse curves":
        return ReportSection("The curse of capacity gap", f"{active.metric} of each student against teacher "
                             "size; the optimal teacher is marked with its interval.",
                             figure=figures.curse_figure(active.rows, optima, active.metric),
                             notes=tuple(optima_caveats))
    if name == "Optimal teachers table":
        cols = [c for c in ("family", "data_tokens", "student_params", "teacher_params", "ci_lower", "ci_upper",
                            "method", "n_teachers", "n_runs", "note") if c in optima]
        return ReportSection("Optimal teacher per student", table=humanize(optima[cols]))
    if name == "Forms comparison":
        forms, caveats = forms_table_for(key, alpha=alpha)
        return ReportSection("Law forms compared", "Lower AIC/BIC is better.", table=forms, notes=tuple(caveats))
    results = laws_for(key, form=form, alpha=alpha)[0]
    fit_result = next((r for r in results if r.fit is not None), results[0])
    if fit_result.fit is None:
        return ReportSection(name, f"The law could not be fitted: {fit_result.refused}")
    fit = fit_result.fit
    if name == "Law fit":
        return ReportSection(f"The law ({form}, {level(alpha)} intervals)",
                             f"Optimal teacher against student size on {active.label}, with the reported law.",
                             figure=figures.law_figure(fit, fit.optima, reported=reported_law(), alpha=alpha),
                             notes=tuple(str(c) for c in fit_result.caveats))
    if name == "Residuals":
        return ReportSection("Residuals of the law fit", figure=figures.residuals_figure(fit))
    if name == "Law summary":
        table = param_table(fit, alpha).rename_axis("parameter").reset_index()  # sizes as -147K, not -1.47e+05
        return ReportSection("Law fit summary", f"R² = {fit.rsquared:.4f}; {fit.nobs:g} optimal teachers; "
                             f"AIC {fit.aic:.4g}, BIC {fit.bic:.4g}.\n\n{fit.summary()}", table=table,
                             notes=tuple(str(c) for c in fit_result.caveats))
    raise ValueError(f"unknown report item {name!r}; expected one of {', '.join(ITEMS)}")


def figure_items(active) -> list[str]:
    """The items that are figures (offered for PNG/SVG download)."""
    names = ["Law fit", "What-if", "MiniMA frontier"]
    if active.has_rows:
        names = ["Curse curves", "Law fit", "Residuals", "What-if", "MiniMA frontier"]
    return names + (["Paired comparison"] if _has_paired_logs() else [])


def available_items(active) -> list[str]:
    """The sections the report offers: data sections only with rows, the paired one only with two logged runs."""
    return [i for i in ITEMS if (active.has_rows or i not in DATA_ITEMS)
            and (i != "Paired comparison" or _has_paired_logs())]


def _has_paired_logs() -> bool:
    from app.paired_section import n_sources

    return n_sources() >= 2
