# Two commands matter: `make run` (the demo) and `make test` (the whole suite).
# Every step installs what it needs, so both work on a fresh machine.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
NOGEVENT_VENV ?= .venv-nogevent
UPSTREAM_VENV ?= .venv-upstream
UPSTREAM_VERSION ?= 5.6.1
CHROMIUM_PATH ?= /usr/bin/chromium
PYTEST_WORKERS ?= auto
PORT ?= 5000

export CHROMIUM_PATH

.PHONY: help run test setup setup-python setup-node setup-chromium test-python test-nogevent \
        test-e2e test-load-smoke test-install bench lint clean protocol-suites protocol-fuzz

help:
	@echo "make run    - start the demo chat on http://127.0.0.1:$(PORT)"
	@echo "make test   - install everything the tests need, then run the whole suite"
	@echo "make bench  - benchmarks against upstream Flask-SocketIO $(UPSTREAM_VERSION)"
	@echo "make lint   - ruff check, ruff format --check, mypy"

# -- setup -------------------------------------------------------------------------------------

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

setup-python: $(VENV)/.installed

# upstream's own test module, taken from its source distribution (run unmodified by the suite)
build/upstream/test_socketio.py: | $(VENV)/.installed
	mkdir -p build/upstream
	$(PIP) download -q --no-deps --no-binary :all: flask-socketio==$(UPSTREAM_VERSION) -d build/upstream
	tar -xzf build/upstream/flask_socketio-$(UPSTREAM_VERSION).tar.gz -C build/upstream
	cp build/upstream/flask_socketio-$(UPSTREAM_VERSION)/test_socketio.py $@

# a second environment without gevent: the default async mode is then threading
$(NOGEVENT_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(NOGEVENT_VENV)
	$(NOGEVENT_VENV)/bin/pip install -q --upgrade pip
	$(NOGEVENT_VENV)/bin/pip install -q -e . pytest pytest-timeout redis kombu msgpack requests \
	  websocket-client flask-login
	touch $@

setup-chromium:
	@if [ -x "$(CHROMIUM_PATH)" ]; then echo "chromium: $(CHROMIUM_PATH)"; \
	else echo "installing Debian's chromium"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; fi

e2e/node_modules/.installed: e2e/package.json e2e/package-lock.json
	cd e2e && npm ci --no-audit --no-fund
	touch $@

examples/chat/node_modules/.installed: examples/chat/package.json examples/chat/package-lock.json
	cd examples/chat && npm ci --no-audit --no-fund
	touch $@

# e2e/ runs the files `python -m flask_socketio_testing.e2e init` ships, copied here, not kept twice
E2E_SHIPPED := playwright.config.ts tests/socketio.ts tests/example.spec.ts
e2e/%.ts: testing/e2e/project/%.ts
	cp $< $@

setup-node: e2e/node_modules/.installed examples/chat/node_modules/.installed \
  $(addprefix e2e/,$(E2E_SHIPPED))

setup: setup-python build/upstream/test_socketio.py setup-chromium setup-node

# -- the two commands ----------------------------------------------------------------------------

run: setup-python examples/chat/node_modules/.installed
	PORT=$(PORT) $(PY) examples/chat/app.py

test: setup
	$(MAKE) lint test-python test-matrix test-e2e test-load-smoke test-install

# -- the parts of `make test` --------------------------------------------------------------------

# client-behaviour tests run in-process, over polling and over websocket; the Locust runs (several
# processes each) and the wheel install need the machine to themselves, so they run afterwards
LOAD_TESTS := tests/test_load_smoke.py tests/test_load_other_app.py tests/test_load_distributed.py
INSTALL_TESTS := tests/test_install_wheel.py

test-python:
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q --socketio-transport=all \
	  $(foreach t,$(LOAD_TESTS) $(INSTALL_TESTS),--ignore=$(t)) $(PYTEST_ARGS)
	$(PY) -m pytest -q build/upstream/test_socketio.py

test-nogevent: $(NOGEVENT_VENV)/.installed build/upstream/test_socketio.py
	$(NOGEVENT_VENV)/bin/python -m pytest -q -p no:flask_socketio --noconftest \
	  build/upstream/test_socketio.py tests/test_core_*.py

test-e2e: $(addprefix e2e/,$(E2E_SHIPPED))
	cd e2e && npx playwright test

test-load-smoke:
	$(PY) -m pytest -q $(LOAD_TESTS)

# the built wheel in a clean virtualenv, as a user installs it
test-install:
	$(PY) -m pytest -q $(INSTALL_TESTS)

# -- compatibility matrix ------------------------------------------------------------------------
# Cells: the lowest and the highest supported versions, each with and without gevent, every cell a
# virtualenv of its own built from PyPI. tests/compat/cells.py says what a cell installs: low
# cells pin each dependency to the floor pyproject.toml states, high cells take the newest release
# its ranges allow. Each cell runs upstream's test module and the core tests; the high cell also
# runs typeshed's stubtest. `make test-matrix` runs MATRIX_JOBS cells at a time and prints a table.
MATRIX_CELLS ?= low low-gevent high high-gevent
MATRIX_JOBS ?= 2
MATRIX_VENV ?= .venv-matrix
MATRIX_DIR := build/matrix
# the oldest and the newest Python the package supports, where installed (pyenv, /usr), else $(PYTHON)
find_python = $(firstword $(wildcard $(HOME)/.pyenv/versions/$(1).*/bin/python$(1) \
  /usr/local/bin/python$(1) /usr/bin/python$(1)) $(PYTHON))
MATRIX_PYTHON_low ?= $(call find_python,3.10)
MATRIX_PYTHON_high ?= $(call find_python,3.13)
matrix_level = $(firstword $(subst -, ,$(1)))

.PHONY: test-matrix matrix-cells matrix-stubtest FORCE
# the stamps and requirements files are kept (make would delete them as intermediate files)
.PRECIOUS: $(MATRIX_VENV)-%/.installed $(MATRIX_DIR)/%.requirements
FORCE:

# a cell's requirements file is rewritten only when its text changes (that rebuilds the cell)
$(MATRIX_DIR)/%.requirements: FORCE
	@mkdir -p $(MATRIX_DIR)
	@$(PYTHON) tests/compat/cells.py $* > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

# pip's output goes to build/matrix/CELL.install.log and is shown only when the install fails
$(MATRIX_VENV)-%/.installed: $(MATRIX_DIR)/%.requirements
	rm -rf $(MATRIX_VENV)-$*
	$(MATRIX_PYTHON_$(call matrix_level,$*)) -m venv $(MATRIX_VENV)-$*
	@echo "matrix cell $*: installing" $$(grep -v '^#' $<)
	@$(MATRIX_VENV)-$*/bin/pip install -q -r $< > $(MATRIX_DIR)/$*.install.log 2>&1 \
	  || { cat $(MATRIX_DIR)/$*.install.log; exit 1; }
	touch $@

# a cell records pytest's exit code instead of failing, so every cell runs and the table is whole
matrix-cell-%: $(MATRIX_VENV)-%/.installed build/upstream/test_socketio.py
	@mkdir -p $(MATRIX_DIR)
	@echo "matrix cell $*: running (log: $(MATRIX_DIR)/$*.log)"
	@$(MATRIX_VENV)-$*/bin/python -m pytest -q -p no:flask_socketio --noconftest \
	  --junitxml=$(MATRIX_DIR)/$*.xml build/upstream/test_socketio.py tests/test_core_*.py \
	  > $(MATRIX_DIR)/$*.log 2>&1; echo $$? > $(MATRIX_DIR)/$*.rc

# typeshed's stubs for upstream checked against this package, from a folder without its source
# (so mypy reads the stubs, not the package's own annotations); deliberate differences are listed
matrix-stubtest: $(MATRIX_VENV)-high/.installed
	@mkdir -p $(MATRIX_DIR)
	@echo "matrix stubtest: running (log: $(MATRIX_DIR)/stubtest.log)"
	@cd $(MATRIX_DIR) && ../../$(MATRIX_VENV)-high/bin/python -m mypy.stubtest flask_socketio \
	  --allowlist ../../tests/compat/stubtest-allowlist.txt > stubtest.log 2>&1; \
	  echo $$? > stubtest.rc

matrix-cells: $(addprefix matrix-cell-,$(MATRIX_CELLS)) matrix-stubtest

test-matrix: build/upstream/test_socketio.py
	rm -f $(MATRIX_DIR)/*.rc $(MATRIX_DIR)/*.xml
	-$(MAKE) -k -j$(MATRIX_JOBS) matrix-cells
	$(PYTHON) tests/compat/matrix_report.py $(MATRIX_DIR) $(MATRIX_VENV) $(MATRIX_CELLS)

# the served benchmark's Node side: socket.io-client 4.8 load generator and socket.io 4.8 server
tests/benchmarks/loadgen/node_modules/.installed: tests/benchmarks/loadgen/package.json \
    tests/benchmarks/loadgen/package-lock.json
	cd tests/benchmarks/loadgen && npm ci --no-audit --no-fund
	touch $@

BENCH_ROUNDS ?= 3

bench: setup-python tests/benchmarks/loadgen/node_modules/.installed
	test -x $(UPSTREAM_VENV)/bin/python || ( $(PYTHON) -m venv $(UPSTREAM_VENV) && \
	  $(UPSTREAM_VENV)/bin/pip install -q flask-socketio==$(UPSTREAM_VERSION) gevent gevent-websocket \
	  websocket-client msgpack )
	UPSTREAM_PYTHON=$(abspath $(UPSTREAM_VENV))/bin/python $(PY) tests/benchmarks/bench_dispatch.py
	UPSTREAM_PYTHON=$(abspath $(UPSTREAM_VENV))/bin/python $(PY) tests/benchmarks/bench_test_client.py
	UPSTREAM_PYTHON=$(abspath $(UPSTREAM_VENV))/bin/python $(PY) tests/benchmarks/bench_server.py \
	  --rounds $(BENCH_ROUNDS) --json build/bench_server.json

# the official protocol suites (checkouts given by SIO_PROTOCOL_DIR / EIO_PROTOCOL_DIR, `npm ci`
# run in their test-suite folders) against this server: gevent and threading, reference and long
# heartbeat, RUNS times each; they need localhost:3000, so they run in a private network namespace
RUNS ?= 5
protocol-suites: setup-python
	$(PY) tests/protocol/run_suites.py --runs $(RUNS) --verbose

# the full fuzzer (make test runs a 1,000-packet version): 20,000 malformed packets per mode
FUZZ_PACKETS ?= 20000
protocol-fuzz: setup-python
	$(PY) tests/protocol/fuzz.py --packets $(FUZZ_PACKETS) --mode threading
	$(PY) tests/protocol/fuzz.py --packets $(FUZZ_PACKETS) --mode gevent

# mypy reads the three folders under their import names through a tree of links
TYPECHECK_DIR := build/typecheck

lint: setup-python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	mkdir -p $(TYPECHECK_DIR)
	ln -sfn ../../flask_socketio $(TYPECHECK_DIR)/flask_socketio
	ln -sfn ../../testing $(TYPECHECK_DIR)/flask_socketio_testing
	ln -sfn ../../pytest_plugin $(TYPECHECK_DIR)/pytest_flask_socketio
	cd $(TYPECHECK_DIR) && ../../$(VENV)/bin/mypy --config-file ../../pyproject.toml \
	  -p flask_socketio -p flask_socketio_testing -p pytest_flask_socketio

clean:
	rm -rf build $(VENV) $(NOGEVENT_VENV) $(MATRIX_VENV)-* e2e/node_modules examples/chat/node_modules \
	  tests/benchmarks/loadgen/node_modules $(addprefix e2e/,$(E2E_SHIPPED))
