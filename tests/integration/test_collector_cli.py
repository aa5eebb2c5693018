"""``liqscope collect`` argument syntax and its one-line errors."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from liqscope.cli.collect import parse_specs
from liqscope.domain.errors import InputError
from liqscope.venues.base import Channel


def test_venue_colon_form_and_urls() -> None:
    specs = parse_specs(
        ["binance:btcusdt, ethusdt", "okx:BTC-USDT-SWAP"],
        [],
        ["binance=ws://127.0.0.1:1,http://127.0.0.1:2"],
        "liquidations,mark_price",
    )
    assert [(s.venue, s.symbols) for s in specs] == [
        ("binance", ("BTCUSDT", "ETHUSDT")),
        ("okx", ("BTC-USDT-SWAP",)),
    ]
    assert (specs[0].ws_url, specs[0].rest_url) == ("ws://127.0.0.1:1", "http://127.0.0.1:2")
    assert specs[1].ws_url is None
    assert specs[0].channels == (Channel.LIQUIDATIONS, Channel.MARK_PRICE)


def test_venue_with_symbols_pairs_in_order() -> None:
    specs = parse_specs(
        ["binance", "bybit:SOLUSDT", "bybit"], ["BTCUSDT,ETHUSDT", "BTCUSDT"], [], None
    )
    assert [(s.venue, s.symbols) for s in specs] == [
        ("binance", ("BTCUSDT", "ETHUSDT")),
        ("bybit", ("SOLUSDT",)),
        ("bybit", ("BTCUSDT",)),
    ]


@pytest.mark.parametrize(
    ("venues", "symbols", "urls", "channels", "message"),
    [
        (["binance"], [], [], None, "give symbols"),
        (["binance:"], [], [], None, "no symbols"),
        (["binance:X"], ["Y"], [], None, "--symbols"),
        (["binance:X"], [], ["okx=ws://h"], None, "no such --venue"),
        (["binance:X"], [], ["binance"], None, "VENUE=WS_URL"),
        (["binance:X"], [], [], "liquidations,bogus", "unknown channel"),
        ([], [], [], None, "at least one"),
    ],
)
def test_malformed_arguments_are_input_errors(
    venues: list[str], symbols: list[str], urls: list[str], channels: str | None, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        parse_specs(venues, symbols, urls, channels)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from liqscope.cli import main; main()", "collect", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_fail_fast_on_unreachable_venue_exits_2_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"binance=ws://127.0.0.1:{port},http://127.0.0.1:{port}"
    res = _cli(
        "--venue",
        "binance:BTCUSDT",
        "--url",
        url,
        "--db",
        str(tmp_path / "x.sqlite"),
        "--fail-fast",
        "--quiet",
    )
    assert res.returncode == 2
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot connect" in errors[0]
    assert "Traceback" not in res.stderr


def test_unknown_venue_is_one_line(tmp_path: Path) -> None:
    res = _cli("--venue", "nowhere:BTC", "--db", str(tmp_path / "x.sqlite"))
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error: unknown venue")
    assert "Traceback" not in res.stderr


def test_a_collector_that_dies_ends_the_command_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, ``collect`` waited only for a signal or --duration: a dead collector task left
    the process up (printing frozen status lines) forever."""
    import asyncio

    from liqscope.cli.collect import _run
    from liqscope.domain.errors import StoreError
    from liqscope.ingest.collector import Collector, CollectorSpec
    from liqscope.store.sqlite import SqliteStore

    class GoneStore(SqliteStore):
        def last_messages(self, venue: str) -> dict[str, int]:
            raise StoreError(f"store {self.path}: read failed: disk I/O error")

    store = GoneStore(tmp_path / "g.sqlite")
    url = "ws://127.0.0.1:9"
    collector = Collector([CollectorSpec("binance", ("BTCUSDT",), None, url, url)], store)
    code = asyncio.run(asyncio.wait_for(_run(collector, None, False, 0), 20))
    store.close()
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: collector stopped: store {store.path}: read failed: disk I/O error"]
