"""``liqscope serve``: the HTTP + WebSocket API and the web UI (optionally collecting too)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from liqscope.cli.app import app
from liqscope.cli.options import DbOption, db_path, home, open_store, shown
from liqscope.domain.aio import AppTask
from liqscope.domain.errors import InputError


def _collector_hooks(db: str | Path, collect: list[str]) -> tuple[Any, Any]:
    """Startup/shutdown hooks running ``liqscope.ingest.collector.run_collectors`` in-process."""
    from liqscope.cli.collect import parse_specs
    from liqscope.ingest.collector import run_collectors

    specs = parse_specs(collect, [], [], None)
    task = AppTask(timeout_s=15)

    async def start(_app: Any) -> None:
        store = open_store(db)
        task.start(run_collectors(specs, store, stop_event=task.stop_event), store.close)

    return start, task.stop


@app.command("serve")
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind (loopback unless told).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    db: DbOption = None,
    collect: Annotated[
        list[str] | None,
        typer.Option(
            help="Also collect live in this process: VENUE:SYM1,SYM2 (repeatable).",
            metavar="VENUE:SYMBOLS",
        ),
    ] = None,
    alerts: Annotated[
        Path | None,
        typer.Option(
            "--alerts",
            help="Alert rules (.toml/.json) evaluated live [default: built-in proximity, "
            "spike and cascade rules on every stored market].",
            dir_okay=False,
        ),
    ] = None,
    live_alerts: Annotated[
        bool,
        typer.Option(
            "--live-alerts/--no-live-alerts", help="Evaluate alert rules and take snapshots live."
        ),
    ] = True,
    webhook: Annotated[
        list[str] | None,
        typer.Option(help="POST every alert as JSON to this URL (repeatable).", metavar="URL"),
    ] = None,
    alert_every: Annotated[
        float, typer.Option(help="Seconds between checks for newly closed minutes.", min=0.1)
    ] = 5.0,
    snapshot_every: Annotated[
        int, typer.Option(help="Store a map snapshot every N minutes (0: never).", min=0)
    ] = 5,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    token: Annotated[
        str | None,
        typer.Option(
            envvar="LIQSCOPE_TOKEN",
            help="Token every request must carry (Bearer, ?token= or cookie); required "
            "when binding beyond loopback (env LIQSCOPE_TOKEN).",
            show_envvar=False,
        ),
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            help="Host name clients may use besides the loopback ones (repeatable; * = any) "
            "(env LIQSCOPE_ALLOWED_HOSTS, a comma list).",
            metavar="NAME",
        ),
    ] = None,
) -> None:
    """Serve the API (OpenAPI at /docs), the WebSocket push (/ws) and the web UI (/)."""
    import uvicorn

    from liqscope.api.app import Settings, create_app
    from liqscope.api.security import is_loopback

    hosts = list(allow_host or [])
    hosts += [h.strip() for h in os.environ.get("LIQSCOPE_ALLOWED_HOSTS", "").split(",") if h]
    if not is_loopback(host):
        if not token:
            raise InputError(
                f"--host {host}: binding beyond loopback needs --token (or LIQSCOPE_TOKEN)"
            )
        if host not in ("0.0.0.0", "::", ""):
            hosts.append(host)
        typer.secho(
            f"WARNING: liqscope is reachable beyond this machine on {host}:{port}; every "
            "request must carry the token (Authorization: Bearer …, or open /?token=… once). "
            f"Allowed host names: loopback{', ' + ', '.join(hosts) if hosts else ''}.",
            err=True,
            fg=typer.colors.RED,
            bold=True,
        )

    location = db_path(db)
    if isinstance(location, Path) and not location.parent.exists():
        if location.parent != home():
            raise InputError(f"--db: folder {location.parent} does not exist")
        location.parent.mkdir(parents=True)
    open_store(location).close()  # create / migrate once; a bad URL or a dead server: exit 2
    settings = Settings(db_path=str(location), allowed_hosts=hosts, token=token or None)
    if collect:
        start, stop = _collector_hooks(location, collect)
        settings.on_startup.append(start)
        settings.on_shutdown.append(stop)
    if live_alerts:
        from liqscope.signals.live import live_hooks, rules_from

        start_alerts, stop_alerts = live_hooks(
            location, rules_from(alerts), webhooks=webhook or [], interval_s=alert_every,
            snapshot_every_min=snapshot_every,
        )  # fmt: skip
        settings.on_startup.append(start_alerts)
        settings.on_shutdown.insert(0, stop_alerts)
    application = create_app(settings)
    typer.echo(f"liqscope: serving {shown(location)} on http://{host}:{port}/ (API docs at /docs)")
    uvicorn.run(application, host=host, port=port, log_level=log_level)
