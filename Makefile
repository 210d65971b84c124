# Two commands do everything on a fresh machine with Python 3.11:
#   make demo   - the whole product offline on a small default
#   make test   - the whole test suite
# and, for the inner loop, make test-fast leaves out the end-to-end tests.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The trainer image (Dockerfile): VARIANT=gpu (CUDA 12 from pip) or cpu, built
# with docker when its engine runs, else podman. ENGINE=... and
# BUILD_FLAGS=... override (for example podman's --isolation=chroot).
IMAGE ?= quickdraw-trainer
VARIANT ?= gpu
ENGINE ?= $(shell docker info >/dev/null 2>&1 && echo docker || \
	(command -v podman >/dev/null 2>&1 && echo podman) || echo docker)
BUILD_FLAGS ?=
# Test processes for make test (pytest-xdist): the suite's own subprocesses use
# the cores, so more than two gains little on a small machine.
TEST_WORKERS ?= 2

.PHONY: venv test test-fast lint format demo bench image clean

venv: $(STAMP)

# npm installs the page's on-device runtime (LiteRT.js) into node_modules/,
# from package-lock.json: serving.site and serving.serve serve its files.
$(STAMP): setup.py package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing (apt-get install npm):" \
		"the page's on-device runtime, LiteRT.js, comes from npm" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder tests

test-fast: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder -m "not slow" tests

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

demo: $(STAMP)
	$(PY) -m tools.demo

image:
	$(ENGINE) build $(BUILD_FLAGS) --build-arg VARIANT=$(VARIANT) \
		-t $(IMAGE):$(VARIANT) .

bench: $(STAMP)
	$(PY) bench/pipeline_bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
