"""Rule files, validation, cooldown and point-in-time snapshots."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from liqscope.domain.errors import InputError
from liqscope.model import estimate, preset
from liqscope.model.estimator import shortcut_ratios
from liqscope.signals.rules import AlertRule, load_rules
from liqscope.signals.snapshots import load_snapshots, save_snapshots, snapshot_at, take_snapshots
from liqscope.signals.storage import SignalStore


def test_rules_from_toml_and_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = tmp_path / "r.toml"
    t.write_text(
        '[[rules]]\nid = "btc-near"\nsymbol = "BTCUSDT"\ncondition = "proximity"\n'
        "pct = 0.8\nmin_usd = 5e6\ncooldown_s = 600\n"
    )
    (r,) = load_rules(t)
    assert r.params["pct"] == 0.8 and r.params["k_sigma"] is None and r.cooldown_s == 600
    j = tmp_path / "r.json"
    j.write_text('{"rules": [{"id": "c", "condition": "cascade", "params": {"ratio": 3}}]}')
    assert load_rules(j)[0].params["ratio"] == 3
    j.write_text('[{"id": "x", "condition": "moon"}]')
    with pytest.raises(InputError, match="unknown condition"):
        load_rules(j)
    with pytest.raises(InputError, match="unknown parameter"):
        AlertRule("a", "spike", params={"pct": 1})
    with pytest.raises(InputError):
        AlertRule("a", "spike", params={"window": -3})


def test_snapshots_round_trip_and_point_in_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    n = 600
    from liqscope.model import Steps

    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    steps = Steps(
        ts=np.arange(n, dtype=np.int64) * 60_000, open=close, high=close * 1.001,
        low=close * 0.999, close=close, volume=np.full(n, 10.0),
        taker_buy_volume=np.full(n, 5.0), oi_base=1000 + np.arange(n, dtype=float),
    )  # fmt: skip
    cfg = replace(preset("all"), column_ms=60_000, max_columns=10_000)
    res = estimate(steps, cfg, ratios=shortcut_ratios(cfg))
    snaps = take_snapshots(res, 15 * 60_000)
    assert [s.ts for s in snaps][:2] == [900_000, 1_800_000]
    with SignalStore(tmp_path / "s.sqlite") as st:
        assert save_snapshots(st, snaps) == len(snaps)
        back = load_snapshots(st, "?", "?", "all", 0, 10**13)
        assert len(back) == len(snaps)
        assert np.array_equal(back[1].levels, snaps[1].levels)
        got = snapshot_at(st, "?", "?", "all", 1_800_000 + 59_999)
        assert got is not None and got.ts == 1_800_000  # never a later one
        lm = got.level_map()
        assert lm.price == pytest.approx(res.column_close[29])
        assert snapshot_at(st, "?", "?", "all", 899_999) is None
    with pytest.raises(InputError):
        take_snapshots(res, 90_000)
