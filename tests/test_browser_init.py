"""``python -m flask_socketio_testing.e2e init``: the Playwright project it writes, the repository's
own e2e/ built on the same shipped files, and (slow, once) init + ``npm ci`` + ``npx playwright
test`` against an app the project has never seen (tests/apps/browser_other_app.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flask_socketio_testing.e2e.__main__ import main as e2e_main
from flask_socketio_testing.e2e.project import PROJECT_FILES, template_text

ROOT = Path(__file__).resolve().parent.parent
E2E = ROOT / "e2e"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CLIENT_PROJECTS = 4  # socket.io-client 4.8, 4.4, 4.0, 3.1
EXAMPLE_SPECS = 7  # tests in the shipped example.spec.ts


def init(directory: Path, *args: str) -> int:
    return e2e_main(["init", str(directory), "--app", "browser_other_app:app", *args])


def test_init_writes_a_project_for_the_app(tmp_path, capsys):
    project = tmp_path / "browser"
    code = init(
        project,
        "--namespace",
        "/shop",
        "--auth",
        '{"token": "s3cret"}',
        "--cwd",
        str(ROOT / "tests" / "apps"),
    )
    assert code == 0
    for name in (*PROJECT_FILES, "socketio.json", ".gitignore"):
        assert (project / name).is_file(), name
    settings = json.loads((project / "socketio.json").read_text())
    assert settings == {
        "app": "browser_other_app:app",
        "python": sys.executable,
        "cwd": str(ROOT / "tests" / "apps"),
        "namespace": "/shop",
        "auth": {"token": "s3cret"},
        "asyncMode": "gevent",
    }
    package = json.loads((project / "package.json").read_text())
    assert package["name"] == "browser"
    aliases = {
        k: v for k, v in package["devDependencies"].items() if k.startswith("socket.io-client")
    }
    assert sorted(aliases) == [f"socket.io-client-{v}" for v in ("3.1", "4.0", "4.4", "4.8")]
    assert all(v.startswith("npm:socket.io-client@") for v in aliases.values())
    assert {"@playwright/test", "socket.io-msgpack-parser"} <= set(package["devDependencies"])
    lock = json.loads((project / "package-lock.json").read_text())
    assert lock["packages"][""]["devDependencies"] == package["devDependencies"]
    assert "npm ci && npx playwright test" in capsys.readouterr().out


def test_init_never_overwrites_without_force(tmp_path, capsys):
    assert init(tmp_path) == 0
    (tmp_path / "tests" / "example.spec.ts").write_text("// mine\n")
    assert init(tmp_path) == 1
    assert "pass --force" in capsys.readouterr().err
    assert (tmp_path / "tests" / "example.spec.ts").read_text() == "// mine\n"
    assert init(tmp_path, "--force") == 0
    assert (tmp_path / "tests" / "example.spec.ts").read_text() == template_text(
        "tests/example.spec.ts"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--auth", "{token: 1}"], "--auth is not JSON"),
        (["--namespace", "shop"], "--namespace must start with '/'"),
    ],
)
def test_init_refuses_bad_options(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        init(tmp_path / "p", *args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_repository_e2e_installs_the_shipped_packages():
    shipped = json.loads(template_text("package.json"))
    own = json.loads((E2E / "package.json").read_text())
    assert own["devDependencies"] == shipped["devDependencies"]
    shipped_lock = json.loads(template_text("package-lock.json"))["packages"]
    own_lock = json.loads((E2E / "package-lock.json").read_text())["packages"]
    assert {k: v for k, v in own_lock.items() if k} == {k: v for k, v in shipped_lock.items() if k}


def _run(cmd: list[str], cwd: Path, timeout: float, **env: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(cmd)} took over {timeout} s:\n{exc.stdout}\n{exc.stderr}")


@pytest.mark.timeout(900)
def test_init_npm_ci_and_playwright_pass_against_an_app_never_seen(tmp_path):
    """Slow (about a minute on two cores): runs once, it uses no transport-parametrized fixture."""
    if shutil.which("npm") is None or not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("SOCKETIO_REQUIRE_SERVICES") == "1":
            pytest.fail(f"npm and Chromium ({CHROMIUM}) are required")
        pytest.skip(f"needs npm and Chromium at {CHROMIUM} (set CHROMIUM_PATH)")
    project = tmp_path / "shop-browser"
    assert (
        init(
            project,
            "--namespace",
            "/shop",
            "--auth",
            '{"token": "s3cret"}',
            "--cwd",
            str(ROOT / "tests" / "apps"),
        )
        == 0
    )
    # works offline once e2e/ (same lock file) has been installed: the tarballs are in npm's cache
    install = _run(["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund"], project, 300)
    assert install.returncode == 0, install.stderr
    run = _run(["npx", "playwright", "test"], project, 480, CHROMIUM_PATH=CHROMIUM)
    summary = run.stdout[-3000:]
    assert run.returncode == 0, f"{summary}\n{run.stderr[-3000:]}"
    assert f"{CLIENT_PROJECTS * EXAMPLE_SPECS} passed" in run.stdout, summary
    for version in ("4.8.", "4.4.", "4.0.", "3.1."):
        assert f"[socket.io-client@{version}" in run.stdout, version
    assert (project / "playwright-report" / "index.html").is_file()

    # without the auth the app refuses the example's connection, with the server's reason
    settings = json.loads((project / "socketio.json").read_text())
    (project / "socketio.json").write_text(json.dumps({**settings, "auth": None}))
    refused = _run(
        [
            "npx",
            "playwright",
            "test",
            "--project",
            "socket.io-client@4.8.4",
            "-g",
            "accepts a connection over websocket",
        ],
        project,
        240,
        CHROMIUM_PATH=CHROMIUM,
    )
    assert refused.returncode != 0
    assert "bad token" in refused.stdout, refused.stdout[-3000:]
    assert list((project / "test-results").rglob("trace.zip")), "no trace kept for the failure"
