# Two commands: `make run` (a local server with demo data) and `make test` (lint + tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
export ORGADMIN_BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: install run test lint lock bench clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=1 $(BIN)/python manage.py demo
	@echo "Serving on http://127.0.0.1:$(PORT)/ (the admin is at /admin/); Ctrl-C stops."
	DJANGO_DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-insecure-test-only-key} $(BIN)/pytest

# The benchmarks (see README, Benchmarks); they make and drop their own databases on the
# PostgreSQL server of DATABASE_URL.
bench: $(STAMP)
	@test -n "$$DATABASE_URL" || { echo "Set DATABASE_URL=postgres://..."; exit 1; }
	$(BIN)/python bench/entra_sync.py --compare-peer
	$(BIN)/python bench/size.py
	DJANGO_DEBUG=1 $(BIN)/python bench/scim_bench.py

# Re-pin every dependency from pyproject.toml into requirements.lock.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check '.[dev]'
	.lock-venv/bin/pip freeze --exclude orgadmin > requirements.lock
	rm -rf .lock-venv build *.egg-info

clean:
	rm -rf $(VENV) staticfiles
