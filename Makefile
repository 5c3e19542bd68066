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

setup-node: e2e/node_modules/.installed examples/chat/node_modules/.installed

setup: setup-python build/upstream/test_socketio.py $(NOGEVENT_VENV)/.installed setup-chromium setup-node

# -- the two commands ----------------------------------------------------------------------------

run: setup-python examples/chat/node_modules/.installed
	PORT=$(PORT) $(PY) examples/chat/app.py

test: setup
	$(MAKE) test-python test-nogevent test-e2e test-load-smoke test-install

# -- the parts of `make test` --------------------------------------------------------------------

# client-behaviour tests run in-process, over polling and over websocket; the Locust runs (several
# processes each) and the wheel install need the machine to themselves, so they run afterwards
LOAD_TESTS := tests/test_load_smoke.py tests/test_load_other_app.py tests/test_load_distributed.py
INSTALL_TESTS := tests/test_install_wheel.py

test-python:
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q --socketio-transport=all \
	  $(foreach t,$(LOAD_TESTS) $(INSTALL_TESTS),--ignore=$(t)) $(PYTEST_ARGS)
	$(PY) -m pytest -q build/upstream/test_socketio.py

test-nogevent:
	$(NOGEVENT_VENV)/bin/python -m pytest -q -p no:flask_socketio --noconftest \
	  build/upstream/test_socketio.py tests/test_core_*.py

test-e2e:
	cd e2e && npx playwright test

test-load-smoke:
	$(PY) -m pytest -q $(LOAD_TESTS)

# the built wheel in a clean virtualenv, as a user installs it
test-install:
	$(PY) -m pytest -q $(INSTALL_TESTS)

bench: setup-python
	test -x $(UPSTREAM_VENV)/bin/python || ( $(PYTHON) -m venv $(UPSTREAM_VENV) && \
	  $(UPSTREAM_VENV)/bin/pip install -q flask-socketio==$(UPSTREAM_VERSION) gevent gevent-websocket \
	  websocket-client msgpack )
	UPSTREAM_PYTHON=$(UPSTREAM_VENV)/bin/python $(PY) tests/benchmarks/bench_dispatch.py
	UPSTREAM_PYTHON=$(UPSTREAM_VENV)/bin/python $(PY) tests/benchmarks/bench_test_client.py

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
	rm -rf build $(VENV) $(NOGEVENT_VENV) e2e/node_modules examples/chat/node_modules
