"""Alert rules and their evaluation on each new step, with thresholds and cooldown.

A rule is ``{id, symbol, venue, condition, params, cooldown_s}``; ``symbol``/``venue`` may be
``"*"`` (any) and ``venue`` may be ``"aggregate"`` (:data:`AGGREGATE`: observations of the sum
of every venue of a market). ``venue = "*"`` matches every single venue but not the aggregate,
so a catch-all rule does not fire twice for the same move; name ``"aggregate"`` to get it.
Conditions and their parameters (every one has a default; unknown ones are refused) are in
:data:`PARAMS` and docs/signals.md.
Rules come from a TOML or JSON file (``[[rules]]`` tables / a ``rules`` list) or from Python.

:class:`AlertEngine` keeps bounded per-market history, evaluates every matching rule on each
:class:`Observation`, applies each rule's cooldown per market (in observation time, so replays
are deterministic) and hands fired alerts to a :class:`~liqscope.signals.delivery.Dispatcher`.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from liqscope.domain.errors import InputError
from liqscope.domain.records import Record
from liqscope.model.estimator import Heatmap
from liqscope.model.steps import Steps
from liqscope.signals.cascade import cascade_read
from liqscope.signals.clusters import Cluster, LevelMap, find_clusters, log_return_sigma, mass_near
from liqscope.signals.delivery import Dispatcher
from liqscope.signals.levels import SRLevel, crossed, realized_levels
from liqscope.signals.momentum import momentum_read
from liqscope.signals.proximity import proximity
from liqscope.signals.spikes import SpikeTracker
from liqscope.signals.window import RealizedWindow, realized_window

Condition = Literal["proximity", "spike", "cascade", "level_break", "momentum"]

AGGREGATE = "aggregate"
"""The venue name of aggregate observations (all venues of one market summed)."""

_STATEFUL = frozenset({"spike", "level_break"})
"""Conditions whose check updates the market's history (the others only read it)."""

_CLUSTER_KEYS = ("side", "threshold_usd", "factor", "window_pct", "sigma_window", "horizon_steps")

PARAMS: dict[str, dict[str, Any]] = {
    "proximity": {
        "pct": 1.0,
        "k_sigma": None,
        "min_usd": 0.0,
        "side": "both",
        "threshold_usd": None,
        "factor": 2.0,
        "window_pct": 20.0,
        "sigma_window": 240,
        "horizon_steps": 60,
    },
    "spike": {
        "band_pct": 2.0,
        "window": 60,
        "method": "ratio",
        "threshold": 1.5,
        "min_usd": 0.0,
        "side": "both",
    },
    "cascade": {"window": 5, "baseline": 240, "ratio": 5.0, "min_usd": 0.0, "move_pct": 0.5},
    "level_break": {
        "bucket_pct": 0.25,
        "factor": 3.0,
        "min_usd": 0.0,
        "lookback": 10_080,
        "half_life_ms": None,
        "refresh": 60,
    },
    "momentum": {
        "window": 60,
        "baseline": 1440,
        "move_pct": 1.0,
        "low_ratio": 0.5,
        "labels": ["falling_without_long_liquidations", "rising_without_short_liquidations"],
    },
}
CONDITIONS: tuple[str, ...] = tuple(PARAMS)


@dataclass(frozen=True)
class AlertRule(Record):
    """One alert rule; ``params`` are merged over the condition's defaults."""

    id: str
    condition: str
    symbol: str = "*"
    venue: str = "*"
    params: Mapping[str, Any] = field(default_factory=dict)
    cooldown_s: float = 900.0

    def __post_init__(self) -> None:
        if not self.id or not isinstance(self.id, str):
            raise InputError("every alert rule needs a non-empty id")
        if self.condition not in PARAMS:
            raise InputError(
                f"rule {self.id}: unknown condition {self.condition!r} "
                f"(expected one of {', '.join(CONDITIONS)})"
            )
        unknown = set(self.params) - set(PARAMS[self.condition])
        if unknown:
            raise InputError(
                f"rule {self.id}: unknown parameter(s) {', '.join(sorted(unknown))} for "
                f"{self.condition} (known: {', '.join(PARAMS[self.condition])})"
            )
        if not (math.isfinite(self.cooldown_s) and self.cooldown_s >= 0):
            raise InputError(f"rule {self.id}: cooldown_s must be >= 0")
        merged = {**PARAMS[self.condition], **dict(self.params)}
        for k, v in merged.items():
            if isinstance(v, bool) or v is None or k in ("side", "method", "labels"):
                continue
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise InputError(f"rule {self.id}: {k} must be a number >= 0, got {v!r}")
        if merged.get("side", "both") not in ("both", "long", "short"):
            raise InputError(f"rule {self.id}: side must be both, long or short")
        if merged.get("method", "ratio") not in ("ratio", "z"):
            raise InputError(f"rule {self.id}: method must be ratio or z")
        for k in ("window", "baseline", "sigma_window", "lookback", "refresh"):
            if k in merged and int(merged[k]) < 1:
                raise InputError(f"rule {self.id}: {k} must be >= 1")
        object.__setattr__(self, "params", merged)

    def matches(self, venue: str, symbol: str) -> bool:
        """Whether the rule applies to ``(venue, symbol)``; ``"*"`` venues skip the aggregate."""
        if self.symbol not in ("*", symbol):
            return False
        return self.venue == venue or (self.venue == "*" and venue != AGGREGATE)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AlertRule:
        known = {"id", "condition", "symbol", "venue", "params", "cooldown_s"}
        extra = set(d) - known
        params = dict(d.get("params", {}))
        # flat style: threshold parameters directly in the rule table
        for k in extra:
            params[k] = d[k]
        try:
            return cls(
                id=str(d["id"]),
                condition=str(d["condition"]),
                symbol=str(d.get("symbol", "*")),
                venue=str(d.get("venue", "*")),
                params=params,
                cooldown_s=float(d.get("cooldown_s", 900.0)),
            )
        except KeyError as exc:
            raise InputError(f"alert rule is missing {exc.args[0]!r}: {dict(d)}") from None
        except (TypeError, ValueError) as exc:
            raise InputError(f"invalid alert rule {dict(d)}: {exc}") from None


def load_rules(path: str | Path) -> list[AlertRule]:
    """Rules from a ``.toml`` (``[[rules]]``) or ``.json`` (a list, or ``{"rules": [...]}``)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"rules file {p} not found")
    try:
        if p.suffix.lower() == ".toml":
            data: Any = tomllib.loads(p.read_text(encoding="utf-8"))
        elif p.suffix.lower() == ".json":
            data = json.loads(p.read_text(encoding="utf-8"))
        else:
            raise InputError(f"rules file {p}: use .toml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"rules file {p}: {exc}") from None
    items = data.get("rules", []) if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise InputError(f"rules file {p}: expected a list of rule tables")
    rules = [AlertRule.from_dict(x) for x in items]
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise InputError(f"rules file {p}: duplicate rule ids")
    return rules


@dataclass(frozen=True, slots=True)
class Observation:
    """One new step of one market. ``levels`` is the map known at the end of the step
    (None: map-based conditions are skipped). ``liquidations`` are the step's realized
    liquidations as ``(price, usd, side)`` when known (side +1 long, -1 short)."""

    ts: int
    venue: str
    symbol: str
    price: float
    levels: LevelMap | None = None
    liq_long_usd: float = 0.0
    liq_short_usd: float = 0.0
    high: float | None = None
    low: float | None = None
    liquidations: Sequence[tuple[float, float, int]] = ()
    context: Mapping[str, Any] | None = None
    """Extra facts merged into every fired alert's ``details`` (e.g. which venues an
    aggregate observation sums and which of their liquidation feeds are sampled)."""


@dataclass(frozen=True, slots=True)
class Alert(Record):
    """A fired alert and what triggered it."""

    rule_id: str
    venue: str
    symbol: str
    condition: str
    ts: int
    price: float
    message: str
    details: dict[str, Any]


class _Market:
    """Bounded history of one (venue, symbol)."""

    def __init__(self, depth: int) -> None:
        self.close: deque[float] = deque(maxlen=depth)
        self.liq_l: deque[float] = deque(maxlen=depth)
        self.liq_s: deque[float] = deque(maxlen=depth)
        self.spikes: dict[str, SpikeTracker] = {}
        self.realized: dict[str, deque[tuple[int, float, float, int]]] = {}
        self.sr: dict[str, list[SRLevel]] = {}
        self.sr_age: dict[str, int] = {}
        self.steps = 0

    def arrays(self, n: int) -> tuple[np.ndarray[Any, Any], ...]:
        def tail(d: deque[float]) -> np.ndarray[Any, Any]:
            k = min(n, len(d))
            return np.fromiter((d[i] for i in range(len(d) - k, len(d))), np.float64, k)

        return tail(self.liq_l), tail(self.liq_s), tail(self.close)

    def window(self, p: Mapping[str, Any]) -> RealizedWindow | None:
        """The last ``p["window"]`` steps against the ``p["baseline"]`` steps before them."""
        w, b = int(p["window"]), int(p["baseline"])
        return realized_window(*self.arrays(w + b + 1), window=w, baseline=b)


def _fmt_usd(x: float) -> str:
    for div, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"${x / div:.1f}{suf}"
    return f"${x:.0f}"


class AlertEngine:
    """Evaluates rules on each observation; see the module docstring."""

    def __init__(
        self,
        rules: Iterable[AlertRule] = (),
        dispatcher: Dispatcher | None = None,
        *,
        history: int | None = None,
    ) -> None:
        self._rules: dict[str, AlertRule] = {}
        self.dispatcher = dispatcher or Dispatcher()
        self._fixed_depth = history
        self._markets: dict[tuple[str, str], _Market] = {}
        self._last: dict[tuple[str, str, str], int] = {}
        for r in rules:
            self.add_rule(r)

    # ------------------------------------------------------------------ rules
    @property
    def rules(self) -> list[AlertRule]:
        return list(self._rules.values())

    def add_rule(self, rule: AlertRule) -> None:
        """Add or replace (same id) a rule."""
        self._rules[rule.id] = rule

    def remove_rule(self, rule_id: str) -> bool:
        return self._rules.pop(rule_id, None) is not None

    def reset_cooldowns(self, venue: str | None = None, symbol: str | None = None) -> None:
        """Forget when rules last fired (for one market, or all): e.g. after a muted warm-up."""
        for key in list(self._last):
            if (venue is None or key[1] == venue) and (symbol is None or key[2] == symbol):
                del self._last[key]

    def _depth(self) -> int:
        if self._fixed_depth:
            return self._fixed_depth
        need = 2
        for r in self._rules.values():
            p = r.params
            if r.condition == "proximity":
                need = max(need, int(p["sigma_window"]) + 1)
            elif r.condition in ("cascade", "momentum"):
                need = max(need, int(p["window"]) + int(p["baseline"]) + 1)
        return need

    def _market(self, venue: str, symbol: str) -> _Market:
        key = (venue, symbol)
        m = self._markets.get(key)
        depth = self._depth()
        if m is None or (m.close.maxlen or 0) < depth:
            new = _Market(depth)
            if m is not None:  # keep what we had when rules grow the needed depth
                new.close.extend(m.close)
                new.liq_l.extend(m.liq_l)
                new.liq_s.extend(m.liq_s)
                new.spikes, new.realized, new.sr, new.sr_age = m.spikes, m.realized, m.sr, m.sr_age
                new.steps = m.steps
            self._markets[key] = m = new
        return m

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, obs: Observation) -> list[Alert]:
        """Update the market's history with ``obs``, evaluate every matching rule, deliver
        and return the alerts that fired (after cooldown)."""
        return self._evaluate(obs, warm=False)

    def warm(self, obs: Observation) -> None:
        """Add ``obs`` to the market's history exactly as :meth:`evaluate` would, but judge
        only the rules whose check keeps state (:data:`_STATEFUL`), fire nothing and leave
        cooldowns alone: a muted warm-up that costs what the history needs."""
        self._evaluate(obs, warm=True)

    def _evaluate(self, obs: Observation, warm: bool) -> list[Alert]:
        if not (math.isfinite(obs.price) and obs.price > 0):
            raise InputError(f"observation price must be positive, got {obs.price}")
        m = self._market(obs.venue, obs.symbol)
        prev_close = m.close[-1] if m.close else None
        m.close.append(float(obs.price))
        m.liq_l.append(float(obs.liq_long_usd) if obs.liq_long_usd == obs.liq_long_usd else 0.0)
        m.liq_s.append(float(obs.liq_short_usd) if obs.liq_short_usd == obs.liq_short_usd else 0.0)
        m.steps += 1
        levels = obs.levels.with_price(obs.price, obs.ts) if obs.levels is not None else None
        cluster_cache: dict[tuple[Any, ...], list[Cluster]] = {}
        fired: list[Alert] = []
        for rule in self._rules.values():
            if not rule.matches(obs.venue, obs.symbol):
                continue
            if warm and rule.condition not in _STATEFUL:
                continue
            hit = self._check(rule, obs, m, levels, prev_close, cluster_cache)
            if hit is None or warm:
                continue
            key = (rule.id, obs.venue, obs.symbol)
            last = self._last.get(key)
            if last is not None and obs.ts - last < rule.cooldown_s * 1000:
                continue
            self._last[key] = obs.ts
            message, details = hit
            if obs.context:
                details = {**details, **obs.context}
            alert = Alert(
                rule.id, obs.venue, obs.symbol, rule.condition, obs.ts, obs.price, message,
                details,
            )  # fmt: skip
            fired.append(alert)
            self.dispatcher.deliver(alert.to_dict())
        return fired

    def _check(
        self,
        rule: AlertRule,
        obs: Observation,
        m: _Market,
        levels: LevelMap | None,
        prev_close: float | None,
        cache: dict[tuple[Any, ...], list[Cluster]],
    ) -> tuple[str, dict[str, Any]] | None:
        p = rule.params
        sym = obs.symbol
        if rule.condition == "proximity":
            if levels is None:
                return None
            key = (*(p[k] for k in _CLUSTER_KEYS), p["min_usd"])
            cl = cache.get(key)
            if cl is None:
                _, _, close = m.arrays(int(p["sigma_window"]) + 1)
                sigma = log_return_sigma(close, int(p["sigma_window"]))
                cl = find_clusters(
                    levels,
                    side=p["side"],
                    threshold_usd=p["threshold_usd"],
                    factor=float(p["factor"]),
                    window_pct=float(p["window_pct"]),
                    min_usd=float(p["min_usd"]),
                    sigma=sigma,
                    horizon_steps=float(p["horizon_steps"]),
                )
                cache[key] = cl
            warns = proximity(cl, pct=p["pct"], k_sigma=p["k_sigma"], min_usd=float(p["min_usd"]))
            if not warns:
                return None
            c = warns[0].cluster
            where = "above" if c.side == "short" else "below"
            sig = "" if c.distance_sigma is None else f", {c.distance_sigma:.2f} sigma"
            msg = (
                f"{sym} {obs.price:,.2f} is {c.distance_pct:.2f}%{sig} from a "
                f"{_fmt_usd(c.usd)} {c.side} cluster {where} ({c.low:,.0f}-{c.high:,.0f})"
            )
            return msg, {"clusters": [w.to_dict() for w in warns[:5]]}
        if rule.condition == "spike":
            if levels is None:
                return None
            mass = mass_near(levels, float(p["band_pct"]), p["side"])
            tr = m.spikes.get(rule.id)
            if tr is None or tr.window != int(p["window"]) or tr.method != p["method"]:
                tr = m.spikes[rule.id] = SpikeTracker(int(p["window"]), p["method"])
            score = tr.push(mass)
            if not (score == score and score >= float(p["threshold"])):
                return None
            if mass < float(p["min_usd"]):
                return None
            msg = (
                f"{sym}: liquidation mass within ±{p['band_pct']:g}% jumped to "
                f"{_fmt_usd(mass)} ({p['method']} score {score:.2f})"
            )
            return msg, {"mass_usd": mass, "score": score, "method": p["method"]}
        if rule.condition == "cascade":
            reads = cascade_read(
                m.window(p),
                ratio=float(p["ratio"]),
                min_usd=float(p["min_usd"]),
                move_pct=float(p["move_pct"]),
            )
            act = [r for r in reads if r.active]
            if not act:
                return None
            r = max(act, key=lambda x: x.usd)
            msg = (
                f"{sym}: {r.side} liquidation cascade in progress: {_fmt_usd(r.usd)} in "
                f"{int(p['window'])} steps ({r.ratio:.1f}x baseline), price {r.move_pct:+.2f}%"
            )
            return msg, {"reads": [x.to_dict() for x in reads]}
        if rule.condition == "level_break":
            return self._level_break(rule, obs, m, prev_close)
        if rule.condition == "momentum":
            win = m.window(p)
            if win is None or not win.full:
                return None
            read = momentum_read(
                win, move_pct=float(p["move_pct"]), low_ratio=float(p["low_ratio"])
            )
            if read.label not in set(p["labels"]):
                return None
            move = f"{read.move_pct:+.2f}% in {int(p['window'])} steps"
            msg = f"{sym}: {read.label.replace('_', ' ')} ({move})"
            return msg, read.to_dict()
        return None  # pragma: no cover - conditions are validated

    def _level_break(
        self, rule: AlertRule, obs: Observation, m: _Market, prev_close: float | None
    ) -> tuple[str, dict[str, Any]] | None:
        p = rule.params
        hist = m.realized.get(rule.id)
        if hist is None:
            hist = m.realized[rule.id] = deque(maxlen=int(p["lookback"]) * 4)
        if obs.liquidations:
            for px, usd, sd in obs.liquidations:
                hist.append((obs.ts, float(px), float(usd), int(sd)))
        else:  # no event prices: longs at (low + close) / 2, shorts at (high + close) / 2
            lo = obs.low if obs.low is not None else obs.price
            hi = obs.high if obs.high is not None else obs.price
            if obs.liq_long_usd and obs.liq_long_usd > 0:
                hist.append((obs.ts, (lo + obs.price) / 2, float(obs.liq_long_usd), 1))
            if obs.liq_short_usd and obs.liq_short_usd > 0:
                hist.append((obs.ts, (hi + obs.price) / 2, float(obs.liq_short_usd), -1))
        if prev_close is None:
            return None
        age = m.sr_age.get(rule.id, 0)
        if rule.id not in m.sr or m.steps - age >= int(p["refresh"]):
            if hist:
                arr = np.array(hist, dtype=np.float64)
                m.sr[rule.id] = realized_levels(
                    arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2], arr[:, 3].astype(np.int64),
                    prev_close, bucket_pct=float(p["bucket_pct"]), factor=float(p["factor"]),
                    min_usd=float(p["min_usd"]), half_life_ms=p["half_life_ms"], now_ms=obs.ts,
                )  # fmt: skip
            else:
                m.sr[rule.id] = []
            m.sr_age[rule.id] = m.steps
        broken = crossed(m.sr[rule.id], prev_close, obs.price)
        if not broken:
            return None
        lv = max(broken, key=lambda x: x.usd)
        msg = (
            f"{obs.symbol}: price broke the {lv.kind} at {lv.low:,.0f}-{lv.high:,.0f} "
            f"({_fmt_usd(lv.usd)} realized liquidations there)"
        )
        m.sr_age[rule.id] = -(10**9)  # the break changes which side levels are on: refresh
        return msg, {"levels": [x.to_dict() for x in broken]}


# ----------------------------------------------------------------------------- replay helpers


def observations(
    hm: Heatmap,
    steps: Steps,
    *,
    venue: str | None = None,
    symbol: str | None = None,
    tiers: Iterable[float] | None = None,
) -> Iterator[Observation]:
    """One observation per step with the map *known at the end of that step*: the step's
    column if the step closes it, else the previous column read at the step's close (never a
    column that includes later steps). Use ``column_ms`` = step length for a map per step."""
    col0 = int(hm.columns_ts[0]) // hm.column_ms
    cidx = steps.ts // hm.column_ms - col0
    last_of_col = np.r_[cidx[1:] != cidx[:-1], True]
    cache: dict[int, LevelMap] = {}
    ven = venue or steps.venue or hm.venue or "?"
    sym = symbol or steps.symbol or hm.symbol or "?"
    tl = list(tiers) if tiers is not None else None
    for i in range(len(steps)):
        c = int(cidx[i]) if last_of_col[i] else int(cidx[i]) - 1
        lm = None
        if 0 <= c < hm.columns_ts.shape[0]:
            lm = cache.get(c)
            if lm is None:
                cache.clear()
                lm = cache[c] = LevelMap.from_heatmap(hm, c, tl)
        yield Observation(
            ts=int(steps.ts[i]),
            venue=ven,
            symbol=sym,
            price=float(steps.close[i]),
            levels=lm,
            liq_long_usd=float(np.nan_to_num(steps.liq_long_usd[i])),
            liq_short_usd=float(np.nan_to_num(steps.liq_short_usd[i])),
            high=float(steps.high[i]),
            low=float(steps.low[i]),
        )


def replay(engine: AlertEngine, obs: Iterable[Observation]) -> list[Alert]:
    """Evaluate ``engine`` over a sequence of observations; all fired alerts in order."""
    out: list[Alert] = []
    for o in obs:
        out.extend(engine.evaluate(o))
    return out
