# gdcourse: two commands on a fresh machine, `make book` and `make test`.
# Each creates .venv when it is missing and (re)installs the project when pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed-stamp

# Tools such as nbgrader shell out to executables (alembic, jupyter) found on PATH:
# put the virtual environment's bin first for every recipe.
export PATH := $(BIN):$(PATH)
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help venv book check test bench exercises install-cells student-edition grade clean

help:
	@echo "make book   build the HTML book into _build/html (strict: warnings are errors)"
	@echo "make check  ruff, then the fast tests (-m 'not slow'): well under a minute"
	@echo "make test   run the whole test suite"
	@echo "make bench  run the benchmarks and print the table"
	@echo "make exercises  regenerate exercises/ from solutions/ with nbgrader"
	@echo "make install-cells  write every notebook's install cell from _config.yml, then make exercises"
	@echo "make student-edition [EDITION=<dir>] [GIT=1]  export the student edition (no solutions)"
	@echo "make grade SUBMISSIONS=<dir>  autograde a folder of submissions [ASSIGNMENT= WORKERS= REGRADE=1]"
	@echo "make clean  remove build outputs (keeps .venv)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,book]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (gdcourse)" > /dev/null
	touch $(STAMP)

venv: $(STAMP)

# `make grade` needs only the `grade` extra (nbgrader, nbclient, ipykernel: no jupyter-book, torch,
# playwright or ruff), so a fresh clone that only grades installs that, into the same .venv,
# under its own stamp; `make test` or `make book` later adds the rest. The kernelspec is
# registered as $(STAMP) does. The grading container (Containerfile) installs the same extra.
GRADE_STAMP := $(VENV)/.grade-stamp
$(GRADE_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[grade]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (gdcourse)" > /dev/null
	touch $(GRADE_STAMP)

CHROMIUM     := /usr/bin/chromium
ASSETS       := tests/browser
ASSETS_STAMP := $(ASSETS)/node_modules/.package-lock.json

# Debian's Chromium for tests/test_browser.py (Playwright's own browser download fails here).
# A file target: a machine that already has it skips this.
$(CHROMIUM):
	DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

# bubblewrap, the sandbox that grading kernels run in (gdcourse/grader/sandbox.py); tests grade through it.
BWRAP := /usr/bin/bwrap
$(BWRAP):
	DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap

# Offline copies of the CDN assets the pages load (see README, "Maths and widgets offline").
$(ASSETS_STAMP): $(ASSETS)/package-lock.json
	npm ci --prefix $(ASSETS) --ignore-scripts --no-audit --no-fund
	touch $@

# GDCOURSE_STATIC=1: widgets show their static fallback in the built pages (see gdcourse/widgets.py)
book: $(STAMP)
	GDCOURSE_STATIC=1 $(BIN)/jupyter-book build -W -n --keep-going --path-output . .

# The habits: the lint rules of pyproject.toml on the package, tests, benchmarks and notebooks, then every
# test not marked slow (no kernels, nbgrader, sandboxes or book builds).
check: $(STAMP)
	$(BIN)/ruff check gdcourse tests benchmarks book solutions
	$(BIN)/python -m pytest -m "not slow" -q

test: $(STAMP) $(CHROMIUM) $(BWRAP) $(ASSETS_STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

exercises: $(STAMP)
	$(BIN)/python -m gdcourse.release

# The install cell of book/ and solutions/ from _config.yml (repository.url, gdcourse.release),
# then exercises/ from solutions/.
install-cells: $(STAMP)
	$(BIN)/python -m gdcourse.edition install-cells
	$(BIN)/python -m gdcourse.release

# What students may see, ready to push to the student repository (see book/instructors.md).
# EDITION=<folder>: a new or empty folder instead of _build/student-edition (rebuilt each time).
student-edition: $(STAMP)
	$(BIN)/python -m gdcourse.edition student-edition $(if $(EDITION),"$(EDITION)") $(if $(GIT),--git)

# make grade SUBMISSIONS=<folder or LMS zip> [ASSIGNMENT="ch06_momentum ch08_adam"] [WORKERS=N]
#            [REGRADE=1] [TIMEOUT=seconds] [GRADING_DIR=grading]
# ASSIGNMENT (names separated by spaces or commas) limits the run to those assignments (default:
# the ones handed in); REGRADE=1 grades unchanged submissions again (0, no or empty: not).
comma := ,
GRADE_ASSIGNMENTS = $(foreach name,$(subst $(comma), ,$(ASSIGNMENT)),--assignment "$(name)")
GRADE_REGRADE = $(if $(filter-out 0 no false,$(REGRADE)),--regrade)
grade: $(GRADE_STAMP)
	@test -n "$(SUBMISSIONS)" || (echo "usage: make grade SUBMISSIONS=<folder of submissions or LMS zip> [ASSIGNMENT=...] [WORKERS=N] [REGRADE=1]" >&2; exit 2)
	$(BIN)/python -m gdcourse.grade "$(SUBMISSIONS)" $(GRADE_ASSIGNMENTS) $(if $(WORKERS),--workers "$(WORKERS)") $(GRADE_REGRADE) $(if $(TIMEOUT),--timeout "$(TIMEOUT)") $(if $(GRADING_DIR),--grading-dir "$(GRADING_DIR)")

clean:
	rm -rf _build .pytest_cache .hypothesis
