"""``python -m flask_socketio_testing.locust -f FILE ...``: Locust with this package's options.

Locust answers ``--help`` before it imports the locustfiles, so options that locustfiles add never
show there; loading this package's options (and the capacity shape's) first makes them show.
"""

from __future__ import annotations

import sys

import flask_socketio_testing.locust.capacity  # noqa: F401 - registers the capacity options
import flask_socketio_testing.locust.slo  # noqa: F401 - registers the options and the check
from locust.main import main

if __name__ == "__main__":
    sys.exit(main())
