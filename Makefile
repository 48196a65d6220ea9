# The README's two commands: `make run` (set up + main job) and `make test` (set up + tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.aibt-installed

.PHONY: setup run test bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dist]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/aibt data status
	$(BIN)/aibt run

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m backtests.bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
