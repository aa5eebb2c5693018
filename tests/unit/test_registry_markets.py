import pytest

from liqscope.domain.errors import InputError
from liqscope.domain.registry import market_of, native_symbol


@pytest.mark.parametrize(
    ("venue", "market", "native"),
    [
        ("binance", "BTCUSDT", "BTCUSDT"),
        ("bybit", "ETHUSDT", "ETHUSDT"),
        ("okx", "BTCUSDT", "BTC-USDT-SWAP"),
        ("okx", "BTCUSD", "BTC-USD-SWAP"),
        ("hyperliquid", "BTCUSDT", "BTC"),
        ("hyperliquid", "SOLUSDC", "SOL"),
        ("binance", "BTCUSD", "BTCUSD_PERP"),
        ("okx", "BTC-USDT-SWAP", "BTC-USDT-SWAP"),
    ],
)
def test_native_symbol_round_trips(venue: str, market: str, native: str) -> None:
    assert native_symbol(venue, market) == native
    assert native_symbol(venue, market_of(venue, native)) == native


@pytest.mark.parametrize(
    ("venue", "market", "native"),
    [
        ("okx", "DOGEUSDT", "DOGE-USDT-SWAP"),
        ("hyperliquid", "DOGEUSDT", "DOGE"),
        ("binance", "LRCUSDT", "LRCUSDT"),
        ("binance", "XRPUSD", "XRPUSD_PERP"),
    ],
)
def test_markets_without_built_in_data_follow_naming_rules(
    venue: str, market: str, native: str
) -> None:
    assert native_symbol(venue, market) == native
    assert market_of(venue, native) == market


def test_unknown_venue_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown venue"):
        native_symbol("kraken", "BTCUSDT")
