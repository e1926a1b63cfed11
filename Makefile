# The whole set-up on a fresh machine is two commands:
#   make demo   install gate into .venv and judge the bundled examples
#   make test   install everything the tests need and run the suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= test,gx,opa,postgres,spark

.PHONY: demo test install lint bench clean

$(BIN)/gate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(BIN)/gate

install: $(BIN)/gate

demo: install
	$(BIN)/gate check --config examples/passing/gate.yaml --output-dir gate-report/passing
	@echo
	@$(BIN)/gate check --config examples/failing/gate.yaml --output-dir gate-report/failing; \
	  code=$$?; echo; echo "exit code $$code (1 = the gate blocked the deploy, as it should here)"; \
	  test $$code -eq 1

test: install
	bash .ci/test.sh

lint: install
	$(BIN)/ruff check gate tests benchmarks
	$(BIN)/mypy --strict gate

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) gate-report .pytest_cache .mypy_cache .ruff_cache
