# The one door: install, demo, test, lint, bench.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= dev
# Two workers: many tests wait on subprocesses, servers and PostgreSQL. `loadgroup` keeps
# the Spark tests on one worker, so the run starts one Spark session (JVM) per module.
PYTEST_ARGS ?= -n 2 --dist loadgroup

.PHONY: install lock demo test lint format bench bench-stats bench-kafka docs clean pg-start pg-stop \
	kafka-start kafka-stop services-up services-down

install: $(VENV)/.installed

# pyproject.toml takes compatible ranges; requirements.lock pins the exact versions
# that installs and CI use. `make lock` refreshes it after a change of ranges.
$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[$(EXTRAS)]'
	@touch $@

lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet 'pip-tools>=7.6,<8'
	$(BIN)/pip-compile --quiet --all-extras --strip-extras --no-emit-index-url \
		--no-emit-find-links --output-file requirements.lock pyproject.toml
	sed -i -e 's|^#    pip-compile .*|#    make lock|' -e '/^weekly-wrapped @ /,+1d' requirements.lock

demo: install
	@PATH="$(abspath $(BIN)):$$PATH" scripts/demo

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

# Starts PostgreSQL and Kafka unless they are already running (and then leaves them running).
test: lint
	@already_pg=$$(test -f .pg/url && echo yes); \
	already_kafka=$$(test -f .kafka/bootstrap && echo yes); \
	scripts/pg-start >/dev/null || exit 1; \
	scripts/kafka-start >/dev/null || { test -n "$$already_pg" || scripts/pg-stop; exit 1; }; \
	WRAPPED_TEST_PG_URL=$$(cat .pg/url) WRAPPED_TEST_KAFKA_BOOTSTRAP=$$(cat .kafka/bootstrap) \
		$(BIN)/pytest $(PYTEST_ARGS); status=$$?; \
	test -n "$$already_kafka" || scripts/kafka-stop; \
	test -n "$$already_pg" || scripts/pg-stop; \
	exit $$status

# Every benchmark at its issue's size; each prints ratios against a baseline of the same run.
# The stats benchmark loads about 16M plays once (tens of minutes), so it has its own target.
BENCHES ?= bench_write bench_import bench_email bench_poll bench_json_reader bench_cli
bench: install
	@already=$$(test -f .pg/url && echo yes); \
	scripts/pg-start >/dev/null || exit 1; \
	status=0; \
	for bench in $(BENCHES); do \
		echo "== $$bench"; \
		WRAPPED_BENCH_PG_URL=$$(cat .pg/url) $(BIN)/python benchmarks/$$bench.py || status=1; \
	done; \
	$(BIN)/python benchmarks/quality_set.py --fake gemini || status=1; \
	test -n "$$already" || scripts/pg-stop; \
	exit $$status

bench-stats: install
	@already=$$(test -f .pg/url && echo yes); \
	scripts/pg-start >/dev/null || exit 1; \
	$(BIN)/python benchmarks/bench_stats.py; status=$$?; \
	test -n "$$already" || scripts/pg-stop; \
	exit $$status

# The CLI reference and .env.example are generated from the code; tests check they are current.
docs: install
	$(BIN)/python -m typer weekly_wrapped.cli utils docs --name wrapped > docs/cli.md
	$(BIN)/python -m weekly_wrapped.config > .env.example

# Kafka to PostgreSQL: 1M plays produced, then consumed into the warehouse (its own target: minutes).
bench-kafka: install
	@already_pg=$$(test -f .pg/url && echo yes); \
	already_kafka=$$(test -f .kafka/bootstrap && echo yes); \
	scripts/pg-start >/dev/null && scripts/kafka-start >/dev/null || exit 1; \
	WRAPPED_BENCH_PG_URL=$$(cat .pg/url) WRAPPED_BENCH_KAFKA_BOOTSTRAP=$$(cat .kafka/bootstrap) \
		$(BIN)/python benchmarks/bench_kafka.py; status=$$?; \
	test -n "$$already_kafka" || scripts/kafka-stop; \
	test -n "$$already_pg" || scripts/pg-stop; \
	exit $$status

# PostgreSQL and Kafka for development; `set -a; . data/services.env` points commands at them.
services-up:
	@scripts/services-up

services-down:
	@scripts/services-down

pg-start:
	@scripts/pg-start

pg-stop:
	@scripts/pg-stop

kafka-start:
	@scripts/kafka-start

kafka-stop:
	@scripts/kafka-stop

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .hypothesis
