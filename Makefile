# The few commands a newcomer needs. Each sets up .venv first (idempotent).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-all lint bench bench-speed docs clean

ASSETS := $(VENV)/.app-assets

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The teaching app's front-end files (Solara's proxy cache, from the npm registry), so
# `changesim app` serves offline on a fresh clone. Without npm the rest still installs;
# `changesim app` then says what is missing and how to fetch it.
$(ASSETS): $(STAMP)
	@if $(BIN)/changesim app --fetch-assets; then touch $(ASSETS); \
	else echo "warning: the teaching app's front-end files were not fetched (needs npm); changesim app --fetch-assets"; fi

setup: $(STAMP) $(ASSETS)  ## create .venv, install changesim with its dev tools and the app's front-end files

demo: setup  ## run the main demo on the built-in default organisation
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

bench-speed: $(STAMP)  ## issue 14's targets (full model, batches, small runs, calibration); rewrites the README table
	$(BIN)/python experiments/e09_benchmark/bench_speed.py --out results/benchmark --readme README.md

docs: $(STAMP)  ## regenerate the tables in docs/ODD.md from the code
	$(BIN)/python -m sim.views.odd

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
