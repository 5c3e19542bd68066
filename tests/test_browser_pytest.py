"""The pytest recipe of docs/browser.md: pytest-playwright's ``page`` against the live server
(``socketio_page``), once per installed socket.io-client, on an app with its own namespace and
auth (tests/browser_other_app.py), served in a thread and by a gevent subprocess."""

from __future__ import annotations

import os

import pytest
from flask import Flask

pytest.importorskip(
    "pytest_playwright", reason="needs the browser extra: pip install 'Flask-SocketIO[browser]'"
)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
OTHER_APP = "tests.browser_other_app:create_app()"

if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(f"needs Chromium at {CHROMIUM} (set CHROMIUM_PATH)", allow_module_level=True)


@pytest.fixture
def app() -> Flask:
    from tests.browser_other_app import create_app

    return create_app("threading")


SHOP = """async () => {
    await harness.open('shop', '/shop', {auth: {token: 's3cret'}});
    const from = harness.events.shop.length;
    const [count] = await harness.call('shop', 'add_to_cart', ['tea']);
    const cart = await harness.waitForEvent('shop', 'event', 'cart', from, 5000);
    return {count, cart: cart.args[1], client: harness.client};
}"""


def test_the_page_uses_the_app_namespace_auth_and_events(socketio_page, socketio_client_package):
    result = socketio_page.evaluate(SHOP)
    assert result["count"] == 1
    assert result["cart"] == {"items": ["tea"]}
    assert result["client"]["package"] == socketio_client_package


def test_a_refused_connect_shows_the_server_reason(socketio_page):
    refused = socketio_page.evaluate(
        "() => harness.openExpectingError('shop', '/shop', {auth: {token: 'wrong'}})"
    )
    assert refused == {
        "connected": False,
        "error": {"message": "bad token", "data": {"hint": "send auth {token}"}},
    }


@pytest.mark.socketio_server(async_mode="gevent", app=OTHER_APP)
def test_a_gevent_subprocess_server_has_the_harness_too(socketio_page, socketio_live_server):
    assert socketio_live_server.async_mode == "gevent"
    assert socketio_page.evaluate(SHOP)["cart"] == {"items": ["tea"]}


def test_the_installed_clients_are_the_parameters(request):
    ids = {
        item.callspec.id
        for item in request.session.items
        if item.originalname == "test_a_refused_connect_shows_the_server_reason"
    }
    versions = sorted(i.split("@")[1].rsplit(".", 1)[0] for i in ids)
    assert versions == ["3.1", "4.0", "4.4", "4.8"], ids
