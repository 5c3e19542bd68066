"""A small chat on Flask-SocketIO: rooms, broadcasts and acknowledgements.

Run it with ``python examples/chat/app.py`` (``--port`` or the ``PORT`` environment variable
overrides 5000) and open http://127.0.0.1:5000/ in two browser tabs. It is served by gevent, the
embedded default: no Redis or other service is needed. The page talks to the server with
socket.io-client 4.x, installed from npm into ``examples/chat/node_modules`` (``npm ci`` in this
folder) and served by a Flask route, so the demo works offline.

Events (client -> server; each answers with an acknowledgement):

- ``join`` ``{"name", "room"}``: leave the current room, join ``room``; the room hears ``status``.
- ``say`` ``{"text"}``: the whole room (sender included) gets ``chat``; the ack carries its id.
- ``shout`` ``{"text"}``: every connected client, in every room, gets ``chat`` marked ``shout``.

Server -> client: ``chat``, ``status`` (someone joined or left a room) and ``online`` (the number
of connected clients, broadcast when someone joins a room or leaves).
"""

if __name__ == "__main__":
    # gevent patches the standard library before anything imports socket, threading or socketio
    try:
        from gevent import monkey
    except ImportError:  # no gevent: Flask-SocketIO falls back to threading (Werkzeug)
        pass
    else:
        monkey.patch_all()

import argparse  # noqa: E402
import itertools  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from flask import Flask, Response, render_template, request, send_from_directory  # noqa: E402

from flask_socketio import SocketIO, emit, join_room, leave_room  # noqa: E402

HERE = Path(__file__).resolve().parent
#: The socket.io-client browser build, installed by ``npm ci`` in this folder.
CLIENT_DIST = HERE / "node_modules" / "socket.io-client" / "dist"
#: URL path the page loads the client from (kept out of ``/socket.io/``, the Socket.IO endpoint).
CLIENT_URL = "/vendor/socket.io.min.js"
DEFAULT_ROOM = "lobby"
MAX_TEXT = 500


def _clean(value: Any, default: str, limit: int = 40) -> str:
    """A short, stripped string from client input (anything else becomes ``default``)."""
    if not isinstance(value, str):
        return default
    value = value.strip()[:limit]
    return value or default


def create_app(**socketio_options: Any) -> tuple[Flask, SocketIO]:
    """Build the chat app and its ``SocketIO``; options go to ``SocketIO`` (e.g. ``async_mode``)."""
    app = Flask(
        __name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static")
    )
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "demo-only-secret")
    socketio = SocketIO(app, **socketio_options)

    users: dict[str, dict[str, str]] = {}  # sid -> {"name", "room"}
    lock = threading.Lock()
    message_ids = itertools.count(1)

    @app.get("/")
    def index() -> str:
        """The chat page."""
        return render_template("index.html", client_url=CLIENT_URL)

    @app.get(CLIENT_URL)
    @app.get(CLIENT_URL + ".map")
    def socketio_client() -> Response:
        """socket.io-client's browser build (and its source map) from node_modules, no CDN."""
        filename = request.path.rsplit("/", 1)[1]
        if not (CLIENT_DIST / filename).is_file():
            return Response(
                "socket.io-client is not installed: run `npm ci` in examples/chat\n",
                status=503,
                mimetype="text/plain",
            )
        return send_from_directory(CLIENT_DIST, filename, max_age=0)

    def broadcast_online() -> None:
        with lock:
            count = len(users)
        socketio.emit("online", {"count": count})

    @socketio.on("connect")
    def on_connect() -> None:
        # no broadcast here: the client only counts as connected once this handler returns
        with lock:
            users[request.sid] = {"name": "anonymous", "room": ""}

    @socketio.on("disconnect")
    def on_disconnect(reason: Any = None) -> None:
        with lock:
            user = users.pop(request.sid, None)
        if user and user["room"]:
            socketio.emit(
                "status", {"text": f"{user['name']} left", "room": user["room"]}, to=user["room"]
            )
        broadcast_online()

    @socketio.on("join")
    def on_join(data: Any) -> dict[str, Any]:
        data = data if isinstance(data, dict) else {}
        name = _clean(data.get("name"), "anonymous")
        room = _clean(data.get("room"), DEFAULT_ROOM)
        with lock:
            user = users.setdefault(request.sid, {"name": name, "room": ""})
            previous = user["room"]
            user.update(name=name, room=room)
        if previous and previous != room:
            leave_room(previous)
            emit("status", {"text": f"{name} left", "room": previous}, to=previous)
        join_room(room)
        emit("status", {"text": f"{name} joined", "room": room}, to=room)
        with lock:
            members = sorted(u["name"] for u in users.values() if u["room"] == room)
            online = len(users)
        broadcast_online()
        return {"ok": True, "room": room, "members": members, "online": online}

    def chat_message(user: dict[str, Any], data: Any, shout: bool) -> dict[str, Any] | None:
        """The chat message a client's ``{"text": ...}`` becomes; None when the text is empty."""
        raw = data.get("text") if isinstance(data, dict) else None
        text = _clean(raw, "", MAX_TEXT)
        if not text:
            return None
        return {
            "id": next(message_ids),
            "name": user["name"],
            "room": user["room"],
            "text": text,
            "time": time.time(),
            "shout": shout,
        }

    @socketio.on("say")
    def on_say(data: Any) -> dict[str, Any]:
        with lock:
            user = dict(users.get(request.sid) or {})
        if not user.get("room"):
            return {"ok": False, "error": "join a room first"}
        message = chat_message(user, data, shout=False)
        if message is None:
            return {"ok": False, "error": "empty message"}
        emit("chat", message, to=user["room"])
        return {"ok": True, "id": message["id"]}

    @socketio.on("shout")
    def on_shout(data: Any) -> dict[str, Any]:
        with lock:
            user = dict(users.get(request.sid) or {"name": "anonymous", "room": ""})
        message = chat_message(user, data, shout=True)
        if message is None:
            return {"ok": False, "error": "empty message"}
        emit("chat", message, broadcast=True)
        return {"ok": True, "id": message["id"]}

    return app, socketio


def main(argv: list[str] | None = None) -> None:
    """Serve the chat on 127.0.0.1 (port: --port, else $PORT, else 5000)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    args = parser.parse_args(argv)
    app, socketio = create_app()
    if not (CLIENT_DIST / "socket.io.min.js").is_file():
        print("warning: socket.io-client missing; run `npm ci` in examples/chat", flush=True)
    try:
        if args.port == 0:  # a free port, chosen by the kernel: bind first, then say which
            from flask_socketio.serving import make_server

            handle = make_server(app, socketio, host=args.host, port=0)
            print(
                f"Chat demo ({socketio.async_mode}) on http://{args.host}:{handle.port}/",
                flush=True,
            )
            handle.serve_forever()
        else:
            print(
                f"Chat demo ({socketio.async_mode}) on http://{args.host}:{args.port}/", flush=True
            )
            # allow_unsafe_werkzeug only matters without gevent (threading: a dev server)
            socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True)
    except KeyboardInterrupt:
        print("bye", flush=True)


if __name__ == "__main__":
    main()
