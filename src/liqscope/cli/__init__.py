"""Command-line interface: thin wrappers over the services of the package.

Each command lives in its own module and registers itself on ``cli.app.app``.
"""

from __future__ import annotations

import importlib
import sys

from liqscope.domain.errors import LiqscopeError

# Modules that define commands; each registers on liqscope.cli.app.app when imported.
COMMAND_MODULES: tuple[str, ...] = (
    "liqprice",
    "imports",
    "status",
    "chart",
    "collect",
    "heatmap",
    "sim",
    "serve",
    "map",
    "demo",
    "alerts",
    "check",
    "score",
)


def main() -> None:
    from liqscope.cli.app import app

    for name in COMMAND_MODULES:
        importlib.import_module(f"liqscope.cli.{name}")
    try:
        app()
    except LiqscopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
