# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs the project by itself when needed.

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test serve migrate lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required"; exit 1; }
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ledger demo

test: $(STAMP)
	$(VENV)/bin/pytest -q

serve: $(STAMP)
	$(VENV)/bin/ledger serve

migrate: $(STAMP)
	$(VENV)/bin/ledger db migrate

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

bench: $(STAMP)
	bash bench/run_all.sh

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
