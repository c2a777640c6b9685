# Zhixing Command — every entry point a newcomer needs. `make help` lists them.
# Each target installs what it needs itself, idempotently (stamps mark what is done).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
PROTO_STAMP := libs/zhixing/v1/.generated
KAFKA_STAMP := deploy/local/kafka/lib/.complete
BUF := node_modules/.bin/buf
NODE_STAMP := node_modules/.installed
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
PROTOS := $(shell find protos -name '*.proto')
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help setup run test test-unit test-integration test-browser test-e2e lint format bench clean redis-server pdf-libs lock

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

LOCK_VENV := .lock-venv
# The pins are resolved on the Python the image runs (deploy/compose/Dockerfile): another
# minor version may pick versions with no wheel for it.
LOCK_PYTHON ?= python3.11

lock: ## Re-resolve the Python dependencies to their newest versions and pin them (constraints.txt)
	@$(LOCK_PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
	  || { echo "make lock resolves on Python 3.11, the image's: set LOCK_PYTHON" >&2; exit 1; }
	rm -rf $(LOCK_VENV) && $(LOCK_PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install -q -e '.[dev]'
	{ sed -n '/^#/p' constraints.txt; $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf $(LOCK_VENV)
	@echo "constraints.txt re-resolved: run make test, then commit it"

$(PROTO_STAMP): $(VENV_STAMP) $(PROTOS) scripts/gen_protos.sh
	PYTHON=$(CURDIR)/$(BIN)/python scripts/gen_protos.sh
	@touch $@

$(KAFKA_STAMP): deploy/local/kafka/pom.xml | $(VENV_STAMP)
	@command -v java >/dev/null || { echo "Java 17+ is needed for the local Kafka broker" >&2; exit 1; }
	@command -v mvn >/dev/null || $(SUDO) apt-get install -y -q maven
	$(BIN)/zhixing kafka-jars

redis-server: ## Install Debian's redis-server if it is missing
	@command -v redis-server >/dev/null || { \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends redis-server; }

# buf for lint, ECharts for the dashboard (served from node_modules, never from a CDN).
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q npm; }
	@# npm ci installs exactly the lock file (it now lists buf's per-platform packages too).
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian's Chromium, for the dashboard's browser tests (Playwright drives it; it never
# downloads a browser of its own).
$(CHROMIUM):
	$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends chromium

# A Chinese font, so the screenshots the browser tests save and the bulletin's PDF show
# text, not boxes.
$(CJK_FONT):
	$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends fonts-wqy-microhei

# Pango, which WeasyPrint lays the bulletin's PDF out with (通报).
pdf-libs: ## Install Debian's Pango libraries if they are missing
	@/sbin/ldconfig -p | grep -q libpangoft2-1.0 || { \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0; }

setup: $(VENV_STAMP) $(PROTO_STAMP) $(KAFKA_STAMP) $(NODE_STAMP) redis-server ## Install what the platform needs (venv, generated code, Kafka jars, npm packages, redis-server)

run: setup ## Start Kafka, Redis and every service with demo data; Ctrl-C stops all
	@# The bulletin's PDF needs Pango and a Chinese font; without them (no root, no
	@# network) the platform still runs, and the bulletin is printed from its page.
	@$(MAKE) --no-print-directory pdf-libs $(CJK_FONT) || \
	  echo "note: Pango or the Chinese font could not be installed; the bulletin's PDF is unavailable" >&2
	$(BIN)/zhixing run

test: setup pdf-libs $(CHROMIUM) $(CJK_FONT) ## Run every test (unit, integration, e2e, browser) against a Kafka and Redis it starts
	$(BIN)/pytest

test-unit: setup ## Unit tests only (no Kafka, no Redis)
	$(BIN)/pytest tests/unit

test-integration: setup pdf-libs $(CJK_FONT) ## Integration tests and the repositories' contract suite (real Kafka and Redis)
	$(BIN)/pytest tests/integration tests/contract

test-browser: setup pdf-libs $(CHROMIUM) $(CJK_FONT) ## The dashboard in headless Chromium (Playwright); screenshots in test-artifacts/
	$(BIN)/pytest tests/browser

test-e2e: setup ## End-to-end tests (every service as a process)
	$(BIN)/pytest tests/e2e

lint: setup ## ruff, ruff format --check, mypy, buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy libs services tools tests bench
	cd protos && ../$(BUF) lint

format: setup ## Let the formatter decide the layout
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup ## Benchmarks (bench/results/latest.json); the API fuzzing and the crash campaign at full size
	$(BIN)/python -m bench
	ZHIXING_FUZZ_EXAMPLES=200 $(BIN)/pytest -q tests/e2e/test_fuzz.py
	ZHIXING_CRASH_ROUNDS=3 $(BIN)/pytest -q tests/e2e/test_crash_campaign.py

clean: ## Remove generated code, the venv and local data (.data/)
	rm -rf $(VENV) libs/zhixing/v1 .data node_modules deploy/local/kafka/lib
