"""Connect churn: users connect, exchange a few events and disconnect, continuously::

locust -f load/connect_churn.py --headless -u 100 -r 20 -t 60s --host http://127.0.0.1:5000
"""

from __future__ import annotations

from flask_socketio_testing.locust import SocketIOUser
from locust import between, task


class ConnectChurnUser(SocketIOUser):
    """One short session per task: connect, join a private room, chat, echo twice, disconnect."""

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        pass  # every task opens its own connection

    @task
    def session(self) -> None:
        if not self.connect():
            return
        room = f"churn-{self.user_id}"
        if self.join(room):
            self.send_to_room("chat", room, {"text": "me"})
        for i in range(2):
            self.call("echo", {"n": i})
        self.disconnect()
