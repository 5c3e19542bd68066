"""pytest plugin for Flask-SocketIO apps: fixtures, markers and options (see ``plugin``)."""
