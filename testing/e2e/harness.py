"""The browser harness mounted on an app under test.

``mount_harness(app, socketio)`` adds, under ``/_socketio_harness``:

- ``/?client=<package>``: a test page loading that socket.io-client build, the msgpack parser and
  ``harness.js`` (``window.harness``: named sockets that record everything they see);
- ``/vendor/...``: files of the installed client packages, read from ``node_modules`` (no CDN);
- ``/clients``: the installed client packages and their versions, as JSON;

and a Socket.IO namespace ``/_harness`` whose ``echo`` event acks its arguments back and whose
``echo_event`` emits them back as ``echoed``, so generic specs can check acks and server events
against an app whose own events they do not know.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, abort, jsonify, request, send_from_directory
from markupsafe import escape

from flask_socketio import emit

if TYPE_CHECKING:
    import flask

    from flask_socketio import SocketIO

URL_PREFIX = "/_socketio_harness"
ECHO_NAMESPACE = "/_harness"
STATIC = Path(__file__).resolve().parent / "static"
#: Where a client package keeps its browser build.
CLIENT_BUILD = "dist/socket.io.js"
#: Other packages the page may load from node_modules.
SUPPORT_PACKAGES = ("notepack.io",)


def client_packages(node_modules: str | os.PathLike[str]) -> dict[str, str]:
    """Installed socket.io-client packages (``socket.io-client``, npm aliases such as
    ``socket.io-client-4.4``) in ``node_modules``, mapped to their versions, newest first."""
    found: dict[str, str] = {}
    root = Path(node_modules)
    if not root.is_dir():
        return found
    for folder in root.glob("socket.io-client*"):
        manifest = folder / "package.json"
        if (folder / CLIENT_BUILD).is_file() and manifest.is_file():
            found[folder.name] = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    return dict(sorted(found.items(), key=lambda item: _version_key(item[1]), reverse=True))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("-")[0].split("."))


def harness_blueprint(node_modules: str | os.PathLike[str]) -> Blueprint:
    """The test page and the client files, for an app whose clients live in ``node_modules``."""
    modules = Path(node_modules).resolve()
    pages = Blueprint("socketio_harness", __name__, url_prefix=URL_PREFIX)

    def installed() -> dict[str, str]:
        clients = client_packages(modules)
        if not clients:
            abort(
                Response(
                    f"no socket.io-client package in {modules}: run npm install there, or "
                    "point --node-modules / SOCKETIO_NODE_MODULES at one\n",
                    status=404,
                    mimetype="text/plain",
                )
            )
        return clients

    @pages.get("/")
    def page() -> str:
        clients = installed()
        client = request.args.get("client") or next(iter(clients))
        if client not in clients:
            abort(404, f"{client} is not installed; installed: {', '.join(clients)}")
        name = escape(client)
        scripts = [f"{URL_PREFIX}/vendor/{name}/{CLIENT_BUILD}"]
        if (modules / "socket.io-msgpack-parser").is_dir():
            scripts += [
                f"{URL_PREFIX}/vendor/notepack.io/dist/notepack.min.js",
                f"{URL_PREFIX}/msgpack-parser.js",
            ]
        scripts.append(f"{URL_PREFIX}/harness.js")
        loaded = json.dumps({"package": client, "version": clients[client]})
        tags = "\n".join(f'  <script src="{src}"></script>' for src in scripts)
        return (
            '<!doctype html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">\n'
            f"  <title>Socket.IO harness ({name}@{escape(clients[client])})</title>\n"
            '  <link rel="icon" href="data:,">\n'
            f"{tags}\n"
            f"  <script>harness.client = {loaded};</script>\n"
            "</head>\n<body>\n"
            f'  <p>client: <code id="client">{name}@{escape(clients[client])}</code></p>\n'
            '  <pre id="log"></pre>\n</body>\n</html>\n'
        )

    @pages.get("/clients")
    def clients() -> Response:
        return jsonify(installed())

    @pages.get("/harness.js")
    def harness_js() -> Response:
        return send_from_directory(STATIC, "harness.js", max_age=0)

    @pages.get("/vendor/<package>/<path:filename>")
    def vendor(package: str, filename: str) -> Response:
        if package not in installed() and package not in SUPPORT_PACKAGES:
            abort(404)
        return send_from_directory(modules / package, filename, max_age=0)

    @pages.get("/msgpack-parser.js")
    def msgpack_parser() -> Response:
        return Response(_msgpack_parser_script(modules), mimetype="application/javascript")

    return pages


def _msgpack_parser_script(modules: Path) -> str:
    """socket.io-msgpack-parser as ``window.msgpackParser``.

    The package ships CommonJS only; a ten-line ``require`` shim is smaller than a bundler step.
    """
    try:
        parser = (modules / "socket.io-msgpack-parser" / "index.js").read_text(encoding="utf-8")
        emitter = (modules / "component-emitter" / "index.js").read_text(encoding="utf-8")
    except OSError:
        abort(404, "socket.io-msgpack-parser is not installed")
    return (
        "(function () {\n"
        "  function load(src) { var module = {exports: {}};"
        " src(module, module.exports); return module.exports; }\n"
        "  var Emitter = load(function (module, exports) {\n" + emitter + "\n});\n"
        "  function require(name) {\n"
        "    if (name === 'notepack.io') return window.notepack;\n"
        "    if (name === 'component-emitter') return Emitter;\n"
        "    throw new Error('msgpack-parser shim: unknown module ' + name);\n"
        "  }\n"
        "  window.msgpackParser = load(function (module, exports) {\n" + parser + "\n});\n"
        "})();\n"
    )


def register_echo_namespace(socketio: SocketIO) -> None:
    """``/_harness``: ``echo`` acks its arguments, ``echo_event`` emits them back as ``echoed``."""

    def on_connect(auth: Any = None) -> bool:
        return True

    def on_echo(*args: Any) -> tuple[Any, ...]:
        return args

    def on_echo_event(*args: Any) -> None:
        emit("echoed", *args)

    socketio.on_event("connect", on_connect, namespace=ECHO_NAMESPACE)
    socketio.on_event("echo", on_echo, namespace=ECHO_NAMESPACE)
    socketio.on_event("echo_event", on_echo_event, namespace=ECHO_NAMESPACE)


def mount_harness(
    app: flask.Flask,
    socketio: SocketIO | None = None,
    node_modules: str | os.PathLike[str] = "node_modules",
) -> None:
    """Add the harness page and the echo namespace to ``app`` (once; later calls do nothing)."""
    if "socketio_harness" in app.blueprints:
        return
    app.register_blueprint(harness_blueprint(node_modules))
    socketio = socketio or app.extensions["socketio"]
    if not any(ns == ECHO_NAMESPACE for _, _, ns in socketio.handlers):
        register_echo_namespace(socketio)
