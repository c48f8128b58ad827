# Continuum: the two commands are `make demo` and `make test`; each sets up first.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)

PYTEST_ARGS ?=

.PHONY: demo test setup lint typecheck pytest kafka-start kafka-stop clean

## demo: set up, then run the main job (see README)
demo: setup
	uv run continuum demo $(if $(DEMO_SUMMARY),--summary $(DEMO_SUMMARY))

## test: set up, then lint (ruff, import contracts), type-check and run every test (unit + real Kafka integration)
test: setup
	$(MAKE) --no-print-directory lint typecheck pytest

setup:
	@bash scripts/setup.sh

lint:
	uv run ruff check .
	uv run ruff format --check .
	uv run lint-imports --no-logo

typecheck:
	uv run mypy

pytest:
	uv run pytest $(PYTEST_ARGS)

kafka-start:
	uv run continuum kafka start

kafka-stop:
	uv run continuum kafka stop

clean:
	-uv run continuum kafka stop
	rm -rf .continuum .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
