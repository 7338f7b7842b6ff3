# Two entry points on a fresh machine:
#   make demo   - virtualenv with CPU Paddle, then examples/demo.py
#   make test   - virtualenv with CPU Paddle + the references (torch, transformers, PaddleNLP), then pytest
#   make bench  - the side-by-side benchmarks in benchmarks/ (same virtualenv as the tests; THREADS=n to choose)
# PADDLE_EXTRA=gpu installs paddlepaddle-gpu instead of paddlepaddle.

PYTHON ?= python3
VENV ?= .venv
PADDLE_EXTRA ?= cpu
BIN := $(VENV)/bin
THREADS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-demo: setup.py | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[$(PADDLE_EXTRA)]"
	touch $@

$(VENV)/.installed-test: setup.py | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[$(PADDLE_EXTRA),test]"
	touch $@

demo: $(VENV)/.installed-demo
	$(BIN)/pip install --quiet snownlp
	OMP_NUM_THREADS=$(THREADS) $(BIN)/python examples/demo.py

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q tests

bench: $(VENV)/.installed-test
	OMP_NUM_THREADS=$(THREADS) $(BIN)/python benchmarks/tokenizer_speed.py
	OMP_NUM_THREADS=$(THREADS) $(BIN)/python benchmarks/model_speed.py --threads $(THREADS) --json out/model_speed.json
	OMP_NUM_THREADS=$(THREADS) $(BIN)/python benchmarks/generation_speed.py --threads $(THREADS) --json out/generation_speed.json

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
