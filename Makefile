# sensorlake: `make demo` and `make test` each do all their set-up from a fresh clone.
# Set-up is idempotent: a second run skips what is done (stamps newer than their inputs).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup venv jars demo test test-fast bench services-down clean

setup: venv jars

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "sensorlake needs Python 3.11 (PyFlink 2.2 and the pins); set PYTHON=python3.11"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

jars:
	@scripts/resolve_jars.sh

demo: setup
	$(BIN)/sensorlake demo

test: setup
	scripts/run_tests.sh

test-fast: setup
	$(BIN)/pytest -m "not integration and not parity and not fault and not cluster" -q

bench: setup
	$(BIN)/python -m bench

services-down:
	-$(BIN)/sensorlake services down

clean: services-down
	rm -rf lake .sensorlake bench/out
