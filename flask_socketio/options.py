"""The python-socketio server options that ``SocketIO`` builds from what the user passed.

Own options are removed, ``flask.json`` is made safe outside an app context, the async mode is
chosen (gevent when installed) and checked, and the packet class is picked for the serializer.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any

import flask
from flask import json as flask_json

# async modes python-engineio knows, and the packages each one needs
_ASYNC_MODES: dict[str, tuple[str, ...]] = {
    "threading": (),
    "gevent": ("gevent",),
    "gevent_uwsgi": ("gevent", "uwsgi"),
    "eventlet": ("eventlet",),
}
# options of this extension that are not python-socketio server options
OWN_OPTIONS = ("message_queue", "channel", "manage_session", "path", "resource")


def _flask_safe_json(app: flask.Flask | None) -> Any:
    """Wrap ``flask.json`` so dumps/loads always run inside the app context they need."""

    def in_app_context(function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if app is None or flask.has_app_context():
                return function(*args, **kwargs)
            with app.app_context():
                return function(*args, **kwargs)

        return staticmethod(call)

    return type(
        "FlaskSafeJSON",
        (),
        {"dumps": in_app_context(flask_json.dumps), "loads": in_app_context(flask_json.loads)},
    )


def _check_async_mode(mode: str | None) -> None:
    """Fail early, naming what to install, for an unknown or unavailable async mode."""
    if mode is None:
        return
    if mode not in _ASYNC_MODES:
        raise ValueError(
            f"Unknown async_mode {mode!r}. Use one of: {', '.join(_ASYNC_MODES)} "
            "(or leave it unset to pick the best one installed)."
        )
    missing = [m for m in _ASYNC_MODES[mode] if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(
            f"async_mode={mode!r} needs the {', '.join(missing)} package(s): "
            f"pip install {' '.join(missing)}" + (" gevent-websocket" if mode == "gevent" else "")
        )


def python_socketio_options(app: flask.Flask | None, stored: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments for python-socketio's ``Server`` from the extension's options."""
    options = {k: v for k, v in stored.items() if k not in OWN_OPTIONS}
    if options.get("json") is flask_json:
        options["json"] = _flask_safe_json(app)
    if os.environ.get("FLASK_RUN_FROM_CLI") and options.get("async_mode") is None:
        options["async_mode"] = "threading"  # `flask run` serves with Werkzeug
    if options.get("async_mode") is None:
        options["async_mode"] = _default_async_mode()
    _check_async_mode(options.get("async_mode"))
    options["serializer"] = _packet_class(
        options.get("serializer", "default"), own_json=options.get("json") is not None
    )
    return options


def _default_async_mode() -> str | None:
    """gevent when installed (the production choice), else python-engineio's own pick."""

    if importlib.util.find_spec("gevent") is not None:
        return "gevent"
    return None


def _packet_class(serializer: Any, own_json: bool) -> Any:
    """The packet class for a server: FastPacket by default (same wire format, faster).

    python-socketio assigns a custom ``json`` to the packet *class*; a server with its own JSON
    module gets a subclass of its own so that other servers in the process keep theirs.
    """
    packet_class: type
    if serializer == "default":
        from .packet import FastPacket

        packet_class = FastPacket
    elif serializer == "msgpack":
        from socketio.msgpack_packet import MsgPackPacket

        packet_class = MsgPackPacket
    else:
        packet_class = serializer
    if own_json:
        packet_class = type(packet_class.__name__, (packet_class,), {})
    return packet_class
