"""Find the import string of the test's app, so that a subprocess live server can import it.

A gevent app cannot be served in a thread of the (unpatched) test process; a subprocess serves
it, and needs ``package.module:app`` or ``package.module:create_app()``. When the ini option
``socketio_app`` and the ``socketio_server(app=...)`` marker give none, it is derived from the
``app`` fixture's object: the module Flask names as ``app.import_name``, and in it either the
module-level name bound to that very app or a no-argument factory the ``app`` fixture calls.
"""

from __future__ import annotations

import inspect
import os
import sys
import types
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["AppSpecError", "derive_app_spec", "subprocess_pythonpath", "HOW_TO_SET"]

#: the conventional names of app factories (as ``flask run`` looks for them)
FACTORY_NAMES = ("create_app", "make_app")
#: preferred names when several module attributes are bound to the app
APP_NAMES = ("app", "application")

HOW_TO_SET = (
    "set the ini option socketio_app = package.module:app (or package.module:create_app()), "
    "or mark the test @pytest.mark.socketio_server(app='package.module:app')"
)


class AppSpecError(LookupError):
    """The app's import string could not be derived; the message says what to set."""


def derive_app_spec(app: Flask, request: pytest.FixtureRequest | None = None) -> str:
    """``module:name`` when a module-level name of ``app.import_name`` is this app, else
    ``module:factory()`` for a no-argument factory of that module the ``app`` fixture calls.

    Raises ``AppSpecError`` naming the ini option when neither is found.
    """
    module_name = app.import_name
    module = sys.modules.get(module_name)
    if module_name == "__main__" or module is None:
        raise AppSpecError(
            f"the app's import_name is {module_name!r}, which is not an imported module; "
            + HOW_TO_SET
        )
    bound = sorted(name for name, value in vars(module).items() if value is app)
    if bound:
        name = next((n for n in APP_NAMES if n in bound), bound[0])
        return f"{module_name}:{name}"
    fixture = _app_fixture_function(request) if request is not None else None
    factories = sorted(_called_factories(fixture, module)) if fixture else []
    if len(factories) > 1:
        preferred = [f for f in factories if f in FACTORY_NAMES]
        factories = preferred[:1] if len(preferred) == 1 else factories
    if len(factories) == 1:
        return f"{module_name}:{factories[0]}()"
    found = (
        f"several factories of {module_name!r} ({', '.join(factories)})"
        if factories
        else f"no factory of {module_name!r} that takes no arguments"
    )
    raise AppSpecError(
        f"no module-level name in {module_name!r} is bound to the app fixture's app, and the "
        f"app fixture calls {found}; " + HOW_TO_SET
    )


def subprocess_pythonpath() -> str:
    """This process's ``sys.path`` entries that a fresh interpreter would not have (the
    rootdir, ``pythonpath`` ini entries, test folders), then ``PYTHONPATH``, joined.

    The interpreter's own and its environment's folders are left out: the subprocess runs the
    same ``sys.executable`` and finds them itself, in their usual order.
    """
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    prefixes = {os.path.join(os.path.realpath(p), "") for p in prefixes}
    entries: list[str] = []
    for entry in sys.path:
        path = os.path.realpath(entry or os.getcwd())
        if any(os.path.join(path, "").startswith(p) for p in prefixes):
            continue
        if os.path.isdir(path) and path not in entries:
            entries.append(path)
    inherited = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join([*entries, *([inherited] if inherited else [])])


def _app_fixture_function(request: pytest.FixtureRequest) -> Callable[..., Any] | None:
    """The function behind the ``app`` fixture this test sees (None when pytest hides it)."""
    manager = request.config.pluginmanager.get_plugin("funcmanage")
    if manager is None:
        return None
    try:
        defs = manager.getfixturedefs("app", request.node)
    except (AttributeError, TypeError):  # pytest 8.0 takes the node id
        try:
            defs = manager.getfixturedefs("app", request.node.nodeid)
        except (AttributeError, TypeError):
            defs = None
    if not defs:
        return None
    func = inspect.unwrap(getattr(defs[-1].func, "__func__", defs[-1].func))
    return func if inspect.isfunction(func) else None


def _code_names(code: types.CodeType) -> Iterator[str]:
    """Global and attribute names a function's code (and its nested code) refers to."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def _called_factories(fixture: Callable[..., Any], module: types.ModuleType) -> set[str]:
    """Names of ``module``'s module-level functions, callable without arguments, that the
    fixture's code refers to (``create_app()``, ``myapp.create_app()``, a local import)."""
    names = set(_code_names(fixture.__code__))
    found = set()
    for name in names:
        func = getattr(module, name, None)
        if not inspect.isfunction(func) or func.__module__ != module.__name__:
            continue
        if func.__qualname__ != name or func is fixture:
            continue
        try:
            inspect.signature(func).bind()
        except (TypeError, ValueError):
            continue
        found.add(name)
    return found
