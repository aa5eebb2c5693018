"""Simulated Hyperliquid accounts: cross and isolated margin, ``clearinghouseState``, trade
``users`` and the request-weight limit.

Every open position of the simulated market belongs to one account (address
``address("pos:<coin>", id)``; Hyperliquid holds one position per coin and account). A
deterministic share of the accounts (``cross_share``, by address hash) is in cross margin,
the rest isolated. Values follow Hyperliquid's documentation:

- maintenance margin rate ``l = 1 / (2 × maxLeverage)`` (half the initial margin at max
  leverage); ``positionValue = |szi| × mark``; ``unrealizedPnl = side × |szi| × (mark − entry)``;
- isolated: ``marginUsed = |szi| × entry / leverage + unrealizedPnl``; margin available =
  marginUsed − l × positionValue;
- cross: the account's collateral is the position's initial margin at entry (so the venue's
  liquidation price is the one the simulator liquidates at), ``accountValue`` = collateral +
  unrealized PnL, ``marginUsed = positionValue / leverage``, margin available = accountValue −
  crossMaintenanceMarginUsed;
- ``liquidationPx = mark − side × margin_available / |szi| / (1 − l × side)``.

Public trades name both counterparties: a trade that opens or closes a simulated position
carries that account's address (the passive opener on the other side as maker); others keep
the synthetic trader / maker addresses. The request-weight limit (1200 per minute per IP;
``clearinghouseState`` and a few reads weigh 2, most others 20) is enforced with HTTP 429 once
:meth:`SimAccounts.enforce` is called; the budget counts every request it saw.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from liqscope.sim.config import PASSIVE, Positions
from liqscope.sim.exchange.server import BadParam
from liqscope.store.positions import AccountPoll, PositionSnapshot, record_accounts, record_polls
from liqscope.venues.hyperliquid.rules import maintenance_margin_rate

if TYPE_CHECKING:
    from starlette.requests import Request

    from liqscope.sim.exchange.hyperliquid import HyperliquidServer

__all__ = [
    "DEFAULT_WEIGHT",
    "INFO_WEIGHTS",
    "WEIGHT_LIMIT",
    "WINDOW_MS",
    "SimAccounts",
    "TruePosition",
    "WeightBudget",
    "fill_positions",
    "info_weight",
    "liquidation_px",
]

WEIGHT_LIMIT = 1200
"""Hyperliquid's REST budget: weight per minute per IP."""
WINDOW_MS = 60_000
INFO_WEIGHTS: dict[str, int] = {
    "l2Book": 2,
    "allMids": 2,
    "clearinghouseState": 2,
    "orderStatus": 2,
    "spotClearinghouseState": 2,
    "exchangeStatus": 2,
    "userRole": 60,
}
DEFAULT_WEIGHT = 20
"""Weight of every other ``/info`` request (per-item surcharges are not charged here)."""


def info_weight(kind: str) -> int:
    """The documented base weight of an ``/info`` request of type ``kind``."""
    return INFO_WEIGHTS.get(kind, DEFAULT_WEIGHT)


def liquidation_px(mark: float, side: int, size: float, available: float, mmr: float) -> float:
    """Hyperliquid's liquidation price: ``mark − side·available/size/(1 − mmr·side)``."""
    return mark - side * available / size / (1.0 - mmr * side)


class WeightBudget:
    """A sliding one-minute weight window per client IP, on a simulated clock.

    ``admit`` charges a request and says whether it fits; rejected requests are not charged.
    ``log`` keeps every request ``(ts, ip, weight, admitted)`` so tests can check a client."""

    def __init__(
        self, now_ms: Callable[[], int], limit: int = WEIGHT_LIMIT, window_ms: int = WINDOW_MS
    ) -> None:
        self.limit = limit
        self.window_ms = window_ms
        self._now = now_ms
        self._spent: dict[str, deque[tuple[int, int]]] = {}
        self.log: list[tuple[int, str, int, bool]] = []

    def spent(self, ip: str, now: int | None = None) -> int:
        """Weight admitted for ``ip`` in the window ending now."""
        t = self._now() if now is None else now
        q = self._spent.setdefault(ip, deque())
        while q and q[0][0] <= t - self.window_ms:
            q.popleft()
        return sum(w for _, w in q)

    def admit(self, ip: str, weight: int) -> bool:
        now = self._now()
        ok = self.spent(ip, now) + weight <= self.limit
        if ok:
            self._spent[ip].append((now, weight))
        self.log.append((now, ip, weight, ok))
        return ok

    @property
    def rejected(self) -> int:
        return sum(1 for *_, ok in self.log if not ok)

    def max_requested(self, ip: str | None = None) -> int:
        """The most weight requested (admitted or not) in any window of ``window_ms``."""
        rows = [(t, w) for t, i, w, _ in self.log if ip is None or i == ip]
        best = total = lo = 0
        for t, w in rows:
            total += w
            while rows[lo][0] <= t - self.window_ms:
                total -= rows[lo][1]
                lo += 1
            best = max(best, total)
        return best


@dataclass(frozen=True, slots=True)
class TruePosition:
    """What the simulator knew about one position when it answered ``clearinghouseState``."""

    user: str
    coin: str
    ts: int
    side: int
    qty: float
    entry_px: float
    leverage: float
    margin_mode: str  # "cross" | "isolated"
    liq_px: float  # exact (unrounded) liquidation price
    mark_px: float


def _unit(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 2**32


class SimAccounts:
    """The accounts behind the simulated Hyperliquid's open positions."""

    def __init__(self, server: HyperliquidServer, cross_share: float = 0.35) -> None:
        if not 0.0 <= cross_share <= 1.0:
            raise ValueError("cross_share must lie in [0, 1]")
        self.server = server
        self.cross_share = cross_share
        self.budget: WeightBudget | None = None
        self.served: dict[str, list[TruePosition]] = {}
        """The last answer per user (exact values): the ground truth of what was polled."""
        self._owner: dict[str, tuple[str, int]] = {}
        self._named: dict[str, int] = {}  # per coin: ids addressed so far
        self._trade_index: dict[str, tuple[int, dict[int, list[tuple[int, int, float, int]]]]] = {}

    # -- rate limit ---------------------------------------------------------------------------
    def enforce(self, limit: int = WEIGHT_LIMIT, window_ms: int = WINDOW_MS) -> WeightBudget:
        """Start enforcing the weight limit (429 beyond it) on the server's clock."""
        self.budget = WeightBudget(self.server.clock.now_ms, limit, window_ms)
        return self.budget

    def charge(self, request: Request, kind: str) -> None:
        """Charge one ``/info`` request; raises the venue's 429 when over budget."""
        if self.budget is None:
            return
        ip = request.client.host if request.client else "?"
        if not self.budget.admit(ip, info_weight(kind)):
            raise BadParam("Too many requests: rate limited (1200 weight per minute)", 0, 429)

    # -- addresses ----------------------------------------------------------------------------
    def margin_mode(self, user: str) -> str:
        return "cross" if _unit(f"mode:{user}") < self.cross_share else "isolated"

    def _name_up_to(self, coin: str, n: int) -> None:
        from liqscope.sim.exchange.hyperliquid import address

        for pid in range(self._named.get(coin, 0), n):
            self._owner[address(f"pos:{coin}", pid)] = (coin, pid)
        self._named[coin] = max(n, self._named.get(coin, 0))

    def _log(self, coin: str) -> Positions | None:
        src = self.server.positions.get(coin)
        owner = getattr(src, "__self__", None)
        if owner is None or not callable(getattr(owner, "position_log", None)):
            return None
        with self.server.by_coin[coin]._lock:  # the market is not safe while it advances
            log: Positions = owner.position_log()
        return log

    # -- trades -------------------------------------------------------------------------------
    def _index(self, coin: str) -> dict[int, list[tuple[int, int, float, int]]] | None:
        """Per ms: ``(position id, side, qty, role)`` of opens (role 0 taker, 1 passive) and
        closes (role 2)."""
        log = self._log(coin)
        if log is None:
            return None
        cached = self._trade_index.get(coin)
        if cached is not None and cached[0] == len(log) + int((log.exit_reason != 0).sum()):
            return cached[1]
        idx: dict[int, list[tuple[int, int, float, int]]] = {}
        for k in range(len(log)):
            role = 1 if int(log.kind[k]) == PASSIVE else 0
            row = (int(log.id[k]), int(log.side[k]), float(log.qty[k]), role)
            idx.setdefault(int(log.entry_ts[k]), []).append(row)
            if int(log.exit_reason[k]) != 0:
                idx.setdefault(int(log.exit_ts[k]), []).append((row[0], row[1], row[2], 2))
        self._trade_index[coin] = (len(log) + int((log.exit_reason != 0).sum()), idx)
        self._name_up_to(coin, len(log))
        return idx

    def trade_users(self, coin: str, ts: int, qty: float, buy: bool) -> list[str] | None:
        """``[buyer, seller]`` of a public trade when it opened or closed a simulated
        position (None otherwise: the caller keeps its synthetic addresses)."""
        from liqscope.sim.exchange.hyperliquid import address

        idx = self._index(coin)
        rows = idx.get(ts) if idx else None
        if not rows:
            return None
        taker_side = 1 if buy else -1

        def same(q: float) -> bool:
            return abs(q - qty) <= 1e-9 * max(q, qty) + 1e-12

        taker = maker = None
        for pid, side, q, role in rows:
            if not same(q):
                continue
            opened = role == 0 and side == taker_side
            closed = role == 2 and side == -taker_side
            if taker is None and (opened or closed):
                taker = pid
            elif maker is None and role == 1 and side == -taker_side:
                maker = pid
        if taker is None and maker is None:
            return None
        fallback = address("maker", int(ts) % 89)
        t = address(f"pos:{coin}", taker) if taker is not None else fallback
        m = address(f"pos:{coin}", maker) if maker is not None else fallback
        return [t, m] if buy else [m, t]

    # -- clearinghouseState -------------------------------------------------------------------
    def _holdings(self, user: str) -> list[tuple[str, Positions, int, float]]:
        """``(coin, open positions, row, mark)`` of every open position of ``user``."""
        out = []
        for coin, h in self.server.by_coin.items():
            pos = self.server._open(coin)
            j = h.sec_index(self.server.clock.now_ms())
            if pos is None or j < 0 or len(pos) == 0:
                continue
            self._name_up_to(coin, int(pos.id.max()) + 1)
            owner = self._owner.get(user)
            if owner is None or owner[0] != coin:
                continue
            rows = np.flatnonzero(pos.id == owner[1])
            if rows.size:
                out.append((coin, pos, int(rows[0]), float(h.col("mark_px")[j])))
        return out

    def clearinghouse(self, user: Any) -> dict[str, Any]:
        """The ``clearinghouseState`` reply of ``user`` now (and remember its truth)."""
        from liqscope.sim.exchange.hyperliquid import asset_info, fmt_hl_px, fmt_num

        if not isinstance(user, str) or not user.startswith("0x") or len(user) != 42:
            raise BadParam("Failed to deserialize the JSON body into the target type", 0, 422)
        user = user.lower()
        now = self.server.clock.now_ms()
        mode = self.margin_mode(user)
        held = self._holdings(user)
        rows: list[dict[str, float]] = []
        for coin, pos, k, mark in held:
            side, qty = int(pos.side[k]), float(pos.qty[k])
            entry, lev = float(pos.entry_px[k]), float(pos.leverage[k])
            rows.append({"side": side, "qty": qty, "entry": entry, "lev": lev, "mark": mark,
                         "mmr": maintenance_margin_rate(asset_info(coin)[1]),
                         "upnl": side * qty * (mark - entry), "im": qty * entry / lev})  # fmt: skip
        cross_value = sum(r["im"] + r["upnl"] for r in rows) if mode == "cross" else 0.0
        cross_mm = sum(r["mmr"] * r["qty"] * r["mark"] for r in rows) if mode == "cross" else 0.0
        positions, truths = [], []
        ntl = margin_sum = iso_value = 0.0
        for (coin, _, _, _), r in zip(held, rows, strict=True):
            szd, max_lev = asset_info(coin)
            value = r["qty"] * r["mark"]
            if mode == "cross":
                margin = value / r["lev"]
                available = cross_value - cross_mm
            else:
                margin = r["im"] + r["upnl"]
                available = margin - r["mmr"] * value
                iso_value += margin
            liq = liquidation_px(r["mark"], int(r["side"]), r["qty"], available, r["mmr"])
            ok = math.isfinite(liq) and liq > 0
            ntl += value
            margin_sum += margin
            truths.append(
                TruePosition(user, coin, now, int(r["side"]), r["qty"], r["entry"], r["lev"],
                             mode, liq if ok else math.nan, r["mark"])
            )  # fmt: skip
            positions.append({"type": "oneWay", "position": {
                "coin": coin,
                "szi": fmt_num(r["side"] * r["qty"], szd),
                "leverage": {"type": mode, "value": max(1, round(r["lev"]))}
                | ({"rawUsd": fmt_num(-r["side"] * r["qty"] * r["entry"] + r["im"], 6)}
                   if mode == "isolated" else {}),
                "entryPx": fmt_hl_px(r["entry"], szd),
                "positionValue": fmt_num(value, 6),
                "unrealizedPnl": fmt_num(r["upnl"], 6),
                "returnOnEquity": fmt_num(r["upnl"] / r["im"], 8),
                "liquidationPx": fmt_hl_px(liq, szd) if ok else None,
                "marginUsed": fmt_num(margin, 6),
                "maxLeverage": max_lev,
                "cumFunding": {"allTime": "0.0", "sinceOpen": "0.0", "sinceChange": "0.0"},
            }})  # fmt: skip
        self.served[user] = truths
        account = cross_value + iso_value
        summary = {"accountValue": fmt_num(account, 6), "totalNtlPos": fmt_num(ntl, 6),
                   "totalRawUsd": fmt_num(account - (ntl if rows else 0.0), 6),
                   "totalMarginUsed": fmt_num(margin_sum, 6)}  # fmt: skip
        cross = summary if mode == "cross" else {k: "0.0" for k in summary}
        return {
            "marginSummary": summary,
            "crossMarginSummary": cross,
            "crossMaintenanceMarginUsed": fmt_num(cross_mm, 6),
            "withdrawable": fmt_num(max(0.0, cross_value - margin_sum), 6)
            if mode == "cross"
            else "0.0",
            "assetPositions": positions,
            "time": now,
        }

    def truth(self, coin: str) -> list[TruePosition]:
        """The exact positions of ``coin`` as last served to a poller, one per account."""
        return [p for ps in self.served.values() for p in ps if p.coin == coin]


def fill_positions(
    store: object, coin: str, ts: int, price: float, n: int = 200, seed: int = 5
) -> list[AccountPoll]:
    """Write ``n`` synthetic Hyperliquid accounts, each polled once at ``ts`` with one
    position in ``coin`` around ``price`` (liquidation prices at a 1 % maintenance rate; a
    third cross), through ``store.positions``; for tests and demos that need measured
    positions without a simulated venue. Returns the polls written."""
    from liqscope.sim.exchange.hyperliquid import address

    rng = np.random.default_rng(seed)
    levs = np.array([2.0, 3.0, 5.0, 10.0, 20.0, 25.0, 40.0])
    polls: list[AccountPoll] = []
    for i in range(n):
        user = address(f"synthetic:{coin}", i)
        side = 1 if rng.random() < 0.55 else -1
        lev = float(rng.choice(levs, p=[0.05, 0.1, 0.2, 0.3, 0.2, 0.1, 0.05]))
        entry = price * float(1.0 + rng.normal(0.0, 0.01))
        qty = float(rng.lognormal(9.0, 1.2)) / entry
        liq = entry * (1.0 - side * (1.0 / lev - 0.01))
        mode = "cross" if i % 3 == 0 else "isolated"
        snap = PositionSnapshot("hyperliquid", user, coin, ts, side * qty, entry, lev, mode, liq,
                                qty * entry / lev, qty * price)  # fmt: skip
        polls.append(AccountPoll("hyperliquid", user, ts, (snap,)))
    record_accounts(store, "hyperliquid", [(p.address, "trades") for p in polls], ts)
    record_polls(store, polls)
    return polls
