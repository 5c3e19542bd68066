"""Rooms: users spread over many rooms, chatting, with join/leave churn.

A message must reach every member of its room and never a non-member (``Misdelivered`` fails
the run)::

    locust -f load/rooms.py --headless -u 500 -r 50 -t 60s --host http://127.0.0.1:5000 \\
        --room-size 10
"""

from __future__ import annotations

import random
from typing import Any

from flask_socketio_testing.locust import SocketIOUser, option
from locust import events, task


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("rooms.py")
    group.add_argument("--room-size", type=int, default=10, help="users per room (default 10)")
    group.add_argument(
        "--rooms-interval",
        type=float,
        default=1.0,
        help="mean seconds between two tasks of one user (default 1)",
    )


class RoomsUser(SocketIOUser):
    """Member of one room at a time; chats to it and now and then moves to another room."""

    def wait_time(self) -> float:
        mean = float(option(self.environment, "rooms_interval", 1.0))
        return random.uniform(0.5 * mean, 1.5 * mean)

    def _room_name(self, k: int) -> str:
        return f"room-{k}"

    def on_start(self) -> None:
        self.size = max(1, int(option(self.environment, "room_size", 10)))
        self.room = self._room_name(self.index // self.size)
        if self.connect():
            self.join(self.room)

    @task(10)
    def chat(self) -> None:
        if self.connected and self.room in self.rooms:
            self.send_to_room("chat", self.room, {"text": "hi room"})

    @task(1)
    def move(self) -> None:
        if not self.connected:
            return
        running = self.environment.runner.user_count if self.environment.runner else 0
        rooms = max(1, -(-max(running, self.index + 1) // self.size))  # keeps rooms ~room-size
        self.leave(self.room)
        self.room = self._room_name(random.randrange(rooms))
        self.join(self.room)
