"""The simulator's numba hot loop: one-second steps over plain arrays (see docs/simulator.md).

``run_kernel`` advances the float state ``st`` and integer state ``ist`` in place and writes
trades, per-second snapshots and liquidations into preallocated output arrays.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from liqscope.sim.config import (
    EXIT_HAZARD,
    EXIT_LIQ,
    EXIT_SL,
    EXIT_TP,
    F64,
    FUNDING_INTERVAL_MS,
    I8,
    I64,
    MEANREV,
    OPEN,
    PASSIVE,
    TREND,
)

# indices into the float state vector
(_X, _IMP_P, _IMP_T, _MARK, _EMA_TR, _EMA_MR, _F_SUM, _F_N, _F_RATE, _MM, _TOT_L, _TOT_S) = range(
    12
)
# trigger bounds: highest long / lowest short liquidation price, lowest long / highest short
# take-profit, highest long / lowest short stop-loss among open positions (or wider)
_B_LLIQ, _B_SLIQ, _B_LTP, _B_STP, _B_LSL, _B_SSL = range(12, 18)
_N_STATE = 18

ENGINE_LATENCY_MS = 2  # a triggered order's fill after the mark update at the second's start
ENGINE_STEP_MS = 3  # between the triggered orders of one second


def initial_state(price: float) -> F64:
    """The float state of a market that has not started: mark at ``price``, no impact."""
    st = np.zeros(_N_STATE)
    lp0 = math.log(price)
    st[_MARK] = price
    st[_EMA_TR] = lp0
    st[_EMA_MR] = lp0
    st[[_B_LLIQ, _B_STP, _B_LSL]] = -np.inf
    st[[_B_SLIQ, _B_LTP, _B_SSL]] = np.inf
    return st


def log_fair(st: F64) -> float:
    """``log(fair / initial_price)`` of the state."""
    return float(st[_X] + st[_IMP_P] + st[_IMP_T])


def maker_position(st: F64) -> float:
    """The market maker's net position in base units (+ long)."""
    return float(st[_MM])


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
def run_kernel(
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
        # forced orders first, then take-profits and stop-losses: the engine fills them a few
        # ms apart from the second's start, before the second's next other event
        room = te - 1
        if ist[2] < n_ar:
            room = min(room, ar_ms[ist[2]])
        if ist[5] > 0:
            room = min(room, max(hp_t[0], ts))
        j = 0
        for phase in range(2):
            for e in range(n_x):
                fl = xs_flag[e]
                if (fl == EXIT_LIQ) != (phase == 0):
                    continue
                t_x = min(ts + ENGINE_LATENCY_MS + ENGINE_STEP_MS * j, room)
                j += 1
                i = xs_slot[e]
                sd = ob_side[i]
                q = ob_qty[i]
                px = _taker(st, ist, p, t_x, -sd, q, tr_ts, tr_px, tr_qty, tr_tk)
                st[_MM] += sd * q
                pid = ob_pid[i]
                lg_xts[pid] = t_x
                lg_xpx[pid] = px
                lg_xr[pid] = fl
                if fl == EXIT_LIQ:
                    m = ist[4]
                    lq_ts[m] = t_x
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
