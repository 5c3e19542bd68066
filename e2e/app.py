"""Flask-SocketIO application driven by the Playwright specs in this folder.

Served like any user's app by ``python -m flask_socketio_testing.serve "app:create_app()"`` (see
playwright.config.ts and socketio.json): gevent, a free port on 127.0.0.1, the harness page
(``flask_socketio_testing.e2e.harness``) mounted, the URL printed for Playwright.

Besides the handlers the specs use, the main server has a small control API.
``POST /control/spawn`` starts another Socket.IO server (own Flask app, own ``SocketIO``, own
port) with the options a spec asks for (``cors_allowed_origins``, ``serializer='msgpack'``);
``POST /control/restart/<id>`` stops it, dropping every connection and all server state, and
starts a brand new one on the same port, as a process restart would; ``POST /control/stop/<id>``
stops it. Each spec spawns its own servers, so specs running in parallel never share state.
"""

import itertools
import logging
import socket
from pathlib import Path
from typing import Any

import gevent
from flask import Blueprint, Flask, Response, abort, jsonify, request, session
from flask_socketio_testing.e2e.harness import mount_harness
from gevent.pool import Pool
from gevent.pywsgi import WSGIServer
from geventwebsocket.handler import WebSocketHandler

from flask_socketio import (
    ConnectionRefusedError,
    SocketIO,
    disconnect,
    emit,
    join_room,
    leave_room,
)

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"

#: Engine.IO limit for one incoming message (websocket) or POST body (polling).
MAX_HTTP_BUFFER_SIZE = 100_000
#: The token that opens the /private namespace.
PRIVATE_TOKEN = "letmein"

routes = Blueprint("e2e_routes", __name__)


@routes.get("/config")
def config() -> Response:
    """Facts the specs need about the server."""
    return jsonify(max_http_buffer_size=MAX_HTTP_BUFFER_SIZE, private_token=PRIVATE_TOKEN)


@routes.route("/login", methods=["POST"])
def login() -> Response:
    """Log a user in through plain HTTP: stores the name in the Flask session cookie."""
    session["user"] = request.get_json(force=True)["user"]
    return jsonify(ok=True)


def build_app(**socketio_options: Any) -> tuple[Flask, SocketIO]:
    """A Flask app and a SocketIO with every handler the specs use."""
    app = Flask(__name__, static_folder=None)
    app.config["SECRET_KEY"] = "e2e-only-secret"
    app.register_blueprint(routes)
    socketio_options.setdefault("max_http_buffer_size", MAX_HTTP_BUFFER_SIZE)
    socketio = SocketIO(app, async_mode="gevent", **socketio_options)
    mount_harness(app, socketio, node_modules=NODE_MODULES)
    auth_seen: dict[str, Any] = {}

    def whoami() -> dict[str, Any]:
        sid = request.sid  # type: ignore[attr-defined]
        namespace = request.namespace  # type: ignore[attr-defined]
        server = socketio.server
        return {
            "sid": sid,
            "eio_sid": server.manager.eio_sid_from_sid(sid, namespace),
            "namespace": namespace,
            "transport": server.transport(sid, namespace),
            "auth": auth_seen.get(sid),
            "user": session.get("user"),
        }

    @socketio.on("connect")
    def on_connect(auth: Any = None) -> None:
        auth_seen[request.sid] = auth  # type: ignore[attr-defined]

    @socketio.on("disconnect")
    def on_disconnect(reason: Any = None) -> None:
        auth_seen.pop(request.sid, None)  # type: ignore[attr-defined]

    @socketio.on("whoami")
    def on_whoami() -> dict[str, Any]:
        return whoami()

    @socketio.on("echo")
    def on_echo(data: Any) -> Any:
        return data

    @socketio.on("echo_event")
    def on_echo_event(data: Any) -> None:
        emit("echoed", data)

    @socketio.on("ask")
    def on_ask(question: Any) -> Any:
        # server -> browser with ack: blocks this handler until the page answers
        answer = socketio.call("question", question, to=request.sid, timeout=10)  # type: ignore[attr-defined]
        return {"browser_answered": answer}

    @socketio.on("join")
    def on_join(room: str) -> bool:
        join_room(room)
        return True

    @socketio.on("leave")
    def on_leave(room: str) -> bool:
        leave_room(room)
        return True

    @socketio.on("room_broadcast")
    def on_room_broadcast(data: dict[str, Any]) -> bool:
        # the fence goes to everyone in the test after the room message: a page that
        # sees the fence without the message never got it (per-connection order)
        socketio.emit("room_msg", data["msg"], to=data["room"])
        socketio.emit("fence", data["fence"], to=data["fence_room"])
        return True

    @socketio.on("kick_me")
    def on_kick_me() -> None:
        disconnect()

    @socketio.on("connect", namespace="/chat")
    def on_chat_connect(auth: Any = None) -> None:
        auth_seen[request.sid] = auth  # type: ignore[attr-defined]

    @socketio.on("whoami", namespace="/chat")
    def on_chat_whoami() -> dict[str, Any]:
        return whoami()

    @socketio.on("connect", namespace="/private")
    def on_private_connect(auth: Any = None) -> None:
        if not isinstance(auth, dict) or auth.get("token") != PRIVATE_TOKEN:
            raise ConnectionRefusedError("not authorized", {"code": 4001, "hint": "send a token"})

    @socketio.on("whoami", namespace="/private")
    def on_private_whoami() -> dict[str, Any]:
        return whoami()

    return app, socketio


def listen(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (port 0: the kernel picks a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


class TrackingWSGIServer(WSGIServer):
    """A WSGIServer that can drop every open connection at once, as a dying process would.

    ``WSGIServer.stop()`` kills the handler greenlets, but a websocket whose socket is still
    referenced elsewhere (by the Engine.IO session) stays open; closing it ourselves is the
    only way to make the browser see the outage.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[socket.socket] = set()

    def handle(self, sock: socket.socket, address: Any) -> None:
        self.connections.add(sock)
        try:
            super().handle(sock, address)
        finally:
            self.connections.discard(sock)

    def drop_connections(self) -> None:
        for sock in list(self.connections):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.connections.clear()


class Spawned:
    """One extra Socket.IO server on its own port, restartable on that port."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.port = 0
        self.wsgi: TrackingWSGIServer | None = None
        self.socketio: SocketIO | None = None
        self.start()

    def start(self) -> None:
        app, self.socketio = build_app(**self.options)
        listener = listen(self.port)
        self.port = listener.getsockname()[1]
        self.wsgi = TrackingWSGIServer(
            listener, app, handler_class=WebSocketHandler, log=None, spawn=Pool()
        )
        self.wsgi.start()

    def stop(self) -> None:
        if self.wsgi is not None:
            # stop accepting, drop every open connection (long polls, websockets),
            # then kill the handler greenlets
            self.wsgi.close()
            self.wsgi.drop_connections()
            self.wsgi.stop(timeout=0.2)
            self.wsgi = None
        if self.socketio is not None:
            self.socketio.server.eio.shutdown()
            self.socketio = None


spawned: dict[str, Spawned] = {}
spawn_ids = itertools.count(1)


def create_app() -> Flask:
    """The main server: default options (same-origin only) plus the control API."""
    quiet_expected_warnings()
    app, socketio = build_app()

    @app.post("/control/spawn")
    def spawn() -> Response:
        options = request.get_json(force=True) or {}
        allowed = {"cors_allowed_origins", "serializer", "cors_credentials"}
        unknown = set(options) - allowed
        if unknown:
            return jsonify(error=f"unknown options {sorted(unknown)}"), 400
        server_id = str(next(spawn_ids))
        spawned[server_id] = Spawned(options)
        return jsonify(id=server_id, port=spawned[server_id].port)

    @app.post("/control/restart/<server_id>")
    def restart(server_id: str) -> Response:
        server = spawned.get(server_id) or abort(404)
        server.stop()
        downtime = float(request.args.get("downtime", "0.3"))
        gevent.sleep(downtime)  # let clients see the outage and retry into refused connects
        server.start()
        return jsonify(id=server_id, port=server.port)

    @app.post("/control/stop/<server_id>")
    def stop(server_id: str) -> Response:
        server = spawned.pop(server_id, None) or abort(404)
        server.stop()
        return jsonify(ok=True)

    @app.get("/health")
    def health() -> Response:
        return jsonify(ok=True, spawned=len(spawned))

    return app


def quiet_expected_warnings() -> None:
    """The CORS specs are refused on purpose; keep their warnings out of the test output."""

    class DropRefusedOrigins(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return "is not an accepted origin" not in record.getMessage()

    logging.getLogger("engineio.server").addFilter(DropRefusedOrigins())
