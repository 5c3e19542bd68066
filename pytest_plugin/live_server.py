"""Live servers for tests: the app served for real on 127.0.0.1.

``ThreadLiveServer`` serves the app in a thread of the test process (threading mode);
``ProcessLiveServer`` serves it in a subprocess (needed for gevent, which must monkey-patch before
anything imports ``socket``), given the app as an import string. Both bind port 0 themselves and
read the port back (no bind-close-rebind race), and ``stop()``/``start()``/``restart()`` reuse the
same port so that clients can reconnect.
"""

from __future__ import annotations

import importlib.util
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask_socketio_testing._optional import missing_package

from flask_socketio.serving import ServerHandle, make_server

if TYPE_CHECKING:
    from flask import Flask

    from flask_socketio import SocketIO

__all__ = ["LiveServer", "ThreadLiveServer", "ProcessLiveServer", "LiveServerError"]

HOST = "127.0.0.1"


class LiveServerError(RuntimeError):
    """The live server could not start or stop."""


class LiveServer(ABC):
    """Common interface: ``url``, ``port``, ``async_mode``, ``start()``, ``stop()``,
    ``restart()``, ``running``; a context manager."""

    async_mode: str
    port: int | None = None
    host: str = HOST

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``; the port stays the same across restarts."""
        if self.port is None:
            raise LiveServerError("the live server has not been started")
        return f"http://{self.host}:{self.port}"

    @property
    @abstractmethod
    def running(self) -> bool:
        """True while the server accepts connections."""

    @abstractmethod
    def start(self) -> None:
        """Bind and serve (the same port as before after a ``stop()``)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop serving and close open connections."""

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def leaks(self) -> list[str]:
        """What this server left behind after ``stop()`` (empty when nothing)."""
        return []

    def __enter__(self) -> LiveServer:
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.async_mode} port={self.port} {state}>"


def _bind_retry(
    bind: Callable[[int], ServerHandle], port: int, timeout: float = 5.0
) -> ServerHandle:
    """Bind on ``port``; when re-binding a known port, retry briefly while it is still busy."""
    deadline = time.monotonic() + (timeout if port else 0)
    while True:
        try:
            return bind(port)
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


class ThreadLiveServer(LiveServer):
    """The app served in a daemon thread of the test process (threading async mode)."""

    def __init__(self, app: Flask, socketio: SocketIO) -> None:
        mode = socketio.async_mode
        if mode != "threading":
            raise LiveServerError(
                f"the app's SocketIO uses async_mode={mode!r}; an in-thread live server needs "
                "'threading'. Create SocketIO(app, async_mode='threading') for tests, or serve "
                "it in a subprocess: ProcessLiveServer('package.module:app', async_mode=...) "
                "(the socketio_live_server fixture does so by itself)."
            )
        self.app = app
        self.socketio = socketio
        self.async_mode = "threading"
        self.port = None
        self._handle: ServerHandle | None = None
        self._thread: threading.Thread | None = None
        self.startup_time: float | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Bind (port 0 the first time, the same port afterwards) and serve in a thread."""
        if self.running:
            return
        t0 = time.perf_counter()
        self._handle = _bind_retry(
            lambda p: make_server(self.app, self.socketio, self.host, p), self.port or 0
        )
        self.port = self._handle.port
        self._thread = threading.Thread(
            target=self._handle.serve_forever, name=f"socketio-live-server-{self.port}", daemon=True
        )
        self._thread.start()
        self.startup_time = time.perf_counter() - t0

    def stop(self) -> None:
        """Stop serving, cut open connections and forget server-side sessions."""
        if self._handle is None:
            return
        handle, thread = self._handle, self._thread
        self._handle = self._thread = None
        handle.shutdown()
        if thread is not None:
            thread.join(5)
        _forget_sessions(self.socketio)

    def leaks(self) -> list[str]:
        if self._thread is not None and self._thread.is_alive():
            return [f"live server thread {self._thread.name!r}"]
        return []


class ProcessLiveServer(LiveServer):
    """The app served by a subprocess (``python -m pytest_flask_socketio._serve``).

    ``app_spec`` is an import string (``package.module:app`` or ``package.module:create_app()``).
    In gevent mode the subprocess monkey-patches before importing anything else. ``env`` is
    added to the environment (its ``PYTHONPATH`` goes after ``cwd``); ``spec_hint`` is added to
    the error when the app does not start (say where ``app_spec`` came from).
    """

    def __init__(
        self,
        app_spec: str,
        async_mode: str = "gevent",
        *,
        message_queue: str | None = None,
        channel: str | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 30.0,
        name: str = "live-server",
        spec_hint: str | None = None,
    ) -> None:
        if async_mode in ("gevent", "eventlet") and importlib.util.find_spec(async_mode) is None:
            missing = ModuleNotFoundError(f"No module named {async_mode!r}", name=async_mode)
            needed_by = f"the {async_mode} live server"
            raise missing_package(missing, extra=async_mode, needed_by=needed_by)
        self.app_spec = app_spec
        self.async_mode = async_mode
        self.message_queue = message_queue
        self.channel = channel
        self.cwd = cwd
        self.env = env
        self.startup_timeout = startup_timeout
        self.name = name
        self.spec_hint = spec_hint
        self.port = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_time: float | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the server's life
            prefix=f"socketio-{name}-", suffix=".log", delete=False
        )
        self.log_path = self._log.name
        self._all_pids: list[int] = []

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _command(self, port: int) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "pytest_flask_socketio._serve",
            "--app",
            self.app_spec,
            "--async-mode",
            self.async_mode,
            "--host",
            self.host,
            "--port",
            str(port),
        ]
        if self.message_queue:
            cmd += ["--message-queue", self.message_queue]
        if self.channel:
            cmd += ["--channel", self.channel]
        return cmd

    def start(self) -> None:
        """Start the subprocess and wait until it reports its bound port."""
        if self.running:
            return
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                self._start_once(deadline)
                return
            except _PortBusy:
                if time.monotonic() >= deadline:
                    raise LiveServerError(f"port {self.port} stayed busy; cannot restart") from None
                time.sleep(0.05)

    def _start_once(self, deadline: float) -> None:
        t0 = time.perf_counter()
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"}
        cwd = self.cwd or os.getcwd()
        env["PYTHONPATH"] = os.pathsep.join(p for p in (cwd, env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            self._command(self.port or 0),
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        self._all_pids.append(self.proc.pid)
        line = _read_line(self.proc, deadline)
        if line.startswith("PORT "):
            self.port = int(line.split()[1])
            self.startup_time = time.perf_counter() - t0
            return
        self._kill()
        if line.startswith("BUSY"):
            raise _PortBusy()
        hint = f" ({self.spec_hint})" if self.spec_hint else ""
        raise LiveServerError(
            f"the {self.async_mode} live server for {self.app_spec!r}{hint} did not start "
            f"({line or 'no output'}); its log:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Terminate the subprocess (SIGTERM, then SIGKILL after 5 s)."""
        self._kill()

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()

    def log_tail(self, max_chars: int = 4000) -> str:
        """The end of the subprocess's stderr/log output."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()[-max_chars:]
        except OSError:
            return ""

    def close(self) -> None:
        """Stop and remove the log file."""
        self.stop()
        self._log.close()
        try:
            os.unlink(self.log_path)
        except OSError:
            pass

    def leaks(self) -> list[str]:
        alive = []
        for pid in self._all_pids:
            try:
                os.kill(pid, 0)
            except OSError:
                continue
            # a zombie still answers kill(0); check its state
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().split()[2] == "Z":
                        continue
            except OSError:
                continue
            alive.append(f"live server subprocess pid {pid} ({self.async_mode}, {self.app_spec})")
        return alive


def _forget_sessions(socketio: SocketIO) -> None:
    """Drop the Engine.IO sessions of a stopped server, as a restarted process would have none.

    python-engineio has no public call for this (``disconnect()`` waits for a poll that never
    comes), so its session table is used here; it belongs in ``flask_socketio.server``.
    """
    if socketio.server is None:
        return
    eio = socketio.server.eio
    for session in list(eio.sockets.values()):
        try:
            session.close(wait=False, abort=True)
        except Exception:  # noqa: BLE001 - best effort, the session is gone anyway
            pass
    if eio.service_task_handle is not None:
        eio.shutdown()
        eio.start_service_task = True  # so that start() monitors clients again


class _PortBusy(Exception):
    """The subprocess could not bind the port it was asked to reuse."""


def _read_line(proc: subprocess.Popen[bytes], deadline: float) -> str:
    """Read the subprocess's first stdout line, bounded by ``deadline``."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    try:
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return ""
            if not sel.select(min(remaining, 0.5)):
                if proc.poll() is not None:
                    return ""
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
    finally:
        sel.close()
    return buf.decode(errors="replace").strip()
