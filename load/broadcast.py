"""Broadcast: every user joins one room; a share of them send messages to it.

Each member's receive latency (``recv chat``) and the delivered / expected ratio are recorded;
senders also report the relay round trip (``call chat``)::

    locust -f load/broadcast.py --headless -u 300 -r 50 -t 60s --host http://127.0.0.1:5000
"""

from __future__ import annotations

from typing import Any

from flask_socketio_testing.locust import SocketIOUser, option
from locust import events, task


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("broadcast.py")
    group.add_argument("--bcast-room", default="broadcast", help="the room everyone joins")
    group.add_argument(
        "--bcast-senders", type=float, default=0.05, help="share of users that send (default 0.05)"
    )
    group.add_argument(
        "--bcast-interval",
        type=float,
        default=2.0,
        help="seconds between two messages of one sender (default 2)",
    )


class BroadcastUser(SocketIOUser):
    """Joins the broadcast room; one user in ``1 / --bcast-senders`` sends to it."""

    def wait_time(self) -> float:
        return float(option(self.environment, "bcast_interval", 2.0)) if self.sender else 5.0

    def on_start(self) -> None:
        share = float(option(self.environment, "bcast_senders", 0.05))
        self.room = str(option(self.environment, "bcast_room", "broadcast"))
        self.sender = share > 0 and self.index % max(1, round(1 / share)) == 0
        if self.connect():
            self.join(self.room)

    @task
    def send(self) -> None:
        if self.sender and self.connected:
            self.send_to_room("chat", self.room, {"text": "broadcast"})
