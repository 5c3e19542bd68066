"""Capacity run: add this file to a scenario to step users up until the receive SLO breaks.

    python load/_server.py --ready-file load/results/server.json &
    locust -f load/broadcast.py,load/_capacity.py --headless \\
        --sio-server-file load/results/server.json \\
        --step-users 100 --step-seconds 30 --step-max-users 2000

The shape, its options and its report ship in the package (see
``flask_socketio_testing.locust.capacity``); the name starts with ``_`` so ``locust -f load/``
never picks it up.
"""

from flask_socketio_testing.locust import CapacityShape  # noqa: F401 - Locust uses it as the shape
