"""The Typer application every command module registers on, and the error boundary."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="liqscope",
    help="Exact, documented, validated liquidation heatmaps for crypto perpetual futures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # help texts are plain text with literal "[default: …]" (Rich markup would eat them)
    rich_markup_mode="markdown",
)


@app.callback()
def _root() -> None:
    """Exact, documented, validated liquidation heatmaps for crypto perpetual futures."""


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one clear error line to stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)
