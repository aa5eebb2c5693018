"""Schemathesis over ``/openapi.json`` with every check: whatever the published schema admits
gets no 5xx, and every answer matches the schema (status, content type, body)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from api_app import MARKETS, START_MS
from hypothesis import HealthCheck, settings

from liqscope.api.app import Settings, create_app
from liqscope.api.context import parse_time
from liqscope.api.errors import ApiError
from liqscope.domain import registry
from liqscope.domain.clock import ManualClock
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import MINUTE_MS as MINUTE
from liqscope.domain.liqprice import check_leverage
from liqscope.sim.synthetic import fill_store
from liqscope.store.sqlite import SqliteStore

EXAMPLES = 25  # per operation: bounded so the whole run stays well under a minute
FOLDER = tempfile.TemporaryDirectory(prefix="liqscope-fuzz-")
DB = Path(FOLDER.name) / "fuzz.sqlite"
with SqliteStore(DB) as _store:
    fill_store(_store, START_MS, 720, MARKETS, 200)
APP = create_app(
    Settings(
        db_path=str(DB),
        clock=ManualClock(START_MS + 720 * MINUTE),
        allowed_hosts=["testserver"],  # the ASGI test client's Host
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.hook
def map_case(context: object, case: schemathesis.Case) -> schemathesis.Case:
    """Every other well-formed case asks for the stored market, so generated requests get
    past "unknown symbol" (404) to the rest of the validation and the views."""
    meta = case.meta
    positive = meta is not None and meta.generation.mode.is_positive
    if positive and case.query and "symbol" in case.query and len(str(case.query)) % 2:
        case.query["symbol"] = "BTCUSDT"
    if positive and case.path == "/api/check" and case.query and _above_cap(case.query):
        case.query["leverage"] = 1  # the cap for the size is a rule between parameters
    return case


def _ms(value: object) -> int | None:
    try:
        return parse_time(str(value), "t")
    except ApiError:
        return None


@schema.hook
def filter_case(context: object, case: schemathesis.Case) -> bool:
    """Drop the well-formed cases that break a rule between parameters, which a schema cannot
    state (docs/api.md answers them 422): ``end`` after ``start``, ``price_hi`` above
    ``price_lo``, ``scenario`` or ``symbol`` (not both) for a scorecard. (A ``/api/check``
    leverage above the venue's cap for the size is lowered to 1x in ``map_case``.)"""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not case.query:
        return True
    q = case.query
    if "start" in q and "end" in q:
        start, end = _ms(q["start"]), _ms(q["end"])
        if start is not None and end is not None and end <= start:
            return False
    if "price_lo" in q and "price_hi" in q and float(q["price_hi"]) <= float(q["price_lo"]):
        return False
    return not ("scenario" in q and "symbol" in q)


def _above_cap(q: dict[str, object]) -> bool:
    """Whether the venue refuses this leverage for the size (no ``qty``: for any size)."""
    venue, symbol = str(q.get("venue", "binance")), str(q.get("symbol"))
    try:
        tiers = registry.default_tiers(venue, symbol)
        inst = registry.instrument(venue, symbol)
    except (InputError, KeyError, ValueError):
        return False  # not a built-in market: the view answers 404 before any cap
    leverage, entry = float(str(q["leverage"])), float(str(q["entry"]))
    if "qty" not in q:
        return leverage > max(t.max_leverage for t in tiers.tiers)
    try:
        check_leverage(inst, tiers, entry, leverage, float(str(q["qty"])))
    except InputError:
        return True
    return False


@schema.exclude(path="/api/score").parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_no_schema_violations(case: schemathesis.Case) -> None:
    case.call_and_validate()


@schema.include(path="/api/score").parametrize()
@settings(
    max_examples=4,  # each positive example simulates and scores a market (~1-3 s)
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_score_has_no_server_errors_and_no_schema_violations(case: schemathesis.Case) -> None:
    case.call_and_validate()
