"""Figures for a paper or a talk: PDF that opens at the asked size, one style, the talk bundle, the report as PDF."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile

import pytest

from analysis.figures import PALETTE, law_figure
from analysis.paper_figures import (BundleItem, FigureStyle, figure_file, file_stem, style_figure,
                                    talk_bundle)
from analysis.report import ReportSection, build_provenance, build_report_pdf, find_browser
from analysis.reported_law import load_reported_law

# drawing through Chromium takes seconds per figure: slow, as the other browser tests (make test runs them)
_slow = pytest.mark.slow
_browser = pytest.mark.skipif(find_browser() is None, reason="no Chromium for kaleido (make browser)")
needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None or shutil.which("pdfinfo") is None,
                                   reason="poppler-utils' pdftoppm/pdfinfo are not installed (make latex)")


def _figure():
    return law_figure(None, None, reported=load_reported_law())


def _pdf_page_points(pdf: bytes, tmp_path) -> tuple[float, float]:
    path = tmp_path / "f.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, timeout=60, check=True).stdout
    width, height = next(line for line in info.splitlines() if line.startswith("Page size:")).split()[2:5:2]
    return float(width), float(height)


def _opens(pdf: bytes, tmp_path) -> bytes:
    """Render the first page with pdftoppm (fails on a broken PDF); return the PNG."""
    path = tmp_path / "open.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-singlefile", str(path), str(tmp_path / "page")],
                   capture_output=True, timeout=60, check=True)
    png = (tmp_path / "page.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    return png


def test_the_style_sets_the_printed_size_font_palette_and_legend_and_leaves_the_original_alone():
    fig = _figure()
    before = fig.to_json()
    styled = style_figure(fig, FigureStyle(width_in=3.5, font_pt=9))
    assert styled.layout.width == 336 and styled.layout.height == 252  # 3.5 in x 2.625 in at 96 px/in
    assert styled.layout.font.size == pytest.approx(12.0)  # 9 pt = 12 CSS px
    assert list(styled.layout.colorway) == list(PALETTE)
    assert styled.layout.legend.orientation == "h" and styled.layout.title.text is None
    assert "params" in styled.layout.xaxis.title.text  # units on the axes are the figures' own
    assert fig.to_json() == before


def test_layouts_and_bad_sizes():
    assert FigureStyle.for_layout("two-column").width_in == 7.0
    with pytest.raises(ValueError, match="width_in"):
        FigureStyle(width_in=0.1)
    with pytest.raises(ValueError, match="font_pt"):
        FigureStyle(font_pt=100)
    with pytest.raises(ValueError, match="layout"):
        FigureStyle.for_layout("poster")
    assert file_stem("Law fit (gpt2 · 2B)") == "law_fit_gpt2_2b" and file_stem("../..") == "figure"


@_slow
@_browser
@needs_poppler
@pytest.mark.parametrize("width_in", [3.5, 7.0])
def test_a_pdf_figure_opens_and_is_as_wide_as_asked(tmp_path, width_in):
    pdf = figure_file(_figure(), "pdf", FigureStyle(width_in=width_in, font_pt=8))
    assert pdf.startswith(b"%PDF")
    width, height = _pdf_page_points(pdf, tmp_path)
    assert width == pytest.approx(72 * width_in, abs=1.5)
    assert height == pytest.approx(72 * width_in * (0.75 if width_in <= 5 else 2 / 3), abs=1.5)
    _opens(pdf, tmp_path)


@_slow
@_browser
@needs_poppler
def test_the_talk_bundle_holds_a_pdf_and_a_png_of_each_figure_with_captions_and_provenance(tmp_path):
    prov = build_provenance(datasets=[{"name": "x.csv", "data_hash": "abc123"}], settings={"metric": "val_loss"})
    items = [BundleItem("Law fit", _figure(), "The law as reported."), BundleItem("Law fit", _figure(), "")]
    archive = zipfile.ZipFile(io.BytesIO(talk_bundle(items, prov, FigureStyle(width_in=5, font_pt=12))))
    assert sorted(archive.namelist()) == ["captions.txt", "law_fit.pdf", "law_fit.png", "law_fit_2.pdf",
                                          "law_fit_2.png", "provenance.json"]
    captions = archive.read("captions.txt").decode()
    assert "law_fit.pdf, law_fit.png: Law fit" in captions and "The law as reported." in captions
    assert "abc123" in captions and json.loads(archive.read("provenance.json"))["settings"]["metric"] == "val_loss"
    assert archive.read("law_fit.png").startswith(b"\x89PNG")
    _opens(archive.read("law_fit_2.pdf"), tmp_path)


@_slow
@_browser
@needs_poppler
def test_the_report_prints_to_a_pdf_that_opens_with_its_figures_text_and_provenance(tmp_path):
    prov = build_provenance(datasets=[{"name": "x.csv", "data_hash": "abc123"}], settings={"metric": "val_loss"})
    sections = [ReportSection("The law", text="Slope 2.5; intercept -147K.", figure=_figure())]
    pdf = build_report_pdf("Capacity gap report", sections, prov)
    assert pdf.startswith(b"%PDF")
    _opens(pdf, tmp_path)
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, timeout=60).stdout
    assert "The law" in text and "intercept -147K" in text and "abc123" in text
