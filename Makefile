# Two commands: `make demo` (the main job end to end on built-in demo data) and `make test`.
# Both create .venv and install the pinned stack when missing.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | sha256sum | cut -c1-12)
export PATH := $(abspath $(BIN)):$(PATH)
export WANDB_MODE ?= offline

.PHONY: help venv demo test test-slow test-all lint format dvc-deps bench clean-demo

LINTED := src tests bench

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)  ## create .venv with the pinned stack (done by every target that needs it)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .

demo: venv  ## the main job end to end on simulated recordings
	$(BIN)/python -m obstacles.commands.demo

# PYTEST_ARGS picks more marks, e.g. PYTEST_ARGS='-m "not slow"' adds the browser tests.
# Tests run in TEST_WORKERS processes (pytest-xdist), a test file per process so that its
# module fixtures (a trained run, a DVC project) are built once, the files marked `long` first
# (tests/conftest.py); TEST_WORKERS=0 runs in one.
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: venv  ## the test suite (not the slow marks)
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-slow: venv  ## the slow end-to-end tests only (CI runs them after `make test`)
	$(BIN)/python -m pytest $(XDIST) -m "slow" $(PYTEST_ARGS)

test-all: venv  ## every test, the slow end-to-end ones included
	$(BIN)/python -m pytest $(XDIST) -m "" 

lint: venv  ## ruff: lint, import order, formatting (config in pyproject.toml); changes nothing
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

format: venv  ## ruff: sort imports and format the tree in place
	$(BIN)/ruff check --fix --select I $(LINTED)
	$(BIN)/ruff format $(LINTED)

dvc-deps: venv  ## write each DVC stage's code deps from the modules its command imports
	$(BIN)/python -c 'from obstacles.infra.code_deps import write_all; write_all()'

bench: venv  ## every benchmark, printing its figures
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/thresholds.py
	$(BIN)/python bench/train.py
	$(BIN)/python bench/evaluate.py
	$(BIN)/python bench/similar.py
	$(BIN)/python bench/lineage.py
	$(BIN)/python bench/learning.py  # the longest: about an hour on 2 CPU cores at 750 and 3,000 pairs

clean-demo:  ## remove the demo's outputs
	rm -rf datasets reports experiments/[0-9]* wandb
