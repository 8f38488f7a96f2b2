"""Paper-ready tables: a DataFrame and a column spec -> a LaTeX booktabs `tabular` or a Markdown table.

    spec = [Column("student_params", "Student", "size"), Column("teacher_params", r"$T^*$", "size", latex=True)]
    print(render_table(frame, spec, "latex"))      # \\begin{tabular}{ll} \\toprule ... \\bottomrule \\end{tabular}
    print(render_table(frame, spec, "markdown"))   # | Student | T* | ...

`render_table` is the one writer: the law's table (`law_table`), the optima (`optima_table`) and any later
comparison table give it a frame and a spec. Kinds say how a cell is written: "text" (escaped for LaTeX), "size"
(a parameter count at the scale that keeps its digits: 147K, 1.3B), "signed_size" (an intercept: -147K),
"number" (4 significant digits), "int", "size_interval" / "number_interval" (a (lower, upper) pair of columns,
never "0M - 0M": both ends are written at their own scale, with more digits until they differ) and "formatted"
(text already written by these formats, aligned as a number). Missing values are an em dash.
The output is a bare `tabular` (needs `\\usepackage{booktabs}`), to be put inside the paper's own `table`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from analysis.fit_text import is_missing, fmt_interval, fmt_signed_size, fmt_value as fmt_number
from analysis.sizes import format_size

FORMATS = ("latex", "markdown")
KINDS = ("text", "size", "signed_size", "number", "int", "size_interval", "number_interval", "formatted")
_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIALS))


@dataclass(frozen=True)
class Column:
    """One column of a paper table: the frame's column (a pair of columns for an interval), its header, how its
    cells are written, and whether the header is already LaTeX (math such as $T^*$) rather than text."""

    key: str | tuple[str, str]
    header: str
    kind: str = "text"
    latex: bool = False  # the header is LaTeX source (not escaped); Markdown shows it with $ and \ removed

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind: expected one of {KINDS}, found {self.kind!r}")


def _cell(row, column: Column) -> str:
    if column.kind in ("size_interval", "number_interval"):
        lo, hi = column.key
        return fmt_interval(row.get(lo), row.get(hi), "size" if column.kind == "size_interval" else "number")
    value = row.get(column.key)
    if column.kind in ("text", "formatted"):
        return "—" if is_missing(value) else str(value)
    if column.kind in ("size", "signed_size"):
        return fmt_signed_size(value)
    if column.kind == "int":
        return "—" if is_missing(value) else f"{int(value):,}"
    return fmt_number(value)


def latex_escape(text: str) -> str:
    """Text made safe inside a LaTeX tabular (the ten special characters; the minus of a number as $-$)."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIALS[m.group()], str(text))


def _latex_cell(text: str, kind: str) -> str:
    if kind == "text":
        return latex_escape(text).replace("—", "---")
    # numbers: a real minus sign, an en dash between interval ends, an em dash for missing, < and > in math
    ends = [re.sub(r"^([<>] )?-(?=\d)", r"\1$-$", piece) for piece in latex_escape(text).split(" – ")]
    out = "--".join(ends).replace("—", "---")
    return out.replace("< ", "$<$ ").replace("> ", "$>$ ")


def _markdown_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _plain_header(header: str) -> str:
    return header.replace("$", "").replace("\\", "").replace("^2", "²").replace("^*", "*")


def render_table(frame: pd.DataFrame, columns: list[Column], fmt: str = "latex", *, caption: str | None = None
                 ) -> str:
    """The frame's rows under `columns` as a booktabs tabular (fmt "latex") or a Markdown table (fmt
    "markdown"). Text columns are left-aligned, numbers right-aligned. `caption`: a LaTeX comment line above the
    tabular / an italic line under the Markdown table (provenance: data, method, version)."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt: expected one of {FORMATS}, found {fmt!r}")
    cells = [[_cell(row, c) for c in columns] for row in frame.to_dict("records")]
    if fmt == "markdown":
        head = "| " + " | ".join(_markdown_cell(_plain_header(c.header) if c.latex else c.header)
                                 for c in columns) + " |"
        rule = "|" + "|".join("---" if c.kind == "text" else "---:" for c in columns) + "|"
        body = ["| " + " | ".join(_markdown_cell(v) for v in row) + " |" for row in cells]
        tail = [f"\n*{_markdown_cell(caption)}*"] if caption else []
        return "\n".join([head, rule, *body, *tail]) + "\n"
    align = "".join("l" if c.kind == "text" else "r" for c in columns)
    head = " & ".join(c.header if c.latex else latex_escape(c.header) for c in columns) + r" \\"
    body = [" & ".join(_latex_cell(v, c.kind) for v, c in zip(row, columns)) + r" \\" for row in cells]
    lines = [f"% {line}" for line in (caption or "").splitlines() if line.strip()]
    lines += [rf"\begin{{tabular}}{{{align}}}", r"\toprule", head, r"\midrule", *body, r"\bottomrule",
              r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def latex_document(tabular: str) -> str:
    """A minimal standalone document around a tabular (what the compile test and a quick preview need)."""
    return ("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
            "\\usepackage{booktabs}\n\\begin{document}\n" + tabular + "\\end{document}\n")


# ------------------------------------------------------------------------------------------ the project's tables
def law_table(laws, *, alpha: float = 0.05) -> tuple[pd.DataFrame, list[Column]]:
    """One row per (group, parameter) of fitted laws (analysis.law.GroupLaw list), and a "no law (declined)" row
    for a group the data cannot support: group, form, param, estimate, interval, n_students, r2. The intercept
    (a size) and its interval are written as sizes (-147K), the others as numbers."""
    rows = []
    for law in laws:
        if law.fit is None:
            rows.append({"group": law.label, "form": "—", "param": "no law (declined)", "estimate": None,
                         "interval": None, "n_students": None, "r2": None})
            continue
        ci = law.fit.conf_int(alpha)
        for name, est in law.fit.params.items():
            kind = "size" if name.endswith("_params") else "number"
            one = fmt_signed_size if kind == "size" else fmt_number
            rows.append({"group": law.label, "form": law.fit.form, "param": name, "estimate": one(est),
                         "interval": fmt_interval(ci.at[name, "lower"], ci.at[name, "upper"], kind),
                         "n_students": law.fit.nobs, "r2": law.fit.rsquared})
    columns = [Column("group", "Group"), Column("form", "Form"), Column("param", "Parameter"),
               Column("estimate", "Estimate", "formatted"),
               Column("interval", f"{100 * (1 - alpha):g}\\% CI", "formatted", latex=True),
               Column("n_students", "Students", "int"), Column("r2", "$R^2$", "number", latex=True)]
    return pd.DataFrame(rows), columns


def optima_table(optima: pd.DataFrame, *, alpha: float = 0.05) -> tuple[pd.DataFrame, list[Column]]:
    """find_optima's table for a paper: family, tokens, student (and its name), best teacher (and its name),
    the interval of T*, teachers tested, runs."""
    frame = optima.copy()
    frame["student"] = [_named(s, n) for s, n in zip(frame["student_params"], frame.get("student_name", ""))]
    frame["teacher"] = [_named(t, n) if m != "tied" else "— (all tied)" for t, n, m in
                        zip(frame["teacher_params"], frame.get("teacher_name", ""), frame["method"])]
    level = f"{100 * (1 - alpha):g}\\% interval of $T^*$"
    columns = [Column("family", "Family"), Column("data_tokens", "Tokens", "size"),
               Column("student", "Student"), Column("teacher", "Best teacher"),
               Column(("ci_lower", "ci_upper"), level, "size_interval", latex=True),
               Column("n_teachers", "Teachers", "int"), Column("n_runs", "Runs", "int")]
    return frame, columns


def paired_table(comparisons: pd.DataFrame, *, alpha: float = 0.05) -> tuple[pd.DataFrame, list[Column]]:
    """Paired comparisons (analysis.paired.ComparisonSet.frame()) for a paper: task, metric, the two models and
    their means, the paired difference with its interval, the adjusted p-value and the test; the unpaired
    interval beside it, so a reader sees what pairing changed."""
    frame = comparisons.copy()
    frame["p"] = frame["p_adjusted"].where(frame["p_adjusted"].notna(), frame["p_value"])
    level = f"{100 * (1 - alpha):g}\\% CI"
    columns = [Column("task", "Task"), Column("metric", "Metric"), Column("model_a", "A"), Column("model_b", "B"),
               Column("n_matched", "Docs", "int"), Column("mean_a", "Mean A", "number"),
               Column("mean_b", "Mean B", "number"), Column("diff", "A $-$ B", "number", latex=True),
               Column(("ci_lower", "ci_upper"), f"Paired {level}", "number_interval", latex=True),
               Column(("unpaired_ci_lower", "unpaired_ci_upper"), f"Unpaired {level}", "number_interval",
                      latex=True),
               Column("p", "$p$ (adj.)", "number", latex=True), Column("test", "Test")]
    return frame, columns


def plan_table(plans) -> tuple[pd.DataFrame, list[Column]]:
    """The next-run advisor's recommendations (analysis.plan.plan_runs) for a paper or a lab notebook: group,
    rank, student, teacher, seeds, cost, the slope interval's expected width after, and the reason."""
    frames = [p.recommendations.assign(group=p.label) for p in plans if len(p.recommendations)]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["group", "rank", "student_params", "teacher_params", "teacher_name", "n_seeds", "cost",
                 "expected_slope_ci_width_after", "reason"])
    frame["teacher"] = [_named(t, n) for t, n in zip(frame["teacher_params"], frame.get("teacher_name", ""))]
    columns = [Column("group", "Group"), Column("rank", "Rank", "int"), Column("student_params", "Student", "size"),
               Column("teacher", "Teacher"), Column("n_seeds", "Seeds", "int"), Column("cost", "Cost", "number"),
               Column("expected_slope_ci_width_after", "Slope CI width after", "number"),
               Column("reason", "Why")]
    return frame, columns


def _named(size, name) -> str:
    text = format_size(size)
    return f"{text} ({name})" if isinstance(name, str) and name.strip() else text
