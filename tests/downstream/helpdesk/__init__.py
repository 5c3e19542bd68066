"""Helpdesk: customers open tickets and agents answer them live.

A small Flask-SocketIO app written the way a user writes one, to prove the installed harness on
an app it has never seen: an app factory, a class-based namespace ``/desk``, signed tokens in the
connect ``auth``, refusals with a reason, rooms per ticket, acks that carry results.
"""

from __future__ import annotations

import itertools
from typing import Any

from flask import Flask, current_app, request, session
from itsdangerous import BadSignature, URLSafeSerializer

from flask_socketio import ConnectionRefusedError, Namespace, SocketIO, emit, join_room

DESK = "/desk"
DEFAULT_SECRET = "helpdesk-dev-secret"

socketio = SocketIO()


def issue_token(user: str, role: str, secret: str = DEFAULT_SECRET) -> str:
    """A signed token for ``user`` with ``role`` ('agent' or 'customer')."""
    return URLSafeSerializer(secret, salt="desk").dumps({"user": user, "role": role})


def create_app(**socketio_options: Any) -> Flask:
    """Build the app; tests pass ``async_mode='threading'`` to serve it in a thread."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = DEFAULT_SECRET
    app.extensions["helpdesk.tickets"] = {}
    socketio.init_app(app, **socketio_options)
    return app


class Desk(Namespace):
    """The ``/desk`` protocol: open_ticket, watch, post (relayed as ``post``), close."""

    _ids = itertools.count(1)

    def _tickets(self) -> dict[int, dict[str, Any]]:
        return current_app.extensions["helpdesk.tickets"]

    def on_connect(self, auth: dict[str, Any] | None = None) -> None:
        if not auth or "token" not in auth:
            raise ConnectionRefusedError("authentication required", {"login": "/login"})
        try:
            who = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="desk").loads(
                auth["token"]
            )
        except BadSignature:
            raise ConnectionRefusedError("invalid token") from None
        session["user"], session["role"] = who["user"], who["role"]
        if who["role"] == "agent":
            join_room("agents")
        emit("welcome", {"user": who["user"], "role": who["role"], "sid": request.sid})

    def on_open_ticket(self, data: dict[str, Any]) -> dict[str, Any]:
        subject = str(data.get("subject", "")).strip()
        if not subject:
            return {"error": "a ticket needs a subject"}
        ticket = next(self._ids)
        self._tickets()[ticket] = {"subject": subject, "by": session["user"], "posts": 0}
        join_room(f"ticket:{ticket}")
        emit("ticket_opened", {"ticket": ticket, "subject": subject}, to="agents")
        return {"ticket": ticket}

    def on_watch(self, data: dict[str, Any]) -> dict[str, Any]:
        if session["role"] != "agent":
            return {"error": "only agents watch tickets"}
        found = self._tickets().get(data.get("ticket"))  # type: ignore[arg-type]
        if found is None:
            return {"error": f"no ticket {data.get('ticket')!r}"}
        join_room(f"ticket:{data['ticket']}")
        return {"ticket": data["ticket"], "subject": found["subject"]}

    def on_post(self, data: dict[str, Any]) -> dict[str, Any]:
        ticket = self._tickets().get(data.get("ticket"))  # type: ignore[arg-type]
        if ticket is None:
            return {"error": f"no ticket {data.get('ticket')!r}"}
        ticket["posts"] += 1
        # the relay wraps what the client sent: who wrote it, and the post itself
        emit("post", {"by": session["user"], "post": data}, to=f"ticket:{data['ticket']}")
        return {"ok": True, "posts": ticket["posts"]}


socketio.on_namespace(Desk(DESK))
