"""What a collector is told (specs, tunables) and what it counts (stats)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from liqscope.domain.errors import InputError
from liqscope.domain.events import Candle, Event, Liquidation, MarkPrice, OpenInterest, Trade
from liqscope.domain.intervals import MINUTE_MS
from liqscope.store.base import WriteCounts
from liqscope.venues.base import Channel

__all__ = [
    "BACKFILLABLE_STREAMS",
    "DEFAULT_CADENCE_GAP_S",
    "DEFAULT_CHANNELS",
    "REASON_DOWN",
    "STREAM_OF_CHANNEL",
    "CollectorConfig",
    "CollectorSpec",
    "CollectorStats",
    "parse_channels",
    "stream_key",
    "stream_of",
]

STREAM_OF_CHANNEL: Mapping[Channel, str] = {
    Channel.LIQUIDATIONS: "liquidations",
    Channel.TRADES: "trades",
    Channel.MARK_PRICE: "marks",
    Channel.OPEN_INTEREST: "open_interest",
    Channel.CANDLES: "candles:1m",
}
"""Gap/coverage stream name (the store's table, with the interval for candles) per channel."""

BACKFILLABLE_STREAMS = frozenset({"candles:1m", "open_interest"})
"""Streams a venue's REST API can fill in after a gap. Liquidations never can."""

DEFAULT_CHANNELS: tuple[Channel, ...] = (
    Channel.LIQUIDATIONS,
    Channel.MARK_PRICE,
    Channel.CANDLES,
    Channel.OPEN_INTEREST,
)
"""Collected when a spec names no channels (each where the venue offers it)."""

DEFAULT_CADENCE_GAP_S: Mapping[str, float] = {
    "marks": 30.0,
    "open_interest": 90.0,
    "candles:1m": 150.0,
}
"""A streamed (venue, symbol, stream) silent this long is a gap even while its connection
lives. Liquidations and trades come when they happen, so they have no cadence."""

REASON_DOWN = "collector down"


def stream_key(symbol: str, stream: str) -> str:
    """The store's ``messages_stats`` key of one stream."""
    return f"{symbol}:{stream}"


def stream_of(event: Event) -> str | None:
    """The gap/coverage stream an event belongs to (None: a candle of another interval)."""
    if isinstance(event, Liquidation):
        return "liquidations"
    if isinstance(event, MarkPrice):
        return "marks"
    if isinstance(event, OpenInterest):
        return "open_interest"
    if isinstance(event, Trade):
        return "trades"
    if isinstance(event, Candle) and event.interval_ms == MINUTE_MS:
        return "candles:1m"
    return None


@dataclass(frozen=True, slots=True)
class CollectorSpec:
    """One venue and the symbols to collect there.

    ``venue`` is a registry name (``binance``, ``binance_coinm``, ``bybit``, ``okx``,
    ``hyperliquid``). ``channels`` None means :data:`DEFAULT_CHANNELS`. ``ws_url``/``rest_url``
    override the venue's base URLs (a simulated exchange on 127.0.0.1).
    """

    venue: str
    symbols: tuple[str, ...]
    channels: tuple[Channel, ...] | None = None
    ws_url: str | None = None
    rest_url: str | None = None


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    """Tunables; the defaults suit a real venue, tests shrink the timeouts."""

    batch_max_frames: int = 1000
    batch_max_ms: int = 100
    queue_max_frames: int = 20_000
    journal: bool = True
    stall_timeout_s: float = 60.0
    protocol_ping_s: float | None = 20.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    healthy_after_s: float = 60.0
    seed: int | None = None  # jitter RNG seed (tests)
    max_lifetime_s: float | None = None  # override the venue's max connection lifetime
    rollover_margin_s: float = 600.0
    overlap_s: float = 2.0
    symbols_per_connection: int = 50
    backfill: bool = True
    backfill_days: float = 2.0  # start-up backfill reaches back at most this far
    gap_backfill_max_days: float = 30.0
    oi_period: str = "5m"
    oi_poll_s: float | None = 60.0  # REST polling of current OI where no OI stream (None: off)
    candle_poll_s: float | None = 60.0  # REST polling of closed 1m candles where the adapter
    # declares candles in ``rest_polled_channels`` (None: off; start-up backfill still runs)
    rest_min_interval_s: float = 0.25  # pause between two REST jobs of one venue
    ban_pause_s: float = 300.0  # no REST to a venue for this long after an HTTP 418 (IP ban)
    open_timeout_s: float = 10.0
    cadence_gap_s: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_CADENCE_GAP_S))
    store_retry_base_s: float = 0.5  # a failing store is retried with capped backoff...
    store_retry_cap_s: float = 10.0
    store_timeout_s: float | None = (
        300.0  # ...and the collector fails after this long (None: never)
    )


@dataclass(slots=True)
class CollectorStats:
    """Counters of one collector run (read them while it runs, e.g. for a status page)."""

    frames: int = 0
    frames_journaled: int = 0
    batches: int = 0
    malformed: int = 0
    rejected: int = 0  # subscriptions the venue refused
    bad_values: int = 0  # frames or REST rows with absurd values (infinite, <= 0, bad time)
    events_parsed: int = 0
    new_rows: WriteCounts = field(default_factory=WriteCounts)
    gaps_recorded: int = 0
    gaps_backfilled: int = 0
    backfill_rows: int = 0
    oi_polls: int = 0
    candle_polls: int = 0
    polled_candles: int = 0  # new closed candles stored by candle polling
    rest_errors: int = 0
    rest_bans: int = 0
    queue_full_waits: int = 0
    queue_full_seconds: float = 0.0
    queue_peak: int = 0
    store_errors: int = 0
    store_failing: str | None = None  # the store's error while writes keep failing
    store_failing_since_ms: int | None = None
    oi_history_missing: list[str] = field(default_factory=list)  # "venue symbol" pairs

    def summary(self, now_ms: int | None = None) -> str:
        text = (
            f"{self.frames} frames, {self.new_rows.total} new rows "
            f"({self.new_rows.liquidations} liquidations), {self.malformed} malformed, "
            f"{self.bad_values} bad values, "
            f"{self.gaps_recorded} gaps ({self.gaps_backfilled} back-filled), "
            f"{self.queue_full_waits} queue-full waits"
        )
        if self.store_failing is not None:
            since = self.store_failing_since_ms
            age = f" for {(now_ms - since) / 1000:.0f} s" if now_ms and since else ""
            text += f"; store failing{age}: {self.store_failing}"
        return text


def parse_channels(text: str | Iterable[str]) -> tuple[Channel, ...]:
    """``"liquidations,mark_price"`` -> channels; :class:`InputError` on an unknown name."""
    names = text.split(",") if isinstance(text, str) else list(text)
    out: list[Channel] = []
    for name in (n.strip().lower() for n in names):
        if not name:
            continue
        try:
            out.append(Channel(name))
        except ValueError:
            known = ", ".join(c.value for c in Channel)
            raise InputError(f"unknown channel {name!r} (expected some of {known})") from None
    if not out:
        raise InputError("no channels given")
    return tuple(dict.fromkeys(out))
