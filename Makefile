# The few commands a newcomer needs. Each sets up .venv first (idempotent).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-all lint bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install changesim with its dev tools

demo: $(STAMP)  ## run the main demo on the built-in default organisation
	$(BIN)/changesim report

test: $(STAMP)  ## the default test suite (what CI runs)
	$(BIN)/pytest -q

test-all: $(STAMP)  ## every test, including those marked slow
	$(BIN)/pytest -q -m ""

lint: $(STAMP)
	$(BIN)/ruff check sim tests
	$(BIN)/ruff format --check sim

bench: $(STAMP)  ## speed benchmarks; figures go to results/benchmark/
	$(BIN)/python experiments/e09_benchmark/bench.py

docs: $(STAMP)  ## regenerate the tables in docs/ODD.md from the code
	$(BIN)/python -m sim.views.odd

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
