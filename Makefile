# `make demo` and `make test` work on a fresh machine: they create .venv and install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.kgprune-installed
LINT_STAMP := tests/cypher_lint/node_modules/.installed

.PHONY: install demo test lint-deps clean

install: $(STAMP)

# The CPU wheel of torch 2.13.0 is taken first where it is available (never a multi-GB CUDA build);
# elsewhere the official CPU-only index provides one.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "torch==2.13.0" || \
		$(PIP) install --quiet torch --index-url https://download.pytorch.org/whl/cpu
	$(PIP) install --quiet -e ".[test,minilm]"
	touch $@

# Neo4j's own Cypher parser, used by the tests to check every statement of the Neo4j backend.
$(LINT_STAMP): tests/cypher_lint/package.json tests/cypher_lint/package-lock.json
	npm ci --prefix tests/cypher_lint --no-audit --no-fund --loglevel=error
	touch $@

lint-deps: $(LINT_STAMP)

demo: $(STAMP)
	$(VENV)/bin/kgprune demo

test: $(STAMP) $(LINT_STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) tests/cypher_lint/node_modules .pytest_cache
