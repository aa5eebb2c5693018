"""The FastAPI application: REST endpoints, the WebSocket push and the static web UI.

``create_app(settings)`` builds everything; ``liqscope serve`` runs it under uvicorn. Routes
are thin: a typed parameter object (``api.params``) in, a view (``api.views.*``) out; the
plain JSON ones are one table (``views`` in ``create_app``). The pages of ``web/`` share one
``<head>`` opening, ``web/head.html`` (:func:`render_page`).
"""

from __future__ import annotations

import contextlib
import html
import importlib.util
import inspect
import string
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from inspect import Parameter, Signature
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from liqscope.api import overview, schemas
from liqscope.api.context import Context
from liqscope.api.encoding import cached_response, json_response
from liqscope.api.errors import ApiError
from liqscope.api.live import LiveHub
from liqscope.api.params import (
    AlertsParams,
    BarsParams,
    CellParams,
    CheckParams,
    FeedParams,
    HeatmapParams,
    LevelsParams,
    MapParams,
    OIParams,
    PriceParams,
    ScoreParams,
)
from liqscope.api.schemas import (
    AlertsResponse,
    BarsResponse,
    CellResponse,
    FeedResponse,
    LevelsResponse,
    OIResponse,
    PriceResponse,
)
from liqscope.api.security import TOKEN_COOKIE, Guard
from liqscope.api.source import StoreSource
from liqscope.api.views import catalogue, heatmap, measured, predict, realized, series
from liqscope.api.views import map as map_view
from liqscope.api.views.signals import SignalViews
from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError
from liqscope.export.png import PALETTE_PATH

__all__ = [
    "API_VERSION",
    "PAGES",
    "WEB_DIR",
    "Settings",
    "create_app",
    "docs_assets_dir",
    "plotly_js_path",
    "render_page",
]

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
API_VERSION = "1"
PAGES = ("index.html", "overview.html", "scorecard.html")
"""The pages of ``web/``; each opens with ``web/head.html`` (see :func:`render_page`)."""
HEAD_MARK = "<!-- head.html: "
PALETTE_JS_HEAD = b"/* web/palette.json, served by api/app.py */\nconst PALETTE = Object.freeze("
PALETTE_JS_TAIL = b""");
for (const [name, key] of [["--long", "long"], ["--short", "short"], ["--accent", "price"]])
  document.documentElement.style.setProperty(name, PALETTE[key]);
"""


@dataclass
class Settings:
    """How to build the app: the store it serves, the clock, polling, caches and exposure."""

    db_path: str | None = None
    clock: Clock = SYSTEM_CLOCK
    poll_s: float = 0.1
    column_check_s: float = 1.0
    cache_items: int = 256
    allowed_hosts: list[str] = field(default_factory=list)
    """Host names served besides the loopback ones (``*``: any)."""
    token: str | None = None
    """When set, every request but the static assets must carry it (see api.security)."""
    # called with the app on startup / shutdown (``liqscope serve --collect`` hooks in here)
    on_startup: list[Callable[[FastAPI], Any]] = field(default_factory=list)
    on_shutdown: list[Callable[[FastAPI], Any]] = field(default_factory=list)


def render_page(name: str) -> str:
    """``web/NAME`` as served: its first line, ``<!-- head.html: TITLE -->``, replaced by
    ``web/head.html`` (the ``<head>`` opening the pages share) with that title."""
    first, _, rest = (WEB_DIR / name).read_text("utf-8").partition("\n")
    if not (first.startswith(HEAD_MARK) and first.endswith(" -->")):
        raise ValueError(f"web/{name} does not start with {HEAD_MARK}TITLE -->")
    head = string.Template((WEB_DIR / "head.html").read_text("utf-8"))
    return head.substitute(title=html.escape(first[len(HEAD_MARK) : -4])) + rest


def plotly_js_path() -> Path:
    """``plotly.min.js`` shipped inside the installed ``plotly`` package."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise InputError("the plotly package is not installed (it ships plotly.min.js)")
    return Path(spec.origin).resolve().parent / "package_data" / "plotly.min.js"


def docs_assets_dir() -> Path:
    """Swagger UI and ReDoc dist files shipped inside the installed ``fastapi_offline``
    package (``/docs`` and ``/redoc`` load them from ``/static/docs/``, never a CDN)."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        raise InputError("the fastapi-offline package is not installed (it ships Swagger UI)")
    return Path(spec.origin).resolve().parent / "static"


def _docs_routes(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` over ``/openapi.json``, assets served locally."""
    app.mount("/static/docs", StaticFiles(directory=docs_assets_dir()), name="docs-assets")
    spec, title, assets = "/openapi.json", f"{app.title} API", "/static/docs/"
    views: dict[str, Callable[[], HTMLResponse]] = {
        "/docs": lambda: get_swagger_ui_html(
            openapi_url=spec, title=title, oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=assets + "swagger-ui-bundle.js",
            swagger_css_url=assets + "swagger-ui.css", swagger_favicon_url=assets + "favicon.png",
        ),
        "/docs/oauth2-redirect": get_swagger_ui_oauth2_redirect_html,
        "/redoc": lambda: get_redoc_html(
            openapi_url=spec, title=title, redoc_js_url=assets + "redoc.standalone.js",
            redoc_favicon_url=assets + "favicon.png", with_google_fonts=False,
        ),
    }  # fmt: skip
    for path, view in views.items():
        app.get(path, include_in_schema=False)(view)


def _error(status: int, param: str | None, message: str) -> JSONResponse:
    if status == 422:
        loc = ["query", param] if param else ["query"]
        return JSONResponse(
            {"detail": [{"loc": loc, "msg": message, "type": "value_error"}]}, status_code=422
        )
    headers = {"Retry-After": "2"} if status == 429 else None
    return JSONResponse({"detail": message, "param": param}, status_code=status, headers=headers)


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorResponse} for code in (404, 422, 429)
}


def _query_route(
    app: FastAPI,
    ctx: Context,
    tag: str,
    path: str,
    params: type[BaseModel],
    body: Callable[[Context, Any], bytes],
    model: Any,
) -> None:
    """``GET path``: the query string validated into ``params`` (a query-parameter model),
    ``body(ctx, params)`` returned as JSON; the model's docstring describes the endpoint."""

    def endpoint(p: Any) -> Response:
        return json_response(body(ctx, p))

    query = Parameter("p", Parameter.POSITIONAL_OR_KEYWORD, annotation=Annotated[params, Query()])
    # FastAPI reads the parameters from the signature: the query model is known at run time
    endpoint.__signature__ = Signature([query], return_annotation=Response)  # type: ignore[attr-defined]
    app.get(
        path,
        response_model=model,
        responses=ERRORS,
        tags=[tag],
        name=path.removeprefix("/api/").replace("/", "_"),
        description=inspect.getdoc(params),
    )(endpoint)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The liqscope HTTP + WebSocket application."""
    settings = settings or Settings()
    if settings.db_path is None:
        raise InputError("no data source: give a database path (--db)")
    ctx = Context(
        StoreSource(settings.db_path, settings.clock), settings.clock, settings.cache_items
    )
    hub = LiveHub(ctx, poll_s=settings.poll_s, column_check_s=settings.column_check_s)
    signals = SignalViews(ctx)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await hub.start()
        for hook in settings.on_startup:
            result = hook(app)
            if hasattr(result, "__await__"):
                await result
        try:
            yield
        finally:
            for hook in settings.on_shutdown:
                result = hook(app)
                if hasattr(result, "__await__"):
                    await result
            await hub.stop()

    app = FastAPI(
        title="liqscope",
        version=API_VERSION,
        description="Liquidation heatmaps, maps and realized liquidations. See docs/api.md.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = ctx
    app.state.context = ctx
    app.state.hub = hub
    app.state.signals = signals
    app.state.settings = settings

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.param, exc.message)

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> JSONResponse:
        return _error(422, None, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = []
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ())]
            name = loc[-1] if loc else "request"
            detail.append(
                {"loc": loc, "msg": f"{name}: {e.get('msg', 'invalid')}", "type": "value_error"}
            )
        return JSONResponse({"detail": detail}, status_code=422)

    def get(path: str, model: Any, tag: str) -> Callable[[Any], Any]:
        return app.get(path, response_model=model, responses=ERRORS, tags=[tag])

    @get("/api/heatmap", schemas.HeatmapResponse, "model")
    def heatmap_route(request: Request, p: Annotated[HeatmapParams, Query()]) -> Response:
        """Estimated liquidation levels over time × price, reduced to width × height."""
        return cached_response(heatmap.heatmap_body(ctx, p), request)

    @get("/api/map", schemas.MapResponse, "model")
    def liq_map(request: Request, p: Annotated[MapParams, Query()]) -> Response:
        """The current liquidation profile: tiers stacked, cumulative curves, max pain."""
        return cached_response(map_view.map_body(ctx, p), request)

    @get("/api/instruments", schemas.InstrumentsResponse, "catalogue")
    def instruments() -> Response:
        """Markets stored, their venues and native symbols; presets, tiers, ranges."""
        return json_response(catalogue.instruments_body(ctx))

    @get("/api/status", schemas.StatusResponse, "catalogue")
    def status() -> Response:
        """Health and provenance: feed completeness, last message age and gaps per market."""
        return json_response(catalogue.status_body(ctx, len(hub.clients)))

    def alerts(_: Context, p: AlertsParams) -> bytes:
        return signals.alerts(p.limit, p.symbol, p.rule)

    # tag: [(path, query model, body(ctx, query) -> JSON, response schema)]
    views: dict[str, list[tuple[str, type[BaseModel], Callable[[Context, Any], bytes], Any]]] = {
        "model": [("/api/heatmap/cell", CellParams, heatmap.heatmap_cell, CellResponse)],
        "realized": [
            ("/api/liquidations/bars", BarsParams, realized.bars_body, BarsResponse),
            ("/api/liquidations/levels", LevelsParams, realized.levels_body, LevelsResponse),
            ("/api/liquidations/feed", FeedParams, realized.feed_body, FeedResponse),
        ],
        "series": [
            ("/api/series/price", PriceParams, series.price_body, PriceResponse),
            ("/api/series/oi", OIParams, series.oi_body, OIResponse),
        ],
        "signals": [
            ("/api/alerts", AlertsParams, alerts, AlertsResponse),
            ("/api/score", ScoreParams, lambda _, p: signals.score(p), None),
            ("/api/check", CheckParams, lambda _, p: signals.check(p), None),
        ],
    }
    for tag, routes in views.items():
        for path, params, body, model in routes:
            _query_route(app, ctx, tag, path, params, body, model)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await hub.handle(websocket)

    @app.get("/static/palette.js", include_in_schema=False)
    def palette_js() -> Response:
        """``web/palette.json`` as the pages' ``PALETTE`` (and the CSS side colours)."""
        return Response(PALETTE_JS_HEAD + PALETTE_PATH.read_bytes() + PALETTE_JS_TAIL,
                        media_type="application/javascript",
                        headers={"Cache-Control": "no-cache"})  # fmt: skip

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            plotly_js_path(),
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    def page(name: str, token_cookie: bool) -> Callable[[Request], HTMLResponse]:
        def serve(request: Request) -> HTMLResponse:
            response = HTMLResponse(render_page(name), headers={"Cache-Control": "no-cache"})
            token = request.query_params.get("token")
            if token_cookie and settings.token and token:  # the Guard has checked it
                response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
            return response

        return serve

    app.get("/", include_in_schema=False)(page("index.html", token_cookie=True))
    for name in PAGES:  # before the /static mount, which would serve them unassembled
        app.get(f"/static/{name}", include_in_schema=False)(page(name, token_cookie=False))
    app.include_router(overview.router)
    app.include_router(measured.router)
    app.include_router(predict.router)
    _docs_routes(app)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    app.add_middleware(Guard, allowed_hosts=settings.allowed_hosts, token=settings.token)
    return app
