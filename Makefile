# The README's two commands: `make run` (set up + main job) and `make test` (set up + tests).
# `make run` installs aibt and its dependencies; `make test` adds the test and Dask extras.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.aibt-installed
TEST_STAMP := $(VENV)/.aibt-installed-test

.PHONY: setup run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(TEST_STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dist]'
	touch $(RUN_STAMP) $(TEST_STAMP)

setup: $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/aibt data status
	$(BIN)/aibt run

test: $(TEST_STAMP)
	$(BIN)/python -m pytest

bench: $(RUN_STAMP)
	$(BIN)/python -m backtests.bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
