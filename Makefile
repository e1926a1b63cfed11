# The whole set-up on a fresh machine is two commands:
#   make demo   install gate into .venv and judge the bundled examples
#   make test   install everything the tests need and run the suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= test,gx,drift,opa,opa-go,postgres,spark,mlflow,audit
# OPA's Go engine, pinned; on Pythons older than upstream's 3.14 it is installed past
# its Requires-Python (the tests run both engines, so both must be there).
OPA_GO ?= opa-golib-python-bindings==0.4.4

.PHONY: demo test check install install-dev lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# gate alone: what `make demo` needs (no Great Expectations, Spark or test tools).
$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# gate with every optional integration and the test tools.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	$(BIN)/python -c 'import opa_bindings' 2>/dev/null || \
	  $(BIN)/python -m pip install --quiet --ignore-requires-python '$(OPA_GO)'
	touch $@ $(VENV)/.installed-base

install: $(VENV)/.installed-base
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/gate check --config examples/passing/gate.yaml --output-dir gate-report/passing
	@echo
	@$(BIN)/gate check --config examples/failing/gate.yaml --output-dir gate-report/failing; \
	  code=$$?; echo; echo "exit code $$code (1 = the gate blocked the deploy, as it should here)"; \
	  test $$code -eq 1
	@echo
	$(BIN)/gate rollback gate-report/failing/rollback-plan.json

test: install-dev
	bash .ci/test.sh

# the inner loop: every test not marked slow, in well under 30 s on 2 cores
check: install-dev
	$(BIN)/python -m pytest -m "not slow" -q

lint: install-dev
	$(BIN)/ruff check gate tests benchmarks
	$(BIN)/mypy --strict gate tests

bench: install-dev
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) gate-report .pytest_cache .mypy_cache .ruff_cache
