"""Command-line interface: thin wrappers over the services of the package.

Each command lives in its own module and registers itself on ``cli.app.app`` when imported;
:func:`commands` imports them all.
"""

from __future__ import annotations

import sys

import typer

from liqscope.domain.errors import LiqscopeError


def commands() -> typer.Typer:
    """The application with every command module imported (each registers its commands)."""
    from liqscope.cli import (  # noqa: F401  (imported for their registrations)
        alerts,
        batch,
        calibrate,
        chart,
        check,
        collect,
        demo,
        heatmap,
        imports,
        lake,
        liqprice,
        map,
        positions,
        predict,
        score,
        serve,
        sim,
        status,
    )
    from liqscope.cli.app import app

    return app


def command_names() -> list[str]:
    """Names of the registered commands."""
    return [
        c.name or (c.callback.__name__ if c.callback else "")
        for c in commands().registered_commands
    ]


def main() -> None:
    app = commands()
    try:
        app()
    except LiqscopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
