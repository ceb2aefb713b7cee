# Short named commands; every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install system-deps test lint format demo bench clean kafka-fetch

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "iwmo-hub needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## make system-deps: Java, Maven (real Kafka for the tests) and docker-compose, where missing
system-deps:
	@bash scripts/system-deps.sh

## make test: create the environment, install everything, run the whole suite
test: $(STAMP) system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make demo: the hub's main job on the embedded default
demo: $(STAMP)
	$(BIN)/iwmo-hub demo

bench: $(STAMP)
	$(BIN)/python benchmarks/validate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# --- Kafka: a real broker for the integration tests (jars from Maven Central; Java 17+, Maven)
KAFKA_DIR ?= .kafka/broker

.PHONY: kafka-start kafka-stop kafka-status

## make kafka-fetch: download Apache Kafka into .kafka/lib once (the tests also do it when needed)
kafka-fetch: $(STAMP)
	$(BIN)/python scripts/kafka.py fetch

## make kafka-start: a broker for manual runs in $(KAFKA_DIR); prints its bootstrap address
kafka-start: $(STAMP)
	$(BIN)/python scripts/kafka.py start --dir $(KAFKA_DIR)

## make kafka-stop: stop the broker kafka-start started (by its PID file)
kafka-stop: $(STAMP)
	$(BIN)/python scripts/kafka.py stop --dir $(KAFKA_DIR)

kafka-status: $(STAMP)
	$(BIN)/python scripts/kafka.py status --dir $(KAFKA_DIR)
