# Windwatch developer entry points. Every target creates/uses ./.venv; the install step reruns
# only when pyproject.toml changes (stamp file .venv/.installed).
#
#   make run        install, migrate the SQLite database under ./var, serve with a demo fleet
#                   and the job scheduler beside it
#   make test       the whole suite (PYTEST_ARGS='-m "not slow"' to narrow it)
#   make bench      the HTTP ingest benchmark against a server it starts itself
#   make lint       ruff + mypy (models, pipelines, simulation)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Pinned and installed first: on these machines the CPU wheel is what pip finds; an unpinned
# torch pulled in by the project's dependency range would resolve to a multi-GB CUDA build.
TORCH_VERSION ?= 2.13.0
PYTEST_ARGS ?=
BENCH_ARGS ?= --spawn
HOST ?=
PORT ?=

SERVE_OPTS := $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

.PHONY: venv install migrate run test bench lint train evaluate browser-deps clean distclean help

help:
	@sed -n '1,8p' Makefile

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

venv: $(BIN)/python

install: $(STAMP)

migrate: install
	$(BIN)/windwatch migrate

run: install migrate
	@# The first start creates the demo admin and prints its password once (kept nowhere else).
	$(BIN)/windwatch users create admin --role admin --generate --if-missing
	@# The scheduler runs beside the server (schedules and queued jobs; see "Jobs and
	@# schedules" in README.md) and is stopped with it, however the server ends.
	$(BIN)/windwatch scheduler & sched=$$!; trap 'kill $$sched 2>/dev/null; wait $$sched' EXIT INT TERM; \
	WINDWATCH_DEMO_FLEET=1 $(BIN)/windwatch serve $(SERVE_OPTS)

# Plain pytest: the PostgreSQL tests share one database, so xdist (-n) is opt-in via PYTEST_ARGS.
test: install
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/ingest_http.py $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

train: install
	$(BIN)/windwatch train

evaluate: install
	$(BIN)/windwatch evaluate

# The dashboard browser tests (tests/browser) drive the system Chromium (apt-get install -y
# chromium; .ci/run does it) through Playwright; Playwright's own browser download is not used.
browser-deps: install
	$(BIN)/python -m pip install 'playwright>=1.40'
	@test -x /usr/bin/chromium || echo "browser-deps: no /usr/bin/chromium; run: apt-get install -y chromium"

clean:
	rm -rf .pytest_cache .hypothesis .ruff_cache *.egg-info bench/results/*.json
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

# Also removes the virtual environment and the local database and raw data under ./var.
distclean: clean
	rm -rf $(VENV) var
