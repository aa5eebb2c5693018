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


def test_unknown_market_names_the_known_ones() -> None:
    with pytest.raises(InputError, match="BTCUSDT"):
        native_symbol("okx", "DOGEUSDT")
