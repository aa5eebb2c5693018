"""On the deterministic cascade scenario, proximity and spike alerts fire before the cascade."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from liqscope.model import estimate, preset
from liqscope.signals.rules import AlertEngine, AlertRule, observations, replay
from liqscope.signals.scorecard import simulate

MIN = 60_000


@pytest.fixture(scope="module")
def run() -> tuple:  # type: ignore[type-arg]
    sim = simulate("cascade", 1, 9)
    res = estimate(
        sim.steps, replace(preset("all"), column_ms=MIN, max_columns=100_000, bucket_usd=50.0)
    )
    return sim, res


def test_warnings_fire_before_the_cascade_reaches_the_zone(run: tuple) -> None:  # type: ignore[type-arg]
    sim, res = run
    s = sim.steps
    rules = [
        AlertRule("prox", "proximity", params={"pct": 1.0, "min_usd": 2e6, "side": "long"},
                  cooldown_s=1800),
        AlertRule("spike", "spike", params={"band_pct": 2.0, "threshold": 1.5, "side": "long"},
                  cooldown_s=1800),
        AlertRule("cascade", "cascade", params={"min_usd": 1e6}, cooldown_s=1800),
    ]  # fmt: skip
    alerts = replay(AlertEngine(rules), observations(res, s))
    t0 = int(s.ts[0])
    # the cascade reaches its zone: first minute with > $1M of realized long liquidations
    first_big = int(s.ts[np.flatnonzero(s.liq_long_usd > 1e6)[0]])
    assert first_big >= t0 + 6 * 3_600_000 - 30 * MIN  # it is the scenario's event
    lead = t0 + 5 * 3_600_000  # only warnings in the hour before the event count
    prox = [a for a in alerts if a.rule_id == "prox" and lead <= a.ts < first_big]
    spike = [a for a in alerts if a.rule_id == "spike" and lead <= a.ts < first_big]
    assert prox, "no proximity warning before the cascade"
    assert spike, "no spike warning before the cascade"
    casc = [a for a in alerts if a.rule_id == "cascade" and a.ts >= first_big]
    assert casc and "long liquidation cascade" in casc[0].message
    assert casc[0].ts <= first_big + 15 * MIN
    # the warned cluster was real: price later traded through it with long liquidations
    c = prox[-1].details["clusters"][0]["cluster"]
    after = s.ts > prox[-1].ts
    assert s.low[after].min() < c["low"]
    hit = (
        (sim.realized.side > 0)
        & (sim.realized.price >= c["low"] - 500)
        & (sim.realized.price < c["high"] + 500)
    )
    assert sim.realized.usd[hit].sum() > 1e5
