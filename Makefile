# Tillbridge: `make run` runs everything on one machine; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/dev.txt
STAMP := $(VENV)/.installed-test
# Test processes: one per core by default (the tests isolate their Redis and database per process).
TEST_PROCESSES ?= auto

.PHONY: run test test-serial lint bench install lock clean

# Installs exactly the pinned, hash-checked versions in requirements/dev.txt, then Tillbridge itself.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tillbridge demo

test: $(STAMP)
	$(BIN)/pytest -n $(TEST_PROCESSES)

test-serial: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check service training tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/e2e_orders.py

# After changing the dependencies in pyproject.toml: pin them again (development and production).
lock:
	$(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv pip compile pyproject.toml --extra embedded --extra parquet --extra test \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes --no-header \
		-o requirements/dev.txt
	$(PYTHON) -m uv pip compile pyproject.toml \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes --no-header \
		-o requirements/production.txt

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
