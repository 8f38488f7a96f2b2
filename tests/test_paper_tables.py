"""Paper-ready tables: LaTeX booktabs and Markdown from one writer, numbers at a scale that keeps their digits."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.paper_tables import (Column, fmt_interval, fmt_signed_size, latex_document, latex_escape,
                                   render_table)

ROOT = Path(__file__).resolve().parents[1]
SIMULATED = ROOT / "analysis" / "data" / "simulated_distillation.csv"
PDFLATEX = shutil.which("pdflatex")
SAMPLES = ROOT / "tests" / "data" / "lmeval_samples" / "v0.4_plain"


@pytest.mark.parametrize("value, text", [(-147_000, "-147K"), (-99_950, "-100K"), (2_500_000_000, "2.5B"),
                                         (0, "0"), (-11_498_000, "-11.5M"), (float("nan"), "—")])
def test_signed_sizes_keep_their_digits(value, text):
    assert fmt_signed_size(value) == text


@pytest.mark.parametrize("lower, upper, text", [
    (-470_000, 180_000, "-470K – 180K"),
    (-49_000, 21_000, "-49K – 21K"),  # what a one-decimal M scale would print as "-0M – 0M"
    (1_234_100_000, 1_234_400_000, "1.2341B – 1.2344B"),  # more digits until the ends differ
    (float("nan"), 3_090_000_000, "< 3.09B"),
    (1_500_000_000, float("nan"), "> 1.5B"),
])
def test_an_interval_never_reads_as_two_equal_ends(lower, upper, text):
    assert fmt_interval(lower, upper) == text
    assert "0M – 0M" not in fmt_interval(lower, upper)


def test_latex_special_characters_in_data_are_escaped():
    assert latex_escape("a_b & 50% $x$ #1 {y} ~^\\") == \
        r"a\_b \& 50\% \$x\$ \#1 \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{}"


FRAME = pd.DataFrame({"name": ["gpt2_like|x", "pythia"], "n": [3, 12], "b": [-147_000, 2.5e9],
                      "lo": [-470_000, float("nan")], "hi": [180_000, 3e9]})
SPEC = [Column("name", "Family"), Column("n", "Students", "int"), Column("b", "$b$", "signed_size", latex=True),
        Column(("lo", "hi"), "95\\% CI", "size_interval", latex=True)]


def test_the_latex_table_is_a_booktabs_tabular_with_math_minus_and_en_dash():
    tex = render_table(FRAME, SPEC, "latex", caption="data x.csv")
    lines = tex.splitlines()
    assert lines[0] == "% data x.csv"
    assert lines[1] == r"\begin{tabular}{lrrr}" and lines[2] == r"\toprule" and lines[-1] == r"\end{tabular}"
    assert r"gpt2\_like|x & 3 & $-$147K & $-$470K--180K \\" in lines
    assert r"pythia & 12 & 2.5B & $<$ 3B \\" in lines


def test_the_markdown_table_escapes_pipes_and_right_aligns_numbers():
    md = render_table(FRAME, SPEC, "markdown")
    assert md.splitlines()[0] == "| Family | Students | b | 95% CI |"
    assert md.splitlines()[1] == "|---|---:|---:|---:|"
    assert "| gpt2_like\\|x | 3 | -147K | -470K – 180K |" in md


def test_an_unknown_format_or_kind_is_refused():
    with pytest.raises(ValueError, match="fmt"):
        render_table(FRAME, SPEC, "html")
    with pytest.raises(ValueError, match="kind"):
        Column("x", "X", "percent")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_compare_table_markdown_puts_the_unpaired_interval_beside_the_paired_one():
    out = _cli("compare", *(str(p) for p in sorted(SAMPLES.iterdir())), "--table", "markdown")
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| Task | Metric | A | B | Docs | Mean A | Mean B | A - B | Paired 95% CI | "
                              "Unpaired 95% CI | p (adj.) | Test |")
    # tests/data/lmeval_samples/README.md: 10 documents, A right on 7, B on 4, discordant 4 and 1
    assert rows[1] == ("| arc_easy | acc | org/model-a | org/model-b | 10 | 0.7 | 0.4 | 0.3 | -0.124 – 0.624 | "
                       "-0.138 – 0.738 | 0.375 | mcnemar_exact |")


def test_law_table_markdown_from_the_cli_has_one_row_per_group_and_parameter():
    out = _cli("law", str(SIMULATED), "--metric", "val_loss", "--table", "markdown")
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| Group | Form | Parameter | Estimate | 95% CI |")
    assert len(rows) == 1 + 4  # header + (slope, intercept) x 2 families
    assert "0M – 0M" not in out.stdout


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed (make latex installs Debian's "
                                             "texlive-latex-base and texlive-latex-recommended)")
@pytest.mark.parametrize("command", [["law", str(SIMULATED), "--metric", "val_loss"],
                                     ["optimum", str(SIMULATED), "--metric", "val_loss"],
                                     ["compare", *(str(p) for p in sorted(SAMPLES.iterdir()))],
                                     ["plan", str(SIMULATED), "--metric", "val_loss", "--runs", "3"]])
def test_the_cli_latex_table_compiles_with_pdflatex_and_booktabs(tmp_path, command):
    out = _cli(*command, "--table", "latex")
    assert out.returncode == 0, out.stderr
    assert r"\toprule" in out.stdout
    (tmp_path / "table.tex").write_text(latex_document(out.stdout), encoding="utf-8")
    run = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "table.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "table.pdf").read_bytes().startswith(b"%PDF")
