# The course's commands. `make install` then `make test` is all a fresh Linux machine needs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg
JOBS   ?= 2
# e.g. https://download.pytorch.org/whl/cpu: take torch from there (CPU build) before the rest
TORCH_INDEX ?=

.PHONY: install test unit notebooks lint lint-workflows lab student masters check-editions badges bench clean gpu-check e2e colab-sim compat

install:                     ## create .venv with the pinned course environment and the checker
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(if $(TORCH_INDEX),$(PY) -m pip install -q torch==2.13.0 --index-url $(TORCH_INDEX))
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q -e .

test: lint                   ## everything CI checks: lint, unit tests, both editions under nbval, sync, badges
	$(PY) -m pytest -q -n $(JOBS) --dist loadfile $(NBVAL) tests notebooks

unit:                        ## the checker's unit tests only (fast)
	$(PY) -m pytest -q -n $(JOBS) --dist loadfile tests

notebooks:                   ## both editions under nbval only
	$(PY) -m pytest -q -n $(JOBS) --dist loadfile $(NBVAL) notebooks

lint: lint-workflows         ## ruff on the package, tools, tests and notebooks; the workflows (below)
	$(PY) -m ruff check .

lint-workflows:              ## actionlint and zizmor (offline) on .github/workflows: fails on what GitHub would not run
	@status=0; \
	echo "actionlint .github/workflows"; \
	$(VENV)/bin/actionlint -no-color -shellcheck= -pyflakes= .github/workflows/*.yml || status=1; \
	if $(PY) -c 'import sys; sys.exit(sys.version_info >= (3, 11))'; then \
	  echo "zizmor not run: its wheel needs Python 3.11+ (this venv: $$($(PY) -V))"; \
	else \
	  echo "zizmor --offline .github/workflows"; \
	  $(VENV)/bin/zizmor --offline --no-progress --color=never .github/workflows || status=1; \
	fi; \
	exit $$status

lab:                         ## open the lessons in JupyterLab
	$(VENV)/bin/jupyter lab notebooks

masters:                     ## re-run the master notebooks top to bottom, storing outputs
	$(PY) -m tools.editions execute

student:                     ## regenerate the student editions (refuses to overwrite edited ones; FORCE=1 to)
	$(PY) -m tools.editions student $(if $(FORCE),--force,)

check-editions:              ## fail if a student edition is not what `make student` would produce
	$(PY) -m tools.editions check

badges:                      ## rewrite Colab badges and setup cells from course.json
	$(PY) -m tools.colab

bench:                       ## print the speed figures (import time, check latency, nbval vs bare notebooks)
	$(PY) -m tools.bench

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache

gpu-check:                   ## the checker with CUDA tensors (skips with a clear message without a GPU)
	@$(PY) -c "import torch; print('CUDA:', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '- no GPU here: the CUDA tests will be skipped')"
	$(PY) -m pytest -q -rs -p no:cacheprovider tests/test_cuda.py

e2e:                         ## the student editions in JupyterLab, driven by Chromium (needs Debian's chromium)
	timeout 900 $(PY) -m pytest -q -p no:cacheprovider e2e

compat:                      ## the unit tests on Colab's torch 2.11 (own venv in .compat/, ~3 GB from PyPI; not in CI)
	$(PY) -m tools.compat $(if $(COMPAT_TORCH),--torch $(COMPAT_TORCH),) $(if $(COMPAT_PYTHON),--python $(COMPAT_PYTHON),)

colab-sim:                   ## the student editions in a Colab-like venv (ipywidgets 7.7.1, ipykernel 6.17.1)
	timeout 1200 $(PY) -m tools.colab_sim
