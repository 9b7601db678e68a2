# The README's two commands. Everything else is a detail of these.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install lint types clean services

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/vigil demo

# Lint and type checks first (each fails the run on error), then what the tests need (PostgreSQL;
# Prometheus is started by its own test), then the suite.
test: install lint types services
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

services:
	@bash scripts/test-services.sh

lint: install
	$(BIN)/python -m ruff check src tests

types: install
	$(BIN)/python -m mypy

clean:
	rm -rf $(VENV) build *.egg-info vigil.db*
