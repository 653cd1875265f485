# codemill: the two commands of the README are `make run` and `make test`.
# Everything installs into .venv/ (and Airflow into .venv-airflow/, see docs/airflow.md).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup run test test-fast airflow browser clean-lake

# Install pinned dependencies, resolve the Spark jars once (cached under ~/.cache/codemill),
# and configure this environment's spark-submit. Re-runs only when pyproject.toml changes.
setup: $(VENV)/.codemill-installed
$(VENV)/.codemill-installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -e '.[test]'
	$(BIN)/codemill setup
	@touch $@

# Run the whole pipeline on the shipped sample corpus into ./lake.
run: setup
	$(BIN)/codemill run

# The Airflow environment (its own venv: the Spark provider's pyspark-client breaks pyspark).
airflow:
	@if [ -x scripts/setup_airflow.sh ]; then scripts/setup_airflow.sh; fi

# Debian's Chromium for the report render test.
browser:
	@scripts/setup_browser.sh

# The full suite (what CI runs).
test: setup airflow browser
	$(BIN)/pytest

# Unit tests and fast Spark tests only.
test-fast: setup
	$(BIN)/pytest -m "not slow"

clean-lake:
	rm -rf lake
