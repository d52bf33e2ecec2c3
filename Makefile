# Two commands for a fresh clone: `make dev` runs the example Worker, `make test` runs the whole suite.
# Each first installs everything it needs into .venv (once, and again when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: dev dev-speech test lint install bench bench-speech clean reference-venv fixtures mutate

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed

dev: $(BIN)/.installed
	$(BIN)/workers-ai-emu dev

# The speech example (transcribe/): a voice note in, its transcript out, on http://127.0.0.1:8788
dev-speech: $(BIN)/.installed
	$(BIN)/workers-ai-emu dev --config transcribe/wrangler-like.toml

test: $(BIN)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff (lint + format check) over the code, mypy over runtime/; CI runs it before the tests.
lint: $(BIN)/.installed
	$(BIN)/ruff check runtime tests worker transcribe bench
	$(BIN)/ruff format --check runtime tests worker transcribe bench
	$(BIN)/mypy

# Mutation testing of the modules that carry the promises, with the tests that cover them ([tool.mutmut] in
# pyproject.toml). About 15 minutes on 2 cores (2,084 mutants); not in `make test` or CI. Report: docs/testing.md.
mutate: $(BIN)/.installed
	$(BIN)/python -m pip install -q -e '.[test,mutation]'
	rm -rf mutants
	WORKERS_AI_EMU_SHARED=$(abspath ../shared) $(BIN)/mutmut run || true
	$(BIN)/python tests/mutation_report.py

clean:
	rm -rf $(VENV) .emu .pytest_cache mutants

# Dev-only: torch (the local CPU build) + transformers, for rebuilding the reference fixtures and for the benchmarks.
# Never timm or torchvision (they pull several GB of CUDA packages).
.venv-ref/.installed:
	$(PYTHON) -m venv .venv-ref
	.venv-ref/bin/python -m pip install -q --upgrade pip
	.venv-ref/bin/python -m pip install -q torch==2.13.0
	.venv-ref/bin/python -m pip install -q "transformers==5.23.0" onnx onnxscript onnxruntime pillow numpy safetensors av tokenizers
	touch $@

reference-venv: .venv-ref/.installed

fixtures: .venv-ref/.installed
	HF_HUB_OFFLINE=1 .venv-ref/bin/python tests/fixtures/build_reference.py

# The performance figures in one run (docs/benchmarks.md): builds the full-size stand-ins once, then ~10 minutes.
# Speech: real-time factor of a 60 s recording, Whisper tiny and base, against transformers and faster-whisper.
bench-speech: $(BIN)/.installed .venv-ref/.installed
	.venv-ref/bin/python -m pip install -q "ctranslate2>=4.5,<5" "faster-whisper>=1.1,<2"
	HF_HUB_OFFLINE=1 .venv-ref/bin/python bench/bench_speech.py

bench: $(BIN)/.installed .venv-ref/.installed
	test -f bench/.models/vit/onnx/model.onnx || HF_HUB_OFFLINE=1 .venv-ref/bin/python bench/build_models.py
	$(BIN)/python bench/benchmark.py
