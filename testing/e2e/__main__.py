"""``python -m flask_socketio_testing.e2e init DIR --app MODULE:APP``: a Playwright project."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from .project import ProjectExistsError, ProjectSettings, write_project


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flask_socketio_testing.e2e",
        description="Browser tests for a Flask-SocketIO app with Playwright Test.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser(
        "init",
        help="write a Playwright Test project for an app",
        description="Write a Playwright Test project into DIR; then run `npm ci` and "
        "`npx playwright test` there.",
    )
    init.add_argument("directory", metavar="DIR")
    init.add_argument(
        "--app", required=True, help="as for flask --app: module:app, module:create_app() or module"
    )
    init.add_argument("--namespace", default="/", help="namespace the example specs connect to")
    init.add_argument(
        "--auth", default="null", help='auth payload as JSON, e.g. \'{"token": "secret"}\''
    )
    init.add_argument("--async-mode", choices=("gevent", "threading"), default="gevent")
    init.add_argument(
        "--python",
        default=sys.executable,
        help="Python that serves the app (default: this one, %(default)s)",
    )
    init.add_argument(
        "--cwd",
        default=os.getcwd(),
        help="folder the app is imported from (default: the current one)",
    )
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        auth = json.loads(args.auth)
    except json.JSONDecodeError as exc:
        parser.error(f"--auth is not JSON ({exc}): {args.auth!r}")
    if not args.namespace.startswith("/"):
        parser.error(f"--namespace must start with '/': {args.namespace!r}")
    settings = ProjectSettings(
        app=args.app,
        python=args.python,
        cwd=os.path.abspath(args.cwd),
        namespace=args.namespace,
        auth=auth,
        async_mode=args.async_mode,
    )
    try:
        written = write_project(args.directory, settings, force=args.force)
    except ProjectExistsError as exc:
        print(f"init: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"next: cd {args.directory} && npm ci && npx playwright test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
