"""A downstream chat app: what a user of Flask-SocketIO writes (an app factory)."""

from flask import Flask, request

from flask_socketio import SocketIO, emit, join_room

socketio = SocketIO()


def create_app(**socketio_options):
    """Build the app; tests pass async_mode='threading' to serve it in a thread."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "downstream"
    socketio.init_app(app, **socketio_options)
    return app


@socketio.on("connect")
def on_connect(auth=None):
    if auth is not None and auth.get("token") != "letmein":
        return False
    emit("hello", {"sid": request.sid})


@socketio.on("join")
def on_join(room):
    join_room(room)
    emit("joined", room, to=room)
    return f"joined {room}"


@socketio.on("say")
def on_say(room, text):
    emit("said", {"room": room, "text": text}, to=room)


@socketio.on("add")
def on_add(a, b):
    return a + b
