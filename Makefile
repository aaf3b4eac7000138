# The two commands of the README: `make run` and `make test`. Everything else serves them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
JOBS ?= 2

.PHONY: install run test system-packages lint check-python clean image

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "modulith needs Python 3.11 or newer: set PYTHON=/path/to/python3.11")'

# The framework (platform/, the `modulith` distribution) and the shop that depends on it, both
# editable and in one pip call, so that the shop's `modulith` is this one and not PyPI's.
$(BIN)/.installed: pyproject.toml platform/pyproject.toml | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./platform -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## make run: the monolith on embedded defaults (SQLite files under var/, in-process bus), in
## development: DEBUG on (off unless asked for), so the development secret key and API key
run: install
	PATH="$(CURDIR)/$(BIN):$$PATH" BIND=127.0.0.1:$(PORT) MODULITH_LOAD_DEMO_CATALOGUE=1 \
		DJANGO_DEBUG=1 LOG_FORMAT=$${LOG_FORMAT:-plain} \
		./deploy/entrypoint.sh web

## make lint: boundaries, style and types (mypy's Django plugin and the two manage.py checks load
## the settings: in development)
lint: export DJANGO_DEBUG := 1
lint: install
	PYTHONPATH=$(CURDIR):$(CURDIR)/platform $(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py contracts check

## make vendor-js: refreshes the JavaScript the admin serves (Mermaid, for the module map)
## from platform/modulith/static-src/package-lock.json. Needs node and npm; the built file is
## committed, so `make run` and `make test` need neither. To upgrade: change the version in
## package.json, run `npm install --package-lock-only` there, then this.
STATIC_SRC := platform/modulith/static-src
.PHONY: vendor-js
vendor-js:
	rm -rf build/npm && mkdir -p build/npm
	cp $(STATIC_SRC)/package.json $(STATIC_SRC)/package-lock.json build/npm/
	cd build/npm && npm ci --ignore-scripts --no-audit --no-fund
	cp build/npm/node_modules/mermaid/dist/mermaid.min.js platform/modulith/static/modulith/
	cp build/npm/node_modules/mermaid/LICENSE platform/modulith/static/modulith/mermaid.LICENSE

## make test: the whole suite, on a fresh machine too: the Debian packages it needs (installed
## as root with apt-get, otherwise named in one line: .ci/system-packages), the checks of `make
## lint`, pytest on SQLite files, the container tests (as root, one process: one build), then the
## tests that need PostgreSQL, on a throwaway cluster of their own (.ci/with-postgres)
test: system-packages lint
	$(BIN)/pytest -n $(JOBS) -m 'not postgres and not container'
	$(BIN)/pytest -n 0 -m container
	bash .ci/with-postgres $(BIN)/pytest -n $(JOBS) -m postgres

system-packages:
	@bash .ci/system-packages

clean:
	rm -rf $(VENV) var/*.sqlite3* .pytest_cache .mypy_cache .ruff_cache

## make image: the one image of every role, from the Dockerfile, with Docker or podman (podman
## builds in Docker's format, which keeps the HEALTHCHECK). IMAGE=name:tag names it.
CONTAINER_ENGINE ?= $(shell command -v docker >/dev/null 2>&1 && echo docker || echo podman)
IMAGE ?= modulith:latest
image:
	$(CONTAINER_ENGINE) build $(if $(filter podman,$(CONTAINER_ENGINE)),--format docker) -t $(IMAGE) .

## make split: every module as its own service (web + consumer, SQLite files of its own under
## var/split/), the AWS emulator, and nginx as the front door on 127.0.0.1:$(SPLIT_PORT)
SPLIT_PORT ?= 8080
SPLIT_TRANSPORT ?= eventbridge
.PHONY: split split-down

split: install
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || [ "$$(id -u)" -ne 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends nginx >/dev/null; }
	$(BIN)/python deploy/split.py up --port $(SPLIT_PORT) --transport $(SPLIT_TRANSPORT)

## make split-down: stops exactly what `make split` started (the PIDs in var/split/pids.json)
split-down:
	$(BIN)/python deploy/split.py down
