# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
DATA_DIR ?= ./var
export DATA_DIR

.PHONY: run test lint format bench clean

# `make run` installs what serving needs (requirements.txt); `make test` adds the test tools.
$(BIN)/.installed-run: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(BIN)/.installed: $(BIN)/.installed-run requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(BIN)/.installed-run
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	PORT=$(PORT) exec $(BIN)/gunicorn -c pypi_site/gunicorn.py pypi_site.wsgi

test: export SECRET_KEY ?= insecure-test-only-key
# Production mode (DATABASE_URL) needs a site URL; the tests' client host is this one.
test: export SITE_URL ?= http://testserver
# tests/e2e/test_import_devpi.py runs a real devpi-server, kept in a venv of its own (its
# dependencies are not ours).
DEVPI_VENV := test-artifacts/devpi-venv
test: export DEVPI_SERVER_BIN ?= $(CURDIR)/$(DEVPI_VENV)/bin
$(DEVPI_VENV)/bin/devpi-export:
	$(PYTHON) -m venv $(DEVPI_VENV)
	$(DEVPI_VENV)/bin/pip install --quiet devpi-server==6.20.3
	touch $@

test: $(BIN)/.installed $(DEVPI_VENV)/bin/devpi-export
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BIN)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles
