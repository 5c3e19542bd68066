"""An app the browser tooling has never seen: a shop on ``/shop`` that wants a token.

Used by the browser tests (``init --namespace /shop --auth '{"token": "s3cret"}'``, the pytest
recipe, the serve command). The root namespace refuses every connection and ``/shop`` refuses one
without the token, so the default connection of a generic spec fails: only ``--namespace`` and
``--auth`` get in. Its own events (``add_to_cart``, ``cart``) are unknown to the example specs.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from flask_socketio import ConnectionRefusedError, SocketIO, emit

TOKEN = "s3cret"
NAMESPACE = "/shop"


def create_app(async_mode: str | None = None) -> Flask:
    """The shop app (the serve command passes its own async mode)."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "browser-other-app"
    socketio = SocketIO(app, async_mode=async_mode)
    carts: dict[str, list[str]] = {}

    @app.get("/")
    def home() -> str:
        return "the shop"

    @socketio.on("connect")
    def refuse_root(auth: Any = None) -> None:
        raise ConnectionRefusedError("use the /shop namespace")

    @socketio.on("connect", namespace=NAMESPACE)
    def shop_connect(auth: Any = None) -> None:
        if not isinstance(auth, dict) or auth.get("token") != TOKEN:
            raise ConnectionRefusedError("bad token", {"hint": "send auth {token}"})

    @socketio.on("add_to_cart", namespace=NAMESPACE)
    def add_to_cart(item: str) -> int:
        from flask import request

        cart = carts.setdefault(request.sid, [])  # type: ignore[attr-defined]
        cart.append(item)
        emit("cart", {"items": list(cart)})
        return len(cart)

    return app


app = create_app()
