# mcp-suite: `make up` runs the suite on embedded defaults; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
TOOLS := .tools
TOOLS_STAMP := $(TOOLS)/.installed
# llama-cpp-python builds from source; the native CPU detection crashes on some machines, so the
# instruction sets are named. pip caches the wheel: a second venv on the same machine does not rebuild.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
BUILD_NOTE := @echo "installing; a first install compiles llama-cpp-python (minutes on 2 cores, pip shows it running)"

.PHONY: up test lint typecheck pytest conformance bench services tools clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(BUILD_NOTE)
	$(PY) -m pip install --progress-bar on -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(BUILD_NOTE)
	$(PY) -m pip install --progress-bar on -e '.[dev]'
	touch $(STAMP) $@

up: $(STAMP)
	$(VENV)/bin/mcp-suite up

services:
	@scripts/ensure-services.sh

# Node 22, the MCP conformance suite and the MCP Inspector, pinned by scripts/node-tools/, for the tests.
$(TOOLS_STAMP): scripts/node-tools/package.json scripts/node-tools/package-lock.json
	@command -v npm >/dev/null || { echo "make tools: npm not found; install Node.js and npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	@echo "make tools: installing Node 22, the conformance suite and the Inspector into $(TOOLS)/ (about a minute, once)"
	mkdir -p $(TOOLS)
	cp scripts/node-tools/package.json scripts/node-tools/package-lock.json $(TOOLS)/
	cd $(TOOLS) && npm ci --silent --no-audit --no-fund
	touch $@

tools: $(TOOLS_STAMP)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) scripts/check_file_sizes.py

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy

pytest: $(DEV_STAMP) services $(TOOLS_STAMP)
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

# The official MCP conformance suite on every path (docs/conformance.md); `make pytest` runs it too.
conformance: $(DEV_STAMP) services $(TOOLS_STAMP)
	$(VENV)/bin/pytest -q tests/scenarios/test_conformance.py

bench: $(STAMP)
	$(VENV)/bin/mcp-suite bench

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
