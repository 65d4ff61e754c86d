# Everything a fresh machine needs, from the project's own files.
#   make demo   render a clip and slow part of it down (the main job)
#   make test   the whole test suite (what CI runs)
#   make bench  the benchmarks (needs ../shared/testdata)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

demo: $(STAMP)
	$(BIN)/deepshop demo -o deepshop-demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/memory.py

clean:
	rm -rf $(VENV) .cache deepshop-demo bench/out
