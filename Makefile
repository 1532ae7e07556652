# pymetallic: the two commands a fresh machine needs.
#   make demo   set everything up, run the fluid and life demos, write GIFs to demo_output/
#   make test   set everything up, run every test (C++ via CTest, Python via pytest)

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
SOURCES := $(shell find src include python -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.py' -o -name '*.metal' -o -name 'metal_*' \) 2>/dev/null)

.PHONY: demo test cpp-test py-test install clean system-deps lint

system-deps:
	@bash scripts/ensure_system_deps.sh

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml CMakeLists.txt $(SOURCES)
	@echo "== building and installing pymetallic into $(VENV) (first time: a minute or two)"
	$(VPY) -m pip install -q ".[test]"
	@touch $@

install: system-deps $(VENV)/.installed

cpp-test: system-deps
	@echo "== C++ tests (GoogleTest via CTest)"
	cmake -S . -B build/tests $(GENERATOR) -DMETALLIC_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build/tests -j 2
	ctest --test-dir build/tests --output-on-failure -j 2

py-test: install
	@echo "== Python tests (pytest)"
	$(VPY) -m pytest -q -p no:cacheprovider tests/python tests/msl
	@echo "== conformance sample in validation mode (issue 12): no finding on correct kernels"
	PYMETALLIC_VALIDATION=1 $(VPY) -m pytest -q -p no:cacheprovider -k "not compiles_for_cuda" \
	  tests/msl/test_threadgroup.py tests/msl/test_atomic.py tests/msl/test_address_spaces.py \
	  tests/msl/test_language.py tests/msl/test_textures.py tests/msl/test_argument_buffers.py \
	  tests/msl/test_indirect_dispatch.py tests/msl/test_simdgroup_matrix.py

lint: install
	@echo "== ruff check (rules: [tool.ruff] in pyproject.toml)"
	$(VENV)/bin/ruff check python tests examples bench scripts

test: lint cpp-test py-test

demo: install
	$(VPY) -m pymetallic.cli demo fluid life --out_dir demo_output

clean:
	rm -rf build $(VENV) demo_output/*.png
