# One toolchain, run the same way everywhere. `make test` is what CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
SQUID := $(BIN)/squidstream
PYTEST_ARGS ?=
# The stack's data folder, as squidstream.settings resolves it.
STACK_DIR := $(or $(SQUID_DATA_DIR),$(CURDIR)/.stack)
TIDB_BUILD_PID := $(STACK_DIR)/build/tidb-build.pid


.PHONY: soak faults test-tidb tidb-prebuild help setup setup-system venv npm proto proto-check lint format stack-up stack-down stack-status test test-fast run bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: setup-system venv npm ## Install everything the project needs on a fresh machine

setup-system: ## Debian tools the tests use (browser, node, prometheus); skipped when present
	@pkgs=""; command -v chromium >/dev/null || pkgs="$$pkgs chromium"; \
	command -v npm >/dev/null || pkgs="$$pkgs nodejs npm"; \
	command -v prometheus >/dev/null || pkgs="$$pkgs prometheus"; \
	if [ -n "$$pkgs" ]; then \
	  echo ">> apt-get install$$pkgs"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$pkgs || exit 1; \
	  case "$$pkgs" in *prometheus*) service prometheus stop >/dev/null 2>&1; \
	    systemctl disable prometheus >/dev/null 2>&1;; esac; \
	fi; true

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,rocksdb,load,profile,bench]' -c constraints.txt --config-settings editable_mode=compat
	@touch $@

venv: $(VENV)/.installed ## Python virtualenv with the project and dev tools

views/node_modules/.installed: views/package.json views/package-lock.json | $(VENV)/.installed
	$(SQUID) views --install-assets
	@touch $@

npm: views/node_modules/.installed ## Front-end packages of the dashboard

proto: venv ## Regenerate squidstream/proto/ from proto/game.proto
	PATH=$(BIN):$$PATH $(PY) -m squidstream.proto.generate

proto-check: venv ## Fail when the generated modules are stale
	PATH=$(BIN):$$PATH $(PY) -m squidstream.proto.generate --check

lint: venv ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy squidstream squidshell stack gateways streams views loadtest tests
	$(BIN)/lint-imports

format: venv ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

stack-up: venv ## Install, build and start Kafka, RabbitMQ, Redis, MariaDB (or TiDB), FerretDB
	$(SQUID) stack up

stack-down: venv ## Stop the servers that stack-up started
	$(SQUID) stack down

stack-status: venv ## Table of servers, ports, pids and health
	$(SQUID) stack status

test: tidb-prebuild setup lint ## Set up, lint, start the stack, run every test (MariaDB, then TiDB), stop the stack
	@trap 'kill -TERM -- -$$(cat $(TIDB_BUILD_PID) 2>/dev/null) 2>/dev/null; $(SQUID) stack down' EXIT; \
	$(SQUID) stack up || exit 1; \
	$(BIN)/pytest -ra --durations=25 -m "not soak" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; rc=0; fi; \
	[ $$rc -ne 0 ] || $(MAKE) --no-print-directory test-tidb || rc=1; \
	exit $$rc

# tidb-server is a ~12 min cold build: `make test` starts it first, at the lowest priority, so it
# runs while set-up waits on downloads and beside the MariaDB pass; the TiDB pass's `stack up`
# then waits for it (stack/tidb/build.sh serialises builds). Log: <data_dir>/logs/tidb-build.log.
tidb-prebuild: ## Start building tidb-server in the background (nice 19) unless it is built
	@mkdir -p $(STACK_DIR)/build; \
	TIDB_BUILD_NICE=19 SQUID_DATA_DIR=$(STACK_DIR) setsid bash stack/tidb/build.sh >/dev/null 2>&1 & \
	echo $$! > $(TIDB_BUILD_PID)

test-tidb: export SQUID_SQL_SERVER = tidb
test-tidb: export SQUID_SQL_PORT = 4000
test-tidb: venv ## The SQL projection and report tests against a real tidb-server (first run builds it, ~12 min)
	$(SQUID) stack up
	$(BIN)/pytest -ra tests/stack/test_stack_tidb.py $(PYTEST_ARGS)
	$(BIN)/pytest -ra -m "sql and not sql_incidental and not soak" $(PYTEST_ARGS)

soak: venv ## At least 10 minutes of flood through faults in a seeded random order (SQUID_SOAK_S, SQUID_SOAK_SEED)
	$(SQUID) stack up
	$(BIN)/pytest -ra -s -m soak tests/faults/test_soak.py $(PYTEST_ARGS)

faults: venv ## The fault suite alone: one fault at a time mid-flood, with its fault table
	$(SQUID) stack up
	$(BIN)/pytest -ra -m faults tests/faults/test_faults.py $(PYTEST_ARGS)

test-fast: venv ## Unit tests only (no servers)
	$(BIN)/pytest -ra -m "not stack" $(PYTEST_ARGS)

run: setup ## The main job: whole pipeline under a Locust flood, with the dashboard
	$(SQUID) run

bench: setup ## Benchmarks that print numbers (ingest, streams, stores)
	$(SQUID) stack up
	$(SQUID) bench ingest
	$(SQUID) bench streams

audit: venv ## Known vulnerabilities of constraints.txt (pip-audit; AUDIT_SERVICE=osv|pypi; docs/security.md)
	$(BIN)/pip-audit --requirement constraints.txt --no-deps --disable-pip --strict --progress-spinner off \
	  --vulnerability-service $${AUDIT_SERVICE:-osv}

clean: ## Remove the virtualenv and caches (not the stack's data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
