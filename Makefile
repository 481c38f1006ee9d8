# Two commands on a fresh machine:  make demo   and   make test
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
JOBS   ?= 2

.PHONY: demo test test-thorough kernels clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# The core needs only NumPy; the test extra adds pytest, hypothesis and the pinned CPU torch.
$(VENV)/.core: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.core
	$(PY) examples/linear_regression.py

test: $(VENV)/.test kernels
	$(PY) -m pytest -q -n $(JOBS) -p no:cacheprovider

test-thorough: $(VENV)/.test
	MINITORCH_HYPOTHESIS=thorough $(PY) -m pytest -q -n $(JOBS)

# Every CUDA kernel must compile (CI has nvcc but no GPU), for sm_80 and sm_90, warnings as errors.
kernels:
	@set -e; for f in $(wildcard kernels/*.cu); do \
	  for arch in sm_80 sm_90; do \
	    nvcc -std=c++17 -arch=$$arch -cubin -Werror all-warnings -o /dev/null $$f; \
	  done; echo "nvcc ok: $$f"; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
