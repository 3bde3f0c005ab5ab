# Two entry points for a newcomer: `make demo` (the main job) and `make test`.
# Both create .venv, install torch and the package, and provision the third-party backbones
# (ImageNet VGG16/AlexNet, LPIPS heads) offline: `make backbones`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HR := $(VENV)/bin/hadamard-restore
# Real paired images for the tests (tests/conftest.py); CI sets HADAMARD_RESTORE_REQUIRE_DATA=1.
export HADAMARD_RESTORE_DATA ?= $(abspath ../shared/data)

.PHONY: setup demo test lint backbones clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

backbones: setup
	$(HR) backbones install

demo: backbones
	$(HR) demo

test: backbones
	OMP_NUM_THREADS=2 $(PY) -m pytest -q

# ruff (lint, import order, formatting), mypy on src/ and benchmarks/, and the structural limits of
# both (function length, import cycles, re-exports, also taken by tests/, benchmarks/ and tools/, and
# for the package the upward imports between the layers of docs/internals.md; long files are a
# warning); CI runs this before the tests.
lint: setup
	$(VENV)/bin/ruff check src tests benchmarks tools
	$(VENV)/bin/ruff format --check src tests benchmarks tools
	$(VENV)/bin/mypy
	$(PY) tools/check_structure.py --importers tests benchmarks tools

clean:
	rm -rf $(VENV) runs
