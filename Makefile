# Front door of the project: `make run` and `make test` set up whatever is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON311   ?= python3.11
TORCH_SPEC  ?= torch==2.13.0
DATA_DIR    ?= $(abspath ../shared/data)
VENV        := .venv
VENV_RASA   := .venv-rasa
PY          := $(VENV)/bin/python
RASA_PY     := $(VENV_RASA)/bin/python
RASA        := $(VENV_RASA)/bin/rasa

export HANDOFF_PATHS__DATA_DIR := $(DATA_DIR)
BANK_URL    ?= sqlite:///$(CURDIR)/var/demobank.sqlite
# One demo bank for everyone: the service reads HANDOFF_BANK__URL, the action server BANK_DATABASE_URL.
export HANDOFF_BANK__URL := $(BANK_URL)
export BANK_DATABASE_URL := $(BANK_URL)
# Rasa and TensorFlow are chatty and phone home by default; neither helps here.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: help setup system-deps models demo-db validate test test-unit test-service test-security test-bot \
        test-stories nlu-eval \
        sentiment-eval bench-sentiment bench-gateway bench-agents bench-trainer escalation-eval run lint clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# --- environments -------------------------------------------------------------------------
$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON311) >/dev/null || { echo "Python 3.11 is required ($(PYTHON311) not found)"; exit 1; }
	$(PYTHON311) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# torch first and pinned: a bare requirement would resolve to a multi-GB CUDA build.
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

$(VENV_RASA)/.installed: bot/requirements.txt
	@PY310=$$(tools/find-python310.sh) && $$PY310 -m venv $(VENV_RASA)
	$(RASA_PY) -m pip install --quiet --upgrade "pip<24.1"
	$(RASA_PY) -m pip install --quiet -r bot/requirements.txt
	touch $@

setup: $(VENV)/.installed $(VENV_RASA)/.installed ## Create both environments

# PostgreSQL's server binaries: the store's tests start a throwaway server of their own
# (tests/postgres_server.py). Debian keeps them off PATH, in /usr/lib/postgresql/<version>/bin.
# Chromium: the browser tests drive Debian's package through Playwright (never a downloaded one).
system-deps: ## Install the system packages the tests need (PostgreSQL, Chromium) when missing
	@MISSING=""; \
	command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || MISSING="$$MISSING postgresql"; \
	command -v chromium >/dev/null || MISSING="$$MISSING chromium"; \
	if [ -z "$$MISSING" ]; then \
	  echo "PostgreSQL server binaries and Chromium found"; \
	else \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$MISSING; \
	fi

# --- built artefacts ----------------------------------------------------------------------
models: setup ## Build NLU data, the encoder, the Rasa model and the sentiment model (cached)
	$(PY) -m training.build_models

# Seeding is idempotent and cheap, and the demo's dates are relative to the day it runs, so it
# runs every time: a card "due in 3 days" stays due in 3 days however old the checkout is.
demo-db: $(VENV)/.installed ## Create the demo bank, or reset it to its seeded state
	$(PY) -m demobank seed --url $(BANK_URL)

# --- checks -------------------------------------------------------------------------------
validate: models ## rasa data validate (warnings fail)
	$(RASA) data validate --config config.yml --domain bot/domain --data data/nlu data/rules --fail-on-warnings

# No servers: neither the integration tests (Rasa, the models, Chromium) nor the store's
# PostgreSQL runs (marked `postgres`), so nothing beyond the two environments is installed.
test-unit: setup ## Fast tests of the service, actions and demo bank (no servers)
	$(PY) -m pytest tests --ignore=tests/bot -m "not integration and not postgres" -q

test-bot: models ## Tests of the Rasa-side code, in the Rasa environment
	$(RASA_PY) -m pytest tests/bot -q

test-stories: models ## rasa test on the test stories (end to end, NLU included)
	$(RASA) test core --model models --stories tests/stories --out reports/stories --fail-on-prediction-errors

test-service: models demo-db system-deps ## Service, actions, demo bank and training tests, integration included
	$(PY) -m pytest tests --ignore=tests/bot -q

test-security: models demo-db ## The security suite: a deployed stack attacked from loopback, and the fuzzers
	$(PY) -m pytest tests/security -q

# Every suite runs even when an earlier one fails, so one failure never hides the state of the
# others; the summary names the failed ones and the exit status is non-zero if any failed.
TEST_SUITES := validate test-service test-bot test-stories

test: system-deps models demo-db ## Set up and run the whole suite (every suite, even after a failure)
	@failed=""; \
	for suite in $(TEST_SUITES); do \
	  echo "=== make $$suite"; \
	  $(MAKE) --no-print-directory $$suite || failed="$$failed $$suite"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: FAILED suites:$$failed"; exit 1; fi; \
	echo "make test: every suite passed ($(TEST_SUITES))"

nlu-eval: models ## Intent accuracy and macro-F1 on the held-out 20 % of Banking77
	$(PY) -m training.nlu_eval --rasa $(RASA) --out reports/nlu-eval

sentiment-eval: models ## Sentiment, frustration and irony figures on the dev splits
	$(PY) -m training.sentiment.evaluate --model models/sentiment

bench-sentiment: models ## Sentiment latency and micro-batched throughput against a naive baseline
	$(PY) -m benchmarks.sentiment_bench --model models/sentiment

bench-gateway: models ## Per-turn latency through the gateway against straight to Rasa, same run
	$(PY) -m benchmarks.gateway_bench

escalation-eval: models ## Containment and right-turn recall of the shipped escalation policy, check half
	$(PY) -m benchmarks.escalation_eval

bench-agents: models ## Brief and agent<->customer relay latency, 500 customers, 50 agents
	$(PY) -m benchmarks.agents_bench

bench-trainer: setup ## The trainers' inbox read with 100,000 stored turns, SQLite and PostgreSQL
	$(PY) -m benchmarks.trainer_bench

# --- running ------------------------------------------------------------------------------
# The demo, and only the demo, runs in demo mode: public demo secrets, demo identities and the
# demo agents' public password. A deployment sets its own secrets and never this variable.
run: export HANDOFF_DEMO_MODE := true
run: models demo-db ## Start Rasa, the action server and the handoff service in demo mode; Ctrl-C stops all
	@# Idempotent: creates the demo agents (password demo-password) that are missing.
	$(PY) -m handoff agents seed-demo
	$(PY) -m handoff stack

lint: setup ## Static checks
	$(PY) -m ruff check handoff actions demobank training benchmarks tests

clean: ## Remove built artefacts (the model cache outside the checkout stays)
	rm -rf models var reports data/nlu/generated
