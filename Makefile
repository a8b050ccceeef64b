# igsc: `make demo` runs the pipeline on embedded defaults; `make test` runs every check with
# real Kafka, Elasticsearch and Redis started (and stopped) by deploy/local/services.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: venv lint test test-fast fuzz demo bench services-up services-down clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Unit and contract tests on the embedded adapters only: no services needed.
test-fast: venv
	$(BIN)/pytest tests/unit tests/contract -k "not kafka and not elasticsearch and not redis" $(PYTEST_ARGS)

# The entrance property tests, many examples: rounds of FUZZ_EXAMPLES examples each, a fresh
# seed per round (printed), until FUZZ_SECONDS have passed; fails if any round failed.
FUZZ_SECONDS ?= 300
FUZZ_EXAMPLES ?= 100
fuzz: venv
	@end=$$(( $$(date +%s) + $(FUZZ_SECONDS) )); round=0; status=0; \
	while [ $$(date +%s) -lt $$end ]; do \
		round=$$((round + 1)); seed=$$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); \
		echo "fuzz round $$round, seed $$seed"; \
		HYPOTHESIS_PROFILE=entrance-fuzz IGSC_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
			$(BIN)/pytest tests/unit/ingest/test_entrance_properties.py -q \
			--hypothesis-seed=$$seed $(PYTEST_ARGS) || status=1; \
	done; exit $$status

test: lint
	./deploy/local/services up --fresh
	status=0; IGSC_REQUIRE_SERVICES=1 $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; \
	./deploy/local/services down; exit $$status

# A fresh embedded home each run, so the demo always starts from nothing.
demo: venv
	rm -rf .igsc/demo
	IGSC_HOME=$(CURDIR)/.igsc/demo $(BIN)/igsc demo

# Benchmarks (docs/benchmarks.md): real services are started if they are not running, and
# stopped again only if this target started them. QUICK=1: a ~2 minute development run.
bench: venv
	@was_up=1; ./deploy/local/services status >/dev/null 2>&1 || was_up=0; \
	./deploy/local/services up || exit $$?; \
	status=0; BENCH_QUICK=$(QUICK) $(BIN)/python -m tests.benchmarks.run || status=$$?; \
	if [ $$was_up = 0 ]; then ./deploy/local/services down; fi; exit $$status

services-up:
	./deploy/local/services up

services-down:
	./deploy/local/services down

clean:
	rm -rf $(VENV) .services .pytest_cache .mypy_cache .ruff_cache
