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
from typing import Any, Literal

import numba as nb
import numpy as np
import numpy.typing as npt

from liqscope.domain.instruments import Instrument
from liqscope.domain.liqprice import liquidation_price, position_measure, ratio_is_entry_independent
from liqscope.domain.registry import default_tiers, instrument
from liqscope.domain.tiers import TierTable
from liqscope.domain.types import Side
from liqscope.sim.trace import TraceChunk

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]

BLOCK_S = 3600  # seconds of randomness drawn at once
FUNDING_INTERVAL_MS = 8 * 3600 * 1000

# trader kinds
TREND, MEANREV, NOISE, PASSIVE = 0, 1, 2, 3
# exit reasons
OPEN, EXIT_HAZARD, EXIT_TP, EXIT_SL, EXIT_LIQ = 0, 1, 2, 3, 4

# indices into the float state vector
(_X, _IMP_P, _IMP_T, _MARK, _EMA_TR, _EMA_MR, _F_SUM, _F_N, _F_RATE, _MM, _TOT_L, _TOT_S) = range(
    12
)
# trigger bounds: highest long / lowest short liquidation price, lowest long / highest short
# take-profit, highest long / lowest short stop-loss among open positions (or wider)
_B_LLIQ, _B_SLIQ, _B_LTP, _B_STP, _B_LSL, _B_SSL = range(12, 18)
_N_STATE = 18


@dataclass(frozen=True)
class Regime:
    """A phase of the exogenous driver and of the crowd, from ``start_s`` (seconds after start)
    until the next regime."""

    start_s: int
    drift_per_hour: float = 0.0  # log-drift of the driver per hour
    vol_mult: float = 1.0  # multiplies ``annual_vol``
    activity: float = 1.0  # multiplies ``arrival_rate``
    side_bias: float = 0.0  # in [-1, 1]: noise traders go long with p = (1 + bias) / 2


@dataclass(frozen=True)
class SimConfig:
    """Every parameter of a simulated market. Defaults give a calm BTC market on Binance."""

    venue: str = "binance"
    symbol: str = "BTCUSDT"
    start_ms: int = 1_760_054_400_000  # 2025-10-10 00:00 UTC; must be a whole second
    # Simulated (calm, driftless) but not emitted before start_ms, so the market starts with a
    # realistic population; initial_price is the price at the start of the warm-up.
    warmup_s: int = 24 * 3600
    initial_price: float = 100_000.0
    annual_vol: float = 0.45  # of the exogenous driver
    regimes: tuple[Regime, ...] = (Regime(0),)
    driver_seed: int | None = None  # None: derived from the market seed
    # crowd
    arrival_rate: float = 0.25  # taker opens per second at activity 1
    size_median_usd: float = 4_000.0
    size_sigma: float = 1.3  # lognormal sigma of the body
    tail_share: float = 0.04  # share of sizes drawn from the Pareto tail
    tail_min_usd: float = 100_000.0
    tail_alpha: float = 1.4
    size_max_usd: float = 50_000_000.0
    leverages: tuple[float, ...] = (2, 3, 5, 10, 20, 25, 50, 75, 100)
    leverage_weights: tuple[float, ...] = (4, 5, 12, 25, 20, 12, 12, 5, 5)
    trader_mix: tuple[float, float, float] = (0.3, 0.2, 0.5)  # trend, mean-reversion, noise
    trend_halflife_s: float = 900.0
    meanrev_halflife_s: float = 4 * 3600.0
    signal_scale: float = 0.004  # log-price deviation giving tanh(1) conviction
    mean_lifetime_s: float = 8 * 3600.0
    lifetime_leverage_exp: float = 0.5  # mean lifetime scales as (10 / leverage) ** exp
    tp_prob: float = 0.5
    tp_mean: float = 0.02  # mean distance of take-profits (fraction of entry)
    sl_prob: float = 0.3
    sl_mean: float = 0.015
    passive_open_share: float = 0.7
    # price formation
    impact: Literal["sqrt", "linear"] = "sqrt"
    impact_coef: float = 0.0006  # log-impact of a trade of impact_ref_usd
    impact_ref_usd: float = 1_000_000.0
    impact_permanent: float = 0.5
    impact_half_life_s: float = 600.0
    half_spread: float = 0.00002
    mark_tau_s: float = 3.0
    index_spill: float = 0.5
    funding_interest: float = 0.0001
    funding_clamp: float = 0.0005
    funding_cap: float = 0.0075


@dataclass(frozen=True)
class Positions:
    """Positions as parallel arrays. ``exit_reason`` 0 = still open (exit fields -1 / nan),
    1 hazard close, 2 take-profit, 3 stop-loss, 4 liquidation. ``kind`` 0 trend, 1 mean-reversion,
    2 noise, 3 passive (maker) opener. ``qty`` in base units; ``notional_usd`` = qty × entry."""

    id: I64
    entry_ts: I64
    entry_px: F64
    side: I8
    qty: F64
    leverage: F64
    liq_px: F64
    bk_px: F64
    kind: I8
    tp_px: F64
    sl_px: F64
    exit_ts: I64
    exit_px: F64
    exit_reason: I8

    def __len__(self) -> int:
        return int(self.id.shape[0])

    @property
    def notional_usd(self) -> F64:
        return self.qty * self.entry_px

    def select(self, mask: npt.NDArray[np.bool_] | I64) -> Positions:
        """The subset given by a boolean mask or index array."""
        return Positions(**{f.name: getattr(self, f.name)[mask] for f in fields(Positions)})


@nb.njit(cache=True)
def _impact(notional: float, coef: float, ref: float, sqrt_kind: bool) -> float:
    if sqrt_kind:
        return coef * math.sqrt(notional / ref)
    return coef * notional / ref


@nb.njit(cache=True)
def _hpush(hp_t: I64, hp_pid: I64, n: int, t: int, pid: int) -> int:
    """Push (t, pid) on a binary min-heap of size n; return the new size."""
    i = n
    while i > 0:
        parent = (i - 1) // 2
        if hp_t[parent] < t or (hp_t[parent] == t and hp_pid[parent] < pid):
            break
        hp_t[i] = hp_t[parent]
        hp_pid[i] = hp_pid[parent]
        i = parent
    hp_t[i] = t
    hp_pid[i] = pid
    return n + 1


@nb.njit(cache=True)
def _hpop(hp_t: I64, hp_pid: I64, n: int) -> int:
    """Drop the heap's top; return the new size."""
    n -= 1
    t = hp_t[n]
    pid = hp_pid[n]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and (
            hp_t[child + 1] < hp_t[child]
            or (hp_t[child + 1] == hp_t[child] and hp_pid[child + 1] < hp_pid[child])
        ):
            child += 1
        if t < hp_t[child] or (t == hp_t[child] and pid < hp_pid[child]):
            break
        hp_t[i] = hp_t[child]
        hp_pid[i] = hp_pid[child]
        i = child
    hp_t[i] = t
    hp_pid[i] = pid
    return n


@nb.njit(cache=True)
def _taker(
    st: F64,
    ist: I64,
    p: F64,
    ts: int,
    side: int,
    q: float,
    tr_ts: I64,
    tr_px: F64,
    tr_qty: F64,
    tr_tk: I8,
) -> float:
    """Fill a taker order (side +1 buy) of q base units at the fair price ± half spread,
    record the trade, move the price by the impact; return the fill price."""
    fair = p[0] * math.exp(st[_X] + st[_IMP_P] + st[_IMP_T])
    px = fair * (1.0 + side * p[1])
    n = ist[3]
    tr_ts[n] = ts
    tr_px[n] = px
    tr_qty[n] = q
    tr_tk[n] = side
    ist[3] = n + 1
    d = side * _impact(q * px, p[2], p[3], p[4] > 0.5)
    st[_IMP_P] += p[5] * d
    st[_IMP_T] += (1.0 - p[5]) * d
    return float(px)


@nb.njit(cache=True)
def _remove(
    j: int,
    ist: I64,
    ob_pid: I64,
    ob_side: I8,
    ob_qty: F64,
    ob_lp: F64,
    ob_tp: F64,
    ob_sl: F64,
    lg_slot: I64,
) -> None:
    """Swap-remove open-book slot j."""
    last = ist[0] - 1
    if j != last:
        ob_pid[j] = ob_pid[last]
        ob_side[j] = ob_side[last]
        ob_qty[j] = ob_qty[last]
        ob_lp[j] = ob_lp[last]
        ob_tp[j] = ob_tp[last]
        ob_sl[j] = ob_sl[last]
        lg_slot[ob_pid[j]] = j
    ist[0] = last


@nb.njit(cache=True)
def _bound(st: F64, side: int, lp: float, tp: float, sl: float) -> None:
    """Widen the trigger bounds so that they cover one more position."""
    if side > 0:
        st[_B_LLIQ] = max(st[_B_LLIQ], lp)
        st[_B_LTP] = min(st[_B_LTP], tp)
        st[_B_LSL] = max(st[_B_LSL], sl)
    else:
        st[_B_SLIQ] = min(st[_B_SLIQ], lp)
        st[_B_STP] = max(st[_B_STP], tp)
        st[_B_SSL] = min(st[_B_SSL], sl)


@nb.njit(cache=True)
def _run_kernel(
    s0: int,
    s1: int,
    start_ms: int,
    st: F64,
    ist: I64,
    p: F64,
    mu: F64,
    sig: F64,
    bias: F64,
    z: F64,
    ar_ms: I64,
    ar_kind: I8,
    ar_u: F64,
    ar_size: F64,
    ar_lev: F64,
    ar_rl: F64,
    ar_rs: F64,
    ar_life: I64,
    ar_tp: F64,
    ar_sl: F64,
    ar_pas: I8,
    ar_plev: F64,
    ar_prl: F64,
    ar_prs: F64,
    ar_plife: I64,
    ar_ptp: F64,
    ar_psl: F64,
    ob_pid: I64,
    ob_side: I8,
    ob_qty: F64,
    ob_lp: F64,
    ob_tp: F64,
    ob_sl: F64,
    lg_ts: I64,
    lg_px: F64,
    lg_side: I8,
    lg_qty: F64,
    lg_lev: F64,
    lg_lp: F64,
    lg_bk: F64,
    lg_kind: I8,
    lg_tp: F64,
    lg_sl: F64,
    lg_xts: I64,
    lg_xpx: F64,
    lg_xr: I8,
    lg_slot: I64,
    hp_t: I64,
    hp_pid: I64,
    tr_ts: I64,
    tr_px: F64,
    tr_qty: F64,
    tr_tk: I8,
    se_mark: F64,
    se_index: F64,
    se_fr: F64,
    se_oi: F64,
    lq_ts: I64,
    lq_side: I8,
    lq_qty: F64,
    lq_px: F64,
    lq_bk: F64,
    lq_pid: I64,
    xs_slot: I64,
    xs_flag: I8,
) -> None:
    """Step seconds [s0, s1).

    ``ist`` = [n_open, n_log, arrival cursor, n_trades, n_liq, heap size]. Price triggers are
    checked by a scan of the open book only when the mark or fair price crosses one of the
    bounds kept in ``st`` (extreme trigger prices per side); lifetime closes come off a heap.
    """
    p0 = p[0]
    decay = p[6]
    a_mark = p[7]
    spill = p[8]
    a_tr = p[9]
    a_mr = p[10]
    sscale = p[11]
    f_int = p[12]
    f_clamp = p[13]
    f_cap = p[14]
    inverse = p[15] > 0.5
    size_in_base = p[16] > 0.5
    n_ar = ar_ms.shape[0]
    for s in range(s0, s1):
        k = s - s0
        ts = start_ms + s * 1000
        te = ts + 1000
        mark = st[_MARK]
        fair = p0 * math.exp(st[_X] + st[_IMP_P] + st[_IMP_T])
        se_mark[k] = mark
        se_index[k] = p0 * math.exp(st[_X] + st[_IMP_P] + spill * st[_IMP_T])
        se_fr[k] = st[_F_RATE]
        # --- price triggers (mark for liquidations, fair = last price for TP/SL)
        n_x = 0
        if (
            mark <= st[_B_LLIQ]
            or mark >= st[_B_SLIQ]
            or fair >= st[_B_LTP]
            or fair <= st[_B_LSL]
            or fair <= st[_B_STP]
            or fair >= st[_B_SSL]
        ):
            tot_l = 0.0
            tot_s = 0.0
            st[_B_LLIQ] = -np.inf
            st[_B_LTP] = np.inf
            st[_B_LSL] = -np.inf
            st[_B_SLIQ] = np.inf
            st[_B_STP] = -np.inf
            st[_B_SSL] = np.inf
            for i in range(ist[0]):
                sd = ob_side[i]
                if sd > 0:
                    tot_l += ob_qty[i]
                else:
                    tot_s += ob_qty[i]
                if (sd > 0 and mark <= ob_lp[i]) or (sd < 0 and mark >= ob_lp[i]):
                    fl = EXIT_LIQ
                elif (sd > 0 and fair >= ob_tp[i]) or (sd < 0 and fair <= ob_tp[i]):
                    fl = EXIT_TP
                elif (sd > 0 and fair <= ob_sl[i]) or (sd < 0 and fair >= ob_sl[i]):
                    fl = EXIT_SL
                else:
                    _bound(st, sd, ob_lp[i], ob_tp[i], ob_sl[i])
                    continue
                xs_slot[n_x] = i
                xs_flag[n_x] = fl
                n_x += 1
            st[_TOT_L] = tot_l
            st[_TOT_S] = tot_s
        se_oi[k] = max(st[_TOT_L], st[_TOT_S])
        # forced orders first, then take-profits and stop-losses, all stamped ts
        for phase in range(2):
            for e in range(n_x):
                fl = xs_flag[e]
                if (fl == EXIT_LIQ) != (phase == 0):
                    continue
                i = xs_slot[e]
                sd = ob_side[i]
                q = ob_qty[i]
                px = _taker(st, ist, p, ts, -sd, q, tr_ts, tr_px, tr_qty, tr_tk)
                st[_MM] += sd * q
                pid = ob_pid[i]
                lg_xts[pid] = ts
                lg_xpx[pid] = px
                lg_xr[pid] = fl
                if fl == EXIT_LIQ:
                    m = ist[4]
                    lq_ts[m] = ts
                    lq_side[m] = sd
                    lq_qty[m] = q
                    lq_px[m] = px
                    lq_bk[m] = lg_bk[pid]
                    lq_pid[m] = pid
                    ist[4] = m + 1
        for e in range(n_x - 1, -1, -1):  # descending slots: swap-remove stays valid
            i = xs_slot[e]
            if ob_side[i] > 0:
                st[_TOT_L] -= ob_qty[i]
            else:
                st[_TOT_S] -= ob_qty[i]
            _remove(i, ist, ob_pid, ob_side, ob_qty, ob_lp, ob_tp, ob_sl, lg_slot)
        # --- lifetime closes (heap, by time then id) merged with this second's opens
        c = ist[2]
        while True:
            has_a = c < n_ar and ar_ms[c] < te
            has_h = ist[5] > 0 and hp_t[0] < te
            if not has_a and not has_h:
                break
            if has_h and (not has_a or hp_t[0] <= ar_ms[c]):
                pid = hp_pid[0]
                t_ev = max(hp_t[0], ts)
                ist[5] = _hpop(hp_t, hp_pid, ist[5])
                if lg_xr[pid] != OPEN:
                    continue  # already closed by a trigger
                sd = lg_side[pid]
                q = lg_qty[pid]
                px = _taker(st, ist, p, t_ev, -sd, q, tr_ts, tr_px, tr_qty, tr_tk)
                st[_MM] += sd * q
                lg_xts[pid] = t_ev
                lg_xpx[pid] = px
                lg_xr[pid] = EXIT_HAZARD
                if sd > 0:
                    st[_TOT_L] -= q
                else:
                    st[_TOT_S] -= q
                _remove(lg_slot[pid], ist, ob_pid, ob_side, ob_qty, ob_lp, ob_tp, ob_sl, lg_slot)
                continue
            # a taker opens
            t_ev = ar_ms[c]
            kind = ar_kind[c]
            fair = p0 * math.exp(st[_X] + st[_IMP_P] + st[_IMP_T])
            lf = math.log(fair)
            if kind == TREND:
                p_long = 0.5 + 0.5 * math.tanh((lf - st[_EMA_TR]) / sscale)
            elif kind == MEANREV:
                p_long = 0.5 - 0.5 * math.tanh((lf - st[_EMA_MR]) / sscale)
            else:
                p_long = 0.5 * (1.0 + bias[k])
            sd = 1 if ar_u[c] < p_long else -1
            q = ar_size[c] if size_in_base else ar_size[c] / (fair * (1.0 + sd * p[1]))
            px = _taker(st, ist, p, t_ev, sd, q, tr_ts, tr_px, tr_qty, tr_tk)
            for role in range(2):
                if role == 0:
                    psd = sd
                    lev = ar_lev[c]
                    ratio = ar_rl[c] if sd > 0 else ar_rs[c]
                    life = ar_life[c]
                    tpf = ar_tp[c]
                    slf = ar_sl[c]
                    pk = kind
                else:
                    if ar_pas[c] == 0:
                        st[_MM] -= sd * q
                        break
                    psd = -sd
                    lev = ar_plev[c]
                    ratio = ar_prl[c] if psd > 0 else ar_prs[c]
                    life = ar_plife[c]
                    tpf = ar_ptp[c]
                    slf = ar_psl[c]
                    pk = PASSIVE
                pid = ist[1]
                ist[1] = pid + 1
                bk = px / (1.0 + psd / lev) if inverse else px * (1.0 - psd / lev)
                lp = px * ratio
                tp_px = px * (1.0 + psd * tpf)
                sl_px = px * (1.0 - psd * slf)
                lg_ts[pid] = t_ev
                lg_px[pid] = px
                lg_side[pid] = psd
                lg_qty[pid] = q
                lg_lev[pid] = lev
                lg_lp[pid] = lp
                lg_bk[pid] = bk
                lg_kind[pid] = pk
                lg_tp[pid] = tp_px
                lg_sl[pid] = sl_px
                lg_xts[pid] = -1
                lg_xpx[pid] = np.nan
                lg_xr[pid] = OPEN
                j = ist[0]
                ob_pid[j] = pid
                ob_side[j] = psd
                ob_qty[j] = q
                ob_lp[j] = lp
                ob_tp[j] = tp_px
                ob_sl[j] = sl_px
                lg_slot[pid] = j
                ist[0] = j + 1
                ist[5] = _hpush(hp_t, hp_pid, ist[5], t_ev + life, pid)
                _bound(st, psd, lp, tp_px, sl_px)
                if psd > 0:
                    st[_TOT_L] += q
                else:
                    st[_TOT_S] += q
            c += 1
        ist[2] = c
        # --- end of the second: driver, impact decay, mark, signals, funding
        st[_X] += mu[k] + sig[k] * z[k]
        st[_IMP_T] *= decay
        fair = p0 * math.exp(st[_X] + st[_IMP_P] + st[_IMP_T])
        st[_MARK] += a_mark * (fair - st[_MARK])
        lf = math.log(fair)
        st[_EMA_TR] += a_tr * (lf - st[_EMA_TR])
        st[_EMA_MR] += a_mr * (lf - st[_EMA_MR])
        index = p0 * math.exp(st[_X] + st[_IMP_P] + spill * st[_IMP_T])
        st[_F_SUM] += st[_MARK] / index - 1.0
        st[_F_N] += 1.0
        prem = st[_F_SUM] / st[_F_N]
        rate = prem + min(max(f_int - prem, -f_clamp), f_clamp)
        st[_F_RATE] = min(max(rate, -f_cap), f_cap)
        if te % FUNDING_INTERVAL_MS == 0:
            st[_F_SUM] = 0.0
            st[_F_N] = 0.0


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
    ) -> None:
        if config.start_ms % 1000 or config.warmup_s < 0:
            raise ValueError("start_ms must be a whole second and warmup_s >= 0")
        self._origin_ms = config.start_ms - 1000 * config.warmup_s
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
        lp0 = math.log(c.initial_price)
        self._st = np.zeros(_N_STATE)
        self._st[_MARK] = c.initial_price
        self._st[_EMA_TR] = lp0
        self._st[_EMA_MR] = lp0
        self._st[[_B_LLIQ, _B_STP, _B_LSL]] = -np.inf
        self._st[[_B_SLIQ, _B_LTP, _B_SSL]] = np.inf
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
        if config.warmup_s:
            self.advance(config.start_ms)  # warm-up: simulated, not returned

    # ------------------------------------------------------------------ public API
    @property
    def now_ms(self) -> int:
        """Everything before this time has been simulated."""
        return self._origin_ms + self._s * 1000

    @property
    def maker_inventory(self) -> float:
        """The market maker's net position in base units (+ long)."""
        return float(self._st[_MM])

    @property
    def fair_price(self) -> float:
        c = self.config
        return c.initial_price * math.exp(self._st[_X] + self._st[_IMP_P] + self._st[_IMP_T])

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
        reg = _regime_arrays(c, secs - c.warmup_s)
        counts = rng.poisson(c.arrival_rate * reg["activity"])
        n = int(counts.sum())
        sec_of = np.repeat(secs, counts)
        ms = self._origin_ms + sec_of * 1000 + rng.integers(0, 1000, n)
        ms.sort(kind="stable")
        mix = np.asarray(c.trader_mix, float)
        kind = rng.choice(3, size=n, p=mix / mix.sum()).astype(np.int8)
        u = rng.random(n)
        usd = _draw_sizes(rng, c, n)
        lev = _draw_leverage(rng, c, n)
        life = _draw_lifetime(rng, c, lev)
        tp, sl = _draw_exits(rng, c, n)
        pas = (rng.random(n) < c.passive_open_share).astype(np.int8)
        plev = _draw_leverage(rng, c, n)
        plife = _draw_lifetime(rng, c, plev)
        ptp, psl = _draw_exits(rng, c, n)
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
        reg = _regime_arrays(self.config, secs - self.config.warmup_s)
        self._ist[3] = 0
        self._ist[4] = 0
        o, g = self._ob, self._lg
        lo = s0 - b * BLOCK_S
        _run_kernel(  # type: ignore[call-arg]  # numba's Dispatcher stub takes no arguments
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
        return TraceChunk(
            venue=self.config.venue,
            symbol=self.config.symbol,
            instrument=self.instrument,
            start_ms=start_ms,
            end_ms=end_ms,
            **arrays,
        )


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


def _regime_arrays(c: SimConfig, secs: I64) -> dict[str, F64]:
    """Per-second drift, volatility, activity and side bias of the regimes in force."""
    regs = [Regime(-(2**62)), *sorted(c.regimes, key=lambda r: r.start_s)]  # warm-up first
    starts = np.array([r.start_s for r in regs])
    idx = np.clip(np.searchsorted(starts, secs, side="right") - 1, 0, len(regs) - 1)
    sig1 = c.annual_vol / math.sqrt(365.0 * 86400.0)

    def pick(name: str) -> F64:
        return np.array([getattr(r, name) for r in regs], float)[idx]

    vol = sig1 * pick("vol_mult")
    return {
        "mu": pick("drift_per_hour") / 3600.0 - 0.5 * vol * vol,
        "sig": vol,
        "activity": pick("activity"),
        "bias": pick("side_bias"),
    }


def _draw_sizes(rng: np.random.Generator, c: SimConfig, n: int) -> F64:
    body = c.size_median_usd * np.exp(c.size_sigma * rng.standard_normal(n))
    tail = c.tail_min_usd * (1.0 - rng.random(n)) ** (-1.0 / c.tail_alpha)
    usd = np.where(rng.random(n) < c.tail_share, tail, body)
    return np.minimum(usd, c.size_max_usd)


def _draw_leverage(rng: np.random.Generator, c: SimConfig, n: int) -> F64:
    w = np.asarray(c.leverage_weights, float)
    return np.asarray(c.leverages, float)[rng.choice(len(w), size=n, p=w / w.sum())]


def _draw_lifetime(rng: np.random.Generator, c: SimConfig, lev: F64) -> I64:
    mean = c.mean_lifetime_s * (10.0 / lev) ** c.lifetime_leverage_exp
    return (1000.0 * (1.0 + rng.exponential(mean))).astype(np.int64)


def _draw_exits(rng: np.random.Generator, c: SimConfig, n: int) -> tuple[F64, F64]:
    tp = np.where(rng.random(n) < c.tp_prob, 0.002 + rng.exponential(c.tp_mean, n), np.inf)
    sl = np.where(rng.random(n) < c.sl_prob, 0.002 + rng.exponential(c.sl_mean, n), np.inf)
    return tp, sl
