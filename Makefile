# mini-scheduler: `make demo` runs a local cluster, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FRONTEND_STAMP := frontend/node_modules/.installed
PG_TEST_URL ?= $(DATABASE_URL)

.PHONY: demo demo-smoke test test-sqlite test-postgres test-frontend frontend venv lint bench clean

venv: $(STAMP)
$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

$(FRONTEND_STAMP): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $(FRONTEND_STAMP)

frontend: $(if $(wildcard frontend/package.json),$(FRONTEND_STAMP))
	@if [ -f frontend/package.json ]; then cd frontend && npm run --silent build; \
	else echo "frontend/ has no app yet: skipping the dashboard build"; fi

demo: venv frontend
	$(PY) manage.py demo $(ARGS)

# `make demo` on this checkout driven through the API for about a minute (tests/demo_smoke.py);
# fails on a step that misbehaves or on any ERROR line or traceback in the demo's logs.
demo-smoke: venv
	$(PY) tests/demo_smoke.py $(SMOKE_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# Every test: the Python suite on SQLite + the in-memory channel layer; again on PostgreSQL +
# Redis when DATABASE_URL / REDIS_URL are set; the front end's own tests when it exists.
test: venv frontend lint test-sqlite test-postgres test-frontend

test-sqlite: venv
	env -u DATABASE_URL -u REDIS_URL -u SCHEDULER_REQUIRE_POSTGRES $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: venv
	@if [ -n "$(PG_TEST_URL)" ]; then \
		echo "== PostgreSQL ($(PG_TEST_URL)) + $${REDIS_URL:-in-memory layer}"; \
		DATABASE_URL="$(PG_TEST_URL)" $(PY) -m pytest $(PYTEST_ARGS); \
	else echo "DATABASE_URL is not set: skipping the PostgreSQL + Redis run"; fi

# Vitest unit tests, then Playwright end to end against a real cluster (Debian's /usr/bin/chromium).
test-frontend: venv $(if $(wildcard frontend/package.json),$(FRONTEND_STAMP))
	@if [ -f frontend/package.json ]; then cd frontend && npm run --silent test && npm run --silent e2e; \
	else echo "frontend/ has no app yet: skipping front-end tests"; fi

bench: venv frontend
	$(PY) bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf var frontend/dist
