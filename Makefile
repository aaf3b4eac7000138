# The two commands of the README: `make run` and `make test`. Everything else serves them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
JOBS ?= 2

.PHONY: install run test lint check-python clean

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "modulith needs Python 3.11 or newer: set PYTHON=/path/to/python3.11")'

$(BIN)/.installed: pyproject.toml | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## make run: the monolith on embedded defaults (SQLite files under var/, in-process bus)
run: install
	PATH="$(CURDIR)/$(BIN):$$PATH" BIND=127.0.0.1:$(PORT) MODULITH_LOAD_DEMO_CATALOGUE=1 \
		./deploy/entrypoint.sh web

## make lint: boundaries, style and types
lint: install
	PYTHONPATH=$(CURDIR):$(CURDIR)/platform $(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py contracts check

## make test: the whole suite, with the checks of `make lint`
test: lint
	$(BIN)/pytest -n $(JOBS)

clean:
	rm -rf $(VENV) var/*.sqlite3* .pytest_cache .mypy_cache .ruff_cache
