# Capacity Gap Lab — one entry point.
#   make app        set up .venv and start the app on the bundled data (http://localhost:8501)
#   make test       set up .venv (+ Debian chromium for the browser test, TeX and poppler for the paper
#                   tables and PDF figures, Slurm and munge for the cluster test), run ruff and every test
#   make test-fast  the same without tests marked slow
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup app lint test test-fast browser latex slurm bench clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# python -m app passes the safe server settings (localhost, allowed hosts, no statistics) from any folder
app: setup
	$(PY) -m app

# Debian's chromium drives the real-browser test and the PNG/SVG export (kaleido); installed once, as root.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Debian's TeX (pdflatex + booktabs) compiles the paper-table test; poppler-utils' pdftoppm opens the PDF figures.
latex:
	@{ command -v pdflatex >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1; } || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq texlive-latex-base texlive-latex-recommended \
	    poppler-utils >/dev/null; }

# Debian's Slurm and munge: the test suite starts a real single-node Slurm with them (tests/slurm_cluster.py);
# installed once, as root (a machine without them skips that test and says why).
slurm:
	@command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq slurm-wlm munge >/dev/null; }

lint: setup
	$(PY) -m ruff check analysis eval_runs app tests bench

test: setup browser latex slurm lint
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

# Speed benchmarks that need nothing but the repo (bench/RESULTS.md lists them with the numbers measured);
# distill_prune_bench.py needs a finished sweep (--sweep DIR) and gpu_check.sh a GPU (--smoke checks it on CPU).
bench: setup browser
	for b in pipeline_bench distill_step_bench shared_teacher_bench page_render_bench paired_bench; do \
	  $(PY) bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
