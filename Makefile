# Two entry points (see README): `make run` builds the sample, `make test` runs the tests.
# Each creates .venv and installs what it needs on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test system-packages clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "feedletter needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The sample ends in April 2024: --date picks its busiest week for the digest.
run: $(BIN)/.installed
	$(BIN)/feedletter build --date 2021-11-07

# Debian packages the tests drive: chromium and chromium-driver (browser tests),
# spamassassin (inbox placement), postgresql (the state on a database server; the
# tests start their own throw-away cluster, not the package's service). Installed as root with apt-get when missing;
# elsewhere the tests that need them skip and say why.
system-packages:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	command -v spamassassin >/dev/null 2>&1 || missing="$$missing spamassassin"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's$$missing for the tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null \
	    || echo "warning:$$missing could not be installed; the tests that need them will be skipped"; \
	  else echo "warning:$$missing missing and apt-get is not usable; the tests that need them will be skipped"; fi; \
	fi

test: $(BIN)/.installed system-packages
	$(BIN)/ruff check feeds newsletter tests benchmarks
	$(BIN)/ruff format --check feeds newsletter tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

clean:
	rm -rf output .pytest_cache .mypy_cache .ruff_cache
