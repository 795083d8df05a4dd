# casemgr: the two commands in the README, plus a few helpers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
export FLASK_APP := casemgr

.PHONY: run test test-browser lint format check-migrations clean-venv bench loadtest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

## run: install, migrate, load the demo facility into an empty database, serve on :5000
run: $(VENV)/.installed
	$(BIN)/flask db upgrade
	@if $(BIN)/python -m casemgr.ops is-empty; then $(BIN)/flask demo; else $(BIN)/python -m casemgr.ops demo-logins; fi
	$(BIN)/gunicorn --workers 2 --threads 4 --bind 127.0.0.1:5000 --access-logfile - "casemgr:create_app()"

## test: install the test extra and run the whole suite (SQLite unless CASEMGR_TEST_DATABASE_URL is set)
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-browser: only the real-browser tests (needs Debian's chromium package)
test-browser: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m browser tests/browser $(PYTEST_ARGS)

## bench: the benchmark harness (bench/README.md): floor vs pages on SQLite then PostgreSQL
## (BENCH_DB=sqlite|postgresql|both, BENCH_CLIENTS=50000, BENCH_SECONDS=10); needs Debian's wrk
bench: $(VENV)/.installed
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || \
		{ echo "make bench needs wrk: apt-get install -y wrk"; exit 2; }
	timeout $${BENCH_TIMEOUT:-7200} $(BIN)/python bench/run.py

## loadtest: 50 simulated staff for 2 minutes against gunicorn -w 2, then every acknowledged
## write checked in the database (bench/loadtest.py; LOADTEST_ARGS="--database-url postgresql+psycopg://…")
loadtest: $(VENV)/.installed
	timeout $${LOADTEST_TIMEOUT:-1800} $(BIN)/python bench/loadtest.py $(LOADTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check casemgr tests migrations bench
	$(BIN)/ruff format --check casemgr tests migrations bench

format: $(VENV)/.installed-test
	$(BIN)/ruff format casemgr tests migrations bench
	$(BIN)/ruff check --fix casemgr tests migrations bench

clean-venv:
	rm -rf $(VENV)
