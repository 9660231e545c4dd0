# mcp-suite: `make up` runs the suite on embedded defaults; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: up test lint typecheck pytest bench services clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

up: $(STAMP)
	$(VENV)/bin/mcp-suite up

services:
	@scripts/ensure-services.sh

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) scripts/check_file_sizes.py

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy

pytest: $(DEV_STAMP) services
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

bench: $(STAMP)
	$(VENV)/bin/mcp-suite bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
