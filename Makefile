# Tillbridge: `make run` runs everything on one machine; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test

.PHONY: run test lint bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tillbridge demo

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check service training tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/e2e_orders.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
