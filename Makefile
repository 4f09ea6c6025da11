# Two entry points (see README): `make run` builds the sample, `make test` runs the tests.
# Each creates .venv and installs what it needs on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test chromium clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "feedletter needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The sample ends in April 2024: --date picks its busiest week for the digest.
run: $(BIN)/.installed
	$(BIN)/feedletter build --date 2021-11-07

# Headless Chromium for the browser tests (Debian's package; needs root and apt).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "installing Debian's chromium for the browser tests"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	      || echo "warning: chromium could not be installed; the browser tests will be skipped"; \
	    else echo "warning: chromium is missing and apt-get is not usable; the browser tests will be skipped"; fi; }

test: $(BIN)/.installed chromium
	$(BIN)/ruff check feeds newsletter tests benchmarks
	$(BIN)/ruff format --check feeds newsletter tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

clean:
	rm -rf output .pytest_cache .mypy_cache .ruff_cache
