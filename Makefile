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
        test-e2e test-load-smoke bench lint clean

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
	$(MAKE) test-python test-nogevent test-e2e test-load-smoke

# -- the parts of `make test` --------------------------------------------------------------------

# client-behaviour tests run in-process, over polling and over websocket; the Locust smoke run
# needs the machine to itself, so it runs on its own afterwards
test-python:
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q --socketio-transport=all \
	  --ignore=tests/test_load_smoke.py --ignore=tests/test_load_other_app.py \
	  --ignore=tests/test_load_distributed.py $(PYTEST_ARGS)
	$(PY) -m pytest -q build/upstream/test_socketio.py

test-nogevent:
	$(NOGEVENT_VENV)/bin/python -m pytest -q -p no:flask_socketio --noconftest \
	  build/upstream/test_socketio.py tests/test_core_*.py

test-e2e:
	cd e2e && npx playwright test

test-load-smoke:
	$(PY) -m pytest -q tests/test_load_smoke.py tests/test_load_other_app.py \
	  tests/test_load_distributed.py

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
	rm -rf build $(VENV) $(NOGEVENT_VENV) e2e/node_modules examples/chat/node_modules \
	  tests/benchmarks/loadgen/node_modules
