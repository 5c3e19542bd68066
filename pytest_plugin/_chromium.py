"""pytest-playwright's ``browser_type_launch_args`` with the system Chromium (``CHROMIUM_PATH``).

Registered by ``browser.pytest_configure`` after the entry-point plugins, so that this fixture,
the last registered, overrides pytest-playwright's.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

DEFAULT_CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch arguments plus ``executable_path``: no browser download."""
    path = os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM
    if not os.access(path, os.X_OK):
        return browser_type_launch_args  # Playwright then names the browser it misses
    return {**browser_type_launch_args, "executable_path": path}
