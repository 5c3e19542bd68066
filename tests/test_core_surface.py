"""Upstream Flask-SocketIO 5.7.0's public surface exists here, with compatible signatures.

The lists below were written from upstream's 5.7.0 source distribution and from python-socketio's
``Namespace``, whose helpers upstream's ``Namespace`` inherits; nothing of upstream is needed at
test time. A signature here is compatible with upstream's when every parameter upstream names is
here with the same name, kind, position and default, and every parameter upstream lacks is
optional, so any call that binds upstream's signature binds ours.

What upstream has and this package lacks on purpose is listed in ``NOT_REEXPORTED``; what it
lacks today fails here.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest
import socketio as socketio_pkg
from core_support import make_app

import flask_socketio

# -- upstream 5.7.0's module paths and the public names each one defines ----------------------

UPSTREAM_MODULES = {
    "flask_socketio": [
        "SocketIO",
        "Namespace",
        "SocketIOTestClient",
        "ConnectionRefusedError",
        "emit",
        "send",
        "call",
        "join_room",
        "leave_room",
        "close_room",
        "rooms",
        "disconnect",
    ],
    "flask_socketio.namespace": ["Namespace"],
    "flask_socketio.test_client": ["SocketIOTestClient"],
}
# names upstream's modules have only because they import them for their own use (upstream has no
# __all__); this package does not re-export them (import them from where they live)
NOT_REEXPORTED = {
    "flask_socketio": [
        "DebuggedApplication",  # werkzeug.debug
        "SessionMixin",  # flask.sessions
        "flask",
        "flask_json",  # flask.json
        "gevent_socketio_found",  # a flag for the long-gone gevent-socketio package
        "has_request_context",  # flask
        "os",
        "run_with_reloader",  # werkzeug._reloader
        "socketio",
        "sys",
        "wraps",  # functools
    ],
    "flask_socketio.test_client": ["EnvironBuilder", "PubSubManager", "packet", "uuid"],
}

# -- signatures, as upstream 5.7.0 (and python-socketio for inherited helpers) define them -----

FUNCTIONS = {
    "emit": "(event, *args, **kwargs)",
    "send": "(message, **kwargs)",
    "call": "(event, *args, **kwargs)",
    "join_room": "(room, sid=None, namespace=None)",
    "leave_room": "(room, sid=None, namespace=None)",
    "close_room": "(room, namespace=None)",
    "rooms": "(sid=None, namespace=None)",
    "disconnect": "(sid=None, namespace=None, silent=False)",
}
SOCKETIO_METHODS = {
    "__init__": "(self, app=None, **kwargs)",
    "init_app": "(self, app, **kwargs)",
    "on": "(self, message, namespace=None)",
    "on_error": "(self, namespace=None)",
    "on_error_default": "(self, exception_handler)",
    "on_event": "(self, message, handler, namespace=None)",
    "event": "(self, *args, **kwargs)",
    "on_namespace": "(self, namespace_handler)",
    "emit": "(self, event, *args, **kwargs)",
    "call": "(self, event, *args, **kwargs)",
    "send": "(self, data, json=False, namespace=None, to=None, callback=None, include_self=True,"
    " skip_sid=None, **kwargs)",
    "close_room": "(self, room, namespace=None)",
    "run": "(self, app, host=None, port=None, **kwargs)",
    "stop": "(self)",
    "start_background_task": "(self, target, *args, **kwargs)",
    "sleep": "(self, seconds=0)",
    "test_client": "(self, app, namespace=None, query_string=None, headers=None, auth=None,"
    " flask_test_client=None)",
}
NAMESPACE_METHODS = {
    # upstream's own
    "__init__": "(self, namespace=None)",
    "trigger_event": "(self, event, *args)",
    "emit": "(self, event, data=None, room=None, include_self=True, namespace=None, callback=None)",
    "send": "(self, data, room=None, include_self=True, namespace=None, callback=None)",
    "close_room": "(self, room, namespace=None)",
    # inherited from python-socketio's Namespace: they act on self.server
    "call": "(self, event, data=None, to=None, sid=None, namespace=None, timeout=None,"
    " ignore_queue=False)",
    "enter_room": "(self, sid, room, namespace=None)",
    "leave_room": "(self, sid, room, namespace=None)",
    "rooms": "(self, sid, namespace=None)",
    "get_session": "(self, sid, namespace=None)",
    "save_session": "(self, sid, session, namespace=None)",
    "session": "(self, sid, namespace=None)",
    "disconnect": "(self, sid, namespace=None)",
    "is_asyncio_based": "(self)",
}
TEST_CLIENT_METHODS = {
    "__init__": "(self, app, socketio, namespace=None, query_string=None, headers=None,"
    " auth=None, flask_test_client=None)",
    "is_connected": "(self, namespace=None)",
    "connect": "(self, namespace=None, query_string=None, headers=None, auth=None)",
    "disconnect": "(self, namespace=None)",
    "emit": "(self, event, *args, **kwargs)",
    "send": "(self, data, json=False, callback=False, namespace=None)",
    "get_received": "(self, namespace=None)",
}

# keywords that upstream's ``**kwargs`` functions read (all optional)
EMIT_KEYWORDS = ("namespace", "to", "room", "include_self", "skip_sid", "callback")
CONTEXT_EMIT_KEYWORDS = (*EMIT_KEYWORDS, "broadcast", "ignore_queue")
CONTEXT_SEND_KEYWORDS = (*CONTEXT_EMIT_KEYWORDS, "json")


def upstream_signature(text: str) -> inspect.Signature:
    """An ``inspect.Signature`` from upstream's signature written as text."""
    namespace: dict[str, Any] = {}
    exec(f"def upstream{text}: pass", namespace)  # literals only: names and simple defaults
    return inspect.signature(namespace["upstream"])


def incompatibilities(ours: inspect.Signature, theirs: inspect.Signature) -> list[str]:
    """Why a call that binds upstream's signature might not bind ours (empty when compatible)."""
    problems = []
    our_params = list(ours.parameters.values())
    our_by_name = ours.parameters
    kinds = inspect.Parameter
    our_kinds = {p.kind for p in our_params}
    positional = [
        p for p in our_params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    ]
    for index, param in enumerate(theirs.parameters.values()):
        if param.kind is kinds.VAR_POSITIONAL:
            if kinds.VAR_POSITIONAL not in our_kinds:
                problems.append("no *args")
            continue
        if param.kind is kinds.VAR_KEYWORD:
            if kinds.VAR_KEYWORD not in our_kinds:
                problems.append("no **kwargs")
            continue
        mine = our_by_name.get(param.name)
        if mine is None:
            problems.append(f"no parameter {param.name!r}")
            continue
        if mine.kind is not param.kind:
            problems.append(
                f"{param.name!r} is {mine.kind.description}, upstream's is {param.kind.description}"
            )
        elif param.kind is kinds.POSITIONAL_OR_KEYWORD and positional.index(mine) != index:
            problems.append(f"{param.name!r} is at position {positional.index(mine)}, not {index}")
        if param.default is not inspect.Parameter.empty and mine.default != param.default:
            problems.append(
                f"{param.name!r} defaults to {mine.default!r}, upstream's to {param.default!r}"
            )
    for param in our_params:
        extra = param.name not in theirs.parameters
        required = param.default is inspect.Parameter.empty and param.kind not in (
            kinds.VAR_POSITIONAL,
            kinds.VAR_KEYWORD,
        )
        if extra and required:
            problems.append(f"extra required parameter {param.name!r}")
    return problems


def test_the_signature_check_can_fail():
    # the rule itself, on shapes that must be refused and shapes that must pass
    theirs = upstream_signature("(self, room, namespace=None)")
    assert (
        incompatibilities(upstream_signature("(self, room, namespace=None, to=None)"), theirs) == []
    )
    assert incompatibilities(upstream_signature("(self, room, *, namespace=None)"), theirs)
    assert incompatibilities(upstream_signature("(self, namespace=None, room=None)"), theirs)
    assert incompatibilities(upstream_signature("(self, room, namespace='/')"), theirs)
    assert incompatibilities(upstream_signature("(self, room, namespace=None, *, sid)"), theirs)
    assert incompatibilities(upstream_signature("(self, room)"), theirs)
    assert incompatibilities(
        upstream_signature("(self, event)"), upstream_signature("(self, event, *args)")
    )


# -- module paths and names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module_name", "name"),
    [(module, name) for module, names in UPSTREAM_MODULES.items() for name in names],
)
def test_upstream_module_paths_and_names_exist(module_name, name):
    module = importlib.import_module(module_name)
    assert hasattr(module, name), f"{module_name}.{name} is missing"
    if module_name == "flask_socketio":
        assert name in module.__all__  # `from flask_socketio import *` gives upstream's API


def test_names_upstream_defines_in_several_modules_are_the_same_objects():
    from flask_socketio.namespace import Namespace
    from flask_socketio.test_client import SocketIOTestClient

    assert flask_socketio.Namespace is Namespace
    assert flask_socketio.SocketIOTestClient is SocketIOTestClient
    assert flask_socketio.ConnectionRefusedError is socketio_pkg.exceptions.ConnectionRefusedError


def test_names_not_reexported_are_listed_on_purpose():
    # each name upstream imports for its own use is here only if this package uses it the same way
    for module_name, names in NOT_REEXPORTED.items():
        module = importlib.import_module(module_name)
        assert not set(names) & set(getattr(module, "__all__", [])), module_name


def test_the_test_client_is_listed_by_dir():
    assert "SocketIOTestClient" in dir(flask_socketio)


# -- signatures --------------------------------------------------------------------------------


def _check(owner: Any, name: str, text: str) -> None:
    ours = inspect.signature(getattr(owner, name))
    problems = incompatibilities(ours, upstream_signature(text))
    assert not problems, f"{getattr(owner, '__name__', owner)}.{name}{ours}: {'; '.join(problems)}"


@pytest.mark.parametrize(("name", "text"), FUNCTIONS.items())
def test_context_functions_match_upstream_signatures(name, text):
    _check(flask_socketio, name, text)


@pytest.mark.parametrize(("name", "text"), SOCKETIO_METHODS.items())
def test_socketio_methods_match_upstream_signatures(name, text):
    _check(flask_socketio.SocketIO, name, text)


@pytest.mark.parametrize(("name", "text"), NAMESPACE_METHODS.items())
def test_namespace_methods_match_upstream_signatures(name, text):
    _check(flask_socketio.Namespace, name, text)


@pytest.mark.parametrize(("name", "text"), TEST_CLIENT_METHODS.items())
def test_test_client_methods_match_upstream_signatures(name, text):
    _check(flask_socketio.SocketIOTestClient, name, text)


# -- attributes users reach --------------------------------------------------------------------


def test_socketio_attributes_before_init_app():
    socketio = flask_socketio.SocketIO(manage_session=False, ping_interval=5)
    assert socketio.server is None
    assert socketio.wsgi_server is None
    assert socketio.handlers == [] and socketio.namespace_handlers == []
    assert socketio.exception_handlers == {} and socketio.default_exception_handler is None
    assert socketio.server_options["ping_interval"] == 5
    assert flask_socketio.SocketIO.reason is socketio_pkg.Server.reason
    assert socketio.reason.CLIENT_DISCONNECT == socketio_pkg.Server.reason.CLIENT_DISCONNECT


def test_socketio_attributes_after_init_app():
    app, socketio = make_app(cors_allowed_origins="*")

    @socketio.on("ping", namespace="/chat")
    def ping(data):
        return data

    @socketio.on_error("/chat")
    def chat_error(exc):
        return "chat"

    @socketio.on_error_default
    def any_error(exc):
        return "any"

    assert isinstance(socketio.server, socketio_pkg.Server)
    assert socketio.async_mode == socketio.server.async_mode
    assert socketio.manage_session is True
    assert socketio.server_options["cors_allowed_origins"] == "*"
    assert isinstance(socketio.sockio_mw, socketio_pkg.WSGIApp)
    assert app.wsgi_app is socketio.sockio_mw
    assert app.extensions["socketio"] is socketio
    assert socketio.exception_handlers == {"/chat": chat_error}
    assert socketio.default_exception_handler is any_error
    assert socketio.wsgi_server is None  # set by run()
    held = socketio.server.handlers["/chat"]["ping"]
    assert inspect.unwrap(held) is ping  # functools.wraps leads back to the registered function


def test_server_options_hold_python_socketio_options_after_init_app():
    # code that builds its own server does socketio.Server(**extension.server_options)
    app, socketio = make_app(path="/ws", channel="c", manage_session=False, ping_timeout=7)
    assert socketio.server_options == {"async_mode": socketio.async_mode, "ping_timeout": 7}


def test_decorators_return_the_function_they_register():
    app, socketio = make_app()

    def handler(data=None):
        return data

    assert socketio.on("a")(handler) is handler
    assert socketio.event(handler) is handler
    assert socketio.event(namespace="/n")(handler) is handler
    assert socketio.on_error()(handler) is handler
    assert socketio.on_error_default(handler) is handler
    assert socketio.on_event("b", handler) is None


def test_namespace_attributes_and_inherited_helpers_reach_the_server():
    app, socketio = make_app()
    seen: dict[str, Any] = {}

    class Chat(flask_socketio.Namespace):
        def on_join(self, room):
            from flask import request

            self.enter_room(request.sid, room)
            seen["rooms"] = sorted(self.rooms(request.sid))
            self.save_session(request.sid, {"room": room})
            seen["session"] = self.get_session(request.sid)
            self.leave_room(request.sid, room)
            seen["after"] = sorted(self.rooms(request.sid))

    chat = Chat("/chat")
    assert chat.namespace == "/chat" and chat.socketio is None and chat.server is None
    socketio.on_namespace(chat)
    assert chat.socketio is socketio
    assert isinstance(chat.server, socketio_pkg.Server)
    client = socketio.test_client(app, namespace="/chat")
    client.emit("join", "lobby", namespace="/chat")
    sid = client.get_sid("/chat")  # this package's addition; upstream's client has no sid
    assert seen["rooms"] == sorted([sid, "lobby"])
    assert seen["session"] == {"room": "lobby"}
    assert seen["after"] == [sid]


def test_test_client_attributes():
    app, socketio = make_app()
    client = socketio.test_client(app)
    assert client.app is app and client.socketio is socketio
    assert client.flask_test_client is None
    assert isinstance(client.eio_sid, str) and client.eio_sid
    assert client.connected == {"/": True}


def test_test_client_attributes_upstream_code_reads():
    app, socketio = make_app()

    @socketio.on("ping")
    def ping(data):
        socketio.emit("pong", data)
        return data

    client = socketio.test_client(app)
    assert type(client).clients[client.eio_sid] is client
    assert client.queue == [] and client.acks is None and client.callback_counter == 0
    assert client.emit("ping", 1, callback=True) == 1
    assert client.acks == {"args": [1], "namespace": "/"}
    assert client.callback_counter == 1
    assert [event["name"] for event in client.queue] == ["pong"]
    client.queue.clear()  # public suites do this: the events are gone for good
    assert client.get_received() == []
    client.close()  # upstream keeps closed clients listed for good; here they leave
    assert client.eio_sid not in type(client).clients


# -- keywords upstream's **kwargs functions read -----------------------------------------------


def test_every_emit_and_send_keyword_upstream_reads_is_accepted():
    app, socketio = make_app()

    @socketio.on("go")
    def go():
        from flask import request

        keywords = {"namespace": "/", "to": request.sid, "include_self": True, "skip_sid": None}
        flask_socketio.emit(
            "ctx", 1, callback=lambda *ack: None, broadcast=False, ignore_queue=False, **keywords
        )
        flask_socketio.emit("ctx-room", 2, room=request.sid)
        flask_socketio.send(
            "hello", json=False, callback=None, broadcast=False, ignore_queue=False, **keywords
        )
        socketio.emit("ext", 3, callback=None, **keywords)
        socketio.emit("ext-room", 4, room=request.sid, namespace="/")
        socketio.send(
            {"k": 5},
            json=True,
            namespace="/",
            to=request.sid,
            include_self=True,
            skip_sid=None,
            callback=None,
        )

    client = socketio.test_client(app)
    client.emit("go")
    received = [(packet["name"], packet["args"]) for packet in client.get_received()]
    assert received == [
        ("ctx", [1]),
        ("ctx-room", [2]),
        ("message", "hello"),
        ("ext", [3]),
        ("ext-room", [4]),
        ("json", {"k": 5}),
    ]
    assert set(EMIT_KEYWORDS) <= set(CONTEXT_SEND_KEYWORDS)
