"""Recorded raw frames (JSONL) through the venue parsers, including the real shared recording."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from liqscope.domain.errors import InputError
from liqscope.ingest.importers import import_file
from liqscope.store.base import LiquidationQuery
from liqscope.store.sqlite import SqliteStore

REAL = "binance-forceorder-2025-01-26--02-06.jsonl"


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "s.sqlite")
    yield s  # type: ignore[misc]
    s.close()


def test_real_recording_imports_once(store: SqliteStore, real_data: Path) -> None:
    path = real_data / REAL
    lines = path.read_bytes().splitlines()
    assert len(lines) == 3510
    # The recording holds exact duplicate lines (1,673 events appear twice): the store keeps
    # one per event key, so it ends with as many liquidations as distinct lines.
    distinct = len(set(lines))
    r = import_file(store, path)
    assert r.parsed == 3510
    assert r.new.liquidations == distinct == 1837
    assert r.duplicates == 3510 - 1837
    liqs = store.liquidations(LiquidationQuery(["binance"]))
    assert len(liqs) == 1837 and all(x.sampled for x in liqs)
    first = orjson.loads(lines[0])["data"]["o"]
    assert (liqs[0].symbol, liqs[0].ts) == (first["s"], first["T"])
    assert import_file(store, path).new.total == 0
    assert import_file(store, path, force=True).new.total == 0


def test_garbage_line_names_line_and_stores_nothing(store: SqliteStore, tmp_path: Path) -> None:
    good = (
        b'{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT",'
        b'"S":"SELL","o":"LIMIT","f":"IOC","q":"1","p":"1","ap":"2","X":"FILLED","l":"1",'
        b'"z":"1","T":1737908829829}}}'
    )
    path = tmp_path / "binance-rec.jsonl"
    path.write_bytes(good + b"\n" + good.replace(b'"ap":"2"', b'"ap":"3"') + b"\n{nope\n")
    with pytest.raises(InputError, match=r"binance-rec.jsonl:3"):
        import_file(store, path)
    assert store.counts()["liquidations"] == 0
    path.write_bytes(good + b"\n")
    assert import_file(store, path).new.liquidations == 1


def test_venue_needed_when_name_does_not_say(store: SqliteStore, tmp_path: Path) -> None:
    path = tmp_path / "recording.jsonl"
    path.write_bytes(b"{}\n")
    with pytest.raises(InputError, match="--venue"):
        import_file(store, path)


@pytest.mark.parametrize("value", ['"Infinity"', '"1e400"', '"0"', '"-3"'])
def test_frame_with_an_absurd_value_names_line_and_field(
    store: SqliteStore, tmp_path: Path, value: str
) -> None:
    ok = (
        '{"e":"forceOrder","E":1722816000100,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT",'
        '"f":"IOC","q":"0.5","p":"59000","ap":"59100","X":"FILLED","l":"0.5","z":"0.5",'
        '"T":1722816000000}}'
    )
    bad = ok.replace('"ap":"59100"', f'"ap":{value}')
    path = tmp_path / "binance-forceorder.jsonl"
    path.write_text(ok + "\n" + bad + "\n")
    with pytest.raises(InputError, match=rf"{path.name}:2: .*price") as err:
        import_file(store, path)
    assert "\n" not in str(err.value)
    assert store.liquidations(LiquidationQuery(["binance"])) == []
