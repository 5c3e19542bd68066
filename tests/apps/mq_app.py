"""A small app for the message-queue tests: one gevent server node behind a message queue.

Run as ``python tests/apps/mq_app.py --queue URL --channel NAME --node NAME``: gevent patches the
standard library first, then the app is built, the server binds port 0 on 127.0.0.1 and prints
``PORT=<port>`` on stdout once it is ready to accept connections.

Events (all acknowledged):

- ``join`` ``room`` / ``leave`` ``room``: enter or leave a room on this node.
- ``node``: answers this node's name.
- ``relay`` ``{"event", "data", "to"?}``: emit ``event`` from this node's handler, to the room
  ``to`` or, without it, to everyone — through the queue, so clients on other nodes get it too.
- ``ask`` ``{"to", "data"}``: emit ``question`` with an ack callback to the client ``to`` (any
  node); when its ack comes back, the asker gets ``answer`` with the ack's arguments.
"""

if __name__ == "__main__":
    from gevent import monkey

    monkey.patch_all()  # before anything imports socket, threading or socketio

import argparse  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from flask import Flask, request  # noqa: E402

from flask_socketio import SocketIO, emit, join_room, leave_room  # noqa: E402


def create_app(
    message_queue: str, channel: str, node: str, **options: Any
) -> tuple[Flask, SocketIO]:
    """Build one node of the cluster: a Flask app whose SocketIO shares ``channel`` on the queue."""
    app = Flask(__name__)
    socketio = SocketIO(app, message_queue=message_queue, channel=channel, **options)

    @socketio.on("join")
    def on_join(room: str) -> bool:
        join_room(room)
        return True

    @socketio.on("leave")
    def on_leave(room: str) -> bool:
        leave_room(room)
        return True

    @socketio.on("node")
    def on_node() -> str:
        return node

    @socketio.on("relay")
    def on_relay(request: dict[str, Any]) -> bool:
        to = request.get("to")
        if to is None:
            emit(request["event"], request["data"], broadcast=True)
        else:
            emit(request["event"], request["data"], to=to)
        return True

    @socketio.on("ask")
    def on_ask(question: dict[str, Any]) -> bool:
        asker = request.sid

        def on_answer(*args: Any) -> None:
            socketio.emit("answer", list(args), to=asker)

        emit("question", question["data"], to=question["to"], callback=on_answer)
        return True

    return app, socketio


def main(argv: list[str] | None = None) -> None:
    """Serve one node on 127.0.0.1, a free port, printed as ``PORT=<port>``."""
    from flask_socketio.serving import make_server

    parser = argparse.ArgumentParser(description="one message-queue test node")
    parser.add_argument("--queue", required=True, help="message queue URL")
    parser.add_argument("--channel", required=True)
    parser.add_argument("--node", default="node")
    args = parser.parse_args(argv)
    app, socketio = create_app(args.queue, args.channel, args.node, async_mode="gevent")
    handle = make_server(app, socketio, host="127.0.0.1", port=0)
    print(f"PORT={handle.port}", flush=True)
    sys.stdout.flush()
    handle.serve_forever()


if __name__ == "__main__":
    main()
