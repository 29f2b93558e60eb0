# PuMPuRS platform: the one front door. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: help setup run test test-fast test-slow test-e2e test-browser browser catalogue lint format bench lock openapi compose clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	  { echo "Python 3.11 is required (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c requirements.lock -e '.[local,dev]'
	$(PY) -m services.portal.i18n compile
	@touch $@

setup: $(STAMP) ## create .venv and install the pinned dependencies (bundled servers included)

run: setup ## run every service, its workers and the scheduler on bundled servers (Ctrl-C stops all)
	$(PY) -m devstack.run

test: setup lint browser ## lint, then the whole test suite on real servers and workers (browser tests included)
	$(PY) -m pytest

browser: ## make sure the browser tests have Chromium (Debian's package; never `playwright install`)
	@$(PYTHON) devstack/browser.py

catalogue: setup ## extract one portal area's strings into its catalogue: make catalogue AREA=accounts
	$(PY) -m services.portal.i18n update $(AREA)

test-browser: setup browser ## only the browser tests: the portal in Chromium on the whole platform
	$(PY) -m pytest -m browser tests/browser

test-fast: setup ## unit tests only (no servers)
	$(PY) -m pytest -m unit

test-slow: setup ## only the integration and end-to-end tests
	$(PY) -m pytest -m "integration or e2e"

test-e2e: setup ## only the end-to-end tests: the whole platform, a semester and faults (about 3 minutes)
	$(PY) -m pytest -m e2e tests/e2e

lint: setup ## ruff (lint and format check), mypy, alembic-free static checks
	$(PY) -m ruff check services devstack tests bench
	$(PY) -m ruff format --check services devstack tests bench
	$(PY) -m mypy

format: setup ## apply ruff's fixes and formatting
	$(PY) -m ruff check --fix services devstack tests bench
	$(PY) -m ruff format services devstack tests bench

bench: setup ## benchmarks: ratios against baselines measured in the same run
	$(PY) -m bench

openapi: setup ## write each service's OpenAPI document to docs/openapi/
	$(PY) -m services.common.openapi write

compose: setup ## regenerate docker-compose.yml and deploy/nginx.conf from deploy/processes.toml
	$(PY) -m devstack.compose write

lock: ## re-pin requirements.lock from pyproject.toml
	$(PY) -m piptools compile --quiet --extra local --extra dev --strip-extras -o requirements.lock pyproject.toml

clean: ## stop nothing, delete the venv and all local data (.var)
	rm -rf $(VENV) .var
