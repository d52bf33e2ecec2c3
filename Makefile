# Two commands for a fresh clone: `make dev` runs the example Worker, `make test` runs the whole suite.
# Each first installs everything it needs into .venv (once, and again when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: dev test install bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed

dev: $(BIN)/.installed
	$(BIN)/workers-ai-emu dev

test: $(BIN)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .emu .pytest_cache
