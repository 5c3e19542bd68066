"""The subprocess live server's entry point: ``flask_socketio_testing.serve`` with its old output.

``ProcessLiveServer`` reads ``PORT <n>`` (or ``BUSY`` when the port is taken) from the first line.
"""

import runpy
import sys

sys.argv[1:1] = ["--ready-line", "PORT {port}", "--busy-line", "BUSY"]
runpy.run_module("flask_socketio_testing.serve", run_name="__main__", alter_sys=True)
