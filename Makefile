# Two entry points (see README): `make run` builds the sample, `make test` runs the tests.
# Each creates .venv and installs what it needs on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "feedletter needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/feedletter build

test: $(BIN)/.installed
	$(BIN)/ruff check feeds newsletter tests
	$(BIN)/ruff format --check feeds newsletter tests
	$(BIN)/mypy
	$(BIN)/python -m pytest

clean:
	rm -rf output .pytest_cache .mypy_cache .ruff_cache
