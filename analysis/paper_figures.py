"""Figures for a paper or a talk: one style, an exact printed size, PDF as well as PNG/SVG, and a talk bundle.

    style = FigureStyle.for_layout("one-column")            # 3.5 in wide, 8 pt text
    pdf = figure_file(law_figure(fit), "pdf", style)          # vector PDF, 3.5 in x 2.6 in
    zip_bytes = talk_bundle([BundleItem("law", fig, "The fitted law ...")], provenance)

The style (`style_figure`) is the same for every figure: a sans-serif font at the chosen size in points, the
Okabe-Ito colour-blind-safe palette of analysis.figures, white background with light grid lines, the legend above
the plot (a column is too narrow beside it), and the axis titles the figures already carry with their units. The
size is physical: plotly lays a figure out in CSS pixels, 96 to the inch, and kaleido's PDF keeps that scale (a
336-pixel-wide figure is a 252 pt = 3.5 in PDF page), so width_in * 96 pixels are asked for; PNGs are drawn at
PNG_DPI. Rendering needs Chromium (kaleido); without one, analysis.report.ImageExportUnavailable says so.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass

import plotly.graph_objects as go

from analysis.figures import PALETTE
from analysis.report import figure_image, provenance_line

CSS_PX_PER_INCH = 96  # plotly's layout unit; kaleido's PDF prints 96 px to the inch
PNG_DPI = 300  # print resolution of PNG exports
FONT_FAMILY = "Helvetica, Arial, Liberation Sans, DejaVu Sans, sans-serif"  # the first one the system has
# Widths of common layouts, inches: one column of a two-column paper (ACL, NeurIPS-style two-column, IEEE: 3.3-3.5),
# the full text width of a two-column paper (~7), and a 16:9 slide's content area (~10).
LAYOUTS = {"one-column": (3.5, 8.0), "two-column": (7.0, 9.0), "talk": (10.0, 18.0)}  # (width in, font pt)
FORMATS = ("pdf", "png", "svg")


@dataclass(frozen=True)
class FigureStyle:
    """How an exported figure looks on the page."""

    width_in: float = 3.5  # printed width, inches (one column of a two-column paper)
    font_pt: float = 8.0  # text size, points (a paper's captions are 8-9 pt)
    height_in: float | None = None  # printed height, inches; None: 3/4 of the width (2/3 beyond 5 in)
    title: bool = False  # keep the figure's title (a paper puts it in the caption instead)

    def __post_init__(self):
        if not (1.0 <= self.width_in <= 20.0):
            raise ValueError(f"width_in: expected 1 to 20 inches, found {self.width_in!r}")
        if not (5.0 <= self.font_pt <= 40.0):
            raise ValueError(f"font_pt: expected 5 to 40 points, found {self.font_pt!r}")
        if self.height_in is not None and not (1.0 <= self.height_in <= 20.0):
            raise ValueError(f"height_in: expected 1 to 20 inches, found {self.height_in!r}")

    @classmethod
    def for_layout(cls, layout: str, **changes) -> FigureStyle:
        if layout not in LAYOUTS:
            raise ValueError(f"layout: expected one of {', '.join(LAYOUTS)}, found {layout!r}")
        width, font = LAYOUTS[layout]
        return cls(**{"width_in": width, "font_pt": font, **changes})

    @property
    def height(self) -> float:
        return self.height_in or self.width_in * (0.75 if self.width_in <= 5 else 2 / 3)

    def px(self, inches: float) -> int:
        return round(inches * CSS_PX_PER_INCH)

    @property
    def font_px(self) -> float:
        return self.font_pt * CSS_PX_PER_INCH / 72  # a point is 1/72 in


def style_figure(figure: go.Figure, style: FigureStyle = FigureStyle()) -> go.Figure:
    """A copy of `figure` in the paper style at the style's printed size (the original is not changed)."""
    fig = go.Figure(figure)
    small = style.font_px * 0.85
    fig.update_layout(
        template="plotly_white", colorway=list(PALETTE), width=style.px(style.width_in),
        height=style.px(style.height), font=dict(family=FONT_FAMILY, size=style.font_px, color="#000000"),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, font=dict(size=small),
                    bgcolor="rgba(0,0,0,0)", entrywidthmode="fraction", itemwidth=30, tracegroupgap=0,
                    entrywidth=1 / 3 if style.width_in < 5 else 1 / 4),
        margin=dict(l=style.font_px * 4.5, r=style.font_px, t=style.font_px * (5 if style.title else 3),
                    b=style.font_px * 3.5),
        paper_bgcolor="white", plot_bgcolor="white")
    if not style.title:
        fig.update_layout(title=None)
    fig.update_xaxes(showline=True, linecolor="#000000", linewidth=0.75, ticks="outside", gridcolor="#E5E5E5",
                     title_font=dict(size=style.font_px), tickfont=dict(size=small))
    fig.update_yaxes(showline=True, linecolor="#000000", linewidth=0.75, ticks="outside", gridcolor="#E5E5E5",
                     title_font=dict(size=style.font_px), tickfont=dict(size=small))
    fig.update_annotations(font_size=small)
    return fig


def figure_file(figure: go.Figure, fmt: str, style: FigureStyle = FigureStyle()) -> bytes:
    """The figure in the paper style as PDF, PNG (PNG_DPI) or SVG bytes; ImageExportUnavailable without Chromium."""
    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, found {fmt!r}")
    fig = style_figure(figure, style)
    scale = PNG_DPI / CSS_PX_PER_INCH if fmt == "png" else 1.0
    return figure_image(fig, fmt, width=fig.layout.width, height=fig.layout.height, scale=scale)


@dataclass(frozen=True)
class BundleItem:
    """One figure of a talk bundle: its file stem, the figure and its caption."""

    name: str
    figure: go.Figure
    caption: str = ""


def file_stem(name: str) -> str:
    """A safe file name from a figure's title: 'Law fit (gpt2)' -> 'law_fit_gpt2'."""
    stem = re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")[:60]
    return stem or "figure"


def talk_bundle(items: list[BundleItem], provenance: dict, style: FigureStyle | None = None) -> bytes:
    """A zip of every figure as PDF and PNG (in `style`, default the talk layout), with captions.txt (each file's
    caption and the provenance line) and provenance.json. Names are made unique ('law_fit', 'law_fit_2')."""
    style = style or FigureStyle.for_layout("talk")
    buffer = io.BytesIO()
    lines = [f"Figures exported by Capacity Gap Lab at {style.width_in:g} in wide, {style.font_pt:g} pt text.",
             f"Provenance: {provenance_line(provenance)}", ""]
    seen: dict[str, int] = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in items:
            stem = file_stem(item.name)
            seen[stem] = seen.get(stem, 0) + 1
            if seen[stem] > 1:
                stem = f"{stem}_{seen[stem]}"
            for fmt in ("pdf", "png"):
                archive.writestr(f"{stem}.{fmt}", figure_file(item.figure, fmt, style))
            lines += [f"{stem}.pdf, {stem}.png: {item.name}", f"  {item.caption or '(no caption)'}", ""]
        archive.writestr("captions.txt", "\n".join(lines))
        archive.writestr("provenance.json", json.dumps(provenance, indent=2, default=str))
    return buffer.getvalue()
