# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test bench install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/linli serve --demo

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The benchmark against PostgreSQL on 127.0.0.1 (see README); QUICK=1 for small sizes;
# SCALE=district for a district's decade of 10 M events (bench/district.py, not in CI).
bench: install-test
	$(if $(filter district,$(SCALE)),$(BIN)/python -m bench.district $(BENCH_ARGS),$(BIN)/python -m bench.run $(if $(QUICK),--quick) $(BENCH_ARGS))

clean:
	rm -rf $(VENV) var .pytest_cache
