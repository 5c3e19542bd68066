"""A small Flask-SocketIO app used by the repository's own tests (the root conftest's ``app``).

Served in-process, by an in-thread live server, and by subprocess live servers
(``tests.apps.plugin_app:create_app()``).
"""

from __future__ import annotations

import os

from flask import Flask, request, session

from flask_socketio import (
    ConnectionRefusedError,
    SocketIO,
    disconnect,
    emit,
    join_room,
    leave_room,
    send,
)


def create_app(async_mode: str = "threading", **socketio_kwargs: object) -> Flask:
    """Build the app; ``SOCKETIO_TEST_MESSAGE_QUEUE`` adds a message queue."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test-secret"
    socketio = SocketIO(app, async_mode=async_mode, **socketio_kwargs)

    @app.route("/login/<user>")
    def login(user: str) -> str:
        session["user"] = user
        return "ok"

    @app.route("/pid")
    def pid() -> str:
        return str(os.getpid())

    @socketio.on("connect")
    def on_connect(auth: dict | None = None) -> None:
        if auth and auth.get("token") == "bad":
            raise ConnectionRefusedError({"reason": "bad token"})
        emit("welcome", {"sid": request.sid, "user": session.get("user")})

    @socketio.on("echo")
    def on_echo(*args: object) -> None:
        emit("echo", args if len(args) != 1 else args[0])

    @socketio.on("add")
    def on_add(a: int, b: int) -> int:
        return a + b

    @socketio.on("pair")
    def on_pair() -> tuple:
        return "left", "right"

    @socketio.on("message")
    def on_message(data: object) -> None:
        emit("message", data)

    @socketio.on("json")
    def on_json(data: object) -> None:
        send(data, json=True)

    @socketio.on("shout")
    def on_shout(data: object) -> None:
        emit("shout", data, broadcast=True)

    @socketio.on("join")
    def on_join(room: str) -> str:
        join_room(room)
        return room

    @socketio.on("leave")
    def on_leave(room: str) -> None:
        leave_room(room)

    @socketio.on("to_room")
    def on_to_room(room: str, data: object) -> None:
        emit("room_message", data, to=room)

    @socketio.on("ask")
    def on_ask(question: str) -> None:
        emit("question", question, callback=lambda answer: emit("answer", answer))

    @socketio.on("whoami")
    def on_whoami() -> dict:
        return {"sid": request.sid, "pid": os.getpid(), "user": session.get("user")}

    @socketio.on("kick")
    def on_kick() -> None:
        disconnect()

    @socketio.on("later")
    def on_later(delay: float) -> None:
        sid = request.sid

        def task() -> None:
            socketio.sleep(delay)
            socketio.emit("done", {"after": delay}, to=sid)

        socketio.start_background_task(task)

    @socketio.on("connect", namespace="/chat")
    def chat_connect(auth: dict | None = None) -> bool:
        return not (auth and auth.get("deny"))

    @socketio.on("say", namespace="/chat")
    def chat_say(text: str) -> None:
        emit("said", text, namespace="/chat")

    return app
