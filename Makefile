# The two commands people type: `make run` and `make test`. Both set up .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# Official DDI-L schemas: an explicit CATALOGUE_DDI_SCHEMAS wins; otherwise use the shared
# checkout beside this one when it exists (development and CI).
SHARED_SCHEMAS := $(abspath ../shared/ddi-schemas)
ifeq ($(origin CATALOGUE_DDI_SCHEMAS), undefined)
ifneq ($(wildcard $(SHARED_SCHEMAS)/3.3/instance.xsd),)
export CATALOGUE_DDI_SCHEMAS := $(SHARED_SCHEMAS)
endif
endif

.PHONY: setup run test lint typecheck clean messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/catalogue publish --bundled --if-new
	$(BIN)/catalogue admin register-bundled
	$(BIN)/catalogue serve --host 127.0.0.1 --port 8000

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
