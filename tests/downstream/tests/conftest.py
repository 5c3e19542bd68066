import pytest
from helpdesk import create_app


@pytest.fixture
def app():
    # threading mode: the plugin then serves the app in a thread of the test process; tests
    # marked socketio_server(async_mode="gevent") get a subprocess from the ini's socketio_app
    return create_app(async_mode="threading")
