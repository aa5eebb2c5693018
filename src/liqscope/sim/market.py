"""A simulated perpetual-futures market with known positions (ground truth).

Design (details in docs/simulator.md):

- Price: ``fair = p0 · exp(x + impact)``. ``x`` is an exogenous random walk (the *driver*, shared
  between venues when they share ``driver_seed``); ``impact`` is the sum of a permanent and a
  decaying part, moved by every taker trade (opens, closes, forced orders). Mark = EMA of fair;
  index = ``p0 · exp(x + index_spill · impact)``. Liquidations trigger on the mark.
- Positions: a Poisson stream of traders (trend-following, mean-reverting, noise) opens isolated
  positions of heavy-tailed USD size and configurable leverage, as takers. Each taker open is
  matched by a new *passive* position on the other side (share ``passive_open_share``) or by the
  market maker (MM). Closes (lifetime hazard, take-profit, stop-loss) and liquidations are taker
  orders filled by the MM. The MM is unleveraged and never liquidated.
- Open interest = total long qty = total short qty, counting the MM's net inventory on its side,
  i.e. ``max(sum trader longs, sum trader shorts)``.
- Time: the hot loop (numba) steps one second; trades keep millisecond timestamps.
  Randomness is drawn per hour block from ``SeedSequence([seed, block, stream])``, so any split
  of ``advance`` calls gives bit-identical output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from liqscope.domain.instruments import Instrument
from liqscope.domain.liqprice import liquidation_price, position_measure, ratio_is_entry_independent
from liqscope.domain.registry import default_tiers, instrument
from liqscope.domain.tiers import TierTable
from liqscope.domain.types import Side
from liqscope.sim.config import BLOCK_S, F64, DriverPath, Positions, Regime, SimConfig
from liqscope.sim.crowd import draw_exits, draw_leverage, draw_lifetime, draw_sizes, regime_arrays
from liqscope.sim.kernel import initial_state, log_fair, maker_position, run_kernel
from liqscope.sim.trace import TraceChunk

# Market's own API, with the config types it takes and returns (constants: ``sim.config``)
__all__ = ["DriverPath", "Market", "Positions", "Regime", "SimConfig", "max_leverage"]


def max_leverage(instrument: Instrument, tiers: TierTable, qty: float, price: float) -> float:
    """Highest leverage the tier table allows for ``qty`` (base units, contracts if inverse)."""
    return tiers.max_leverage_for(position_measure(instrument, tiers.basis, qty, price))


@dataclass
class _Block:
    index: int
    z: F64
    ar: dict[str, npt.NDArray[Any]] = field(default_factory=dict)


class Market:
    """One simulated venue/symbol. Deterministic: same ``config`` and ``seed`` give bit-identical
    traces, however ``advance`` calls are split."""

    def __init__(
        self,
        config: SimConfig,
        seed: int,
        *,
        tiers: TierTable | None = None,
        path: DriverPath | None = None,
        keep_warmup: bool = False,
    ) -> None:
        if config.start_ms % 1000 or config.warmup_s < 0:
            raise ValueError("start_ms must be a whole second and warmup_s >= 0")
        self._origin_ms = config.start_ms - 1000 * config.warmup_s
        if path is not None and path.origin_ms != self._origin_ms:
            raise ValueError("a shared path must start with the market's warm-up")
        #: the shared driver this market follows (None: its own random walk)
        self.path = path
        self._path_key = path.register() if path is not None else -1
        if len(config.leverages) != len(config.leverage_weights):
            raise ValueError("leverages and leverage_weights differ in length")
        self.config = config
        self.seed = int(seed)
        self.driver_seed = int(config.driver_seed if config.driver_seed is not None else seed)
        self.instrument: Instrument = instrument(config.venue, config.symbol)
        self.tiers: TierTable = tiers or default_tiers(config.venue, config.symbol)
        # Size positions so that LP / entry does not depend on the entry price: fixed USD
        # notional when the tier measure is USD, else fixed base quantity (see _ratios).
        self.fixed_usd = ratio_is_entry_independent(self.instrument, self.tiers)
        #: True when every liquidation price equals ``liquidation_price`` at the actual entry.
        self.liq_exact = self.fixed_usd or all(t.maint_amount == 0 for t in self.tiers.tiers)
        c = config
        self._params = np.array(
            [
                c.initial_price,
                c.half_spread,
                c.impact_coef,
                c.impact_ref_usd,
                1.0 if c.impact == "sqrt" else 0.0,
                c.impact_permanent,
                0.5 ** (1.0 / c.impact_half_life_s),
                1.0 - math.exp(-1.0 / c.mark_tau_s),
                c.index_spill,
                1.0 - 0.5 ** (1.0 / c.trend_halflife_s),
                1.0 - 0.5 ** (1.0 / c.meanrev_halflife_s),
                c.signal_scale,
                c.funding_interest,
                c.funding_clamp,
                c.funding_cap,
                1.0 if self.instrument.inverse else 0.0,
                0.0 if self.fixed_usd else 1.0,
            ]
        )
        self._st = initial_state(c.initial_price)
        self._ist = np.zeros(6, dtype=np.int64)
        self._s = 0  # next second to simulate, counted from start
        self._block: _Block | None = None
        cap = 1024
        self._ob: dict[str, npt.NDArray[Any]] = {
            "pid": np.zeros(cap, np.int64),
            "side": np.zeros(cap, np.int8),
            "qty": np.zeros(cap),
            "lp": np.zeros(cap),
            "tp": np.zeros(cap),
            "sl": np.zeros(cap),
        }
        # indexed by position id: open-book slot, lifetime heap (time, id)
        self._px: dict[str, npt.NDArray[Any]] = {
            "slot": np.zeros(cap, np.int64),
            "hp_t": np.zeros(cap, np.int64),
            "hp_pid": np.zeros(cap, np.int64),
        }
        self._lg: dict[str, npt.NDArray[Any]] = {
            "entry_ts": np.zeros(cap, np.int64),
            "entry_px": np.zeros(cap),
            "side": np.zeros(cap, np.int8),
            "qty": np.zeros(cap),
            "leverage": np.zeros(cap),
            "liq_px": np.zeros(cap),
            "bk_px": np.zeros(cap),
            "kind": np.zeros(cap, np.int8),
            "tp_px": np.zeros(cap),
            "sl_px": np.zeros(cap),
            "exit_ts": np.zeros(cap, np.int64),
            "exit_px": np.zeros(cap),
            "exit_reason": np.zeros(cap, np.int8),
        }
        #: the warm-up's trace when ``keep_warmup`` (a shared path reads its marks)
        self.warmup_chunk: TraceChunk | None = None
        if config.warmup_s:
            warm = self.advance(config.start_ms)  # warm-up: simulated, not returned
            self.warmup_chunk = warm if keep_warmup else None

    # ------------------------------------------------------------------ public API
    @property
    def now_ms(self) -> int:
        """Everything before this time has been simulated."""
        return self._origin_ms + self._s * 1000

    @property
    def maker_inventory(self) -> float:
        """The market maker's net position in base units (+ long)."""
        return maker_position(self._st)

    @property
    def fair_price(self) -> float:
        c = self.config
        return c.initial_price * math.exp(log_fair(self._st))

    def advance(self, to_ms: int) -> TraceChunk:
        """Simulate up to ``to_ms`` (rounded down to a whole second) and return [now, to_ms)."""
        to_s = max((int(to_ms) - self._origin_ms) // 1000, self._s)
        start_ms = self.now_ms
        parts: list[dict[str, npt.NDArray[Any]]] = []
        while self._s < to_s:
            b = self._s // BLOCK_S
            end = min(to_s, (b + 1) * BLOCK_S)
            parts.append(self._run(b, self._s, end))
            self._s = end
        return self._chunk(start_ms, self.now_ms, parts)

    def open_positions(self) -> Positions:
        """The exact open positions at ``now_ms`` (before any event stamped ``now_ms``)."""
        n_open = int(self._ist[0])
        ids = np.sort(self._ob["pid"][:n_open])
        return self.position_log().select(ids)

    def position_log(self) -> Positions:
        """Every position ever opened, open or closed, indexed by id."""
        n = int(self._ist[1])
        arrays = {k: v[:n].copy() for k, v in self._lg.items()}
        return Positions(id=np.arange(n, dtype=np.int64), **arrays)

    # ------------------------------------------------------------------ internals
    def _prepare_block(self, b: int) -> _Block:
        c = self.config
        z = np.random.default_rng([self.driver_seed, b, 0]).standard_normal(BLOCK_S)
        rng = np.random.default_rng([self.seed, b, 1])
        secs = np.arange(b * BLOCK_S, (b + 1) * BLOCK_S)
        reg = regime_arrays(c, secs - c.warmup_s)
        counts = rng.poisson(c.arrival_rate * reg["activity"])
        n = int(counts.sum())
        sec_of = np.repeat(secs, counts)
        ms = self._origin_ms + sec_of * 1000 + rng.integers(0, 1000, n)
        ms.sort(kind="stable")
        mix = np.asarray(c.trader_mix, float)
        kind = rng.choice(3, size=n, p=mix / mix.sum()).astype(np.int8)
        u = rng.random(n)
        usd = draw_sizes(rng, c, n)
        lev = draw_leverage(rng, c, n)
        life = draw_lifetime(rng, c, lev)
        tp, sl = draw_exits(rng, c, n)
        pas = (rng.random(n) < c.passive_open_share).astype(np.int8)
        plev = draw_leverage(rng, c, n)
        plife = draw_lifetime(rng, c, plev)
        ptp, psl = draw_exits(rng, c, n)
        ref = self.fair_price
        inst = self.instrument
        lp_qty = usd / inst.contract_size if inst.inverse else usd / ref
        size = usd if self.fixed_usd else usd / ref
        cap = np.array([max_leverage(inst, self.tiers, x, ref) for x in lp_qty])
        lev = np.minimum(lev, cap)
        plev = np.minimum(plev, cap)
        every = np.ones(n, bool)
        rl = self._ratios(Side.LONG, lev, lp_qty, ref, every)
        rs = self._ratios(Side.SHORT, lev, lp_qty, ref, every)
        prl = self._ratios(Side.LONG, plev, lp_qty, ref, pas == 1)
        prs = self._ratios(Side.SHORT, plev, lp_qty, ref, pas == 1)
        ar: dict[str, npt.NDArray[Any]] = {
            "ms": ms,
            "kind": kind,
            "u": u,
            "size": size,
            "lev": lev,
            "rl": rl,
            "rs": rs,
            "life": life,
            "tp": tp,
            "sl": sl,
            "pas": pas,
            "plev": plev,
            "prl": prl,
            "prs": prs,
            "plife": plife,
            "ptp": ptp,
            "psl": psl,
        }
        return _Block(b, z, ar)

    def _ratios(
        self, side: Side, lev: F64, qty: F64, ref: float, need: npt.NDArray[np.bool_]
    ) -> F64:
        """``liquidation_price / entry`` from ``liquidation_price`` at entry ``ref``.

        Every venue formula is homogeneous of degree one in (entry, liquidation price) once the
        tier measure is fixed and no maintenance amount breaks the scaling, so with positions
        sized as ``fixed_usd`` says the ratio holds at any entry (``liq_exact``); otherwise it
        is exact at ``ref``, the fair price when the hour block is drawn."""
        out = np.full(lev.shape[0], np.nan)
        for i in np.flatnonzero(need):
            res = liquidation_price(self.instrument, self.tiers, side, ref, float(lev[i]), qty[i])
            out[i] = res.price / ref
        return out

    def _ensure_capacity(self, n_new_positions: int) -> None:
        need_ob = int(self._ist[0]) + 2 * n_new_positions + 1
        if need_ob > self._ob["pid"].shape[0]:
            cap = max(need_ob, 2 * self._ob["pid"].shape[0])
            self._ob = {k: _grow(v, cap) for k, v in self._ob.items()}
        need_lg = int(self._ist[1]) + 2 * n_new_positions + 1
        if need_lg > self._lg["side"].shape[0]:
            cap = max(need_lg, 2 * self._lg["side"].shape[0])
            self._lg = {k: _grow(v, cap) for k, v in self._lg.items()}
            self._px = {k: _grow(v, cap) for k, v in self._px.items()}

    def _run(self, b: int, s0: int, s1: int) -> dict[str, npt.NDArray[Any]]:
        if self._block is None or self._block.index != b:
            self._block = self._prepare_block(b)
            self._ist[2] = 0
        blk = self._block
        ar = blk.ar
        c0 = int(self._ist[2])
        end_ms = self._origin_ms + s1 * 1000
        c1 = int(np.searchsorted(ar["ms"], end_ms, side="left"))
        n_new = c1 - c0
        self._ensure_capacity(n_new)
        n_open = int(self._ist[0])
        n_sec = s1 - s0
        max_tr = n_new + n_open + 2 * n_new + 1
        max_lq = n_open + 2 * n_new + 1
        tr: dict[str, npt.NDArray[Any]] = {
            "ts": np.zeros(max_tr, np.int64),
            "px": np.zeros(max_tr),
            "qty": np.zeros(max_tr),
            "tk": np.zeros(max_tr, np.int8),
        }
        se = {k: np.zeros(n_sec) for k in ("mark", "index", "fr", "oi")}
        lq: dict[str, npt.NDArray[Any]] = {
            "ts": np.zeros(max_lq, np.int64),
            "side": np.zeros(max_lq, np.int8),
            "qty": np.zeros(max_lq),
            "px": np.zeros(max_lq),
            "bk": np.zeros(max_lq),
            "pid": np.zeros(max_lq, np.int64),
        }
        xs_slot = np.zeros(n_open + 2 * n_new + 1, np.int64)
        xs_flag = np.zeros(xs_slot.shape[0], np.int8)
        secs = np.arange(s0, s1)
        reg = regime_arrays(self.config, secs - self.config.warmup_s)
        lo = s0 - b * BLOCK_S
        if self.path is not None:  # follow the shared path: its steps, no own noise
            reg["mu"] = np.ascontiguousarray(self.path.steps(b, self._path_key)[lo : lo + n_sec])
            reg["sig"] = np.zeros(n_sec)
        self._ist[3] = 0
        self._ist[4] = 0
        o, g = self._ob, self._lg
        run_kernel(  # type: ignore[call-arg]  # numba's Dispatcher stub takes no arguments
            s0,
            s1,
            self._origin_ms,
            self._st,
            self._ist,
            self._params,
            reg["mu"],
            reg["sig"],
            reg["bias"],
            blk.z[lo : lo + n_sec],
            *(ar[k] for k in _AR_KEYS),
            o["pid"],
            o["side"],
            o["qty"],
            o["lp"],
            o["tp"],
            o["sl"],
            *(g[k] for k in _LG_KEYS),
            self._px["slot"],
            self._px["hp_t"],
            self._px["hp_pid"],
            tr["ts"],
            tr["px"],
            tr["qty"],
            tr["tk"],
            se["mark"],
            se["index"],
            se["fr"],
            se["oi"],
            lq["ts"],
            lq["side"],
            lq["qty"],
            lq["px"],
            lq["bk"],
            lq["pid"],
            xs_slot,
            xs_flag,
        )
        nt, nl = int(self._ist[3]), int(self._ist[4])
        out: dict[str, npt.NDArray[Any]] = {
            "trade_ts": tr["ts"][:nt],
            "trade_px": tr["px"][:nt],
            "trade_qty": tr["qty"][:nt],
            "trade_taker": tr["tk"][:nt],
            "sec_ts": self._origin_ms + secs * 1000,
            "mark_px": se["mark"],
            "index_px": se["index"],
            "funding_rate": se["fr"],
            "oi_base": se["oi"],
            "liq_ts": lq["ts"][:nl],
            "liq_side": lq["side"][:nl],
            "liq_qty": lq["qty"][:nl],
            "liq_px": lq["px"][:nl],
            "liq_bk_px": lq["bk"][:nl],
            "liq_position_id": lq["pid"][:nl],
        }
        return out

    def _chunk(
        self, start_ms: int, end_ms: int, parts: list[dict[str, npt.NDArray[Any]]]
    ) -> TraceChunk:
        dtypes = {f.name: _FIELD_DTYPES.get(f.name) for f in fields(TraceChunk)}
        arrays: dict[str, npt.NDArray[Any]] = {}
        for name, dt in dtypes.items():
            if dt is None:
                continue
            if parts:
                arrays[name] = np.concatenate([p[name] for p in parts]).astype(dt, copy=False)
            else:
                arrays[name] = np.zeros(0, dt)
        return TraceChunk.of(self.instrument, start_ms, end_ms, **arrays)


_AR_KEYS = (
    "ms",
    "kind",
    "u",
    "size",
    "lev",
    "rl",
    "rs",
    "life",
    "tp",
    "sl",
    "pas",
    "plev",
    "prl",
    "prs",
    "plife",
    "ptp",
    "psl",
)
_LG_KEYS = (
    "entry_ts",
    "entry_px",
    "side",
    "qty",
    "leverage",
    "liq_px",
    "bk_px",
    "kind",
    "tp_px",
    "sl_px",
    "exit_ts",
    "exit_px",
    "exit_reason",
)
_FIELD_DTYPES: dict[str, type] = {
    "trade_ts": np.int64,
    "trade_px": np.float64,
    "trade_qty": np.float64,
    "trade_taker": np.int8,
    "sec_ts": np.int64,
    "mark_px": np.float64,
    "index_px": np.float64,
    "funding_rate": np.float64,
    "oi_base": np.float64,
    "liq_ts": np.int64,
    "liq_side": np.int8,
    "liq_qty": np.float64,
    "liq_px": np.float64,
    "liq_bk_px": np.float64,
    "liq_position_id": np.int64,
}


def _grow(a: npt.NDArray[Any], cap: int) -> npt.NDArray[Any]:
    out = np.zeros(cap, a.dtype)
    out[: a.shape[0]] = a
    return out
