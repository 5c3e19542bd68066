"""Protocol answers on the wire where python-engineio/python-socketio deviate and we do not."""

from __future__ import annotations

import json

import pytest
import requests
from core_support import ASYNC_MODE, live_server, make_app

pytestmark = pytest.mark.skipif(ASYNC_MODE != "threading", reason="uses an in-thread server")


@pytest.fixture
def url():
    app, socketio = make_app()

    @socketio.on("connect")
    def connect():
        pass

    with live_server(app, socketio) as base:
        yield base + "/socket.io/"


def test_request_without_transport_is_refused(url):
    response = requests.get(url, params={"EIO": "4"}, timeout=5)
    assert response.status_code == 400


def test_unsupported_method_is_a_bad_request(url):
    response = requests.put(url, params={"EIO": "4", "transport": "polling"}, timeout=5)
    assert response.status_code == 400


def test_polling_post_answers_lowercase_ok(url):
    handshake = requests.get(url, params={"EIO": "4", "transport": "polling"}, timeout=5)
    assert handshake.status_code == 200 and handshake.text.startswith("0")
    sid = json.loads(handshake.text[1:])["sid"]
    params = {"EIO": "4", "transport": "polling", "sid": sid}
    response = requests.post(url, params=params, data="40", timeout=5)
    assert (response.status_code, response.text) == (200, "ok")
    # the CONNECT went through: the next poll carries the Socket.IO CONNECT answer
    poll = requests.get(url, params=params, timeout=5)
    assert poll.text.startswith("40")
