"""Reports and figure exports: a self-contained HTML report with interactive figures and its provenance, the
same report as PDF (static SVG figures, printed by a local headless Chromium), and PNG/SVG/PDF images of single
figures (kaleido driving the same Chromium; analysis.paper_figures sizes and styles them for a paper).

    provenance = build_provenance(datasets=[{"name": ..., "data_hash": ..., "n_rows": ...}],
                                  settings={"metric": "val_loss", "form": "linear", "alpha": 0.05})
    html = build_report_html("Capacity gap report", [ReportSection("The law", figure=fig, text=...)], provenance)
    png = figure_image(stamp_figure(fig, provenance), "png")   # raises ImageExportUnavailable without a browser
    pdf = build_report_pdf("Capacity gap report", sections, provenance)   # the same report, printed (Chromium)

The HTML embeds plotly.js once (inline, ~4.7 MB), so the file opens offline. Every export carries its
provenance (DESIGN.md): the report in a table and a JSON block, an image as a one-line footnote.
"""
from __future__ import annotations

import datetime as _dt
import html as _html
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

SCHEMA_VERSION = 1
BROWSER_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
_BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
_VERSIONED = ("numpy", "pandas", "scipy", "statsmodels", "plotly", "kaleido", "streamlit")


class ImageExportUnavailable(RuntimeError):
    """No browser for kaleido (or it failed): the figure can still be exported as HTML."""


@dataclass(frozen=True)
class ReportSection:
    """One section of the report: a heading with any of a paragraph, a figure and a table."""

    title: str
    text: str = ""  # plain text; paragraphs separated by blank lines
    figure: go.Figure | None = None
    table: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()  # caveats shown under the section, one sentence each


# ------------------------------------------------------------------------------------------ provenance
def package_versions() -> dict[str, str]:
    """Versions of Python, this project and the libraries behind the numbers ('absent' if not installed)."""
    from analysis import __version__

    versions = {"python": platform.python_version(), "capacity_gap_lab": __version__}
    for name in _VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def build_provenance(*, datasets: list[dict], settings: dict, created: _dt.datetime | None = None) -> dict:
    """What a reader needs to reproduce an export: the data (names, content hashes, row counts), the
    settings that produced the numbers, the software versions and the time (UTC)."""
    created = created or _dt.datetime.now(_dt.timezone.utc)
    return {
        "schema_version": SCHEMA_VERSION,
        "created_utc": created.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "datasets": [dict(d) for d in datasets],
        "settings": dict(settings),
        "versions": package_versions(),
    }


def provenance_line(provenance: dict) -> str:
    """One line for a figure's footnote: 'data 1a2b3c… · metric=val_loss form=linear · capacity_gap_lab 0.1.0'."""
    data = ", ".join(f"{d.get('name', '?')} {d.get('data_hash', '')}".strip() for d in provenance["datasets"])
    settings = " ".join(f"{k}={v}" for k, v in provenance["settings"].items())
    version = provenance["versions"].get("capacity_gap_lab", "?")
    return f"data: {data or 'none'} · {settings} · Capacity Gap Lab {version} · {provenance['created_utc']}"


def stamp_figure(figure: go.Figure, provenance: dict) -> go.Figure:
    """A copy of `figure` with its provenance as a small footnote under the plot (for PNG/SVG exports)."""
    stamped = go.Figure(figure)
    bottom = (stamped.layout.margin.b if stamped.layout.margin.b is not None else 80) + 30
    stamped.add_annotation(text=_html.escape(provenance_line(provenance)), xref="paper", yref="paper", x=0, y=0,
                           yshift=-bottom + 8, xanchor="left", yanchor="bottom", showarrow=False,
                           font={"size": 9, "color": "#555555"})
    stamped.update_layout(margin={"b": bottom})
    return stamped


# ------------------------------------------------------------------------------------------ HTML report
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#1F2933;line-height:1.5}
h1{border-bottom:3px solid #0072B2;padding-bottom:.3em}h2{margin-top:2em;color:#0072B2}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ccd;padding:.3em .6em;
text-align:left}th{background:#F2F5F8}.note{background:#FFF8E1;border-left:4px solid #E69F00;padding:.4em .8em;
margin:.4em 0}pre{background:#F2F5F8;padding:1em;overflow-x:auto;font-size:.8em;white-space:pre-wrap}
.figure svg{max-width:100%;height:auto}section{break-inside:auto}h2{break-after:avoid}
"""


def _table_html(table: pd.DataFrame) -> str:
    return table.to_html(index=False, border=0, na_rep="—", escape=True, classes="data")


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{_html.escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip())


def build_report_html(title: str, sections: list[ReportSection], provenance: dict, *, static: bool = False) -> str:
    """A self-contained HTML page: sections with interactive plotly figures (plotly.js inlined once),
    tables and caveats, then the provenance as a table and as JSON (shown, and in <script id="provenance">).
    static=True draws each figure as inline SVG instead (no JavaScript: what the PDF is printed from; needs
    Chromium, ImageExportUnavailable otherwise)."""
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{_html.escape(title)}</h1>",
             f"<p>Created {_html.escape(provenance['created_utc'])} by Capacity Gap Lab "
             f"{_html.escape(provenance['versions'].get('capacity_gap_lab', '?'))}.</p>"]
    js_included = False
    for number, section in enumerate(sections, start=1):
        parts.append(f"<section><h2>{number}. {_html.escape(section.title)}</h2>{_paragraphs(section.text)}")
        if section.figure is not None and static:
            svg = figure_image(section.figure, "svg", width=900, height=520).decode("utf-8")
            parts.append(f"<div class='figure' id='figure-{number}'>{svg[svg.find('<svg'):]}</div>")
        elif section.figure is not None:
            parts.append(section.figure.to_html(full_html=False, include_plotlyjs=not js_included,
                                                div_id=f"figure-{number}", config={"displaylogo": False}))
            js_included = True
        if section.table is not None and len(section.table):
            parts.append(_table_html(section.table))
        parts.extend(f"<div class='note'>{_html.escape(n)}</div>" for n in section.notes)
        parts.append("</section>")
    rows = [("created (UTC)", provenance["created_utc"])]
    rows += [(f"data: {d.get('name', '?')}", ", ".join(f"{k} {v}" for k, v in d.items() if k != "name"))
             for d in provenance["datasets"]] or [("data", "none (the reported law only)")]
    rows += [(f"setting: {k}", str(v)) for k, v in provenance["settings"].items()]
    rows += [(f"version: {k}", v) for k, v in provenance["versions"].items()]
    parts.append("<section><h2>Provenance</h2><table><tr><th>item</th><th>value</th></tr>"
                 + "".join(f"<tr><td>{_html.escape(k)}</td><td>{_html.escape(str(v))}</td></tr>" for k, v in rows)
                 + "</table><pre>" + _html.escape(json.dumps(provenance, indent=2, default=str)) + "</pre>"
                 # the same JSON, unescaped, for programs: json.loads(<script id="provenance">.text)
                 + "<script type='application/json' id='provenance'>"
                 + json.dumps(provenance, indent=2, default=str).replace("</", "<\\/") + "</script></section>")
    parts.append("</body></html>")
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------ images
def find_browser() -> str | None:
    """A Chromium for kaleido: $BROWSER_PATH if it exists, else Debian's /usr/bin/chromium or one on PATH."""
    env = os.environ.get("BROWSER_PATH")
    if env and Path(env).is_file():
        return env
    for candidate in BROWSER_CANDIDATES:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    for name in _BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def figure_image(figure: go.Figure, fmt: str = "png", *, width: int = 1000, height: int = 600,
                 scale: float = 2.0) -> bytes:
    """The figure as PNG, SVG or PDF bytes through kaleido (width and height in CSS pixels, 96 to the inch; scale
    multiplies a PNG's pixels); ImageExportUnavailable (with the reason) when no browser is found or the export
    fails, so the caller can offer HTML instead."""
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"image format: expected 'png', 'svg' or 'pdf', found {fmt!r}")
    browser = find_browser()
    if browser is None:
        raise ImageExportUnavailable("no Chromium/Chrome was found for PNG/SVG/PDF export (looked at $BROWSER_PATH, "
                                     f"{', '.join(BROWSER_CANDIDATES)} and PATH); install Debian's `chromium` "
                                     "or download the figure as HTML")
    os.environ.setdefault("BROWSER_PATH", browser)  # kaleido 1.x finds its browser through choreographer
    try:
        return figure.to_image(format=fmt, width=width, height=height, scale=scale if fmt == "png" else 1)
    except Exception as error:  # noqa: BLE001 - kaleido raises many kinds; the user needs one message
        raise ImageExportUnavailable(f"the {fmt.upper()} export failed ({error.__class__.__name__}: {error}); "
                                     "download the figure as HTML instead") from error


def figure_html(figure: go.Figure, provenance: dict | None = None) -> str:
    """One figure as a self-contained interactive HTML page (the fallback when no browser can draw images)."""
    fig = stamp_figure(figure, provenance) if provenance else figure
    return fig.to_html(full_html=True, include_plotlyjs=True, config={"displaylogo": False})


PRINT_TIMEOUT_SECONDS = 120  # printing a report of a dozen SVG figures takes a few seconds


def build_report_pdf(title: str, sections: list[ReportSection], provenance: dict) -> bytes:
    """The report as a PDF: the static HTML (SVG figures, the same tables, caveats and provenance) printed by a
    headless Chromium (A4/Letter as the browser's default, no header or footer). ImageExportUnavailable when no
    browser is found or printing fails."""
    return print_to_pdf(build_report_html(title, sections, provenance, static=True))


def print_to_pdf(html: str) -> bytes:
    """An HTML page (self-contained: nothing is fetched) printed to PDF bytes by headless Chromium."""
    browser = find_browser()
    if browser is None:
        raise ImageExportUnavailable("no Chromium/Chrome was found to print the PDF (looked at $BROWSER_PATH, "
                                     f"{', '.join(BROWSER_CANDIDATES)} and PATH); download the HTML report")
    with tempfile.TemporaryDirectory(prefix="capgap_pdf_") as folder:
        page, out = Path(folder) / "report.html", Path(folder) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        argv = [browser, "--headless", "--disable-gpu", "--no-pdf-header-footer", "--disable-extensions",
                f"--user-data-dir={Path(folder) / 'profile'}", f"--print-to-pdf={out}", page.as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.insert(1, "--no-sandbox")  # Chromium refuses to start its sandbox as root (containers, CI)
        try:
            done = subprocess.run(argv, capture_output=True, timeout=PRINT_TIMEOUT_SECONDS, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ImageExportUnavailable(f"printing the PDF failed ({error}); download the HTML report") from error
        if not out.is_file() or out.stat().st_size == 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
            raise ImageExportUnavailable(f"printing the PDF failed (Chromium exit {done.returncode}: {tail[0]}); "
                                         "download the HTML report")
        return out.read_bytes()
