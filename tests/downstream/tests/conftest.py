import pytest
from chatapp import create_app
from chatapp import socketio as app_socketio


@pytest.fixture
def app():
    # threading mode: the live server then runs in a thread of the test process
    return create_app(async_mode="threading")


@pytest.fixture
def socketio(app):
    return app_socketio
