"""The plugin seen from a user's test run (pytester, each run in its own pytest process):
transport ids, failure transcripts, leak reports, service skips turned into failures, option
errors and fixture documentation."""

from __future__ import annotations

import pytest

APP = """
from flask import Flask
from flask_socketio import SocketIO, emit

def create_app():
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="threading")

    @socketio.on("connect")
    def connect(auth=None):
        emit("hello", "there")

    @socketio.on("ping_me")
    def ping_me(data):
        emit("pong", data)

    return app
"""

CONFTEST = """
import pytest
from userapp import create_app

@pytest.fixture
def app():
    return create_app()
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(userapp=APP, conftest=CONFTEST)
    pytester.makeini("[pytest]\npythonpath = .\nsocketio_app = userapp:create_app()\n")
    return pytester


def test_ids_transcripts_and_leaks(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_user="""
import threading, time
import pytest

def test_ok(socketio_client):
    socketio_client.emit("ping_me", 1)
    assert socketio_client.expect("pong") == [1]

def test_times_out(socketio_client):
    socketio_client.emit("ping_me", {"x": 41})
    socketio_client.expect("never-sent", timeout=0.2)

@pytest.mark.socketio_transports("websocket")
def test_ws_only(socketio_client):
    assert socketio_client.transport == "websocket"

def test_leaks_a_thread(socketio_client):
    threading.Thread(target=time.sleep, args=(8,), name="forgotten-worker").start()
"""
    )
    result = project.runpytest_subprocess("--socketio-transport=all", "-v", "-p", "no:randomly")
    out = result.stdout.str()
    result.assert_outcomes(passed=7, failed=3, errors=3)
    for transport in ("inprocess", "polling", "websocket"):
        assert f"test_ok[{transport}] PASSED" in out
        assert f"test_times_out[{transport}] FAILED" in out
    assert "test_ws_only[websocket] PASSED" in out
    assert "test_ws_only[inprocess]" not in out
    # the failure report carries the client's transcript: what it sent and what it received
    assert "socketio transcript: client-1-websocket (call)" in out
    assert "socketio transcript: client-1-inprocess (call)" in out
    assert "emit          /        ping_me args=[{'x': 41}]" in out
    assert "pong args=[{'x': 41}]" in out
    assert "expected 'never-sent'" in out
    # the leak is reported at teardown, naming the thread
    assert "socketio fixtures leaked after teardown" in out
    assert "non-daemon thread 'forgotten-worker' started during the test" in out


def test_single_transport_keeps_ids(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_user="""
import pytest

def test_plain(socketio_client, socketio_transport):
    assert socketio_transport == "polling"

@pytest.mark.socketio_transports("inprocess")
def test_inprocess_only(socketio_client):
    pass
"""
    )
    result = project.runpytest_subprocess("--socketio-transport=polling", "-v", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*test_plain PASSED*", "*runs only over inprocess*"])


def test_missing_services_skip_or_fail(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(
        test_user="""
def test_redis(redis_url):
    pass

def test_amqp(amqp_url):
    pass
"""
    )
    # ports that nothing listens on (port 9 is discard/closed on these machines)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")
    monkeypatch.setenv("AMQP_URL", "amqp://guest:guest@127.0.0.1:9//")
    monkeypatch.delenv("SOCKETIO_REQUIRE_SERVICES", raising=False)
    project.runpytest_subprocess("-rs").assert_outcomes(skipped=2)
    failed = project.runpytest_subprocess("--socketio-require-services")
    failed.assert_outcomes(errors=2)
    failed.stdout.fnmatch_lines(["*services are required*"])
    monkeypatch.setenv("SOCKETIO_REQUIRE_SERVICES", "1")
    project.runpytest_subprocess().assert_outcomes(errors=2)


def test_bad_transport_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makepyfile(test_user="def test_x():\n    pass\n")
    result = project.runpytest_subprocess("--socketio-transport=carrier-pigeon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown transport 'carrier-pigeon'*"])


def test_fixtures_are_documented(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--fixtures", "-v")
    out = result.stdout.str()
    for name in (
        "socketio",
        "socketio_client",
        "socketio_client_factory",
        "socketio_live_server",
        "socketio_cluster",
        "redis_url",
        "amqp_url",
        "socketio_channel",
        "socketio_transport",
    ):
        assert f"\n{name} " in out or f"\n{name} [" in out, name
    assert "binds port 0 itself" in out


def _without(project: pytest.Pytester, module: str) -> None:
    """Make ``module`` unimportable in the project's runs, as if it were not installed."""
    project.makeconftest(f"import sys\nsys.modules[{module!r}] = None\n" + CONFTEST)


def test_without_websocket_client_the_error_names_it_and_the_extra(
    project: pytest.Pytester,
) -> None:
    _without(project, "websocket")
    project.makepyfile(
        test_user="""
def test_ws(socketio_client):
    pass
"""
    )
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--socketio-transport=websocket"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*flask_socketio_testing.Client needs websocket-client, which is not installed*"
            "'testing' extra*[[]testing[]]*"
        ]
    )
    result.stdout.no_fnmatch_line("*Unexpected connection error*")


def test_without_requests_fixtures_stay_and_say_what_to_install(
    project: pytest.Pytester,
) -> None:
    _without(project, "requests")
    listed = project.runpytest_subprocess("-p", "no:cacheprovider", "--fixtures")
    listed.stdout.fnmatch_lines(["socketio_swarm_factory*", "socketio_fault_proxy*"])
    project.makepyfile(
        test_user="""
import pytest

def test_swarm(socketio_swarm_factory):
    socketio_swarm_factory(2)

def test_import():
    with pytest.raises(ModuleNotFoundError, match=r"needs requests.*\\[testing\\]"):
        from flask_socketio_testing import Client
"""
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*needs requests, which is not installed*[[]testing[]]*"])


def test_a_live_server_whose_async_mode_is_not_installed_says_which_extra(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_user="""
import pytest

@pytest.mark.socketio_server(async_mode="eventlet")
def test_eventlet(socketio_live_server):
    pass
"""
    )
    _without(project, "eventlet")
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*the eventlet live server needs eventlet, which is not installed*[[]eventlet[]]*"]
    )


# -- a gevent app served without configuration ------------------------------------------------

GEVENT_APP = """
from flask import Flask
from flask_socketio import SocketIO

app = Flask(__name__)
socketio = SocketIO(app)  # no async_mode: gevent, as it is installed

@socketio.on("add")
def add(a, b):
    return a + b
"""

GEVENT_TESTS = """
def test_add(socketio_client, socketio_live_server, socketio_transport):
    assert socketio_client.call("add", 1, 2) == 3

def test_served_by_a_gevent_subprocess(socketio_live_server, socketio_app_spec):
    from pytest_flask_socketio.live_server import ProcessLiveServer

    assert socketio_app_spec is None  # no ini option, no marker
    assert isinstance(socketio_live_server, ProcessLiveServer)
    assert (socketio_live_server.async_mode, socketio_live_server.app_spec) == {expected}
"""


def test_a_gevent_app_bound_to_a_module_name_needs_no_configuration(
    pytester: pytest.Pytester,
) -> None:
    # a src layout: the subprocess finds the module only through the test process's sys.path
    src = pytester.mkdir("src")
    (src / "chatapp.py").write_text(GEVENT_APP)
    pytester.makeini("[pytest]\npythonpath = src\n")
    pytester.makeconftest(
        "import pytest\nfrom chatapp import app as the_app\n\n"
        "@pytest.fixture\ndef app():\n    return the_app\n"
    )
    pytester.makepyfile(test_chat=GEVENT_TESTS.replace("{expected}", "('gevent', 'chatapp:app')"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--socketio-transport=all")
    result.assert_outcomes(passed=4)


FACTORY_APP = """
from flask import Flask
from flask_socketio import SocketIO

def create_app(testing=False):
    app = Flask(__name__)
    app.config["TESTING"] = testing
    socketio = SocketIO(app)

    @socketio.on("add")
    def add(a, b):
        return a + b

    return app
"""


def test_a_gevent_factory_app_is_served_by_calling_the_factory(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(factoryapp=FACTORY_APP)
    pytester.makeconftest(
        "import pytest\nimport factoryapp\n\n"
        "@pytest.fixture\ndef app():\n    return factoryapp.create_app(testing=True)\n"
    )
    expected = "('gevent', 'factoryapp:create_app()')"
    pytester.makepyfile(test_factory=GEVENT_TESTS.replace("{expected}", expected))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--socketio-transport=polling,websocket"
    )
    result.assert_outcomes(passed=3)


def test_an_underivable_app_says_exactly_what_to_set(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        needsconfig=FACTORY_APP.replace("def create_app(testing=False):", "def build(testing):")
    )
    pytester.makeconftest(
        "import pytest\nfrom needsconfig import build\n\n"
        "@pytest.fixture\ndef app():\n    return build(True)\n"
    )
    pytester.makepyfile(test_cfg="def test_add(socketio_client):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--socketio-transport=polling")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*LiveServerError: a gevent live server runs in a subprocess*none was found: no "
            "module-level name in 'needsconfig' is bound to the app fixture's app, and the app "
            "fixture calls no factory of 'needsconfig' that takes no arguments; set the ini "
            "option socketio_app = package.module:app (or package.module:create_app()), or mark "
            "the test @pytest.mark.socketio_server(app='package.module:app')*"
        ]
    )
