# Two commands: `make demo` (the main job end to end on built-in demo data) and `make test`.
# Both create .venv and install the pinned stack when missing.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | sha256sum | cut -c1-12)
export PATH := $(abspath $(BIN)):$(PATH)
export PYTHONDONTWRITEBYTECODE := 1
export WANDB_MODE ?= offline

.PHONY: venv demo test test-all bench clean-demo

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .

demo: venv
	$(BIN)/python -m obstacles.demo

# PYTEST_ARGS picks more marks, e.g. PYTEST_ARGS='-m "not slow"' adds the browser tests.
test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-all: venv
	$(BIN)/python -m pytest -m "" 

bench: venv
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/thresholds.py
	$(BIN)/python bench/train.py
	$(BIN)/python bench/evaluate.py
	$(BIN)/python bench/similar.py

clean-demo:
	rm -rf datasets reports experiments/[0-9]* wandb
