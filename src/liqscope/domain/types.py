"""Small shared vocabulary: venues, position sides, contract kinds, price kinds."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Side(IntEnum):
    """Side of a *position* (never of an order). The value is the sign used in formulas."""

    LONG = 1
    SHORT = -1

    @property
    def label(self) -> str:
        return "long" if self is Side.LONG else "short"

    @classmethod
    def parse(cls, text: str) -> Side:
        t = text.strip().lower()
        if t in ("long", "l", "buy"):
            return cls.LONG
        if t in ("short", "s", "sell"):
            return cls.SHORT
        raise ValueError(f"unknown side {text!r} (expected long or short)")


class Venue(StrEnum):
    BINANCE = "binance"
    BYBIT = "bybit"
    OKX = "okx"
    HYPERLIQUID = "hyperliquid"

    @classmethod
    def parse(cls, text: str) -> Venue:
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(v.value for v in cls)
            raise ValueError(f"unknown venue {text!r} (expected one of {names})") from None


class ContractType(StrEnum):
    """Linear: margined and settled in the quote (USDT/USDC); size in base units.
    Inverse: margined in the base coin; size in USD contracts."""

    LINEAR = "linear"
    INVERSE = "inverse"


class PriceKind(StrEnum):
    """What the price of a liquidation event is."""

    AVERAGE_FILL = "average_fill"  # Binance `ap`
    BANKRUPTCY = "bankruptcy"  # Bybit `p`, OKX `bkPx`
    LIQUIDATION = "liquidation"  # the trigger price (simulator truth, Hyperliquid fills)
