# kalshiweb — two commands do all the set-up on a fresh clone: `make run` and `make test`.
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint format bench bench-faults bench-soak sim clean lock screenshots

# Installs come from the lock file (exact versions with hashes); `make lock` writes it from pyproject.toml.
$(STAMP): requirements-dev.txt pyproject.toml
	@py=""; for c in python3.13 python3.12; do \
	  if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then py=$$c; break; fi; \
	done; \
	if [ -z "$$py" ]; then echo "kalshiweb needs Python 3.12 or newer: install python3.13 (or python3.12) and put it on PATH" >&2; exit 1; fi; \
	if [ ! -x $(PYTHON) ]; then echo "creating $(VENV) with $$py"; $$py -m venv $(VENV); fi; \
	$(PYTHON) -m pip install --quiet --require-hashes -r requirements-dev.txt && \
	$(PYTHON) -m pip install --quiet --no-deps -e . && touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PYTHON) -m kalshiweb.bootstrap run

# Spread over the cores (pytest-xdist; each worker has its own database, Redis and var dir) in a random order
# (pytest-randomly; the seed is printed at the top: see the README to replay one). TEST_WORKERS=0 runs serially.
# Whole files go to one worker (--dist loadfile): most files start a simulator (≈1.3 s) for all their tests.
# `auto` is one worker per core (KALSHIWEB_TEST_WORKERS_PER_CPU=2 for two) and the longest files go first (kalshiweb/pytest_plugin.py).
TEST_WORKERS ?= auto
test: $(STAMP)
	$(PYTHON) -m pytest -n $(TEST_WORKERS) $(if $(filter 0,$(TEST_WORKERS)),,--dist loadfile) $(PYTEST_ARGS)

# Retake docs/screenshots from the browser tests (needs Chromium): tests/screenshots.py.
screenshots: $(STAMP)
	$(PYTHON) tests/screenshots.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PYTHON) manage.py makemigrations --check --dry-run

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PYTHON) tests/benchmarks/run_all.py $(BENCH_ARGS)

# The order path with 10,000 randomized fault trials on PostgreSQL (about half an hour; not part of CI).
bench-faults: $(STAMP)
	$(PYTHON) tests/benchmarks/bench_orders.py --trials 10000 $(BENCH_ARGS)

# 30 minutes of the production topology with 200 browser sockets and 1 order/s; memory and fds sampled.
bench-soak: $(STAMP)
	$(PYTHON) tests/benchmarks/bench_soak.py $(BENCH_ARGS)

sim: $(STAMP)
	$(PYTHON) manage.py kalshi_sim

# Re-pin after editing pyproject.toml's dependencies; `make lock UPGRADE=1` moves every pin to the newest
# release its range allows. Then run `make test` and commit pyproject.toml with both files.
lock: $(STAMP)
	$(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.12 --generate-hashes --quiet \
	  $(if $(UPGRADE),--upgrade) -o requirements.txt
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.12 --generate-hashes \
	  --quiet $(if $(UPGRADE),--upgrade) -o requirements-dev.txt

clean:
	rm -rf $(VENV) var
