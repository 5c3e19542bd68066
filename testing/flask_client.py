"""What the test clients take from a Flask test client: its cookies and environ.

A Socket.IO handshake made next to ``app.test_client()`` should carry that client's session and
login cookies, as a browser's would. Flask has no public API for "the environ and cookies this
test client would send", so the private methods used for it are confined to this module.
"""

from __future__ import annotations

import io
import weakref
from typing import Any

import flask
from flask.testing import EnvironBuilder, FlaskClient

__all__ = ["handshake_environ", "cookie_header"]

#: per app: (path, the config values the environ depends on) -> a built environ to copy.
#: Werkzeug takes ~45 us to build one, a sixth of an in-process connect; most connects of a
#: test suite ask for the same plain environ.
_PLAIN_ENVIRONS: weakref.WeakKeyDictionary[flask.Flask, dict[tuple[Any, ...], dict[str, Any]]]
_PLAIN_ENVIRONS = weakref.WeakKeyDictionary()
_CACHE_LIMIT = 32


def handshake_environ(
    app: flask.Flask,
    path: str,
    headers: dict[str, str] | None,
    flask_test_client: FlaskClient | None,
) -> dict[str, Any]:
    """The WSGI environ of a handshake request to ``path``.

    With ``flask_test_client`` it is built the way that client builds its own requests (its
    ``environ_base``) and carries its cookies.
    """
    ftc = flask_test_client
    if ftc is None and not headers:
        return _plain_environ(app, path)
    if ftc is not None and hasattr(ftc, "_request_from_builder_args"):
        request = ftc._request_from_builder_args(args=(), kwargs={"path": path, "headers": headers})
        environ: dict[str, Any] = request.environ
    else:
        builder = EnvironBuilder(app, path=path, headers=headers)
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
    environ["flask.app"] = app
    if ftc is not None:
        if hasattr(ftc, "_add_cookies_to_wsgi"):  # Flask >= 2.3
            ftc._add_cookies_to_wsgi(environ)
        else:  # pragma: no cover - older Flask
            ftc.cookie_jar.inject_wsgi(environ)  # type: ignore[attr-defined]
    return environ


def _plain_environ(app: flask.Flask, path: str) -> dict[str, Any]:
    """A copy of the cached environ for ``path`` (no headers, no cookies), built once."""
    config = app.config
    key = (
        path,
        config.get("SERVER_NAME"),
        config.get("APPLICATION_ROOT"),
        config.get("PREFERRED_URL_SCHEME"),
    )
    built = _PLAIN_ENVIRONS.get(app)
    if built is None:
        built = _PLAIN_ENVIRONS.setdefault(app, {})
    template = built.get(key)
    if template is None:
        builder = EnvironBuilder(app, path=path)
        try:
            template = builder.get_environ()
        finally:
            builder.close()
        template["flask.app"] = app
        if len(built) >= _CACHE_LIMIT:
            built.clear()
        built[key] = template
    environ = dict(template)
    environ["wsgi.input"] = io.BytesIO()  # the one mutable part: a fresh empty body
    return environ


def cookie_header(flask_test_client: FlaskClient) -> str | None:
    """The Flask test client's cookies as one ``Cookie`` header (for network clients)."""
    cookies = getattr(flask_test_client, "_cookies", None)
    if isinstance(cookies, dict):  # Werkzeug >= 2.3
        pairs = [f"{c.key}={c.value}" for c in cookies.values()]
    else:  # pragma: no cover - older Werkzeug
        jar = getattr(flask_test_client, "cookie_jar", None) or []
        pairs = [f"{c.name}={c.value}" for c in jar]
    return "; ".join(pairs) or None
