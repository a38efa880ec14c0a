# Gans data platform. `make help` lists the targets.
# Every target does the set-up it needs first; all of them are safe to re-run.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)
RECORDINGS ?=
Q ?= select 1

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.DEFAULT_GOAL := help
.PHONY: help setup db-up db-down db-reset db-shell sql run test pytest lint docs bench bench-quick package deploy lock clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 is required"; exit 1; }
	@rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# one pip command for every dependency (see requirements.in)
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

setup: $(STAMP) ## venv with the pinned dependencies, and MariaDB server binaries if missing
	@./scripts/install-mariadb.sh

db-up: setup ## start the project-local MariaDB (no-op when up); create databases, users, tables
	$(PY) -m extract.localdb up

db-down: ## stop the project-local MariaDB
	@if [ -x $(PY) ]; then $(PY) -m extract.localdb down; fi

db-reset: setup ## drop and recreate the project databases, empty
	$(PY) -m extract.localdb reset

db-shell: db-up ## interactive SQL client as the read-only analyst user
	$(PY) -m extract.localdb shell

sql: db-up ## run one query as the analyst user, tab-separated: make sql Q="select ..."
	@$(PY) -m extract.localdb sql "$(Q)"

test: setup ## everything CI checks: pytest (with a throw-away MariaDB) and the linters
	@# exit 5 means "no tests collected", which is not a failure
	$(PY) -m pytest || [ $$? -eq 5 ]
	$(MAKE) --no-print-directory lint

pytest: setup ## only the pytest suite; ARGS="-k ..." passes options
	$(PY) -m pytest $(ARGS)

lint: setup ## ruff, and the SQL and template linters
	$(VENV)/bin/ruff check extract tests
	$(VENV)/bin/ruff format --check extract tests

bench: setup ## benchmark on a throw-away MariaDB (several minutes); writes bench/results/latest.{json,md}
	$(PY) -m bench.run $(ARGS)

bench-quick: setup ## the benchmark on small workloads (under two minutes)
	$(PY) -m bench.run --quick $(ARGS)

lock: ## re-resolve requirements.in into requirements.lock (in a scratch venv)
	rm -rf .local/lockvenv && $(PYTHON) -m venv .local/lockvenv
	.local/lockvenv/bin/pip install --quiet -r requirements.in
	.local/lockvenv/bin/pip freeze --exclude-editable > requirements.lock

clean: db-down ## stop the database and delete everything generated (.local, .venv, dbt target)
	rm -rf .local $(VENV) dbt_project/target dbt_project/logs
