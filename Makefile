# Two commands do all set-up: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install system-packages lint typecheck imports unit bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The partial Plotly bundle the pages load (package.json, pinned by package-lock.json), copied
# where the app serves it. Without npm the app serves the plotly wheel's full bundle (slower
# pages); under CI=true a missing npm is an error, so CI always tests the bundle users get.
CHARTS_JS := src/exoguard/web/static/vendor/plotly-cartesian.min.js

$(CHARTS_JS): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --ignore-scripts && mkdir -p $(@D) \
		&& cp node_modules/plotly.js-cartesian-dist-min/plotly-cartesian.min.js $@; \
	elif [ "$$CI" = "true" ]; then \
		echo "npm is missing: CI=true needs it for the partial Plotly bundle (package.json)" >&2; \
		exit 1; \
	else \
		echo "npm not found: the pages use the plotly wheel's full bundle (slower charts)" >&2; \
	fi

install: $(STAMP) $(CHARTS_JS)

# Debian packages the tests and benches call (chromium, poppler-utils, wrk): installed with
# apt-get when missing (as root), a clear message otherwise; instant when all are present.
system-packages:
	@bash tools/system-packages.sh

# Embedded default (SQLite, in-process jobs) unless DATABASE_URL / REDIS_URL are set.
run: install
	$(BIN)/exoguard db upgrade
	$(BIN)/exoguard ingest
	$(BIN)/exoguard train --model gbm --if-missing
	$(BIN)/exoguard models install-bundled
	$(BIN)/exoguard warmup
	$(BIN)/exoguard serve --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check src tests bench

# src with the project's settings; the bench scripts too, so a changed signature that a bench
# still calls the old way fails here rather than in a bench run.
typecheck: install
	$(BIN)/mypy
	MYPYPATH=src $(BIN)/mypy --explicit-package-bases --follow-imports=silent bench

# The layers of STYLE.md ([tool.importlinter] in pyproject.toml).
imports: install
	PYTHONPATH=src $(BIN)/lint-imports

test: install system-packages lint typecheck imports
	$(BIN)/python -m pytest -q

bench: install system-packages
	$(BIN)/python bench/catalog.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/multibranch.py

# 20 connections on predict for 10 minutes against SQLite, then PostgreSQL (127.0.0.1:5432).
soak: install
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) var
