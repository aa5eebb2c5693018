"""The FastAPI application: REST endpoints, the WebSocket push and the static web UI.

``create_app(settings)`` builds everything; ``liqscope serve`` runs it under uvicorn.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from liqscope.api import schemas
from liqscope.api.backend import Backend
from liqscope.api.live import LiveHub
from liqscope.api.service import ApiError, Body, Service
from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
API_VERSION = "1"


@dataclass
class Settings:
    """How to build the app: the store it serves, the clock, polling and cache sizes."""

    db_path: str | None = None
    clock: Clock = SYSTEM_CLOCK
    poll_s: float = 0.1
    column_check_s: float = 1.0
    cache_items: int = 256
    # called with the app on startup / shutdown (``liqscope serve --collect`` hooks in here)
    on_startup: list[Callable[[FastAPI], Any]] = field(default_factory=list)
    on_shutdown: list[Callable[[FastAPI], Any]] = field(default_factory=list)


def plotly_js_path() -> Path:
    """``plotly.min.js`` shipped inside the installed ``plotly`` package."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise InputError("the plotly package is not installed (it ships plotly.min.js)")
    return Path(spec.origin).resolve().parent / "package_data" / "plotly.min.js"


def _backend(settings: Settings) -> Backend:
    if settings.db_path is None:
        raise InputError("no data source: give a database path (--db)")
    from liqscope.api.storebackend import StoreBackend

    return StoreBackend(settings.db_path, clock=settings.clock)


class _Gzipped:
    """gzip of cached bodies, computed once per body (cached bodies are the same object)."""

    MIN_SIZE = 4096

    def __init__(self, max_items: int = 64) -> None:
        self._items: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_items

    def get(self, body: bytes) -> bytes:
        key = id(body)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] is body:
                self._items.move_to_end(key)
                return hit[1]
        packed = gzip.compress(body, compresslevel=5)
        with self._lock:
            self._items[key] = (body, packed)  # holding body keeps its id unique
            while len(self._items) > self._max:
                self._items.popitem(last=False)
        return packed


_GZ = _Gzipped()


def _json(body: bytes, request: Request | None = None) -> Response:
    if (
        request is not None
        and len(body) >= _Gzipped.MIN_SIZE
        and "gzip" in request.headers.get("accept-encoding", "")
    ):
        return Response(
            content=_GZ.get(body),
            media_type="application/json",
            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    return Response(content=body, media_type="application/json")


def _accepts_gzip(header: str) -> bool:
    """``gzip`` named in ``Accept-Encoding`` (or ``*``) without ``q=0``."""
    for part in header.lower().split(","):
        name, _, params = part.partition(";")
        if name.strip() in ("gzip", "*"):
            for param in params.split(";"):
                key, _, value = param.partition("=")
                if key.strip() == "q":
                    try:
                        return float(value) > 0
                    except ValueError:
                        return False
            return True
    return False


def _etag_matches(header: str, etag: str) -> bool:
    """``If-None-Match`` (weak comparison, RFC 9110 13.1.2) against ``etag``."""
    if header.strip() == "*":
        return True
    tag = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == tag for t in header.split(","))


def _cached(body: Body, request: Request) -> Response:
    """A cached body as it is: ``304`` when the client holds it (``If-None-Match``), else the
    gzip made once for the cache entry when the client takes gzip, else the raw bytes.
    ``no-cache``: browsers keep the body and revalidate each view with its ``ETag``."""
    headers = {"ETag": body.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    match = request.headers.get("if-none-match")
    if match is not None and _etag_matches(match, body.etag):
        return Response(status_code=304, headers=headers)
    if body.gzip is not None and _accepts_gzip(request.headers.get("accept-encoding", "")):
        headers["Content-Encoding"] = "gzip"
        return Response(content=body.gzip, media_type="application/json", headers=headers)
    return Response(content=body.raw, media_type="application/json", headers=headers)


def _error(status: int, param: str | None, message: str) -> JSONResponse:
    if status == 422:
        loc = ["query", param] if param else ["query"]
        return JSONResponse(
            {"detail": [{"loc": loc, "msg": message, "type": "value_error"}]}, status_code=422
        )
    return JSONResponse({"detail": message, "param": param}, status_code=status)


# Shared query parameters -----------------------------------------------------------------------
Symbol = Annotated[
    str, Query(min_length=1, max_length=40, description="market, e.g. BTCUSDT (or a native name)")
]
Venues = Annotated[
    str | None,
    Query(max_length=200, description="'all' (aggregate) or a comma list: binance,bybit,okx"),
]
Range = Annotated[
    str | None,
    Query(
        alias="range",
        max_length=10,
        description="12h|24h|3d|7d|30d|90d|180d|1y (ends at the latest stored data) or custom",
    ),
]
Start = Annotated[str | None, Query(max_length=40, description="epoch ms or ISO 8601")]
End = Annotated[str | None, Query(max_length=40, description="epoch ms or ISO 8601")]
Interval = Annotated[
    str | None, Query(max_length=4, description="model step 1m…1w (default by range)")
]
Tiers = Annotated[
    str | None, Query(max_length=200, description="'all' or a comma list of tiers: 10x,25x")
]
Preset = Annotated[str | None, Query(max_length=40, description="model preset (default: all)")]
MinUsd = Annotated[
    float, Query(ge=0, allow_inf_nan=False, description="ignore liquidations below this USD size")
]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The liqscope HTTP + WebSocket application."""
    settings = settings or Settings()
    backend = _backend(settings)
    service = Service(backend, clock=settings.clock, cache_items=settings.cache_items)
    hub = LiveHub(service, poll_s=settings.poll_s, column_check_s=settings.column_check_s)

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
    )
    app.state.service = service
    app.state.hub = hub
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

    err: dict[int | str, dict[str, Any]] = {
        422: {"model": schemas.ErrorResponse},
        404: {"model": schemas.ErrorResponse},
    }

    @app.get("/api/heatmap", response_model=schemas.HeatmapResponse, responses=err, tags=["model"])
    def heatmap(
        request: Request,
        symbol: Symbol,
        venues: Venues = None,
        range_: Range = None,
        start: Start = None,
        end: End = None,
        interval: Interval = None,
        width: Annotated[int, Query(ge=10, le=4000, description="max columns returned")] = 1200,
        height: Annotated[int, Query(ge=10, le=2000, description="max price rows returned")] = 500,
        tiers: Tiers = None,
        sides: Annotated[
            str | None, Query(max_length=20, description="long, short or both")
        ] = None,
        preset: Preset = None,
        units: Annotated[str, Query(max_length=10, description="usd or relative")] = "usd",
        split: Annotated[bool, Query(description="also return the long part (z_long)")] = True,
        format: Annotated[
            str,
            Query(
                max_length=8,
                description="json (z as nested lists) or bin (compact; see docs/api.md)",
            ),
        ] = "json",
    ) -> Response:
        """Estimated liquidation levels over time × price, reduced to width × height."""
        return _cached(
            service.heatmap_body(
                symbol,
                venues,
                range_,
                start,
                end,
                interval,
                width,
                height,
                tiers,
                sides,
                preset,
                units,
                split,
                format,
            ),
            request,
        )

    @app.get(
        "/api/heatmap/cell", response_model=schemas.CellResponse, responses=err, tags=["model"]
    )
    def heatmap_cell(
        symbol: Symbol,
        ts: Annotated[int, Query(ge=0, le=4_102_444_800_000, description="column start, ms")],
        price_lo: Annotated[float, Query(gt=0, allow_inf_nan=False)],
        price_hi: Annotated[float, Query(gt=0, allow_inf_nan=False)],
        column_ms: Annotated[int | None, Query(ge=1, le=366 * 86_400_000)] = None,
        venues: Venues = None,
        range_: Range = None,
        start: Start = None,
        end: End = None,
        interval: Interval = None,
        tiers: Tiers = None,
        preset: Preset = None,
        width: Annotated[int, Query(ge=10, le=4000, description="as sent to /api/heatmap")] = 1200,
    ) -> Response:
        """USD per tier and side inside one heatmap cell (the tooltip's breakdown)."""
        return _json(
            service.heatmap_cell(
                symbol,
                venues,
                range_,
                start,
                end,
                interval,
                preset,
                tiers,
                ts,
                column_ms,
                price_lo,
                price_hi,
                width,
            )
        )

    @app.get("/api/map", response_model=schemas.MapResponse, responses=err, tags=["model"])
    def liq_map(
        request: Request,
        symbol: Symbol,
        venues: Venues = None,
        range_: Range = None,
        at: Annotated[str | None, Query(max_length=40, description="time, default latest")] = None,
        tiers: Tiers = None,
        preset: Preset = None,
        buckets: Annotated[int, Query(ge=5, le=2000, description="max price buckets")] = 200,
        window_pct: Annotated[
            float, Query(gt=0, le=100, allow_inf_nan=False, description="± % around price")
        ] = 15.0,
        interval: Interval = None,
    ) -> Response:
        """The current liquidation profile: tiers stacked, cumulative curves, max pain."""
        return _json(
            service.liq_map(
                symbol, venues, range_, at, tiers, preset, buckets, window_pct, interval
            ),
            request,
        )

    @app.get(
        "/api/liquidations/bars",
        response_model=schemas.BarsResponse,
        responses=err,
        tags=["realized"],
    )
    def liquidation_bars(
        symbol: Symbol,
        venues: Venues = None,
        range_: Range = None,
        start: Start = None,
        end: End = None,
        interval: Annotated[str, Query(max_length=4, description="bar width 1m…1w")] = "1h",
        min_usd: MinUsd = 0.0,
    ) -> Response:
        """Realized liquidations per interval, long and short USD, per venue."""
        return _json(service.bars(symbol, venues, range_, start, end, interval, min_usd))

    @app.get(
        "/api/liquidations/levels",
        response_model=schemas.LevelsResponse,
        responses=err,
        tags=["realized"],
    )
    def liquidation_levels(
        symbol: Symbol,
        venues: Venues = None,
        range_: Range = None,
        start: Start = None,
        end: End = None,
        buckets: Annotated[int, Query(ge=5, le=2000)] = 120,
        min_usd: MinUsd = 0.0,
    ) -> Response:
        """Realized liquidations by price level (where they clustered)."""
        return _json(service.levels(symbol, venues, range_, start, end, buckets, min_usd))

    @app.get(
        "/api/liquidations/feed",
        response_model=schemas.FeedResponse,
        responses=err,
        tags=["realized"],
    )
    def liquidation_feed(
        symbol: Annotated[str | None, Query(max_length=40)] = None,
        venues: Venues = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        min_usd: MinUsd = 0.0,
    ) -> Response:
        """The latest realized liquidations, newest first."""
        return _json(service.feed(symbol, venues, limit, min_usd))

    @app.get(
        "/api/series/price", response_model=schemas.PriceResponse, responses=err, tags=["series"]
    )
    def series_price(
        symbol: Symbol,
        venue: Annotated[str | None, Query(max_length=20)] = None,
        range_: Range = None,
        start: Start = None,
        end: End = None,
        interval: Annotated[str, Query(max_length=4)] = "1m",
    ) -> Response:
        """OHLCV candles of one venue."""
        return _json(service.price(symbol, venue, range_, start, end, interval))

    @app.get("/api/series/oi", response_model=schemas.OIResponse, responses=err, tags=["series"])
    def series_oi(
        symbol: Symbol,
        venue: Annotated[str | None, Query(max_length=20)] = None,
        range_: Range = None,
        start: Start = None,
        end: End = None,
        max_points: Annotated[int, Query(ge=10, le=20000)] = 2000,
    ) -> Response:
        """Open interest of one venue (one side, base units and USD)."""
        return _json(service.oi(symbol, venue, range_, start, end, max_points))

    @app.get("/api/instruments", response_model=schemas.InstrumentsResponse, tags=["catalogue"])
    def instruments() -> Response:
        """Markets stored, their venues and native symbols; presets, tiers, ranges."""
        return _json(service.instruments())

    @app.get("/api/status", response_model=schemas.StatusResponse, tags=["catalogue"])
    def status() -> Response:
        """Health and provenance: feed completeness, last message age and gaps per market."""
        return _json(service.status(len(hub.clients)))

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await hub.handle(websocket)

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            plotly_js_path(),
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    from liqscope.api.signals_routes import router as signals_router

    app.include_router(signals_router)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    return app
