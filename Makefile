# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test check lint types imports format demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

## run: create the environment, migrate, load the demo, serve on http://$(HOST):$(PORT)
run: $(VENV)/.installed
	$(BIN)/vcorch db upgrade
	$(BIN)/vcorch demo
	$(BIN)/vcorch users bootstrap-admin
	$(BIN)/vcorch serve --host $(HOST) --port $(PORT)

## test: install the test extras and run the whole suite
test: $(VENV)/.installed-test
	$(BIN)/pytest

## lint: ruff's rules and ruff's formatting, checked (nothing is rewritten)
lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

## types: mypy (strict on src/)
types: $(VENV)/.installed-test
	$(BIN)/mypy

## imports: the import-linter contracts of pyproject.toml (which package may import which)
imports: $(VENV)/.installed-test
	$(BIN)/lint-imports

## check: lint, types, import contracts and tests, as before every commit
check: lint types imports test

format: $(VENV)/.installed-test
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
